//! The receiver's side index takes a request apart exactly as the split by
//! trace does: over generated requests (several resources and scopes,
//! interleaved traces, repeated framing fields, error markers), merged
//! batches and corrupted requests, for spans and log records.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span::Event};
use pdata::{Batch, Signal};
use prost::Message;

use super::*;

/// xorshift64*: reproducible requests without a dependency.
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

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// A length-delimited field (tags below 16).
fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

fn kv(key: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("v".into())),
        }),
    }
}

fn status(code: i32) -> Vec<u8> {
    Status {
        code,
        message: String::new(),
    }
    .encode_to_vec()
}

/// One span: a trace id from a small pool (so traces interleave), at times
/// an error status, an `exception` or another event, a second status field
/// (merged by a decoder) or a second trace id (the last one counts).
fn span(rng: &mut Rng) -> Vec<u8> {
    let trace = rng.below(5) as u8 + 1;
    let mut s = Span {
        trace_id: vec![trace; 16],
        span_id: vec![9; 8],
        name: "op".into(),
        attributes: vec![kv("http.route")],
        ..Default::default()
    };
    if rng.chance(4) {
        s.status = Some(Status {
            code: rng.below(3) as i32,
            message: String::new(),
        });
    }
    if rng.chance(4) {
        let name = if rng.chance(2) { "exception" } else { "retry" };
        s.events.push(Event {
            name: name.into(),
            ..Default::default()
        });
    }
    let mut bytes = s.encode_to_vec();
    match rng.below(6) {
        0 => bytes.extend(field(15, &status(rng.below(3) as i32))),
        1 => bytes.extend(field(15, &[])),
        2 => bytes.extend(field(1, &[rng.below(5) as u8 + 1; 16])),
        _ => {}
    }
    bytes
}

/// One log record: a trace id from the pool or none, at times an
/// `exception.type` attribute.
fn record(rng: &mut Rng) -> Vec<u8> {
    let trace_id = if rng.chance(4) {
        Vec::new()
    } else {
        vec![rng.below(5) as u8 + 1; 16]
    };
    let mut attributes = vec![kv("exception.message")];
    if rng.chance(3) {
        attributes.push(kv("exception.type"));
    }
    LogRecord {
        trace_id,
        attributes,
        event_name: if rng.chance(3) {
            "exception".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
    .encode_to_vec()
}

/// A request of `kind`, framed by hand so that framing fields repeat and
/// come in any order.
fn request(rng: &mut Rng, kind: Item) -> Vec<u8> {
    let mut req = Vec::new();
    for _ in 0..rng.below(4) {
        let mut rs = Vec::new();
        for _ in 0..rng.below(3) {
            let resource = Resource {
                attributes: vec![kv(&format!("service.name.{}", rng.below(3)))],
                ..Default::default()
            };
            rs.extend(field(1, &resource.encode_to_vec()));
        }
        for _ in 0..rng.below(4) {
            let mut ss = Vec::new();
            for _ in 0..rng.below(12) {
                match rng.below(8) {
                    0 => {
                        let scope = InstrumentationScope {
                            name: format!("lib{}", rng.below(3)),
                            ..Default::default()
                        };
                        ss.extend(field(1, &scope.encode_to_vec()));
                    }
                    1 => ss.extend(field(3, format!("https://s/{}", rng.below(3)).as_bytes())),
                    _ => {
                        let item = match kind {
                            Item::Span => span(rng),
                            Item::Log => record(rng),
                        };
                        ss.extend(field(2, &item));
                    }
                }
            }
            rs.extend(field(2, &ss));
            if rng.chance(3) {
                rs.extend(field(3, b"https://r"));
            }
        }
        req.extend(field(1, &rs));
    }
    req
}

fn signal(kind: Item) -> Signal {
    match kind {
        Item::Span => Signal::Traces,
        Item::Log => Signal::Logs,
    }
}

/// Every indexed chunk of `batch` splits from its index as `split_by` splits
/// it, with and without markers; the number of chunks with an index.
fn agrees(batch: &Batch, kind: Item) -> usize {
    let mut indexed = 0;
    for (bytes, index) in batch.indexed_chunks() {
        let Some(index) = index else { continue };
        indexed += 1;
        for markers in [Markers::Errors, Markers::None] {
            let walked = split_by(&bytes, kind, markers).expect("indexed bytes split");
            let from_index = split_indexed(&bytes, &index, kind, markers).expect("the index fits");
            assert_eq!(from_index, walked, "{kind:?} {markers:?}: {bytes:?}");
        }
    }
    indexed
}

#[test]
fn the_index_splits_generated_requests_as_the_walk_does() {
    let mut rng = Rng(0x5eed_1d3c);
    let mut errors = 0;
    for kind in [Item::Span, Item::Log] {
        for _ in 0..400 {
            let req = request(&mut rng, kind);
            let r = Batch::from_protobuf_indexed(signal(kind), Bytes::from(req))
                .expect("generated requests are valid");
            assert_eq!(r.rejected, 0);
            assert_eq!(
                agrees(&r.batch, kind),
                1,
                "every generated request is indexed"
            );
            let (bytes, _) = &r.batch.indexed_chunks()[0];
            let parts = split_by(bytes, kind, Markers::Errors).expect("splits");
            errors += parts
                .iter()
                .flat_map(|p| &p.scopes)
                .flat_map(|s| &s.traces)
                .filter(|t| t.error)
                .count();
        }
    }
    assert!(errors > 100, "the corpus has failing traces ({errors})");
}

#[test]
fn merged_batches_split_from_each_fragments_index() {
    let mut rng = Rng(0x5eed_3e9e);
    for kind in [Item::Span, Item::Log] {
        for _ in 0..50 {
            let mut merged = Batch::empty(signal(kind));
            let mut want = 0;
            for _ in 0..rng.below(5) + 1 {
                let body = Bytes::from(request(&mut rng, kind));
                let with_index = rng.chance(2);
                let r = if with_index {
                    Batch::from_protobuf_indexed(signal(kind), body)
                } else {
                    Batch::from_protobuf(signal(kind), body)
                }
                .expect("valid");
                // Empty requests merge away (no bytes to concatenate).
                want += usize::from(with_index && r.batch.encoded_len() > 0);
                merged.merge(r.batch);
            }
            assert_eq!(agrees(&merged, kind), want, "indexed chunks");
        }
    }
}

#[test]
fn corrupted_requests_are_indexed_only_where_the_scan_accepts_them() {
    let mut rng = Rng(0x5eed_c0de);
    let (mut indexed, mut not) = (0, 0);
    for n in 0..3000 {
        let kind = if n % 2 == 0 { Item::Span } else { Item::Log };
        let mut bytes = request(&mut rng, kind);
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..rng.below(2) + 1 {
            let i = rng.below(bytes.len() as u64) as usize;
            bytes[i] = rng.next() as u8;
        }
        match Batch::from_protobuf_indexed(signal(kind), Bytes::from(bytes)) {
            Ok(r) if r.batch.has_index() => indexed += agrees(&r.batch, kind),
            _ => not += 1,
        }
    }
    assert!(
        indexed > 100 && not > 100,
        "both kinds ({indexed} indexed, {not} not)"
    );
}

#[test]
fn an_index_that_does_not_fit_is_not_used() {
    let mut rng = Rng(0x5eed_0f17);
    let (a, b) = loop {
        let a = request(&mut rng, Item::Span);
        let b = request(&mut rng, Item::Span);
        if !a.is_empty() && a.len() != b.len() {
            break (a, b);
        }
    };
    let batch = Batch::from_protobuf_indexed(Signal::Traces, Bytes::from(a.clone()))
        .expect("valid")
        .batch;
    let (_, index) = &batch.indexed_chunks()[0];
    let index = index.as_ref().expect("indexed");
    // Other bytes, or the same bytes read as log records: the caller walks them.
    assert_eq!(split_indexed(&b, index, Item::Span, Markers::Errors), None);
    assert_eq!(split_indexed(&a, index, Item::Log, Markers::Errors), None);
    // An index whose ranges run past the request (a damaged index).
    let mut damaged = (**index).clone();
    if let Some(item) = damaged.items.first_mut() {
        item.framed = 0..u32::MAX;
        assert_eq!(
            split_indexed(&a, &damaged, Item::Span, Markers::Errors),
            None
        );
    }
    let mut damaged = (**index).clone();
    if let Some(r) = damaged.resources.first_mut() {
        r.scopes = 0..usize::MAX;
        assert_eq!(
            split_indexed(&a, &damaged, Item::Span, Markers::Errors),
            None
        );
    }
}
