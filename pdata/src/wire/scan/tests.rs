use prost::Message;

use super::*;
use crate::otlp::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use crate::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::otlp::resource::v1::Resource;
use crate::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn rich_traces() -> ExportTraceServiceRequest {
    let nested = any_value::Value::KvlistValue(KeyValueList {
        values: vec![
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::IntValue(-5)),
                    }],
                }),
            ),
            kv("b", any_value::Value::BytesValue(vec![1, 2, 3])),
        ],
    });
    let spans = (1..=5u8)
        .map(|i| Span {
            trace_id: vec![i; 16],
            span_id: vec![i; 8],
            parent_span_id: if i > 1 { vec![i - 1; 8] } else { vec![] },
            name: format!("span {i} ✓"),
            kind: 2,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            flags: 1,
            attributes: vec![
                kv("s", any_value::Value::StringValue("x".into())),
                kv("d", any_value::Value::DoubleValue(0.5)),
                kv("t", any_value::Value::BoolValue(true)),
                kv("n", nested.clone()),
            ],
            events: vec![span::Event {
                time_unix_nano: 3,
                name: "exception".into(),
                attributes: vec![kv(
                    "exception.type",
                    any_value::Value::StringValue("KeyError".into()),
                )],
                dropped_attributes_count: 1,
            }],
            links: vec![span::Link {
                trace_id: vec![9; 16],
                span_id: vec![9; 8],
                trace_state: "k=v".into(),
                flags: 1,
                ..Default::default()
            }],
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("svc".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn counts_and_validates_like_prost() {
    let bytes = rich_traces().encode_to_vec();
    assert_eq!(
        scan(Signal::Traces, &bytes).expect("fast path"),
        Scan {
            items: 5,
            invalid: 0
        }
    );
    let mut bad = rich_traces();
    bad.resource_spans[0].scope_spans[0].spans[2].span_id = vec![0; 8];
    bad.resource_spans[0].scope_spans[0].spans[3].trace_id = vec![1; 3];
    assert_eq!(
        scan(Signal::Traces, &bad.encode_to_vec()).expect("fast path"),
        Scan {
            items: 5,
            invalid: 2
        }
    );
}

#[test]
fn logs_are_scanned() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("hello".into())),
                        }),
                        severity_number: 17,
                        severity_text: "ERROR".into(),
                        ..Default::default()
                    },
                    LogRecord {
                        trace_id: vec![1; 7],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(
        scan(Signal::Logs, &req.encode_to_vec()).expect("fast path"),
        Scan {
            items: 2,
            invalid: 1
        }
    );
}

#[test]
fn invalid_utf8_and_truncation_fall_back() {
    let mut bytes = rich_traces().encode_to_vec();
    let pos = bytes
        .windows(3)
        .position(|w| w == "✓".as_bytes())
        .expect("name bytes");
    bytes[pos] = 0xff;
    assert!(scan(Signal::Traces, &bytes).is_err());
    assert!(
        ExportTraceServiceRequest::decode(&bytes[..]).is_err(),
        "prost agrees"
    );
    let good = rich_traces().encode_to_vec();
    assert!(scan(Signal::Traces, &good[..good.len() - 3]).is_err());
}

/// Deterministic mutation test: whatever the scan accepts, prost decodes with the same
/// item count. This is the property that makes keeping bytes undecoded safe.
#[test]
fn never_more_lenient_than_prost() {
    let base = rich_traces().encode_to_vec();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut m = base.clone();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % m.len();
            match next() % 3 {
                0 => m[i] = next() as u8,
                1 => {
                    m.remove(i);
                }
                _ => m.insert(i, next() as u8),
            }
        }
        if let Ok(s) = scan(Signal::Traces, &m) {
            accepted += 1;
            let decoded = ExportTraceServiceRequest::decode(&m[..])
                .unwrap_or_else(|e| panic!("scan accepted what prost rejects ({e}): {m:?}"));
            let n: usize = decoded
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            assert_eq!(n, s.items);
        }
    }
    assert!(
        accepted > 100,
        "the mutations should leave many inputs valid ({accepted})"
    );
}

/// prost counts every message level against its recursion limit of 100, and a list value
/// is two levels (the list and its element): nesting that prost refuses must not pass
/// the scan, at any depth.
#[test]
fn deep_nesting_is_never_more_lenient_than_prost() {
    for depth in 1..80 {
        let mut value = AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        };
        for _ in 0..depth {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![1; 8],
                        attributes: vec![KeyValue {
                            key: "deep".into(),
                            value: Some(value),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let bytes = req.encode_to_vec();
        if scan(Signal::Traces, &bytes).is_ok() {
            assert!(
                ExportTraceServiceRequest::decode(&bytes[..]).is_ok(),
                "scan accepted {depth} nested arrays that prost refuses"
            );
        }
    }
}
