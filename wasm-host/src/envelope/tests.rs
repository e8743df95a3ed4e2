//! The holder with the real assembler guests: the built-in `builtin:envelope` and the
//! test assembler (whose output is not an envelope), on OTLP requests as SDKs send them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::*;
use crate::wasm::builtin::{self, ModuleRef};
use crate::wasm::{WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

pub(super) const COMMIT: &str = "9fceb02d0ae598e95dc970b74767f19372d61af8";
pub(super) const WINDOW: Duration = Duration::from_secs(5);
const TEST_ASSEMBLER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../guest-crates/target/wasm32-wasip2/release/test_assembler.wasm"
);
const HOSTILE_ASSEMBLER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../guest-crates/target/wasm32-wasip2/release/test_hostile_assembler.wasm"
);

pub(super) fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub(super) fn resource(commit: bool) -> Resource {
    let mut attributes = vec![kv("service.name", "orders")];
    if commit {
        attributes.push(kv("vcs.ref.head.revision", COMMIT));
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

pub(super) const STACK: &str = "Traceback (most recent call last):\n  File \"/app/shop/orders.py\", line 12, in get_order\n    return ORDERS[order_id]\nKeyError: 'order 42'\n";

/// A server span of trace `t` (`GET /orders/{id}`), failing with an exception event
/// when `fail`.
pub(super) fn server_span(t: u8, fail: bool) -> Span {
    let mut span = Span {
        trace_id: vec![t; 16],
        span_id: vec![t, 1, 1, 1, 1, 1, 1, 1],
        name: "GET /orders/{id}".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_765_000_000_000_000_000,
        end_time_unix_nano: 1_765_000_000_050_000_000,
        attributes: vec![
            kv("http.request.method", "GET"),
            kv("url.path", "/orders/42"),
            kv("http.route", "/orders/{id}"),
        ],
        ..Default::default()
    };
    if fail {
        span.events.push(Event {
            name: "exception".into(),
            time_unix_nano: 1_765_000_000_040_000_000,
            attributes: vec![
                kv("exception.type", "KeyError"),
                kv("exception.message", "'order 42'"),
                kv("exception.stacktrace", STACK),
            ],
            ..Default::default()
        });
        span.status = Some(Status {
            code: 2,
            message: String::new(),
        });
    }
    span
}

pub(super) fn traces(spans: Vec<Span>, commit: bool) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(commit)),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

pub(super) fn logs(records: Vec<LogRecord>) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(true)),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

pub(super) fn exception_record(t: u8) -> LogRecord {
    LogRecord {
        trace_id: vec![t; 16],
        span_id: vec![t, 1, 1, 1, 1, 1, 1, 1],
        time_unix_nano: 1_765_000_000_045_000_000,
        severity_number: 17,
        attributes: vec![
            kv("exception.type", "KeyError"),
            kv("exception.message", "'order 42'"),
            kv("exception.stacktrace", STACK),
        ],
        ..Default::default()
    }
}

fn runtime() -> WasmRuntime {
    WasmRuntime::without_registry(WasmRuntimeOptions::default()).expect("runtime")
}

pub(super) fn builtin_envelope() -> WasmAssembler {
    builtin_envelope_with(serde_json::json!({}))
}

/// `builtin:envelope` with `config` as its settings.
fn builtin_envelope_with(config: serde_json::Value) -> WasmAssembler {
    let Ok(ModuleRef::Builtin(b)) = builtin::resolve(std::path::Path::new("builtin:envelope"))
    else {
        panic!("builtin:envelope is not embedded");
    };
    let mut cfg = WasmProcessorConfig::for_module("builtin:envelope");
    cfg.config = config;
    WasmAssembler::load_bytes("envelope", &cfg, b.bytes, &runtime()).expect("loads")
}

/// A holder around `assembler`; its envelopes land in the returned list.
fn holder(
    assembler: WasmAssembler,
    settings: HolderSettings,
) -> (Holder, Arc<Mutex<Vec<String>>>, EnvelopeMetrics) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    let metrics = EnvelopeMetrics::default();
    let h = Holder::new(
        "envelope",
        settings,
        Box::new(assembler),
        &metrics,
        Arc::new(move |e| sink.lock().expect("sink").push(e)),
    );
    (h, out, metrics)
}

fn settings() -> HolderSettings {
    HolderSettings {
        join_window: WINDOW,
        dedupe_window: Duration::ZERO,
        ..HolderSettings::default()
    }
}

pub(super) fn count(
    f: &prometheus_client::metrics::family::Family<
        EnvelopeLabels,
        prometheus_client::metrics::counter::Counter,
    >,
) -> u64 {
    f.get_or_create(&EnvelopeLabels {
        exporter: "envelope".into(),
    })
    .get()
}

#[test]
fn a_failing_trace_and_its_logs_become_one_valid_envelope_after_the_join_window() {
    let (h, out, m) = holder(builtin_envelope(), settings());
    let t0 = Instant::now();
    h.consume_spans_at(
        &traces(vec![server_span(1, true), server_span(2, false)], true),
        t0,
    )
    .expect("takes spans");
    h.consume_logs_at(&logs(vec![exception_record(1)]), t0)
        .expect("takes logs");
    let held = h.stats();
    assert_eq!(
        (held.traces_held, held.spans_held, held.records_held),
        (2, 2, 1)
    );
    h.tick_at(t0 + WINDOW - Duration::from_millis(1));
    assert!(
        out.lock().expect("out").is_empty(),
        "assembled before its window"
    );
    h.tick_at(t0 + WINDOW);
    let sent = out.lock().expect("out").clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let env = envelope::parse(sent[0].as_bytes()).expect("a valid envelope");
    assert_eq!(env.identity.trace_id, "01".repeat(16));
    assert_eq!(env.identity.commit, COMMIT);
    assert_eq!(env.symptom.exception.exception_type, "KeyError");
    assert_eq!(h.stats().traces_held, 0);
    assert_eq!((count(&m.assembled), count(&m.queued)), (1, 1));
    // A span of the trace after it was assembled is late: dropped, counted.
    h.consume_spans_at(&traces(vec![server_span(1, false)], true), t0 + WINDOW)
        .expect("takes");
    assert_eq!((h.stats().traces_held, count(&m.late_items)), (0, 1));
}

#[test]
fn an_exception_log_record_alone_makes_a_trace_fail() {
    let (h, out, _) = holder(builtin_envelope(), settings());
    let t0 = Instant::now();
    h.consume_spans_at(&traces(vec![server_span(3, false)], true), t0)
        .expect("takes");
    h.consume_logs_at(&logs(vec![exception_record(3)]), t0)
        .expect("takes");
    h.tick_at(t0 + WINDOW);
    let sent = out.lock().expect("out").clone();
    assert_eq!(sent.len(), 1);
    let env = envelope::parse(sent[0].as_bytes()).expect("valid");
    assert_eq!(env.identity.trace_id, "03".repeat(16));
}

#[test]
fn a_failing_trace_without_a_commit_is_counted_and_not_assembled() {
    let (h, out, m) = holder(builtin_envelope(), settings());
    let t0 = Instant::now();
    h.consume_spans_at(&traces(vec![server_span(4, true)], false), t0)
        .expect("takes");
    h.tick_at(t0 + WINDOW);
    assert!(out.lock().expect("out").is_empty());
    assert_eq!((count(&m.no_commit), count(&m.assembled)), (1, 0));
}

#[test]
fn the_guests_commit_attributes_decide_which_traces_are_assembled() {
    // The service names its commit under another attribute than the convention's.
    let spans = |t: u8| {
        let mut req =
            ExportTraceServiceRequest::decode(&traces(vec![server_span(t, true)], false)[..])
                .expect("decodes");
        if let Some(res) = req.resource_spans[0].resource.as_mut() {
            res.attributes.push(kv("git.commit.sha", COMMIT));
        }
        req.encode_to_vec()
    };
    let guest_config = serde_json::json!({"commit_attributes": ["git.commit.sha"]});
    let (h, out, m) = holder(
        builtin_envelope_with(guest_config.clone()),
        HolderSettings {
            commit_attributes: commit_attributes(&guest_config).expect("a valid list"),
            ..settings()
        },
    );
    let t0 = Instant::now();
    h.consume_spans_at(&spans(16), t0).expect("takes");
    // The convention's attribute alone is not one the guest reads any more.
    h.consume_spans_at(&traces(vec![server_span(17, true)], true), t0)
        .expect("takes");
    h.tick_at(t0 + WINDOW);
    let sent = out.lock().expect("out").clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let env = envelope::parse(sent[0].as_bytes()).expect("a valid envelope");
    assert_eq!(
        (env.identity.trace_id.as_str(), env.identity.commit.as_str()),
        ("10".repeat(16).as_str(), COMMIT)
    );
    assert_eq!((count(&m.no_commit), count(&m.assembled)), (1, 1));

    // With the default list, the same trace is counted as without a commit.
    let (h, out, m) = holder(builtin_envelope(), settings());
    h.consume_spans_at(&spans(18), t0).expect("takes");
    h.tick_at(t0 + WINDOW);
    assert!(out.lock().expect("out").is_empty());
    assert_eq!((count(&m.no_commit), count(&m.assembled)), (1, 0));
}

#[test]
fn bounds_let_the_oldest_trace_go_early_and_shutdown_drains() {
    let (h, out, m) = holder(
        builtin_envelope(),
        HolderSettings {
            num_traces: 2,
            ..settings()
        },
    );
    let t0 = Instant::now();
    for t in [5, 6, 7] {
        h.consume_spans_at(&traces(vec![server_span(t, true)], true), t0)
            .expect("takes");
    }
    assert_eq!((h.stats().traces_held, count(&m.early)), (2, 1));
    assert_eq!(
        out.lock().expect("out").len(),
        1,
        "the oldest was assembled early"
    );
    h.shutdown_now(t0);
    assert_eq!(out.lock().expect("out").len(), 3);
    assert_eq!(h.stats().bytes_held, 0);
    assert!(matches!(
        h.consume_spans_at(&traces(vec![server_span(8, true)], true), t0),
        Err(HolderError::Stopped)
    ));
}

#[test]
fn dedupe_suppresses_within_the_window_and_the_next_envelope_carries_the_count() {
    let (h, out, m) = holder(
        builtin_envelope(),
        HolderSettings {
            dedupe_window: Duration::from_secs(60),
            ..settings()
        },
    );
    let t0 = Instant::now();
    for t in [9, 10, 11] {
        h.consume_spans_at(&traces(vec![server_span(t, true)], true), t0)
            .expect("takes");
    }
    h.tick_at(t0 + WINDOW);
    assert_eq!(
        (out.lock().expect("out").len(), count(&m.deduplicated)),
        (1, 2)
    );
    let later = t0 + Duration::from_secs(61);
    h.consume_spans_at(&traces(vec![server_span(12, true)], true), later)
        .expect("takes");
    h.tick_at(later + WINDOW);
    let sent = out.lock().expect("out").clone();
    assert_eq!(sent.len(), 2);
    let first = envelope::parse(sent[0].as_bytes()).expect("valid");
    let next = envelope::parse(sent[1].as_bytes()).expect("valid");
    assert_eq!(first.occurrences, None);
    assert_eq!(next.occurrences, Some(3));
}

#[test]
fn the_contract_refuses_clear_text_in_a_sensitive_field() {
    let mut fields: std::collections::BTreeMap<String, Label> = contract::DEFAULT_FIELDS
        .iter()
        .map(|(p, l)| ((*p).to_owned(), *l))
        .collect();
    fields.insert("/inputs/path".into(), Label::Sensitive);
    let (h, out, m) = holder(
        builtin_envelope(),
        HolderSettings {
            contract: Contract::compile(&ContractConfig { fields }).expect("compiles"),
            ..settings()
        },
    );
    let t0 = Instant::now();
    h.consume_spans_at(&traces(vec![server_span(13, true)], true), t0)
        .expect("takes");
    h.tick_at(t0 + WINDOW);
    assert!(out.lock().expect("out").is_empty());
    assert_eq!((count(&m.assembled), count(&m.refused)), (1, 1));
}

#[test]
fn output_that_is_not_an_envelope_is_counted_invalid_and_not_sent() {
    let bytes =
        std::fs::read(TEST_ASSEMBLER).expect("guest-crates/build.sh builds the test assembler");
    let cfg = WasmProcessorConfig::for_module(TEST_ASSEMBLER);
    let guest = WasmAssembler::load_bytes("test", &cfg, &bytes, &runtime()).expect("loads");
    let (h, out, m) = holder(guest, settings());
    let t0 = Instant::now();
    h.consume_spans_at(&traces(vec![server_span(14, true)], true), t0)
        .expect("takes");
    h.consume_spans_at(&traces(vec![server_span(15, false)], true), t0)
        .expect("takes");
    h.tick_at(t0 + WINDOW);
    assert!(out.lock().expect("out").is_empty());
    assert_eq!((count(&m.assembled), count(&m.invalid)), (1, 1));
}

fn fault_count(m: &EnvelopeMetrics, kind: &str) -> u64 {
    m.faults
        .get_or_create(&FaultLabels {
            exporter: "envelope".into(),
            kind: kind.into(),
        })
        .get()
}

#[test]
fn a_hostile_assembler_costs_only_the_traces_it_faults_on() {
    let bytes = std::fs::read(HOSTILE_ASSEMBLER)
        .expect("guest-crates/build.sh builds the hostile test assembler");
    let mut cfg = WasmProcessorConfig::for_module(HOSTILE_ASSEMBLER);
    // Short, so the loop ends quickly; the memory hoard meets the 16 MiB limit first.
    cfg.limits.call_timeout = Duration::from_secs(2);
    cfg.limits.memory_mib = 16;
    let guest = WasmAssembler::load_bytes("hostile", &cfg, &bytes, &runtime()).expect("loads");
    let (h, out, m) = holder(guest, settings());
    let t0 = Instant::now();
    // Each hostile trace between two ordinary ones: the circuit never sees two
    // faults in a row, and every ordinary trace must still give its envelope.
    let names = [
        "ok",
        "hostile.trap",
        "ok",
        "hostile.loop",
        "ok",
        "hostile.memory",
        "ok",
        "hostile.error",
        "ok",
        "hostile.garbage",
        "ok",
        "hostile.mixed",
        "ok",
    ];
    for (i, name) in names.iter().enumerate() {
        let mut span = server_span(40 + i as u8, true);
        span.name = (*name).into();
        h.consume_spans_at(&traces(vec![span], true), t0)
            .expect("takes");
    }
    h.tick_at(t0 + WINDOW);
    let sent = out.lock().expect("out").clone();
    let ids: Vec<String> = sent
        .iter()
        .map(|e| {
            envelope::parse(e.as_bytes())
                .expect("valid")
                .identity
                .trace_id
        })
        .collect();
    let expected: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(**n, "ok" | "hostile.mixed"))
        .map(|(i, _)| format!("{:02x}", 40 + i).repeat(16))
        .collect();
    assert_eq!(
        ids, expected,
        "every ordinary trace and the valid half of the mixed one"
    );
    for kind in ["trap", "timeout", "memory", "guest_error"] {
        assert_eq!(fault_count(&m, kind), 1, "{kind}");
    }
    assert_eq!(fault_count(&m, "circuit_open"), 0);
    // The garbage and the broken half of the mixed output.
    assert_eq!(count(&m.invalid), 2);
    assert_eq!((count(&m.assembled), count(&m.queued)), (9, 8));
    assert_eq!(h.stats().traces_held, 0);
}

#[test]
fn a_malformed_request_is_refused_with_nothing_held() {
    let (h, _, _) = holder(builtin_envelope(), settings());
    assert!(matches!(
        h.consume_spans(&[0x0a, 0x05, 0x01]),
        Err(HolderError::Malformed(_))
    ));
    assert_eq!(h.stats().traces_held, 0);
}

#[test]
fn the_guest_answers_the_held_bytes_as_it_answers_the_decoded_trace() {
    let guest = builtin_envelope();
    let (spans, records) = (
        traces(vec![server_span(21, true)], true),
        logs(vec![exception_record(21)]),
    );
    let decoded = (
        ExportTraceServiceRequest::decode(&spans[..]).expect("decodes"),
        ExportLogsServiceRequest::decode(&records[..]).expect("decodes"),
    );
    let from_structs = Assemble::assemble(&guest, &decoded.0, &decoded.1).expect("assembles");
    let from_bytes = Assemble::assemble_encoded(&guest, &spans, &records).expect("assembles");
    assert!(from_bytes.is_some());
    assert_eq!(from_bytes, from_structs);
    // Bytes that do not decode never reach the guest: the `undecodable` fault.
    let cut = &spans[..spans.len() - 3];
    let fault = Assemble::assemble_encoded(&guest, cut, &records).expect_err("refused");
    assert_eq!(fault.kind, UNDECODABLE);
}

/// A request taken with the receiver's side index is held and assembled as the
/// same request taken without it; an index of other bytes is ignored.
#[test]
fn the_receivers_index_holds_and_assembles_as_the_walk_does() {
    use bytes::Bytes;
    use pdata::{Batch, Signal};
    let body = Bytes::from(traces(
        vec![
            server_span(1, true),
            server_span(2, false),
            server_span(1, false),
        ],
        true,
    ));
    let batch = Batch::from_protobuf_indexed(Signal::Traces, body.clone())
        .expect("valid")
        .batch;
    let (bytes, index) = batch.indexed_chunks().remove(0);
    let index = index.expect("indexed");
    let t0 = Instant::now();
    let run = |index: Option<&pdata::wire::index::RequestIndex>, request: Bytes| {
        let (h, out, m) = holder(builtin_envelope(), settings());
        h.consume_spans_indexed_at(request, index, t0)
            .expect("takes spans");
        let held = h.stats();
        h.tick_at(t0 + WINDOW);
        let sent = out.lock().expect("out").clone();
        (held, sent.len(), count(&m.assembled))
    };
    let walked = run(None, bytes.clone());
    assert_eq!(walked.0.traces_held, 2);
    assert_eq!(walked.0.spans_held, 3);
    assert_eq!((walked.1, walked.2), (1, 1), "one failing trace assembled");
    assert_eq!(run(Some(&index), bytes), walked);
    // The index of another request (another length): ignored, the spans walked.
    let other = Bytes::from(traces(vec![server_span(5, true)], true));
    let (held, sent, _) = run(Some(&index), other);
    assert_eq!((held.traces_held, held.spans_held, sent), (1, 1, 1));
}
