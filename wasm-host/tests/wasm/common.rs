//! Shared helpers of the WASM host tests: guest artifacts and OTLP builders.

use std::path::PathBuf;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use wasm_host::wasm::{WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

/// Path of a guest built by `guest-crates/build.sh`.
pub fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest module {} is missing: run `guest-crates/build.sh` first",
        path.display()
    );
    path
}

pub fn runtime() -> WasmRuntime {
    WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: None,
        ..Default::default()
    })
    .expect("runtime")
}

pub fn config(name: &str) -> WasmProcessorConfig {
    WasmProcessorConfig::for_module(guest(name))
}

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

pub fn nested_body() -> AnyValue {
    AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", s("hello ✓")),
                kv(
                    "list",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(Value::IntValue(-3)),
                            },
                            AnyValue {
                                value: Some(Value::DoubleValue(2.5)),
                            },
                            AnyValue {
                                value: Some(Value::KvlistValue(KeyValueList {
                                    values: vec![kv("deep", Value::BytesValue(vec![1, 2, 255]))],
                                })),
                            },
                            AnyValue { value: None },
                        ],
                    }),
                ),
                kv("ok", Value::BoolValue(true)),
            ],
        })),
    }
}

pub fn span(name: &str, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        attributes: attrs,
        ..Default::default()
    }
}

/// Two resource groups, three scopes, `n` spans per scope; span 0 of each
/// scope has an event and a link.
pub fn traces(n: usize) -> ExportTraceServiceRequest {
    let mut rs = Vec::new();
    for r in 0..2 {
        let mut scopes = Vec::new();
        for sc in 0..(r + 1) {
            let mut spans = Vec::new();
            for i in 0..n {
                let mut sp = span(
                    &format!("op-{r}-{sc}-{i}"),
                    vec![
                        kv("http.route", s("/users/{id}")),
                        kv("i", Value::IntValue(i as i64)),
                    ],
                );
                if i == 0 {
                    sp.events.push(Event {
                        time_unix_nano: 2_000,
                        name: "exception".into(),
                        attributes: vec![kv("exception.type", s("ValueError"))],
                        ..Default::default()
                    });
                    sp.links.push(Link {
                        trace_id: vec![9; 16],
                        span_id: vec![9; 8],
                        ..Default::default()
                    });
                }
                spans.push(sp);
            }
            scopes.push(ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: format!("lib{sc}"),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            });
        }
        rs.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(&format!("svc{r}")))],
                ..Default::default()
            }),
            scope_spans: scopes,
            schema_url: String::new(),
        });
    }
    ExportTraceServiceRequest { resource_spans: rs }
}

/// One trace of `n` spans in one resource/scope, for benchmarks.
pub fn flat_traces(n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| {
            span(
                &format!("GET /api/{i}"),
                (0..8)
                    .map(|k| kv(&format!("attr.{k}"), s(&format!("value-{i}-{k}"))))
                    .collect(),
            )
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("bench"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn logs(bodies: Vec<Option<AnyValue>>) -> ExportLogsServiceRequest {
    let log_records = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| LogRecord {
            time_unix_nano: 10 + i as u64,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body,
            attributes: vec![kv("remove.me", s("x")), kv("n", Value::IntValue(i as i64))],
            trace_id: vec![7; 16],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource::default()),
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|k| k.key == key)
        .and_then(|k| k.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn all_spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

pub fn error_status() -> Status {
    Status {
        code: 2,
        message: "boom".into(),
    }
}
