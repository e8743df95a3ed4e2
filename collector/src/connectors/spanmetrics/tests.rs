use std::time::{Duration, Instant};

use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use pdata::otlp::metrics::v1::{Metric, metric, number_data_point};
use pdata::otlp::resource::v1::Resource;
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};

use super::*;
use crate::config::parse_component;

fn config(yaml: &str) -> Result<SpanMetricsConfig, Vec<ConfigError>> {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
    parse_component::<SpanMetricsConfig>(&v, "connectors.spanmetrics")
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
    }
}

/// A span of `ms` milliseconds.
fn span(name: &str, ms: u64, error: bool, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.to_owned(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
        attributes: attrs,
        status: error.then(|| Status {
            code: status::StatusCode::Error as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn request(service: Option<&str>, scope: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: service
                    .map(|s| vec![kv("service.name", s)])
                    .unwrap_or_default(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> Vec<&'a Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .collect()
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.clone()),
            _ => None,
        })
}

/// (span.name, status.code, calls) of every `calls` point, sorted.
fn calls(req: &ExportMetricsServiceRequest, name: &str) -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = metric(req, name)
        .iter()
        .flat_map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => s.data_points.clone(),
            _ => Vec::new(),
        })
        .map(|p| {
            let n = match p.value {
                Some(number_data_point::Value::AsInt(n)) => n,
                _ => -1,
            };
            (
                attr(&p.attributes, "span.name").unwrap_or_default(),
                attr(&p.attributes, "status.code").unwrap_or_default(),
                n,
            )
        })
        .collect();
    out.sort();
    out
}

fn aggregator(yaml: &str) -> Aggregator {
    let c = config(yaml).expect("valid");
    Aggregator::new(Arc::new(c.settings()), 0)
}

fn at(secs: u64, base: Instant) -> (u64, Instant) {
    (secs * 1_000_000_000, base + Duration::from_secs(secs))
}

#[test]
fn calls_and_durations_by_the_default_dimensions_cumulative() {
    let base = Instant::now();
    let mut a = aggregator("{}");
    a.add(
        &request(
            Some("shop"),
            "s",
            vec![
                span("GET /", 3, false, vec![]),
                span("GET /", 700, false, vec![]),
                span("GET /", 5, true, vec![]),
            ],
        ),
        at(1, base),
    );
    // A span without service.name on its resource is not counted, as in otelcol.
    a.add(
        &request(None, "s", vec![span("x", 1, false, vec![])]),
        at(1, base),
    );
    let out = a.flush(at(2, base)).expect("metrics");
    assert_eq!(
        calls(&out, "traces.span.metrics.calls"),
        vec![
            ("GET /".to_owned(), "STATUS_CODE_ERROR".to_owned(), 1),
            ("GET /".to_owned(), "STATUS_CODE_UNSET".to_owned(), 2),
        ]
    );
    let d = metric(&out, "traces.span.metrics.duration");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].unit, "ms");
    let Some(metric::Data::Histogram(h)) = &d[0].data else {
        panic!("explicit histogram expected: {d:?}")
    };
    assert_eq!(
        h.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let ok = h
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "status.code").as_deref() == Some("STATUS_CODE_UNSET"))
        .expect("a point");
    assert_eq!(ok.count, 2);
    assert_eq!(ok.explicit_bounds, DEFAULT_BUCKETS_MS.to_vec());
    // 3 ms in (2, 4], 700 ms in (400, 800].
    assert_eq!(ok.bucket_counts[1], 1);
    assert_eq!(ok.bucket_counts[9], 1);
    assert_eq!(
        attr(&ok.attributes, "service.name").as_deref(),
        Some("shop")
    );
    assert_eq!(
        attr(&ok.attributes, "span.kind").as_deref(),
        Some("SPAN_KIND_SERVER")
    );
    assert!(ok.exemplars.is_empty());

    // Cumulative: the next flush keeps counting from the same start.
    a.add(
        &request(Some("shop"), "s", vec![span("GET /", 3, false, vec![])]),
        at(3, base),
    );
    let out = a.flush(at(4, base)).expect("metrics");
    let c = calls(&out, "traces.span.metrics.calls");
    assert!(
        c.contains(&("GET /".to_owned(), "STATUS_CODE_UNSET".to_owned(), 3)),
        "{c:?}"
    );
}

#[test]
fn delta_starts_over_and_an_idle_flush_sends_nothing() {
    let base = Instant::now();
    let mut a = aggregator("aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA\nnamespace: ''");
    a.add(
        &request(Some("shop"), "s", vec![span("a", 1, false, vec![])]),
        at(1, base),
    );
    let out = a.flush(at(2, base)).expect("metrics");
    assert_eq!(
        calls(&out, "calls"),
        vec![("a".to_owned(), "STATUS_CODE_UNSET".to_owned(), 1)]
    );
    assert!(a.flush(at(3, base)).is_none());
    a.add(
        &request(Some("shop"), "s", vec![span("a", 1, false, vec![])]),
        at(4, base),
    );
    let out = a.flush(at(5, base)).expect("metrics");
    let Some(metric::Data::Sum(s)) = &metric(&out, "calls")[0].data else {
        panic!()
    };
    assert_eq!(
        s.aggregation_temporality,
        AggregationTemporality::Delta as i32
    );
    // A delta point starts at the previous flush.
    assert_eq!(s.data_points[0].start_time_unix_nano, 3_000_000_000);
}

#[test]
fn dimensions_defaults_exclusions_exemplars_and_exponential_buckets() {
    let base = Instant::now();
    let mut a = aggregator(
        "dimensions: [{name: http.method, default: GET}, {name: region}]\nexclude_dimensions: [status.code]\nexemplars: {enabled: true, max_per_data_point: 1}\nhistogram: {unit: s, exponential: {max_size: 10}}\n",
    );
    a.add(
        &request(
            Some("shop"),
            "s",
            vec![
                span("a", 10, false, vec![kv("http.method", "POST")]),
                span("a", 20, true, vec![]),
                span("a", 30, false, vec![]),
            ],
        ),
        at(1, base),
    );
    let out = a.flush(at(2, base)).expect("metrics");
    let Some(metric::Data::ExponentialHistogram(h)) =
        &metric(&out, "traces.span.metrics.duration")[0].data
    else {
        panic!("exponential histogram expected")
    };
    // status.code excluded: the error span shares the GET series.
    assert_eq!(h.data_points.len(), 2);
    let get = h
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "http.method").as_deref() == Some("GET"))
        .expect("GET from the default");
    assert_eq!(get.count, 2);
    assert!(attr(&get.attributes, "status.code").is_none());
    // No `region` anywhere and no default: the dimension is left out.
    assert!(attr(&get.attributes, "region").is_none());
    assert!((get.sum.unwrap_or_default() - 0.05).abs() < 1e-9, "{get:?}");
    assert_eq!(get.exemplars.len(), 1);
    assert_eq!(get.exemplars[0].trace_id, vec![1; 16]);
    let buckets: u64 = get
        .positive
        .as_ref()
        .map_or(0, |b| b.bucket_counts.iter().sum());
    assert_eq!(buckets, 2);
}

#[test]
fn scopes_cardinality_and_expiration() {
    let base = Instant::now();
    let mut a = aggregator(
        "include_instrumentation_scope: [wanted]\naggregation_cardinality_limit: 2\nseries_expiration: 5s\nhistogram: {disable: true}\n",
    );
    a.add(
        &request(
            Some("shop"),
            "other",
            vec![span("ignored", 1, false, vec![])],
        ),
        at(1, base),
    );
    a.add(
        &request(
            Some("shop"),
            "wanted",
            vec![
                span("a", 1, false, vec![]),
                span("b", 1, false, vec![]),
                span("c", 1, false, vec![]),
                span("d", 1, false, vec![]),
            ],
        ),
        at(1, base),
    );
    let out = a.flush(at(2, base)).expect("metrics");
    assert!(metric(&out, "traces.span.metrics.duration").is_empty());
    let c = calls(&out, "traces.span.metrics.calls");
    assert_eq!(c.len(), 3, "{c:?}");
    // c and d went to the overflow series, which has neither name nor status.
    assert!(c.contains(&(String::new(), String::new(), 2)), "{c:?}");
    assert_eq!(a.series(), 3);
    // Seven seconds later every series has expired.
    assert!(a.flush(at(9, base)).is_none());
    assert_eq!(a.series(), 0);
}

#[test]
fn bad_configs_are_refused_with_their_path() {
    let cases: &[(&str, &str)] = &[
        (
            "dimensions: [{name: span.name}]",
            "connectors.spanmetrics.dimensions[0].name",
        ),
        (
            "dimensions: [{name: a}, {name: a}]",
            "connectors.spanmetrics.dimensions[1].name",
        ),
        (
            "dimensions: [{glob: 'http.*'}]",
            "connectors.spanmetrics.dimensions[0].glob",
        ),
        (
            "exclude_dimensions: [nope]",
            "connectors.spanmetrics.exclude_dimensions[0]",
        ),
        (
            "histogram: {explicit: {}, exponential: {}}",
            "connectors.spanmetrics.histogram",
        ),
        (
            "histogram: {explicit: {buckets: [10ms, 5ms]}}",
            "connectors.spanmetrics.histogram.explicit.buckets",
        ),
        (
            "histogram: {exponential: {max_size: 0}}",
            "connectors.spanmetrics.histogram.exponential.max_size",
        ),
        (
            "events: {enabled: true}",
            "connectors.spanmetrics.events.dimensions",
        ),
        (
            "metrics_flush_interval: 0s",
            "connectors.spanmetrics.metrics_flush_interval",
        ),
        (
            "aggregation_temporality: DELTA",
            "connectors.spanmetrics.aggregation_temporality",
        ),
        (
            "histogram: {unit: us}",
            "connectors.spanmetrics.histogram.unit",
        ),
        (
            "histogram: {explicit: {buckets: [fast]}}",
            "connectors.spanmetrics.histogram.explicit.buckets[0]",
        ),
    ];
    for (yaml, path) in cases {
        let e = config(yaml).expect_err(yaml);
        assert_eq!(e[0].path, *path, "{yaml}: {e:?}");
    }
    let c = config("dimensions_cache_size: 1000\nmetrics_flush_interval: 15s\nhistogram: {explicit: {buckets: [100us, 1ms, 2s]}}")
        .expect("valid");
    assert_eq!(c.warnings().len(), 1);
    assert_eq!(c.settings().buckets, Some(vec![0.1, 1.0, 2000.0]));
}
