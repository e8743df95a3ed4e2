//! The wire-built view is the decoded-built view, byte for byte, for
//! generated requests in canonical and shuffled encodings, split into chunks,
//! and under random corruption; and the builder refuses what only prost can
//! judge.

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

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, in_: u64) -> bool {
        self.below(in_) == 0
    }
    fn string(&mut self) -> String {
        const PARTS: [&str; 8] = ["", "a", "http.method", "✓", "日本", "x y", "GET", "é"];
        (0..self.below(4))
            .map(|_| PARTS[self.below(PARTS.len() as u64) as usize])
            .collect()
    }
    fn bytes(&mut self, lens: &[usize]) -> Vec<u8> {
        let n = lens[self.below(lens.len() as u64) as usize];
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn u32(&mut self) -> u32 {
        match self.below(3) {
            0 => 0,
            1 => self.below(5) as u32,
            _ => self.next() as u32,
        }
    }
    fn u64(&mut self) -> u64 {
        if self.chance(3) { 0 } else { self.next() }
    }
}

fn value(rng: &mut Rng, depth: u32) -> AnyValue {
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

fn traces(rng: &mut Rng) -> ExportTraceServiceRequest {
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

fn logs(rng: &mut Rng) -> ExportLogsServiceRequest {
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

/// Message kinds, for re-encoding with the fields in another order.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    TracesRequest,
    LogsRequest,
    ResourceSpans,
    ResourceLogs,
    Resource,
    ScopeSpans,
    ScopeLogs,
    Scope,
    Span,
    Event,
    Link,
    Status,
    Log,
    KeyValue,
    AnyValue,
    List,
    KvList,
    Leaf,
}

/// The kind of message field `tag` of `kind` holds, if it is a message.
fn child(kind: Kind, tag: u32) -> Option<Kind> {
    use Kind::*;
    Some(match (kind, tag) {
        (TracesRequest, 1) => ResourceSpans,
        (LogsRequest, 1) => ResourceLogs,
        (ResourceSpans | ResourceLogs, 1) => Resource,
        (ResourceSpans, 2) => ScopeSpans,
        (ResourceLogs, 2) => ScopeLogs,
        (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (Log, 6) => KeyValue,
        (Resource, 3) => Leaf,
        (ScopeSpans | ScopeLogs, 1) => Scope,
        (ScopeSpans, 2) => Span,
        (ScopeLogs, 2) => Log,
        (Span, 11) => Event,
        (Span, 13) => Link,
        (Span, 15) => Status,
        (Log, 5) | (KeyValue, 2) | (List, 1) => AnyValue,
        (AnyValue, 5) => List,
        (AnyValue, 6) => KvList,
        (KvList, 1) => KeyValue,
        _ => return None,
    })
}

/// One field of a message: key, and the payload re-encoded.
struct Field {
    tag: u32,
    wt: u64,
    body: Vec<u8>,
}

fn read_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            break;
        }
    }
    v
}

/// Re-encodes `buf` (a `kind` message) with its fields in a random order that
/// keeps each repeated field's own order, recursively; with `extra`, adds
/// unknown fields and overridden earlier copies of singular scalars, which
/// prost ignores and overwrites.
fn shuffle(rng: &mut Rng, buf: &[u8], kind: Kind, extra: bool) -> Vec<u8> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos);
        let (tag, wt) = ((key >> 3) as u32, key & 7);
        let body = match wt {
            0 => {
                let start = pos;
                read_varint(buf, &mut pos);
                buf[start..pos].to_vec()
            }
            1 => {
                pos += 8;
                buf[pos - 8..pos].to_vec()
            }
            5 => {
                pos += 4;
                buf[pos - 4..pos].to_vec()
            }
            _ => {
                let len = read_varint(buf, &mut pos) as usize;
                let inner = &buf[pos..pos + len];
                pos += len;
                match child(kind, tag) {
                    Some(k) => shuffle(rng, inner, k, extra),
                    None => inner.to_vec(),
                }
            }
        };
        fields.push(Field { tag, wt, body });
    }
    if extra {
        let mut with = Vec::with_capacity(fields.len() + 2);
        for f in fields {
            // AnyValue scalars are oneof members: a second one is refused.
            if kind != Kind::AnyValue && f.wt != 2 && rng.chance(3) {
                let junk = match f.wt {
                    0 => vec![0x7f],
                    1 => vec![9; 8],
                    _ => vec![9; 4],
                };
                // Before the real one, which is the last and so counts.
                with.push(Field {
                    tag: f.tag,
                    wt: f.wt,
                    body: junk,
                });
            }
            with.push(f);
        }
        fields = with;
        if rng.chance(2) {
            let (wt, body) = match rng.below(4) {
                0 => (0, vec![5]),
                1 => (1, vec![0; 8]),
                2 => (2, b"unknown".to_vec()),
                _ => (5, vec![1, 2, 3, 4]),
            };
            fields.push(Field {
                tag: 1000 + rng.below(100) as u32,
                wt,
                body,
            });
        }
    }
    // A random order, then each tag's fields put back in their own order.
    let mut order: Vec<usize> = (0..fields.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let tags: Vec<u32> = order.iter().map(|&i| fields[i].tag).collect();
    let mut queues: std::collections::HashMap<u32, std::collections::VecDeque<Field>> =
        Default::default();
    for f in fields {
        queues.entry(f.tag).or_default().push_back(f);
    }
    let mut out = Vec::with_capacity(buf.len());
    for tag in tags {
        let f = queues
            .get_mut(&tag)
            .and_then(|q| q.pop_front())
            .expect("one per slot");
        encode_varint(u64::from(f.tag) << 3 | f.wt, &mut out);
        if f.wt == 2 {
            encode_varint(f.body.len() as u64, &mut out);
        }
        out.extend_from_slice(&f.body);
    }
    out
}

#[test]
fn shuffled_encodings_build_the_decoded_view() {
    let mut rng = Rng(0x5eed_0004);
    for n in 0..600 {
        let extra = n % 2 == 1;
        let req = traces(&mut rng);
        let bytes = shuffle(&mut rng, &req.encode_to_vec(), Kind::TracesRequest, extra);
        let decoded = ExportTraceServiceRequest::decode(&bytes[..]).expect("prost decodes");
        assert_eq!(decoded, req, "the shuffle keeps the content");
        let wire = wire_traces(&[bytes]).expect("a reordered encoding is built");
        assert_same(&wire, &BatchView::from_traces(&req), &format!("traces {n}"));

        let req = logs(&mut rng);
        let bytes = shuffle(&mut rng, &req.encode_to_vec(), Kind::LogsRequest, extra);
        let decoded = ExportLogsServiceRequest::decode(&bytes[..]).expect("prost decodes");
        assert_eq!(decoded, req, "the shuffle keeps the content");
        let wire = wire_logs(&[bytes]).expect("a reordered encoding is built");
        assert_same(&wire, &BatchView::from_logs(&req), &format!("logs {n}"));
    }
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

fn one_span(attributes: Vec<KeyValue>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "s".into(),
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn nested(depth: usize) -> AnyValue {
    let mut v = AnyValue {
        value: Some(any_value::Value::IntValue(7)),
    };
    for _ in 0..depth {
        v = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    v
}

/// Encodings prost reads but the builder leaves to it: repeated singular
/// messages (prost merges them), two `AnyValue` members, groups, deep nesting.
#[test]
fn what_only_prost_can_judge_is_refused() {
    let rs = ResourceSpans {
        resource: Some(Resource::default()),
        ..Default::default()
    }
    .encode_to_vec();
    // A ResourceSpans whose `resource` comes twice.
    let mut twice = rs.clone();
    twice.extend_from_slice(&rs);
    let mut req = vec![0x0a];
    encode_varint(twice.len() as u64, &mut req);
    req.extend_from_slice(&twice);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // An AnyValue with a string and then an int: prost keeps the int.
    let mut any = AnyValue {
        value: Some(any_value::Value::StringValue("a".into())),
    }
    .encode_to_vec();
    any.extend(
        AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        }
        .encode_to_vec(),
    );
    let mut kv = vec![0x0a, 0x01, b'k', 0x12];
    encode_varint(any.len() as u64, &mut kv);
    kv.extend_from_slice(&any);
    let mut span = vec![0x4a];
    encode_varint(kv.len() as u64, &mut span);
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // An unknown group in a span: prost skips it.
    let req = wrap_span(&[0xc3, 0x3e, 0x08, 0x01, 0xc4, 0x3e]);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // Nesting: built while well inside prost's limit, refused near it.
    let shallow = one_span(vec![KeyValue {
        key: "k".into(),
        value: Some(nested(20)),
        ..Default::default()
    }]);
    let wire = wire_traces(&[shallow.encode_to_vec()]).expect("20 levels are built");
    assert_same(&wire, &BatchView::from_traces(&shallow), "nested");
    let deep = one_span(vec![KeyValue {
        key: "k".into(),
        value: Some(nested(40)),
        ..Default::default()
    }]);
    assert!(ExportTraceServiceRequest::decode(&deep.encode_to_vec()[..]).is_ok());
    assert_eq!(wire_traces(&[deep.encode_to_vec()]), Err(WireFallback));
}

#[test]
fn what_prost_refuses_is_refused() {
    // A key that is not UTF-8.
    let kv = [0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // A span name given as a varint.
    let req = wrap_span(&[0x28, 0x01]);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // An entity ref (not shown to guests) with a bad string.
    let mut res = vec![0x1a, 0x03, 0x0a, 0x01, 0xff];
    let mut rs = vec![0x0a, res.len() as u8];
    rs.append(&mut res);
    let mut req = vec![0x0a, rs.len() as u8];
    req.extend_from_slice(&rs);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // Truncated.
    let good = one_span(vec![]).encode_to_vec();
    assert_eq!(
        wire_traces(&[good[..good.len() - 1].to_vec()]),
        Err(WireFallback)
    );
}

/// A request with one resource, one scope and one span made of `span`'s bytes.
fn wrap_span(span: &[u8]) -> Vec<u8> {
    let wrap = |tag: u8, inner: &[u8]| {
        let mut out = vec![tag];
        encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    };
    wrap(0x0a, &wrap(0x12, &wrap(0x12, span)))
}

/// The validated builder skips only the UTF-8 check: a valid request with
/// non-ASCII strings everywhere is built as the decoded path builds it, the
/// refusals about prost's merging rules and malformed bytes stand, and a
/// string that is not UTF-8 (which pdata's scan would have refused) is not
/// looked at.
#[test]
fn the_validated_builder_skips_only_the_utf8_check() {
    let mut rng = Rng(0x5eed_0006);
    for n in 0..500 {
        let req = traces(&mut rng);
        let wire = validated_traces(&[req.encode_to_vec()]).expect("built");
        assert_same(&wire, &BatchView::from_traces(&req), &format!("traces {n}"));
        let req = logs(&mut rng);
        let mut v = BatchView::default();
        v.fill_logs_validated(&[req.encode_to_vec()])
            .expect("built");
        assert_same(&v, &BatchView::from_logs(&req), &format!("logs {n}"));
    }

    // Malformed: truncated, a name given as a varint.
    let good = one_span(vec![]).encode_to_vec();
    assert_eq!(
        validated_traces(&[good[..good.len() - 1].to_vec()]),
        Err(WireFallback)
    );
    assert_eq!(
        validated_traces(&[wrap_span(&[0x28, 0x01])]),
        Err(WireFallback)
    );
    // A span whose `status` comes twice: prost merges the two.
    let status = [0x7a, 0x02, 0x18, 0x01];
    let mut span = status.to_vec();
    span.extend_from_slice(&status);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(validated_traces(&[req]), Err(WireFallback));

    // A key that is not UTF-8: refused when checked, copied when trusted.
    let kv = [0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert_eq!(wire_traces(std::slice::from_ref(&req)), Err(WireFallback));
    let v = validated_traces(&[req]).expect("not checked again");
    assert_eq!(v.packed().arena, [0xc3, 0x28]);
    // The same in the short string attribute read without the field loop.
    let kv = [0x0a, 0x01, b'k', 0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(std::slice::from_ref(&req)), Err(WireFallback));
    let v = validated_traces(&[req]).expect("not checked again");
    assert_eq!(v.packed().arena, [b'k', 0xc3, 0x28]);
}

/// String attributes in the shape read without the field loop, and shapes
/// next to it (long lengths, a second member, trailing fields, nesting near
/// the limit) that the loop reads, all build the decoded view.
#[test]
fn short_string_attributes_and_their_neighbours() {
    let s = |v: &str| AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    };
    let kv = |k: &str, v: Option<AnyValue>| KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    };
    let long = "x".repeat(200);
    let req = one_span(vec![
        kv("k", Some(s("v"))),
        kv("", Some(s("v"))),
        kv("k", Some(s(""))),
        kv("k", None),
        kv(&long, Some(s("v"))),
        kv("k", Some(s(&long))),
        kv("é", Some(s("日本"))),
        kv(
            "k",
            Some(AnyValue {
                value: Some(any_value::Value::IntValue(3)),
            }),
        ),
    ]);
    let wire = wire_traces(&[req.encode_to_vec()]).expect("built");
    assert_same(&wire, &BatchView::from_traces(&req), "attributes");

    // The short shape with an unknown field after the value: the loop skips it.
    let kv = [0x0a, 0x01, b'k', 0x12, 0x03, 0x0a, 0x01, b'v', 0x18, 0x01];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    let decoded = ExportTraceServiceRequest::decode(&req[..]).expect("prost decodes");
    let wire = wire_traces(&[req]).expect("built");
    assert_same(&wire, &BatchView::from_traces(&decoded), "trailing field");

    // A short string attribute as deep as the builder goes, and one deeper.
    let in_list = |depth: usize| {
        let mut v = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv_str("k", "v")],
            })),
        };
        for _ in 0..depth {
            v = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
            };
        }
        one_span(vec![KeyValue {
            key: "a".into(),
            value: Some(v),
            ..Default::default()
        }])
    };
    let (mut built, mut refused) = (0, 0);
    for depth in 25..35 {
        let req = in_list(depth);
        match wire_traces(&[req.encode_to_vec()]) {
            Ok(w) => {
                built += 1;
                assert_same(&w, &BatchView::from_traces(&req), "deep");
            }
            Err(WireFallback) => refused += 1,
        }
    }
    assert!(built > 0 && refused > 0, "{built} built, {refused} refused");
}

fn kv_str(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
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

/// The checked builder is never more lenient than the receiver's scan, on
/// generated requests (ids of every length, so many have spans the scan
/// would remove), their shuffled encodings and random corruptions of them;
/// and it takes the well-formed ones with valid ids.
#[test]
fn the_checked_builder_takes_only_what_the_scan_takes_whole() {
    let mut rng = Rng(0x5eed_0009);
    let (mut taken, mut left) = (0, 0);
    for i in 0..3000 {
        let traces_req = rng.chance(2);
        let mut bytes = if traces_req {
            traces(&mut rng).encode_to_vec()
        } else {
            logs(&mut rng).encode_to_vec()
        };
        match i % 3 {
            0 => {}
            1 => {
                let kind = if traces_req {
                    Kind::TracesRequest
                } else {
                    Kind::LogsRequest
                };
                let extra = rng.chance(2);
                bytes = shuffle(&mut rng, &bytes, kind, extra);
            }
            _ => {
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next() as u8;
                }
            }
        }
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
