//! The wire-built view is the decoded-built view, byte for byte, for
//! generated requests in canonical and shuffled encodings, split into chunks,
//! and under random corruption; and the builder refuses what only prost can
//! judge. The generators are shared with the tests of edits applied to
//! encoded requests (`edits/wire/tests.rs`).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use prost::encoding::encode_varint;

use super::WireFallback;
use crate::wasm::view::BatchView;

mod interest;
mod refusals;
pub(crate) mod shuffle;

use refusals::{kv_str, one_span};
use shuffle::{Kind, shuffle};

/// xorshift64*: deterministic, no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn chance(&mut self, in_: u64) -> bool {
        self.below(in_) == 0
    }
    pub(crate) fn string(&mut self) -> String {
        const PARTS: [&str; 8] = ["", "a", "http.method", "✓", "日本", "x y", "GET", "é"];
        (0..self.below(4))
            .map(|_| PARTS[self.below(PARTS.len() as u64) as usize])
            .collect()
    }
    pub(crate) fn bytes(&mut self, lens: &[usize]) -> Vec<u8> {
        let n = lens[self.below(lens.len() as u64) as usize];
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub(crate) fn u32(&mut self) -> u32 {
        match self.below(3) {
            0 => 0,
            1 => self.below(5) as u32,
            _ => self.next() as u32,
        }
    }
    pub(crate) fn u64(&mut self) -> u64 {
        if self.chance(3) { 0 } else { self.next() }
    }
}

pub(crate) fn value(rng: &mut Rng, depth: u32) -> AnyValue {
    use any_value::Value as V;
    let top = if depth >= 4 { 8 } else { 10 };
    let v = match rng.below(top) {
        0 => None,
        1 | 2 => Some(V::StringValue(rng.string())),
        3 => Some(V::BoolValue(rng.chance(2))),
        4 => Some(V::IntValue(rng.next() as i64)),
        // Any bits but NaN's, so requests still compare equal to themselves.
        5 => Some(V::DoubleValue(
            Some(f64::from_bits(rng.next()))
                .filter(|d| !d.is_nan())
                .unwrap_or(0.5),
        )),
        6 => Some(V::BytesValue(rng.bytes(&[0, 1, 5]))),
        7 => Some(V::StringValueStrindex(rng.next() as i32)),
        8 => Some(V::ArrayValue(ArrayValue {
            values: (0..rng.below(4)).map(|_| value(rng, depth + 1)).collect(),
        })),
        _ => Some(V::KvlistValue(KeyValueList {
            values: attrs(rng, 3, depth + 1),
        })),
    };
    AnyValue { value: v }
}

fn attrs(rng: &mut Rng, max: u64, depth: u32) -> Vec<KeyValue> {
    (0..rng.below(max + 1))
        .map(|_| KeyValue {
            key: rng.string(),
            value: if rng.chance(8) {
                None
            } else {
                Some(value(rng, depth))
            },
            key_strindex: if rng.chance(8) { rng.next() as i32 } else { 0 },
        })
        .collect()
}

fn resource(rng: &mut Rng) -> Option<Resource> {
    if rng.chance(4) {
        return None;
    }
    Some(Resource {
        attributes: attrs(rng, 4, 0),
        dropped_attributes_count: rng.u32(),
        entity_refs: (0..rng.below(2))
            .map(|_| EntityRef {
                schema_url: rng.string(),
                r#type: rng.string(),
                id_keys: vec![rng.string()],
                description_keys: vec![],
            })
            .collect(),
    })
}

fn scope(rng: &mut Rng) -> Option<InstrumentationScope> {
    if rng.chance(4) {
        return None;
    }
    Some(InstrumentationScope {
        name: rng.string(),
        version: rng.string(),
        attributes: attrs(rng, 2, 0),
        dropped_attributes_count: rng.u32(),
    })
}

fn span(rng: &mut Rng) -> Span {
    Span {
        trace_id: rng.bytes(&[0, 16, 3]),
        span_id: rng.bytes(&[0, 8]),
        trace_state: rng.string(),
        parent_span_id: rng.bytes(&[0, 8]),
        flags: rng.u32(),
        name: rng.string(),
        kind: rng.below(7) as i32,
        start_time_unix_nano: rng.u64(),
        end_time_unix_nano: rng.u64(),
        attributes: attrs(rng, 5, 0),
        dropped_attributes_count: rng.u32(),
        events: (0..rng.below(3))
            .map(|_| Event {
                time_unix_nano: rng.u64(),
                name: rng.string(),
                attributes: attrs(rng, 2, 0),
                dropped_attributes_count: rng.u32(),
            })
            .collect(),
        dropped_events_count: rng.u32(),
        links: (0..rng.below(3))
            .map(|_| Link {
                trace_id: rng.bytes(&[16, 0]),
                span_id: rng.bytes(&[8]),
                trace_state: rng.string(),
                attributes: attrs(rng, 2, 0),
                dropped_attributes_count: rng.u32(),
                flags: rng.u32(),
            })
            .collect(),
        dropped_links_count: rng.u32(),
        status: (!rng.chance(3)).then(|| Status {
            message: rng.string(),
            code: rng.below(4) as i32,
        }),
    }
}

pub(crate) fn traces(rng: &mut Rng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..rng.below(4))
            .map(|_| ResourceSpans {
                resource: resource(rng),
                scope_spans: (0..rng.below(4))
                    .map(|_| ScopeSpans {
                        scope: scope(rng),
                        spans: (0..rng.below(5)).map(|_| span(rng)).collect(),
                        schema_url: rng.string(),
                    })
                    .collect(),
                schema_url: rng.string(),
            })
            .collect(),
    }
}

fn log(rng: &mut Rng) -> LogRecord {
    LogRecord {
        time_unix_nano: rng.u64(),
        observed_time_unix_nano: rng.u64(),
        severity_number: rng.below(25) as i32,
        severity_text: rng.string(),
        body: (!rng.chance(4)).then(|| value(rng, 0)),
        attributes: attrs(rng, 4, 0),
        dropped_attributes_count: rng.u32(),
        flags: rng.u32(),
        trace_id: rng.bytes(&[0, 16]),
        span_id: rng.bytes(&[0, 8]),
        event_name: rng.string(),
    }
}

pub(crate) fn logs(rng: &mut Rng) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: (0..rng.below(4))
            .map(|_| ResourceLogs {
                resource: resource(rng),
                scope_logs: (0..rng.below(4))
                    .map(|_| ScopeLogs {
                        scope: scope(rng),
                        log_records: (0..rng.below(5)).map(|_| log(rng)).collect(),
                        schema_url: rng.string(),
                    })
                    .collect(),
                schema_url: rng.string(),
            })
            .collect(),
    }
}

/// The checked builder's view. Bytes it accepts have UTF-8 strings, as bytes
/// pdata's scan accepted do, so the validated builder must build the same view
/// of them: every test below checks both.
fn wire_traces(chunks: &[Vec<u8>]) -> Result<BatchView, WireFallback> {
    let mut v = BatchView::default();
    let checked = v.fill_traces_encoded(chunks).map(|()| v);
    if let Ok(v) = &checked {
        let mut trusted = BatchView::default();
        trusted
            .fill_traces_validated(chunks)
            .expect("the validated builder accepts what the checked one does");
        assert_same(&trusted, v, "validated traces");
    }
    checked
}

/// As [`wire_traces`], for logs.
fn wire_logs(chunks: &[Vec<u8>]) -> Result<BatchView, WireFallback> {
    let mut v = BatchView::default();
    let checked = v.fill_logs_encoded(chunks).map(|()| v);
    if let Ok(v) = &checked {
        let mut trusted = BatchView::default();
        trusted
            .fill_logs_validated(chunks)
            .expect("the validated builder accepts what the checked one does");
        assert_same(&trusted, v, "validated logs");
    }
    checked
}

fn validated_traces(chunks: &[Vec<u8>]) -> Result<BatchView, WireFallback> {
    let mut v = BatchView::default();
    v.fill_traces_validated(chunks).map(|()| v)
}

/// Asserts buffer by buffer, so a failure names the table that differs.
/// The arenas differ by construction (the wire builder's holds the received
/// bytes), so the packed forms are compared: the same strings at every row.
fn assert_same(wire: &BatchView, decoded: &BatchView, what: &str) {
    let (wire, decoded) = (&wire.packed(), &decoded.packed());
    assert_eq!(wire.arena, decoded.arena, "{what}: arena");
    assert_eq!(wire.resources, decoded.resources, "{what}: resources");
    assert_eq!(wire.scopes, decoded.scopes, "{what}: scopes");
    assert_eq!(wire.spans, decoded.spans, "{what}: spans");
    assert_eq!(wire.events, decoded.events, "{what}: events");
    assert_eq!(wire.links, decoded.links, "{what}: links");
    assert_eq!(wire.logs, decoded.logs, "{what}: logs");
    assert_eq!(wire.values, decoded.values, "{what}: values");
    assert_eq!(wire.index, decoded.index, "{what}: row index");
    assert!(wire == decoded);
}

#[test]
fn generated_traces_build_the_same_view() {
    let mut rng = Rng(0x5eed_0001);
    let mut spans = 0;
    for n in 0..1500 {
        let req = traces(&mut rng);
        let decoded = BatchView::from_traces(&req);
        spans += decoded.span_count();
        let wire = wire_traces(&[req.encode_to_vec()]).expect("canonical encoding is built");
        assert_same(&wire, &decoded, &format!("request {n}"));
    }
    assert!(spans > 5000, "the generator should make spans ({spans})");
}

#[test]
fn generated_logs_build_the_same_view() {
    let mut rng = Rng(0x5eed_0002);
    let mut records = 0;
    for n in 0..1500 {
        let req = logs(&mut rng);
        let decoded = BatchView::from_logs(&req);
        records += decoded.log_count();
        let wire = wire_logs(&[req.encode_to_vec()]).expect("canonical encoding is built");
        assert_same(&wire, &decoded, &format!("request {n}"));
    }
    assert!(
        records > 5000,
        "the generator should make records ({records})"
    );
}

/// A batch merged from several received bodies is their concatenation; rows
/// keep counting across chunks as prost's merge appends.
#[test]
fn chunks_number_rows_as_one_request() {
    let mut rng = Rng(0x5eed_0003);
    for n in 0..300 {
        let req = traces(&mut rng);
        let cut = rng.below(req.resource_spans.len() as u64 + 1) as usize;
        let chunks = vec![
            ExportTraceServiceRequest {
                resource_spans: req.resource_spans[..cut].to_vec(),
            }
            .encode_to_vec(),
            Vec::new(),
            ExportTraceServiceRequest {
                resource_spans: req.resource_spans[cut..].to_vec(),
            }
            .encode_to_vec(),
        ];
        let wire = wire_traces(&chunks).expect("built");
        assert_same(
            &wire,
            &BatchView::from_traces(&req),
            &format!("request {n}"),
        );
    }
    let mut v = BatchView::default();
    v.fill_logs_encoded::<&[u8]>(&[])
        .expect("no chunks is an empty request");
    assert_eq!(
        v,
        BatchView::from_logs(&ExportLogsServiceRequest::default())
    );
}

/// Whatever the builder accepts, prost decodes to the same view; corrupted
/// bytes are refused or, when still valid, built right.
#[test]
fn corrupted_encodings_are_refused_or_built_right() {
    let mut rng = Rng(0x5eed_0005);
    let (mut built, mut refused) = (0, 0);
    for _ in 0..4000 {
        let traces_req = rng.chance(2);
        let mut bytes = if traces_req {
            traces(&mut rng).encode_to_vec()
        } else {
            logs(&mut rng).encode_to_vec()
        };
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..rng.below(3) + 1 {
            let i = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[i] = rng.next() as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, rng.next() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let (wire, decoded) = if traces_req {
            (
                wire_traces(&[bytes.clone()]),
                ExportTraceServiceRequest::decode(&bytes[..]).map(|r| BatchView::from_traces(&r)),
            )
        } else {
            (
                wire_logs(&[bytes.clone()]),
                ExportLogsServiceRequest::decode(&bytes[..]).map(|r| BatchView::from_logs(&r)),
            )
        };
        match wire {
            Ok(w) => {
                built += 1;
                let d = decoded.unwrap_or_else(|e| {
                    panic!("built a view of bytes prost refuses ({e}): {bytes:?}")
                });
                assert_same(&w, &d, "corrupted");
            }
            Err(WireFallback) => refused += 1,
        }
    }
    assert!(
        built > 100 && refused > 1000,
        "corruption should leave both kinds ({built} built, {refused} refused)"
    );
}

/// The wire builder's arena is the received bytes, and its rows point into
/// them: the strings are found where they lie, and the packed comparison the
/// other tests rely on does tell different strings apart.
#[test]
fn wire_strings_point_into_the_received_bytes() {
    let mut rng = Rng(0x5eed_0a7e);
    let req = loop {
        let req = traces(&mut rng);
        if req.resource_spans.iter().any(|rs| {
            rs.scope_spans
                .iter()
                .any(|ss| ss.spans.iter().any(|s| !s.attributes.is_empty()))
        }) {
            break req;
        }
    };
    let bytes = req.encode_to_vec();
    let wire = validated_traces(std::slice::from_ref(&bytes)).expect("builds");
    assert_eq!(wire.arena, bytes, "the arena is the request, copied once");
    assert_same(&wire, &BatchView::from_traces(&req), "pointing");

    let mut changed = req.clone();
    let kv = changed
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
        .flat_map(|s| &mut s.attributes)
        .next()
        .expect("an attribute");
    kv.key.push('x');
    assert!(
        wire.packed() != BatchView::from_traces(&changed).packed(),
        "a changed key shows in the packed form"
    );
}

/// `bytes` through the checked builder and through pdata's receipt path
/// (validating scan, else prost): whatever the builder takes, the receiver
/// would have taken whole, scanned, with the same item count and nothing to
/// remove, and the view is the one the decoded request gives. `Some(taken)`,
/// or `None` for bytes the builder refused.
fn checked_against_the_scan(bytes: &[u8], traces_req: bool) -> Option<bool> {
    use pdata::{Batch, Signal};
    let mut v = BatchView::default();
    let chunks = [bytes];
    let (checked, signal) = if traces_req {
        (v.fill_traces_checked(&chunks), Signal::Traces)
    } else {
        (v.fill_logs_checked(&chunks), Signal::Logs)
    };
    let received = Batch::from_protobuf(signal, prost::bytes::Bytes::copy_from_slice(bytes));
    match checked {
        Ok(items) => {
            let r = received
                .unwrap_or_else(|e| panic!("checked bytes the receiver refuses ({e}): {bytes:?}"));
            let mut batch = r.batch;
            assert!(
                batch.validated(),
                "checked bytes the scan refuses: {bytes:?}"
            );
            assert_eq!(
                r.rejected, 0,
                "checked bytes with items to remove: {bytes:?}"
            );
            assert_eq!(batch.item_count(), items, "item count: {bytes:?}");
            let decoded = match batch.payload() {
                pdata::Payload::Traces(r) => BatchView::from_traces(r),
                pdata::Payload::Logs(r) => BatchView::from_logs(r),
                pdata::Payload::Metrics(_) => unreachable!("a traces or logs batch"),
            };
            assert_same(&v, &decoded, "checked");
            Some(true)
        }
        Err(WireFallback) => Some(false),
    }
}

/// The `n`th request of the checked builder's corpus, and whether it is a
/// traces request: generated (ids of every length), every third one
/// shuffled, every third one with a random byte corrupted.
pub(super) fn checked_corpus_request(rng: &mut Rng, n: usize) -> (Vec<u8>, bool) {
    let traces_req = rng.chance(2);
    let mut bytes = if traces_req {
        traces(rng).encode_to_vec()
    } else {
        logs(rng).encode_to_vec()
    };
    match n % 3 {
        0 => {}
        1 => {
            let kind = if traces_req {
                Kind::TracesRequest
            } else {
                Kind::LogsRequest
            };
            let extra = rng.chance(2);
            bytes = shuffle(rng, &bytes, kind, extra);
        }
        _ => {
            if !bytes.is_empty() {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = rng.next() as u8;
            }
        }
    }
    (bytes, traces_req)
}

/// The checked builder is never more lenient than the receiver's scan, on
/// generated requests (ids of every length, so many have spans the scan
/// would remove), their shuffled encodings and random corruptions of them;
/// and it takes the well-formed ones with valid ids.
#[test]
fn the_checked_builder_takes_only_what_the_scan_takes_whole() {
    let mut rng = Rng(0x5eed_0009);
    let (mut taken, mut left) = (0, 0);
    for i in 0..3000 {
        let (bytes, traces_req) = checked_corpus_request(&mut rng, i);
        match checked_against_the_scan(&bytes, traces_req) {
            Some(true) => taken += 1,
            _ => left += 1,
        }
    }
    assert!(
        taken > 300 && left > 300,
        "both kinds ({taken} taken, {left} left)"
    );
}

/// Spans and log records with ids the OTLP spec calls invalid leave the
/// request to the receiver's path (which removes them and says so); a
/// string that is not UTF-8 does too.
#[test]
fn the_checked_builder_leaves_invalid_ids_and_bad_utf8_to_the_receiver() {
    let with_ids = |mut req: ExportTraceServiceRequest| {
        let span = &mut req.resource_spans[0].scope_spans[0].spans[0];
        span.trace_id = vec![1; 16];
        span.span_id = vec![2; 8];
        req
    };
    let good = with_ids(one_span(vec![kv_str("k", "v")]));
    let mut v = BatchView::default();
    assert_eq!(v.fill_traces_checked(&[good.encode_to_vec()]), Ok(1));
    for (what, edit) in [
        (
            "short trace id",
            (|s: &mut Span| s.trace_id = vec![1; 5]) as fn(&mut Span),
        ),
        ("zero trace id", |s| s.trace_id = vec![0; 16]),
        ("no span id", |s| s.span_id.clear()),
        ("short parent", |s| s.parent_span_id = vec![1; 3]),
    ] {
        let mut req = good.clone();
        edit(&mut req.resource_spans[0].scope_spans[0].spans[0]);
        assert_eq!(
            v.fill_traces_checked(&[req.encode_to_vec()]),
            Err(WireFallback),
            "{what}"
        );
        assert_eq!(
            checked_against_the_scan(&req.encode_to_vec(), true),
            Some(false)
        );
    }
    let mut logs_req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    trace_id: vec![1; 16],
                    span_id: vec![1; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(v.fill_logs_checked(&[logs_req.encode_to_vec()]), Ok(1));
    logs_req.resource_logs[0].scope_logs[0].log_records[0].span_id = vec![1; 7];
    assert_eq!(
        v.fill_logs_checked(&[logs_req.encode_to_vec()]),
        Err(WireFallback)
    );
    // The span's name, `\xff` in place of its last byte.
    let mut bytes = with_ids(one_span(vec![])).encode_to_vec();
    let name = good.resource_spans[0].scope_spans[0].spans[0].name.clone();
    assert!(!name.is_empty(), "one_span names its span");
    let at = bytes
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("the name is in the encoding");
    bytes[at + name.len() - 1] = 0xff;
    assert_eq!(v.fill_traces_checked(&[bytes.clone()]), Err(WireFallback));
    assert_eq!(checked_against_the_scan(&bytes, true), Some(false));
}
