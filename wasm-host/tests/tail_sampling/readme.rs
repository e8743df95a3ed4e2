//! The policy examples of the contrib processor's README: they parse, and
//! behave as the README says. Decisions are asked of the guest directly,
//! with chosen decision times and trace sizes for the rate policies.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use wasm_host::wasm::sampler::SampleContext;
use wasm_host::wasm::{Decision, WasmSampler};

use crate::common::*;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_800_000_000 * SEC;

/// The README's first example, verbatim.
const EXAMPLE: &str = r#"
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache:
  sampled_cache_size: 100_000
  non_sampled_cache_size: 100_000
policies:
  [
      {
        name: test-policy-1,
        type: always_sample
      },
      {
        name: test-policy-2,
        type: latency,
        latency: {threshold_ms: 5000, upper_threshold_ms: 10000}
      },
      {
        name: test-policy-3,
        type: numeric_attribute,
        numeric_attribute: {key: key1, min_value: 50, max_value: 100}
      },
      {
        name: test-policy-4,
        type: probabilistic,
        probabilistic: {sampling_percentage: 10}
      },
      {
        name: test-policy-5,
        type: status_code,
        status_code: {status_codes: [ERROR, UNSET]}
      },
      {
        name: test-policy-6,
        type: string_attribute,
        string_attribute: {key: key2, values: [value1, value2]}
      },
      {
        name: test-policy-7,
        type: string_attribute,
        string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}
      },
      {
        name: test-policy-8,
        type: rate_limiting,
        rate_limiting: {spans_per_second: 35}
     },
     {
        name: test-policy-9,
        type: bytes_limiting,
        bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}
     },
     {
        name: test-policy-10,
        type: span_count,
        span_count: {min_spans: 2, max_spans: 20}
     },
     {
         name: test-policy-11,
         type: trace_state,
         trace_state: { key: key3, values: [value1, value2] }
     },
     {
          name: test-policy-12,
          type: boolean_attribute,
          boolean_attribute: {key: key4, value: true}
     },
     {
          name: test-policy-13,
          type: ottl_condition,
          ottl_condition: {
               error_mode: ignore,
               span: [
                    "attributes[\"test_attr_key_1\"] == \"test_attr_val_1\"",
                    "attributes[\"test_attr_key_2\"] != \"test_attr_val_1\"",
               ],
               spanevent: [
                    "name != \"test_span_event_name\"",
                    "attributes[\"test_event_attr_key_2\"] != \"test_event_attr_val_1\"",
               ]
          }
     },
     {
        name: and-policy-1,
        type: and,
        and: {
          and_sub_policy:
          [
            {
              name: test-and-policy-1,
              type: numeric_attribute,
              numeric_attribute: { key: key1, min_value: 50, max_value: 100 }
            },
            {
                name: test-and-policy-2,
                type: string_attribute,
                string_attribute: { key: key2, values: [ value1, value2 ] }
            },
          ]
        }
     },
     {
        name: drop-policy-1,
        type: drop,
        drop: {
          drop_sub_policy:
          [
            {
                name: test-drop-policy-1,
                type: string_attribute,
                string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}
            }
          ]
        }
     },
     {
        name: composite-policy-1,
        type: composite,
        composite:
          {
            max_total_spans_per_second: 1000,
            policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
            composite_sub_policy:
              [
                {
                  name: test-composite-policy-1,
                  type: numeric_attribute,
                  numeric_attribute: {key: key1, min_value: 50}
                },
                {
                  name: test-composite-policy-2,
                  type: string_attribute,
                  string_attribute: {key: key2, values: [value1, value2]}
                },
                {
                  name: test-composite-policy-3,
                  type: always_sample
                }
              ],
            rate_allocation:
              [
                {
                  policy: test-composite-policy-1,
                  percent: 50
                },
                {
                  policy: test-composite-policy-2,
                  percent: 25
                }
              ]
          }
      },
    ]
"#;

fn ctx(at: u64, size: u64) -> SampleContext {
    SampleContext {
        decision_time_unix_nano: at,
        trace_size_bytes: size,
        ottl_holding: Vec::new(),
    }
}

fn decide(s: &WasmSampler, trace: &ExportTraceServiceRequest, at: u64, size: u64) -> Decision {
    s.sample_with(trace, ctx(at, size)).expect("guest decides")
}

fn keep(reason: &str) -> Decision {
    Decision {
        keep: true,
        reason: reason.into(),
    }
}

fn drop_by(reason: &str) -> Decision {
    Decision {
        keep: false,
        reason: reason.into(),
    }
}

/// A trace of `n` plain spans (UNSET status) of trace `id`.
fn plain(id: u64, n: u64) -> ExportTraceServiceRequest {
    request(
        "svc",
        vec![],
        (0..n).map(|k| span(&tid(id), k, 0, 10)).collect(),
    )
}

/// `EXAMPLE` with only the named policies (by `name:` line), so each one's
/// documented behaviour is seen on its own.
fn only(names: &[&str]) -> wasm_host::tail_sampling::TailSamplingConfig {
    let mut c = yaml(EXAMPLE);
    c.policies.retain(|p| {
        p.get("name")
            .and_then(|n| n.as_str())
            .is_some_and(|n| names.contains(&n))
    });
    assert_eq!(c.policies.len(), names.len());
    c
}

#[test]
fn first_example_loads_with_its_ottl_condition() {
    let c = yaml(EXAMPLE);
    assert_eq!(c.policies.len(), 16);
    assert_eq!(c.decision_cache.sampled_cache_size, 100_000);
    // The host compiles the OTTL conditions; the guest asks it for the verdict by path.
    wasm_host::tail_sampling::OttlPolicies::compile(&c.policies).expect("conditions compile");
    let s = sampler(&only(&["test-policy-13"]));
    let trace = plain(1, 3);
    let holds = SampleContext {
        ottl_holding: vec!["policies[0]".into()],
        ..ctx(T0, 100)
    };
    assert_eq!(
        s.sample_with(&trace, holds).expect("decides"),
        keep("test-policy-13")
    );
    assert!(
        !decide(&s, &trace, T0, 100).keep,
        "the host said it does not hold"
    );

    // The whole example: with always_sample first the only traces not kept are
    // the ones the drop policy matches.
    let s = sampler(&c);
    assert_eq!(decide(&s, &plain(1, 3), T0, 100), keep("test-policy-1"));
    let health = request(
        "svc",
        vec![],
        vec![with_attr(span(&tid(2), 0, 0, 1), "url.path", s_("/health"))],
    );
    assert_eq!(decide(&s, &health, T0, 100), drop_by("drop-policy-1"));
    let metrics = request(
        "svc",
        vec![],
        vec![with_attr(
            span(&tid(3), 0, 0, 1),
            "url.path",
            s_("/metrics/x"),
        )],
    );
    assert_eq!(decide(&s, &metrics, T0, 100), drop_by("drop-policy-1"));
}

fn s_(v: &str) -> opentelemetry_proto::tonic::common::v1::any_value::Value {
    s(v)
}

#[test]
fn latency_between_bounds() {
    let s = sampler(&only(&["test-policy-2"]));
    let trace = |ms| {
        request(
            "svc",
            vec![],
            vec![span(&tid(1), 0, 0, 10), span(&tid(1), 1, 100, ms)],
        )
    };
    assert!(decide(&s, &trace(7000), T0, 1).keep);
    assert!(
        !decide(&s, &trace(4800), T0, 1).keep,
        "5 s lower bound is exclusive with an upper bound"
    );
    assert!(
        decide(&s, &trace(9900), T0, 1).keep,
        "10 s upper bound is inclusive"
    );
    assert!(!decide(&s, &trace(12_000), T0, 1).keep);
}

#[test]
fn attribute_policies() {
    let s = sampler(&only(&[
        "test-policy-3",
        "test-policy-6",
        "test-policy-7",
        "test-policy-12",
    ]));
    let with = |k: &str, v| request("svc", vec![], vec![with_attr(span(&tid(1), 0, 0, 1), k, v)]);
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    assert_eq!(
        decide(&s, &with("key1", Value::IntValue(75)), T0, 1),
        keep("test-policy-3")
    );
    assert!(!decide(&s, &with("key1", Value::IntValue(101)), T0, 1).keep);
    assert_eq!(
        decide(&s, &with("key2", s_("value2")), T0, 1),
        keep("test-policy-6")
    );
    // Regex `val*` is unanchored, as Go's MatchString: it matches `xvalz`.
    assert_eq!(
        decide(&s, &with("key2", s_("xvalz")), T0, 1),
        keep("test-policy-7")
    );
    assert!(!decide(&s, &with("key2", s_("other")), T0, 1).keep);
    assert_eq!(
        decide(&s, &with("key4", Value::BoolValue(true)), T0, 1),
        keep("test-policy-12")
    );
    assert!(!decide(&s, &with("key4", Value::BoolValue(false)), T0, 1).keep);
    // Resource attributes count too.
    let r = request(
        "svc",
        vec![kv("key1", Value::IntValue(60))],
        vec![span(&tid(1), 0, 0, 1)],
    );
    assert_eq!(decide(&s, &r, T0, 1), keep("test-policy-3"));
}

#[test]
fn status_span_count_trace_state_and_and() {
    let s = sampler(&only(&["test-policy-10"]));
    assert!(!decide(&s, &plain(1, 1), T0, 1).keep);
    assert!(decide(&s, &plain(1, 2), T0, 1).keep);
    assert!(decide(&s, &plain(1, 20), T0, 1).keep);
    assert!(!decide(&s, &plain(1, 21), T0, 1).keep);

    let s = sampler(&only(&["test-policy-5"]));
    assert!(decide(&s, &plain(1, 1), T0, 1).keep, "UNSET is listed");
    let mut ok = plain(1, 1);
    ok.resource_spans[0].scope_spans[0].spans[0].status =
        Some(opentelemetry_proto::tonic::trace::v1::Status {
            code: 1,
            message: String::new(),
        });
    assert!(!decide(&s, &ok, T0, 1).keep, "OK is not");

    let s = sampler(&only(&["test-policy-11"]));
    let mut ts = plain(1, 1);
    ts.resource_spans[0].scope_spans[0].spans[0].trace_state = "other=1,key3=value2".into();
    assert_eq!(decide(&s, &ts, T0, 1), keep("test-policy-11"));
    ts.resource_spans[0].scope_spans[0].spans[0].trace_state = "key3=value3".into();
    assert!(!decide(&s, &ts, T0, 1).keep);

    let s = sampler(&only(&["and-policy-1"]));
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let both = request(
        "svc",
        vec![],
        vec![with_attr(
            with_attr(span(&tid(1), 0, 0, 1), "key1", Value::IntValue(50)),
            "key2",
            s_("value1"),
        )],
    );
    assert_eq!(decide(&s, &both, T0, 1), keep("and-policy-1"));
    let one = request(
        "svc",
        vec![],
        vec![with_attr(
            span(&tid(1), 0, 0, 1),
            "key1",
            Value::IntValue(50),
        )],
    );
    assert!(!decide(&s, &one, T0, 1).keep);
}

#[test]
fn probabilistic_is_a_pure_function_of_the_trace_id() {
    let s = sampler(&only(&["test-policy-4"]));
    let threshold = (0.10f64 * u64::MAX as f64) as u64;
    let mut kept = 0;
    for id in 0..500u64 {
        let want = fnv("default-hash-seed", &tid(id)) <= threshold;
        let got = decide(&s, &plain(id, 1), T0, 1).keep;
        assert_eq!(got, want, "trace {id}");
        // Asked again (another instance would be asked the same): same answer.
        assert_eq!(decide(&s, &plain(id, 1), T0 + SEC, 1).keep, got);
        kept += u64::from(got);
    }
    assert!((25..=75).contains(&kept), "about 10% of 500: {kept}");
}

#[test]
fn rate_and_bytes_limits_are_token_buckets() {
    // spans_per_second 35: a bucket of 70 (twice the rate), refilled at 35/s.
    let s = sampler(&only(&["test-policy-8"]));
    assert!(decide(&s, &plain(1, 50), T0, 1).keep);
    assert!(!decide(&s, &plain(2, 30), T0, 1).keep, "20 left");
    assert!(decide(&s, &plain(3, 20), T0, 1).keep);
    assert!(
        decide(&s, &plain(4, 35), T0 + SEC, 1).keep,
        "refilled 35 in a second"
    );

    // The README's bytes example: 1 MB/s sustained, 5 MB burst.
    let mut c = yaml(
        "policies: [{name: volume-control, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1048576, burst_capacity: 5242880}}]",
    );
    c.module = None;
    let s = sampler(&c);
    let mb = 1_048_576;
    assert!(decide(&s, &plain(1, 1), T0, 3 * mb).keep);
    assert!(
        !decide(&s, &plain(2, 1), T0, 3 * mb).keep,
        "2 MB left of the burst"
    );
    assert!(
        decide(&s, &plain(3, 1), T0 + SEC, 3 * mb).keep,
        "1 MB refilled"
    );
    assert!(
        !decide(&s, &plain(4, 1), T0 + 100 * SEC, 6 * mb).keep,
        "larger than the burst"
    );
}

#[test]
fn composite_allocates_spans_per_second() {
    let s = sampler(&only(&["composite-policy-1"]));
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let key1 = |id| {
        request(
            "svc",
            vec![],
            (0..100)
                .map(|k| with_attr(span(&tid(id), k, 0, 1), "key1", Value::IntValue(60)))
                .collect(),
        )
    };
    // Policy 1 has 50% of 1000 spans/s: five traces of 100 spans.
    for id in 0..5 {
        assert!(decide(&s, &key1(id), T0, 1).keep, "trace {id}");
    }
    assert!(
        !decide(&s, &key1(5), T0, 1).keep,
        "policy 1's share is used up"
    );
    // The unallocated always_sample fills what is left (25%): two more.
    assert!(decide(&s, &plain(10, 100), T0, 1).keep);
    assert!(decide(&s, &plain(11, 100), T0, 1).keep);
    assert!(!decide(&s, &plain(12, 100), T0, 1).keep);
    // A new second starts over.
    assert!(decide(&s, &key1(6), T0 + SEC, 1).keep);
}

/// The README's "practical example", with its placeholder service list
/// (`[list, of, services, using, tail_sampling]`) standing for team_a's
/// services (service-1..3) and its Rule 7 typo fixed (see the test below).
const PRACTICAL: &str = r#"
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
policies: [
  {name: backwards-compatibility-policy, type: and, and: {and_sub_policy: [
    {name: services-using-tail_sampling-policy, type: string_attribute,
     string_attribute: {key: service.name, values: [service-1, service-2, service-3], invert_match: true}},
    {name: sample-all-policy, type: always_sample}]}},
  {name: team_a-probe, type: and, and: {and_sub_policy: [
    {name: service-name-policy, type: string_attribute, string_attribute: {key: service.name, values: [service-1, service-2, service-3]}},
    {name: route-live-ready-policy, type: string_attribute, string_attribute: {key: http.route, values: [/live, /ready], enabled_regex_matching: true}},
    {name: probabilistic-policy, type: probabilistic, probabilistic: {sampling_percentage: 0.1}}]}},
  {name: team_a-noisy-endpoint-1, type: and, and: {and_sub_policy: [
    {name: service-name-policy, type: string_attribute, string_attribute: {key: service.name, values: [service-1]}},
    {name: route-name-policy, type: string_attribute, string_attribute: {key: http.route, values: [/v1/name/.+], enabled_regex_matching: true}},
    {name: probabilistic-policy, type: probabilistic, probabilistic: {sampling_percentage: 1}}]}},
  {name: team_a-service-1, type: and, and: {and_sub_policy: [
    {name: service-name-policy, type: string_attribute, string_attribute: {key: service.name, values: [service-1]}},
    {name: route-name-policy, type: string_attribute, string_attribute: {key: http.route, values: [/v1/name/.+], enabled_regex_matching: true, invert_match: true}},
    {name: probabilistic-policy, type: probabilistic, probabilistic: {sampling_percentage: 100}}]}},
  {name: team_a-status-policy, type: and, and: {and_sub_policy: [
    {name: service-name-policy, type: string_attribute, string_attribute: {key: service.name, values: [service-1, service-2, service-3]}},
    {name: trace-status-policy, type: status_code, status_code: {status_codes: [ERROR]}}]}},
  {name: team_a-force-sample, type: boolean_attribute, boolean_attribute: {key: app.force_sample, value: true}},
  {name: do-not-sample, type: drop, drop: {drop_sub_policy: [
    {name: team_a-do-not-sample, type: boolean_attribute, boolean_attribute: {key: app.do_not_sample, value: true}}]}}
]
"#;

#[test]
fn practical_example_rules() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let s = sampler(&yaml(PRACTICAL));
    let t = |id: u64, service: &str, route: &str| {
        request(
            service,
            vec![],
            vec![with_attr(span(&tid(id), 0, 0, 1), "http.route", s_(route))],
        )
    };
    // An id outside 1% (and so outside 0.1%), and one inside 1%.
    let one_pct = (0.01f64 * u64::MAX as f64) as u64;
    let outside = (0..)
        .find(|i| fnv("default-hash-seed", &tid(*i)) > one_pct)
        .expect("some id");
    let inside = (0..)
        .find(|i| fnv("default-hash-seed", &tid(*i)) < one_pct / 2)
        .expect("some id");

    // Rule 1: services not on tail sampling are all kept.
    assert_eq!(
        decide(&s, &t(outside, "other", "/x"), T0, 1),
        keep("backwards-compatibility-policy")
    );
    // Rule 2: probes of team_a at 0.1%.
    assert!(!decide(&s, &t(outside, "service-2", "/live"), T0, 1).keep);
    // Rule 3: service-1's noisy endpoint at 1%.
    assert!(!decide(&s, &t(outside, "service-1", "/v1/name/42"), T0, 1).keep);
    assert_eq!(
        decide(&s, &t(inside, "service-1", "/v1/name/42"), T0, 1),
        keep("team_a-noisy-endpoint-1")
    );
    // Rule 4: service-1's other endpoints at 100%.
    assert_eq!(
        decide(&s, &t(outside, "service-1", "/v1/other"), T0, 1),
        keep("team_a-service-1")
    );
    // Rule 5: errors of team_a are kept.
    let mut err = t(outside, "service-2", "/live");
    err.resource_spans[0].scope_spans[0].spans[0].status =
        Some(opentelemetry_proto::tonic::trace::v1::Status {
            code: 2,
            message: String::new(),
        });
    assert_eq!(decide(&s, &err, T0, 1), keep("team_a-status-policy"));
    // Rule 6: the escape hatch.
    let mut force = t(outside, "service-2", "/live");
    force.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("app.force_sample", Value::BoolValue(true)));
    assert_eq!(decide(&s, &force, T0, 1), keep("team_a-force-sample"));
    // Rule 7: do_not_sample wins over everything else.
    let mut never = t(outside, "service-1", "/v1/other");
    never.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("app.do_not_sample", Value::BoolValue(true)));
    assert_eq!(decide(&s, &never, T0, 1), drop_by("do-not-sample"));
}

#[test]
fn practical_example_rule_7_as_printed_is_rejected() {
    // The README gives the drop sub-policy `type: boolean_attribute` but a
    // `string_attribute:` block with `value: true`; contrib rejects the
    // unknown `value` key, we reject the mismatched block and say why.
    let printed = PRACTICAL.replace(
        "boolean_attribute: {key: app.do_not_sample, value: true}",
        "string_attribute: { key: app.do_not_sample, value: true }",
    );
    let e = load_error(&yaml(&printed));
    assert!(e.contains("drop_sub_policy[0].string_attribute"), "{e}");
    assert!(e.contains("did you mean `boolean_attribute:`"), "{e}");
}

#[test]
fn inverted_matches_and_sample_on_first_match() {
    // An inverted match ("not sampled") outweighs a plain "sampled" unless
    // evaluation stops at the first policy that samples.
    let policies = "policies: [{name: a, type: always_sample}, {name: b, type: string_attribute, string_attribute: {key: x, values: [v], invert_match: true}}]";
    let trace = request(
        "svc",
        vec![],
        vec![with_attr(span(&tid(1), 0, 0, 1), "x", s_("v"))],
    );
    let s = sampler(&yaml(policies));
    assert_eq!(decide(&s, &trace, T0, 1), drop_by("b"));
    assert_eq!(decide(&s, &plain(2, 1), T0, 1), keep("a"));
    let s = sampler(&yaml(&format!("sample_on_first_match: true\n{policies}")));
    assert_eq!(decide(&s, &trace, T0, 1), keep("a"));
}
