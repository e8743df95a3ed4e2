//! A generated stream with a known answer: errors, slow traces, an
//! attribute, a probabilistic share and a drop rule; spans out of order,
//! across batches and resources; late spans after the decision.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use wasm_host::tail_sampling::{TailSampling, TailSamplingMetrics};

use crate::common::*;

const CONFIG: &str = r#"
decision_wait: 10s
num_traces: 10000
record_policy: true
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}
  - {name: gold, type: string_attribute, string_attribute: {key: tenant, values: [gold]}}
  - {name: sample-5pct, type: probabilistic, probabilistic: {sampling_percentage: 5}}
  - name: no-health
    type: drop
    drop:
      drop_sub_policy:
        - {name: health, type: string_attribute, string_attribute: {key: http.route, values: [/health]}}
"#;

/// A small deterministic generator (64-bit LCG).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Generated {
    trace: Vec<u8>,
    service: &'static str,
    spans: Vec<(usize, Span)>, // (batch, span)
    /// `Some(policy)` if the trace must be kept.
    expected: Option<&'static str>,
}

fn generate() -> Vec<Generated> {
    let mut rng = Rng(42);
    let threshold = (0.05f64 * u64::MAX as f64) as u64;
    let mut out = Vec::new();
    for i in 0..400u64 {
        let trace = tid(i + 1);
        let first_batch = (i / 40) as usize;
        let n = 1 + rng.below(6);
        let (err, slow, gold, health) = (
            rng.chance(10),
            rng.chance(10),
            rng.chance(10),
            rng.chance(5),
        );
        let hash = fnv("default-hash-seed", &trace);
        // Stay clear of the threshold's last bits (f64 vs contrib's 64-bit math).
        if hash.abs_diff(threshold) < 1 << 16 {
            continue;
        }
        let mut spans = Vec::new();
        for k in 0..n {
            let dur = if slow && k == n - 1 {
                800
            } else {
                1 + rng.below(100)
            };
            let mut sp = span(&trace, i * 100 + k, rng.below(50), dur);
            if k > 0 {
                sp.parent_span_id = (i * 100 + 1).to_be_bytes().to_vec();
            }
            if err && k == rng.below(n) {
                sp = error(sp);
            }
            if gold && k == n - 1 {
                sp = with_attr(sp, "tenant", s("gold"));
            } else if k == 0 {
                sp = with_attr(sp, "tenant", s("silver"));
            }
            if health && k == 0 {
                sp = with_attr(sp, "http.route", s("/health"));
            }
            // Spans of one trace arrive over up to three batches.
            spans.push((first_batch + rng.below(3) as usize, sp));
        }
        let err = spans
            .iter()
            .any(|(_, s)| s.status.as_ref().is_some_and(|st| st.code == 2));
        let expected = if health {
            None
        } else if err {
            Some("errors")
        } else if slow {
            Some("slow")
        } else if gold {
            Some("gold")
        } else if hash <= threshold {
            Some("sample-5pct")
        } else {
            None
        };
        let service = if i % 2 == 0 { "svc-a" } else { "svc-b" };
        out.push(Generated {
            trace,
            service,
            spans,
            expected,
        });
    }
    out
}

/// Batch `b`: every span assigned to it, shuffled, under two resources.
fn batch(traces: &[Generated], b: usize, rng: &mut Rng) -> ExportTraceServiceRequest {
    let mut req = ExportTraceServiceRequest::default();
    for service in ["svc-a", "svc-b"] {
        let mut spans: Vec<Span> = traces
            .iter()
            .filter(|t| t.service == service)
            .flat_map(|t| {
                t.spans
                    .iter()
                    .filter(|(bb, _)| *bb == b)
                    .map(|(_, s)| s.clone())
            })
            .collect();
        for i in (1..spans.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            spans.swap(i, j);
        }
        req.resource_spans
            .extend(request(service, vec![], spans).resource_spans);
    }
    req
}

#[test]
fn exactly_the_expected_traces_are_kept_and_late_spans_follow() {
    let config = yaml(CONFIG);
    let metrics = TailSamplingMetrics::unregistered();
    let (sink, got) = collector();
    let ts = TailSampling::new(
        "tail_sampling",
        config.clone(),
        Box::new(sampler(&config)),
        metrics.clone(),
        sink,
    )
    .expect("builds");
    let traces = generate();
    let mut rng = Rng(7);
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    for b in 0..13 {
        ts.consume_at(&batch(&traces, b, &mut rng), at(b as u64))
            .expect("consumed");
        ts.tick_at(at(b as u64));
    }
    // Nothing is decided before its decision_wait: the first batch's traces
    // are 12 s old, the last ones 3 s.
    let held = ts.stats().traces_held;
    assert!(held > 0 && held < traces.len() as u64, "held {held}");
    ts.tick_at(at(30));
    assert_eq!(ts.stats().traces_held, 0);
    assert_eq!(ts.stats().spans_held, 0);

    // Late spans, one for every third trace, after every decision.
    let mut late = Vec::new();
    let mut late_kept = 0;
    for (i, t) in traces.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        late.push(span(&t.trace, 90_000 + i as u64, 10, 5));
        late_kept += u64::from(t.expected.is_some());
    }
    ts.consume_at(&request("svc-a", vec![], late.clone()), at(31))
        .expect("late");
    assert_eq!(ts.stats().traces_held, 0, "late spans start no new trace");
    ts.shutdown_now(at(40));

    let mut expected: BTreeMap<(Vec<u8>, Vec<u8>), &str> = BTreeMap::new();
    for t in &traces {
        if let Some(p) = t.expected {
            for (_, sp) in &t.spans {
                expected.insert((sp.trace_id.clone(), sp.span_id.clone()), p);
            }
        }
    }
    for sp in &late {
        if let Some(t) = traces.iter().find(|t| t.trace == sp.trace_id)
            && let Some(p) = t.expected
        {
            expected.insert((sp.trace_id.clone(), sp.span_id.clone()), p);
        }
    }
    let released = released_spans(&got);
    let got_set: BTreeSet<(Vec<u8>, Vec<u8>)> = released
        .iter()
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    assert_eq!(got_set.len(), released.len(), "no span released twice");
    let want_set: BTreeSet<(Vec<u8>, Vec<u8>)> = expected.keys().cloned().collect();
    assert_eq!(got_set, want_set, "kept exactly the expected spans");
    for (t, s, policy) in &released {
        assert_eq!(
            policy.as_deref(),
            Some(expected[&(t.clone(), s.clone())]),
            "policy attribute"
        );
    }

    // Every reason occurs, and the counts match the ground truth.
    let kept = |p: &str| traces.iter().filter(|t| t.expected == Some(p)).count() as u64;
    for p in ["errors", "slow", "gold", "sample-5pct"] {
        assert!(kept(p) > 0, "the stream exercises {p}");
        assert_eq!(metrics.decided("tail_sampling", p, true), kept(p), "{p}");
    }
    let dropped: u64 = traces.iter().filter(|t| t.expected.is_none()).count() as u64;
    assert!(metrics.decided("tail_sampling", "no-health", false) > 0);
    assert_eq!(
        metrics.decided("tail_sampling", "no-health", false)
            + metrics.decided("tail_sampling", "", false),
        dropped
    );
    assert_eq!(metrics.late_spans("tail_sampling", true), late_kept);
    assert_eq!(
        metrics.late_spans("tail_sampling", false),
        late.len() as u64 - late_kept
    );
}

#[test]
fn without_a_decision_cache_late_spans_start_over() {
    // Contrib's default (cache off) made explicit: a late span is a new trace.
    let mut config = yaml(CONFIG);
    config.decision_cache.sampled_cache_size = 0;
    config.decision_cache.non_sampled_cache_size = 0;
    let (sink, _got) = collector();
    let ts = TailSampling::new(
        "tail_sampling",
        config.clone(),
        Box::new(sampler(&config)),
        TailSamplingMetrics::unregistered(),
        sink,
    )
    .expect("builds");
    let t0 = Instant::now();
    let id = tid(7);
    ts.consume_at(&request("svc", vec![], vec![error(span(&id, 1, 0, 5))]), t0)
        .expect("ok");
    ts.tick_at(t0 + Duration::from_secs(10));
    assert_eq!(ts.stats().traces_held, 0);
    ts.consume_at(
        &request("svc", vec![], vec![span(&id, 2, 0, 5)]),
        t0 + Duration::from_secs(11),
    )
    .expect("ok");
    assert_eq!(ts.stats().traces_held, 1);
}
