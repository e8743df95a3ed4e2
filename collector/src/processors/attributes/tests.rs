//! The attributes processor over requests: include/exclude by each property, as in
//! contrib's `attributes_trace_test.go` and `attributes_log_test.go`.

use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{AnyValue, any_value};
use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pdata::otlp::metrics::v1::{Gauge, NumberDataPoint, ResourceMetrics, ScopeMetrics};
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_yaml::Value;

use super::*;
use crate::config::parse_component;

fn config(yaml: &str) -> Result<AttributesConfig, Vec<ConfigError>> {
    let v: Value = serde_yaml::from_str(yaml).expect("yaml");
    parse_component::<AttributesConfig>(&v, "processors.attributes")
}

fn work(yaml: &str) -> Work {
    let (actions, selection) = config(yaml).expect("valid").compile().expect("compiles");
    Work { actions, selection }
}

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.to_owned())),
    })
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: s(v),
        ..Default::default()
    }
}

/// One resource (service `svc`) and scope (`lib` `1.0`) with spans (name, kind,
/// attributes).
fn spans(service: &str, list: &[(&str, i32, Vec<KeyValue>)]) -> Payload {
    Payload::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans: list
                    .iter()
                    .map(|(n, k, a)| Span {
                        name: (*n).into(),
                        kind: *k,
                        attributes: a.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// The spans that got `touched`.
fn touched(p: &Payload) -> Vec<String> {
    let Payload::Traces(r) = p else { panic!() };
    r.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .filter(|s| s.attributes.iter().any(|a| a.key == "touched"))
        .map(|s| s.name.clone())
        .collect()
}

const ACTION: &str = "actions: [{key: touched, value: 'yes', action: insert}]\n";

#[test]
fn include_and_exclude_select_spans() {
    let list = [
        ("GET /a", 2, vec![kv("http.method", "GET")]),
        ("POST /b", 3, vec![kv("http.method", "POST")]),
        ("internal", 1, vec![]),
    ];
    let run = |sel: &str, service: &str| {
        let mut p = spans(service, &list);
        work(&format!("{ACTION}{sel}")).apply(&mut p);
        touched(&p)
    };
    assert_eq!(run("", "svc"), ["GET /a", "POST /b", "internal"]);
    assert_eq!(
        run("include: {match_type: strict, services: [svc]}", "svc"),
        ["GET /a", "POST /b", "internal"]
    );
    assert!(run("include: {match_type: strict, services: [svc]}", "other").is_empty());
    assert_eq!(
        run("include: {match_type: regexp, span_names: ['^GET']}", "svc"),
        ["GET /a"]
    );
    assert_eq!(
        run("exclude: {match_type: regexp, span_names: ['/']}", "svc"),
        ["internal"]
    );
    assert_eq!(
        run(
            "include: {match_type: strict, span_kinds: [SPAN_KIND_CLIENT]}",
            "svc"
        ),
        ["POST /b"]
    );
    assert_eq!(
        run(
            "include: {match_type: strict, attributes: [{key: http.method, value: POST}]}",
            "svc"
        ),
        ["POST /b"]
    );
    // Only the key.
    assert_eq!(
        run(
            "exclude: {match_type: strict, attributes: [{key: http.method}]}",
            "svc"
        ),
        ["internal"]
    );
    // Every property given must match.
    assert_eq!(
        run(
            "include: {match_type: regexp, span_names: ['^GET', '^POST'], attributes: [{key: http.method, value: '^P'}]}",
            "svc"
        ),
        ["POST /b"]
    );
    assert_eq!(
        run(
            "include: {match_type: strict, resources: [{key: service.name, value: svc}], libraries: [{name: lib, version: '1.0'}]}",
            "svc"
        ),
        ["GET /a", "POST /b", "internal"]
    );
    assert!(
        run(
            "include: {match_type: strict, libraries: [{name: lib, version: ''}]}",
            "svc"
        )
        .is_empty(),
        "a blank version matches only a blank version"
    );
}

#[test]
fn strict_attribute_values_compare_types() {
    let mut p = spans(
        "svc",
        &[(
            "a",
            1,
            vec![KeyValue {
                key: "n".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(5)),
                }),
                ..Default::default()
            }],
        )],
    );
    work(&format!(
        "{ACTION}include: {{match_type: strict, attributes: [{{key: n, value: '5'}}]}}"
    ))
    .apply(&mut p);
    assert!(touched(&p).is_empty(), "a string does not equal an int");
    work(&format!(
        "{ACTION}include: {{match_type: strict, attributes: [{{key: n, value: 5}}]}}"
    ))
    .apply(&mut p);
    assert_eq!(touched(&p), ["a"]);
}

#[test]
fn logs_by_body_and_severity() {
    let record = |body: &str, sev: i32| LogRecord {
        body: s(body),
        severity_number: sev,
        severity_text: if sev >= 17 {
            "ERROR".into()
        } else {
            "INFO".into()
        },
        ..Default::default()
    };
    let run = |sel: &str| {
        let mut p = Payload::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record("boom", 17), record("fine", 9), record("raw", 0)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        work(&format!("{ACTION}{sel}")).apply(&mut p);
        let Payload::Logs(r) = p else { panic!() };
        r.resource_logs[0].scope_logs[0]
            .log_records
            .iter()
            .filter(|l| l.attributes.iter().any(|a| a.key == "touched"))
            .map(|l| crate::processors::attraction::as_string(l.body.as_ref().expect("body")))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run("include: {match_type: regexp, log_bodies: ['^b']}"),
        ["boom"]
    );
    assert_eq!(
        run("include: {match_type: strict, log_severity_texts: [INFO]}"),
        ["fine", "raw"]
    );
    assert_eq!(
        run("include: {match_type: strict, log_severity_number: {min: WARN}}"),
        ["boom"]
    );
    assert_eq!(
        run(
            "include: {match_type: strict, log_severity_number: {min: WARN, match_undefined: true}}"
        ),
        ["boom", "raw"]
    );
}

#[test]
fn metrics_data_points_by_metric_name() {
    let metric = |name: &str| Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default(), NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    let mut p = Payload::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![metric("http.duration"), metric("cpu")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    work(&format!(
        "{ACTION}exclude: {{match_type: strict, metric_names: [cpu]}}"
    ))
    .apply(&mut p);
    let Payload::Metrics(r) = p else { panic!() };
    let counts: Vec<usize> = r.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => g
                .data_points
                .iter()
                .filter(|p| !p.attributes.is_empty())
                .count(),
            _ => 0,
        })
        .collect();
    assert_eq!(counts, [2, 0]);
}

#[test]
fn bad_configs_are_refused_with_their_path() {
    let e = config("{}").expect_err("no actions");
    assert_eq!(e[0].path, "processors.attributes.actions");
    let e = config("actions: [{key: a, action: nope}]").expect_err("action");
    assert_eq!(e[0].path, "processors.attributes.actions[0].action");
    let e = config(&format!("{ACTION}include: {{services: [a]}}")).expect_err("match_type");
    assert_eq!(e[0].path, "processors.attributes.include.match_type");
    let e = config(&format!(
        "{ACTION}exclude: {{match_type: strict, span_name: [a]}}"
    ))
    .expect_err("unknown key");
    assert!(e[0].message.contains("span_name"), "{e:?}");
    // Signal-specific checks happen when the pipeline is built.
    let c = config(&format!(
        "{ACTION}include: {{match_type: strict, log_bodies: [x]}}"
    ))
    .expect("loads");
    let include = c.include.as_ref().expect("include");
    assert!(include.check_for(Signal::Logs, "include").is_ok());
    let e = include
        .check_for(Signal::Traces, "processors.attributes.include")
        .expect_err("traces");
    assert!(e.contains("log_bodies does not apply to traces"), "{e}");
}
