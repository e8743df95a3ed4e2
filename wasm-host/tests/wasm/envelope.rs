//! The built-in envelope assembler (the guest `builtin:envelope` embeds, as
//! `guest-crates/build.sh` builds it) through the real host: OTLP requests in,
//! the envelope JSON out, with the default limits.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use wasm_host::wasm::WasmAssembler;

use crate::common::*;

const TRACEBACK: &str = "Traceback (most recent call last):
  File \"/usr/local/lib/python3.12/wsgiref/handlers.py\", line 137, in run
    self.result = application(self.environ, self.start_response)
  File \"/app/shop/app.py\", line 42, in application
    return respond(start_response, \"200 OK\", quote(shipment))
  File \"/app/shop/app.py\", line 26, in cost_per_parcel
    return round(total / parcels, 2)
ZeroDivisionError: float division by zero
";
const T0: u64 = 1_796_616_000_000_000_000;

fn strings(values: &[&str]) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values
            .iter()
            .map(|v| AnyValue { value: Some(s(v)) })
            .collect(),
    })
}

fn request(error: bool) -> ExportTraceServiceRequest {
    let server = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![1; 8],
        name: "POST /shipments/quote".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 40_000_000,
        attributes: vec![
            kv("http.request.method", s("POST")),
            kv("url.path", s("/shipments/quote")),
            kv("url.query", s("carrier=dhl&carrier=ups")),
            kv("http.route", s("/shipments/quote")),
            kv("http.response.status_code", Value::IntValue(500)),
            kv(
                "http.request.header.content-type",
                strings(&["application/json"]),
            ),
            kv("http.request.header.authorization", strings(&["Bearer x"])),
            kv(
                "tracemend.http.request.body",
                s(r#"{"items":[{"weight_kg":0.8}]}"#),
            ),
        ],
        events: if error {
            vec![Event {
                time_unix_nano: T0 + 31_000_000,
                name: "exception".into(),
                attributes: vec![
                    kv("exception.type", s("ZeroDivisionError")),
                    kv("exception.message", s("float division by zero")),
                    kv("exception.stacktrace", s(TRACEBACK)),
                ],
                ..Default::default()
            }]
        } else {
            vec![]
        },
        ..Default::default()
    };
    let child = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![2; 8],
        parent_span_id: vec![1; 8],
        name: "plan_shipment".into(),
        start_time_unix_nano: T0 + 2_000_000,
        end_time_unix_nano: T0 + 30_000_000,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("wsgi-shipping")),
                    kv(
                        "vcs.ref.head.revision",
                        s("4f2a9c0b11d4e5f60718293a4b5c6d7e8f901234"),
                    ),
                    kv("telemetry.sdk.language", s("python")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![server, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn flag_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: T0 + 1_000_000,
                    trace_id: vec![0xab; 16],
                    span_id: vec![1; 8],
                    event_name: "feature_flag.evaluation".into(),
                    attributes: vec![
                        kv("feature_flag.key", s("tiered_pricing")),
                        kv("feature_flag.result.value", Value::BoolValue(true)),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn assembler(config: serde_json::Value) -> WasmAssembler {
    let mut cfg = crate::common::config("envelope_assembler");
    cfg.config = config;
    WasmAssembler::load("envelope", &cfg, &runtime()).unwrap()
}

#[test]
fn builtin_envelope_assembles_an_error_trace() {
    let a = assembler(serde_json::json!({ "in_app_prefixes": ["shop/"] }));
    let out = a.assemble(&request(true), &flag_logs()).unwrap();
    let env: serde_json::Value = serde_json::from_str(&out.expect("an envelope")).unwrap();
    assert_eq!(env["identity"]["trace_id"], "ab".repeat(16));
    assert_eq!(env["identity"]["span_id"], "0101010101010101");
    assert_eq!(
        env["identity"]["timestamp"],
        "2026-12-07T04:00:00.031000000Z"
    );
    let frames = &env["symptom"]["exception"]["frames"];
    assert_eq!(frames[0]["function"], "cost_per_parcel");
    assert_eq!(frames[0]["file"], "shop/app.py");
    assert_eq!(frames[0]["in_app"], true);
    assert_eq!(frames[2]["in_app"], false);
    assert_eq!(
        env["symptom"]["fingerprint"].as_str().map(str::len),
        Some(32)
    );
    assert_eq!(
        env["inputs"]["query"]["carrier"],
        serde_json::json!(["dhl", "ups"])
    );
    assert_eq!(env["inputs"]["body"]["items"][0]["weight_kg"], 0.8);
    assert!(env["inputs"]["headers"].get("authorization").is_none());
    assert_eq!(env["environment"]["feature_flags"]["tiered_pricing"], true);
    assert_eq!(env["timing"]["spans"][1]["critical_path"], true);

    // No error: nothing. Garbage ids: the guest's error, named.
    assert_eq!(a.assemble(&request(false), &flag_logs()).unwrap(), None);
    let mut bad = request(true);
    bad.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1, 2, 3];
    let err = a.assemble(&bad, &flag_logs()).unwrap_err().to_string();
    assert!(err.contains("trace id is 3 bytes"), "{err}");
}

#[test]
fn builtin_envelope_config_errors_name_the_key() {
    let mut cfg = crate::common::config("envelope_assembler");
    cfg.config = serde_json::json!({ "max_frames": 0 });
    let err = match WasmAssembler::load("envelope", &cfg, &runtime()) {
        Ok(_) => panic!("a config error"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("max_frames: 0 is out of range"), "{err}");
}
