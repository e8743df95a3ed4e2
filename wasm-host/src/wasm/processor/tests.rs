//! The encoded-batch entry points against real guests (built by
//! `guest-crates/build.sh`): the same outcome as the decoded path, and no
//! decode unless the guest edits.

use std::path::PathBuf;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::encoding::encode_varint;

use super::*;
use crate::wasm::sampler::{SampleContext, SampleError, WasmSampler};
use crate::wasm::{WasmRuntimeOptions, view_wire::WireFallback};

mod interest;

fn guest(name: &str) -> PathBuf {
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

fn runtime() -> WasmRuntime {
    WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: None,
        ..Default::default()
    })
    .expect("runtime")
}

fn load(name: &str) -> WasmProcessor {
    let cfg = WasmProcessorConfig::for_module(guest(name));
    WasmProcessor::load(&format!("wasm/{name}"), &cfg, &runtime()).expect("loads")
}

/// A batch held as bytes, as the collector's pipeline batch is.
struct Encoded<Q> {
    chunks: Vec<Bytes>,
    decoded: Option<Q>,
    modified: bool,
    /// Takes edited bytes ([`BatchAccess::replace_encoded`]).
    takes_bytes: bool,
    /// Items as the last replacement said.
    items: Option<usize>,
}

impl<Q: Message + Default + Clone + BatchAccess<Q>> Encoded<Q> {
    fn new(chunks: Vec<Vec<u8>>) -> Self {
        Encoded {
            chunks: chunks.into_iter().map(Bytes::from).collect(),
            decoded: None,
            modified: false,
            takes_bytes: true,
            items: None,
        }
    }

    fn request(&mut self) -> Q {
        self.with_decoded(|q| (q.clone(), false))
    }
}

impl<Q: Message + Default + Clone> BatchAccess<Q> for Encoded<Q>
where
    Q: BatchAccess<Q>,
{
    fn encoded(&self) -> Option<&[Bytes]> {
        (!self.modified).then_some(&self.chunks[..])
    }
    fn with_decoded<T>(&mut self, f: impl FnOnce(&mut Q) -> (T, bool)) -> T {
        let chunks = &self.chunks;
        let q = self.decoded.get_or_insert_with(|| {
            let mut q = Q::default();
            for c in chunks {
                q.merge(c.clone()).expect("test bytes decode");
            }
            q
        });
        let (t, changed) = f(q);
        self.modified |= changed;
        t
    }
    fn replace_encoded(&mut self, chunks: Vec<Bytes>, items: usize, _validated: bool) -> bool {
        if !self.takes_bytes {
            return false;
        }
        self.chunks = chunks;
        self.decoded = None;
        self.modified = false;
        self.items = Some(items);
        true
    }
    fn item_count(&self) -> usize {
        match &self.decoded {
            Some(q) => q.item_count(),
            None => {
                let mut q = Q::default();
                for c in &self.chunks {
                    q.merge(c.clone()).expect("test bytes decode");
                }
                q.item_count()
            }
        }
    }
    fn clear(&mut self) {
        self.decoded = Some(Q::default());
        self.modified = true;
    }
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

/// Spans across resources and scopes, with what `edit-all` acts on: an
/// attribute to remove, one to copy, a span to drop.
fn traces() -> ExportTraceServiceRequest {
    let span = |r: usize, i: usize| {
        let mut attributes = vec![
            kv("http.route", s("/users/{id}")),
            kv("i", Value::IntValue(i as i64)),
        ];
        match i {
            1 => attributes.push(kv("remove.me", s("secret"))),
            2 => attributes.push(kv("drop", Value::BoolValue(true))),
            3 => attributes.push(kv("copy.src", Value::BytesValue(vec![1, 2]))),
            _ => {}
        }
        Span {
            trace_id: vec![r as u8 + 1; 16],
            span_id: vec![i as u8 + 1; 8],
            name: format!("op-{r}-{i}"),
            attributes,
            events: vec![Event {
                name: "exception".into(),
                attributes: vec![kv("exception.type", s("ValueError"))],
                ..Default::default()
            }],
            links: (i == 0)
                .then(|| Link {
                    trace_id: vec![9; 16],
                    span_id: vec![9; 8],
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            status: (i == 4).then(|| Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        }
    };
    ExportTraceServiceRequest {
        resource_spans: (0..2)
            .map(|r| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", s(&format!("svc-{r}")))],
                    ..Default::default()
                }),
                scope_spans: (0..r + 1)
                    .map(|_| ScopeSpans {
                        spans: (0..5).map(|i| span(r, i)).collect(),
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

fn logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..4)
                    .map(|i| LogRecord {
                        severity_number: 17,
                        body: Some(AnyValue {
                            value: Some(s(&format!("line {i}"))),
                        }),
                        attributes: vec![kv("remove.me", s("x")), kv("n", Value::IntValue(i))],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The request split into two encoded chunks, as a merged batch holds it.
fn chunks(req: &ExportTraceServiceRequest) -> Vec<Vec<u8>> {
    let (a, b) = req.resource_spans.split_at(1);
    vec![
        ExportTraceServiceRequest {
            resource_spans: a.to_vec(),
        }
        .encode_to_vec(),
        ExportTraceServiceRequest {
            resource_spans: b.to_vec(),
        }
        .encode_to_vec(),
    ]
}

#[test]
fn edits_from_bytes_are_the_edits_from_the_decoded_request() {
    let p = load("edit_all");
    let mut decoded = traces();
    let want = p.process_traces(&mut decoded).expect("edits apply");
    assert!(want.edits > 0 && want.spans_dropped > 0);
    let mut batch = Encoded::new(chunks(&traces()));
    assert_eq!(p.process_traces_batch(&mut batch), Ok(want));
    assert!(batch.decoded.is_none(), "edited as bytes, never decoded");
    assert_eq!(batch.items, Some(decoded.item_count()));
    assert_eq!(batch.request(), decoded);

    let mut decoded = logs();
    let want = p.process_logs(&mut decoded).expect("edits apply");
    assert!(want.edits > 0);
    let mut batch = Encoded::new(vec![logs().encode_to_vec()]);
    assert_eq!(p.process_logs_batch(&mut batch), Ok(want));
    assert!(batch.decoded.is_none(), "edited as bytes, never decoded");
    assert_eq!(batch.request(), decoded);
}

/// A batch that cannot hold new bytes is decoded and edited as before.
#[test]
fn a_batch_that_takes_no_bytes_is_edited_decoded() {
    let p = load("edit_all");
    let mut decoded = traces();
    let want = p.process_traces(&mut decoded).expect("edits apply");
    let mut batch = Encoded::new(chunks(&traces()));
    batch.takes_bytes = false;
    assert_eq!(p.process_traces_batch(&mut batch), Ok(want));
    assert!(
        batch.encoded().is_none(),
        "edited decoded: the bytes are stale"
    );
    assert_eq!(batch.request(), decoded);
}

#[test]
fn a_guest_without_edits_leaves_the_batch_encoded() {
    let p = load("noop");
    let mut batch = Encoded::<ExportTraceServiceRequest>::new(chunks(&traces()));
    assert_eq!(p.process_traces_batch(&mut batch), Ok(Applied::default()));
    assert!(batch.decoded.is_none(), "never decoded");
    assert!(batch.encoded().is_some());
    let mut batch = Encoded::<ExportLogsServiceRequest>::new(vec![logs().encode_to_vec()]);
    assert_eq!(p.process_logs_batch(&mut batch), Ok(Applied::default()));
    assert!(batch.decoded.is_none(), "never decoded");
}

/// Bytes the view builder leaves to prost (here an unknown group in a span)
/// are decoded first; the guest sees and edits the same batch.
#[test]
fn an_encoding_left_to_prost_is_decoded_first() {
    let p = load("edit_all");
    let mut bytes = Vec::new();
    let req = traces();
    for rs in &req.resource_spans {
        let mut rs = rs.clone();
        let spans = std::mem::take(&mut rs.scope_spans[0].spans);
        let mut scope = rs.scope_spans[0].encode_to_vec();
        for span in &spans {
            let mut body = span.encode_to_vec();
            body.extend_from_slice(&[0xc3, 0x3e, 0x08, 0x01, 0xc4, 0x3e]);
            scope.push(0x12);
            encode_varint(body.len() as u64, &mut scope);
            scope.extend_from_slice(&body);
        }
        let mut group = ResourceSpans {
            scope_spans: Vec::new(),
            ..rs.clone()
        }
        .encode_to_vec();
        group.push(0x12);
        encode_varint(scope.len() as u64, &mut group);
        group.extend_from_slice(&scope);
        for extra in &rs.scope_spans[1..] {
            group.push(0x12);
            let e = extra.encode_to_vec();
            encode_varint(e.len() as u64, &mut group);
            group.extend_from_slice(&e);
        }
        bytes.push(0x0a);
        encode_varint(group.len() as u64, &mut bytes);
        bytes.extend_from_slice(&group);
    }
    assert_eq!(
        ExportTraceServiceRequest::decode(&bytes[..]).expect("prost reads it"),
        req
    );
    let mut view = BatchView::default();
    assert_eq!(view.fill_traces_encoded(&[&bytes[..]]), Err(WireFallback));
    let mut decoded = traces();
    let want = p.process_traces(&mut decoded).expect("edits apply");
    let mut batch = Encoded::new(vec![bytes]);
    assert_eq!(p.process_traces_batch(&mut batch), Ok(want));
    assert_eq!(batch.request(), decoded);
}

#[test]
fn on_error_drop_empties_an_encoded_batch() {
    let cfg = WasmProcessorConfig {
        on_error: OnError::Drop,
        ..WasmProcessorConfig::for_module(guest("hostile_trap_first_call"))
    };
    let p = WasmProcessor::load("wasm/trap", &cfg, &runtime()).expect("loads");
    let mut batch = Encoded::new(chunks(&traces()));
    let fault = p.process_traces_batch(&mut batch).expect_err("traps");
    assert!(fault.batch_dropped);
    assert_eq!(batch.item_count(), 0);
    assert!(batch.encoded().is_none());
}

#[test]
fn a_sampler_decides_from_bytes_as_from_the_decoded_trace() {
    let mut cfg = WasmProcessorConfig::for_module(guest("test_sampler"));
    cfg.config = serde_json::json!({ "slow_ms": 1 });
    let sampler = WasmSampler::load("tail/wasm", &cfg, &runtime()).expect("loads");
    let context = SampleContext {
        decision_time_unix_nano: 5,
        trace_size_bytes: 100,
        ottl_holding: Vec::new(),
    };
    let mut ok = traces();
    for rs in &mut ok.resource_spans {
        for ss in &mut rs.scope_spans {
            for span in &mut ss.spans {
                span.status = None;
            }
        }
    }
    let mut slow = ok.clone();
    slow.resource_spans[1].scope_spans[1].spans[3].end_time_unix_nano = 10_000_000;
    let mut reasons = Vec::new();
    for trace in [traces(), slow, ok] {
        let want = sampler
            .sample_with(&trace, context.clone())
            .expect("decides");
        let got = sampler
            .sample_encoded(&trace.encode_to_vec(), context.clone())
            .expect("decides");
        assert_eq!(got, want);
        reasons.push(got.reason);
    }
    assert_eq!(reasons, ["error", "slow", "ok"]);
    let bytes = traces().encode_to_vec();
    assert!(matches!(
        sampler.sample_encoded(&bytes[..bytes.len() - 1], context),
        Err(SampleError::Malformed(_))
    ));
}
