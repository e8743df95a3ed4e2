//! Edits applied to the encoded request decode to exactly what the decoded
//! path makes of the decoded request, for generated requests (canonical and
//! shuffled encodings with unknown fields, split into fragments) and random
//! valid edit lists; untouched messages keep their bytes; refused lists are
//! refused alike.

use std::collections::BTreeSet;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as V,
};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pdata::wire::for_each_item;
use prost::Message;
use prost::bytes::Bytes;

use super::super::super::layout_shared::{NONE, edit as e, value as v};
use super::super::super::processor::BatchAccess;
use super::super::super::view::{BatchView, RowIndex};
use super::super::super::view_wire::tests::shuffle::{Kind, shuffle};
use super::super::super::view_wire::tests::{Rng, logs, traces, value};
use super::super::encode::Encoder;
use super::super::tests::{Raw, pair};
use super::super::{Edit, EditError, EditStats, RawEdits, apply_logs, apply_traces, check};
use super::{MAX_NESTING, Rewritten, apply_logs_encoded, apply_traces_encoded};

/// Packs `val` into node `idx` (reserved), its children after it.
fn fill(raw: &mut Raw, idx: u32, key: (u32, u32), val: Option<&AnyValue>) {
    let (kind, payload) = match val.and_then(|a| a.value.as_ref()) {
        None | Some(V::StringValueStrindex(_)) => (v::KIND_EMPTY, [0; 8]),
        Some(V::StringValue(s)) => {
            let t = raw.text(s.as_bytes());
            (v::KIND_STRING, pair(t.0, t.1))
        }
        Some(V::BoolValue(b)) => (v::KIND_BOOL, [u8::from(*b), 0, 0, 0, 0, 0, 0, 0]),
        Some(V::IntValue(i)) => (v::KIND_INT, i.to_le_bytes()),
        Some(V::DoubleValue(d)) => (v::KIND_DOUBLE, d.to_bits().to_le_bytes()),
        Some(V::BytesValue(b)) => {
            let t = raw.text(b);
            (v::KIND_BYTES, pair(t.0, t.1))
        }
        Some(V::ArrayValue(a)) => {
            let first = reserve(raw, a.values.len());
            for (i, x) in a.values.iter().enumerate() {
                fill(raw, first + i as u32, (0, 0), Some(x));
            }
            (v::KIND_ARRAY, pair(first, a.values.len() as u32))
        }
        Some(V::KvlistValue(l)) => {
            let first = reserve(raw, l.values.len());
            for (i, kv) in l.values.iter().enumerate() {
                let k = raw.text(kv.key.as_bytes());
                fill(raw, first + i as u32, k, kv.value.as_ref());
            }
            (v::KIND_KVLIST, pair(first, l.values.len() as u32))
        }
    };
    let row = &mut raw.values[idx as usize * v::SIZE..(idx as usize + 1) * v::SIZE];
    row[v::KIND] = kind;
    row[v::PARENT..v::PARENT + 4].copy_from_slice(&NONE.to_le_bytes());
    row[v::KEY..v::KEY + 4].copy_from_slice(&key.0.to_le_bytes());
    row[v::KEY + 4..v::KEY + 8].copy_from_slice(&key.1.to_le_bytes());
    row[v::PAYLOAD..v::PAYLOAD + 8].copy_from_slice(&payload);
}

fn reserve(raw: &mut Raw, n: usize) -> u32 {
    let first = (raw.values.len() / v::SIZE) as u32;
    raw.values.resize(raw.values.len() + n * v::SIZE, 0);
    first
}

fn pack(raw: &mut Raw, val: &AnyValue) -> u32 {
    let idx = reserve(raw, 1);
    fill(raw, idx, (0, 0), Some(val));
    idx
}

/// One edit row, with a status code.
fn row(raw: &mut Raw, op: u8, target: u8, index: u32, text: (u32, u32), value: u32, code: u32) {
    let mut r = [0u8; e::SIZE];
    r[e::OP] = op;
    r[e::TARGET] = target;
    r[e::INDEX..e::INDEX + 4].copy_from_slice(&index.to_le_bytes());
    r[e::TEXT..e::TEXT + 4].copy_from_slice(&text.0.to_le_bytes());
    r[e::TEXT + 4..e::TEXT + 8].copy_from_slice(&text.1.to_le_bytes());
    r[e::VALUE..e::VALUE + 4].copy_from_slice(&value.to_le_bytes());
    r[e::CODE..e::CODE + 4].copy_from_slice(&code.to_le_bytes());
    raw.rows.extend_from_slice(&r);
}

/// A random valid edit list for the view `index` describes, and the item
/// rows it touches (an event or link edit touches its span) and drops.
fn edits(rng: &mut Rng, index: &RowIndex, traces: bool) -> (Raw, BTreeSet<u32>, BTreeSet<u32>) {
    let mut raw = Raw::default();
    let (mut touched, mut dropped) = (BTreeSet::new(), BTreeSet::new());
    let mut roots = Vec::new();
    let items = if traces {
        index.spans.len()
    } else {
        index.logs.len()
    };
    let tables: Vec<(u8, usize)> = if traces {
        vec![
            (e::TARGET_RESOURCE, index.resources as usize),
            (e::TARGET_SCOPE, index.scopes.len()),
            (e::TARGET_SPAN, index.spans.len()),
            (e::TARGET_EVENT, index.events.len()),
            (e::TARGET_LINK, index.links.len()),
        ]
    } else {
        vec![
            (e::TARGET_RESOURCE, index.resources as usize),
            (e::TARGET_SCOPE, index.scopes.len()),
            (e::TARGET_LOG, index.logs.len()),
        ]
    };
    for _ in 0..rng.below(7) {
        let (target, len) = tables[rng.below(tables.len() as u64) as usize];
        let op = rng.below(6);
        // Item-level edits (and drops) need an item.
        if op >= 2 && items > 0 {
            let i = rng.below(items as u64) as u32;
            match (op, traces) {
                (2, true) => {
                    let name = raw.text(rng.string().as_bytes());
                    row(
                        &mut raw,
                        e::OP_RENAME_SPAN,
                        e::TARGET_SPAN,
                        i,
                        name,
                        NONE,
                        0,
                    );
                    touched.insert(i);
                }
                (3, true) => {
                    let msg = raw.text(rng.string().as_bytes());
                    let code = rng.below(3) as u32;
                    row(
                        &mut raw,
                        e::OP_SET_STATUS,
                        e::TARGET_SPAN,
                        i,
                        msg,
                        NONE,
                        code,
                    );
                    touched.insert(i);
                }
                (2 | 3, false) => {
                    let node = if rng.chance(4) {
                        NONE
                    } else {
                        pack(&mut raw, &value(rng, 0))
                    };
                    row(&mut raw, e::OP_SET_BODY, e::TARGET_LOG, i, (0, 0), node, 0);
                    touched.insert(i);
                }
                (4, _) => {
                    let (op, t) = if traces {
                        (e::OP_DROP_SPAN, e::TARGET_SPAN)
                    } else {
                        (e::OP_DROP_LOG, e::TARGET_LOG)
                    };
                    row(&mut raw, op, t, i, (0, 0), NONE, 0);
                    dropped.insert(i);
                }
                _ => {}
            }
            continue;
        }
        if len == 0 {
            continue;
        }
        let i = rng.below(len as u64) as u32;
        match target {
            e::TARGET_SPAN | e::TARGET_LOG => {
                touched.insert(i);
            }
            e::TARGET_EVENT => {
                touched.insert(index.events[i as usize].0);
            }
            e::TARGET_LINK => {
                touched.insert(index.links[i as usize].0);
            }
            _ => {}
        }
        // Keys from the generator's alphabet: often one the list holds.
        let key = raw.text(rng.string().as_bytes());
        if op == 0 {
            // Now and then the value of an earlier edit, shared.
            let node = match roots.last() {
                Some(&root) if rng.chance(3) => root,
                _ => pack(&mut raw, &value(rng, 0)),
            };
            roots.push(node);
            row(&mut raw, e::OP_SET_ATTRIBUTE, target, i, key, node, 0);
        } else {
            row(&mut raw, e::OP_REMOVE_ATTRIBUTE, target, i, key, NONE, 0);
        }
    }
    (raw, touched, dropped)
}

fn raw_edits(raw: &Raw) -> RawEdits<'_> {
    RawEdits {
        rows: &raw.rows,
        arena: &raw.arena,
        values: &raw.values,
    }
}

fn decode<Q: Message + Default>(chunks: &[Bytes]) -> Q {
    let mut q = Q::default();
    for c in chunks {
        q.merge(c.clone()).expect("the fragments decode");
    }
    q
}

/// The payload of every span or log record, in row order.
fn items(chunks: &[Bytes]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    for c in chunks {
        for_each_item(c, |m| {
            out.push(m);
            Ok::<(), pdata::wire::WireError>(())
        })
        .expect("walks");
    }
    out
}

/// `request` split into fragments at random resource boundaries, each
/// re-encoded (shuffled, with unknown fields, when `shuffled`).
fn fragments<Q: Message>(rng: &mut Rng, request: &Q, kind: Kind, shuffled: bool) -> Vec<Bytes> {
    let bytes = request.encode_to_vec();
    let bytes = if shuffled {
        shuffle(rng, &bytes, kind, true)
    } else {
        bytes
    };
    // Each top-level field is a resource group; cut between them.
    let mut cuts = vec![0];
    let mut r = pdata::wire::Reader::new(&bytes);
    while !r.done() {
        let (_, wt) = r.key().expect("a key");
        r.skip(wt).expect("a field");
        if rng.chance(2) {
            cuts.push(r.pos());
        }
    }
    cuts.push(bytes.len());
    cuts.dedup();
    let all = Bytes::from(bytes);
    cuts.windows(2).map(|w| all.slice(w[0]..w[1])).collect()
}

/// `apply_traces_encoded` or `apply_logs_encoded`.
type ApplyEncoded =
    fn(&[Bytes], &RowIndex, &RawEdits<'_>, usize) -> Result<Option<Rewritten>, EditError>;

/// What one generated case showed.
#[derive(Default, Debug)]
struct Tally {
    encoded: usize,
    left_to_decoded: usize,
    refused: usize,
    edited_items: usize,
    dropped_items: usize,
}

/// Compares both paths on `chunks` with a random edit list.
fn case<Q>(
    rng: &mut Rng,
    chunks: &[Bytes],
    traces_req: bool,
    apply: fn(&mut Q, &RowIndex, &RawEdits<'_>, usize) -> Result<EditStats, EditError>,
    apply_encoded: ApplyEncoded,
    tally: &mut Tally,
    what: &str,
) where
    Q: Message + Default + PartialEq + std::fmt::Debug + BatchAccess<Q>,
{
    let mut view = BatchView::default();
    let built = if traces_req {
        view.fill_traces_encoded(chunks)
    } else {
        view.fill_logs_encoded(chunks)
    };
    built.expect("generated requests are built from the wire");
    let index = view.index.clone();
    let (raw, touched, dropped) = edits(rng, &index, traces_req);
    let raw = raw_edits(&raw);
    let mut want: Q = decode(chunks);
    let want_stats = apply(&mut want, &index, &raw, 1000);
    let got = apply_encoded(chunks, &index, &raw, 1000);
    let out = match (want_stats, got) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{what}: the same refusal");
            tally.refused += 1;
            return;
        }
        (Ok(_), Ok(None)) => {
            tally.left_to_decoded += 1;
            return;
        }
        (Ok(stats), Ok(Some(out))) => {
            assert_eq!(out.stats, stats, "{what}: stats");
            out
        }
        (a, b) => panic!("{what}: decoded path {a:?}, encoded path {b:?}"),
    };
    tally.encoded += 1;
    tally.edited_items += touched.len();
    tally.dropped_items += dropped.len();
    let got: Q = decode(&out.chunks);
    assert_eq!(got, want, "{what}: the edited request");
    assert_eq!(out.items, want.item_count(), "{what}: items left");
    // Items no edit touched keep their bytes; the others are prost's.
    let before = items(chunks);
    let after = items(&out.chunks);
    let kept: Vec<(usize, &[u8])> = before
        .iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(&(*i as u32)))
        .map(|(i, b)| (i, *b))
        .collect();
    assert_eq!(kept.len(), after.len(), "{what}: items after drops");
    for ((row, old), new) in kept.iter().zip(&after) {
        if !touched.contains(&(*row as u32)) {
            assert_eq!(old, new, "{what}: untouched item {row} copied as received");
        }
    }
}

#[test]
fn generated_traces_edited_as_bytes_decode_as_edited_requests() {
    let mut rng = Rng(0x5eed_e0e1);
    let mut tally = Tally::default();
    for n in 0..1200 {
        let req = traces(&mut rng);
        let chunks = fragments(&mut rng, &req, Kind::TracesRequest, n % 2 == 1);
        case::<ExportTraceServiceRequest>(
            &mut rng,
            &chunks,
            true,
            apply_traces,
            apply_traces_encoded,
            &mut tally,
            &format!("traces {n}"),
        );
    }
    assert!(
        tally.encoded > 1000
            && tally.edited_items > 1000
            && tally.dropped_items > 200
            && tally.refused == 0,
        "{tally:?}"
    );
}

#[test]
fn generated_logs_edited_as_bytes_decode_as_edited_requests() {
    let mut rng = Rng(0x5eed_e0e2);
    let mut tally = Tally::default();
    for n in 0..1200 {
        let req = logs(&mut rng);
        let chunks = fragments(&mut rng, &req, Kind::LogsRequest, n % 2 == 1);
        case::<ExportLogsServiceRequest>(
            &mut rng,
            &chunks,
            false,
            apply_logs,
            apply_logs_encoded,
            &mut tally,
            &format!("logs {n}"),
        );
    }
    assert!(
        tally.encoded > 1000
            && tally.edited_items > 600
            && tally.dropped_items > 200
            && tally.refused == 0,
        "{tally:?}"
    );
}

fn kv(key: &str, val: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(V::StringValue(val.into())),
        }),
        ..Default::default()
    }
}

/// Two resource groups in two fragments, three spans in the first.
fn two_groups() -> Vec<Bytes> {
    let span = |i: u8| Span {
        trace_id: vec![1; 16],
        span_id: vec![i; 8],
        name: format!("s{i}"),
        attributes: vec![kv("k", "v")],
        events: vec![Event {
            name: "exception".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let group = |spans: Vec<Span>| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    vec![
        Bytes::from(group(vec![span(1), span(2), span(3)]).encode_to_vec()),
        Bytes::from(group(vec![span(4)]).encode_to_vec()),
    ]
}

fn view_of(chunks: &[Bytes]) -> RowIndex {
    let mut view = BatchView::default();
    view.fill_traces_encoded(chunks).expect("builds");
    view.index.clone()
}

#[test]
fn an_untouched_fragment_is_kept_without_a_copy() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    let key = raw.text(b"code.function");
    let val = pack(
        &mut raw,
        &AnyValue {
            value: Some(V::StringValue("handle".into())),
        },
    );
    // The event of span 1 (row 1): its span is re-encoded, span 0 and 2 are
    // copied, the second fragment is the same buffer.
    row(
        &mut raw,
        e::OP_SET_ATTRIBUTE,
        e::TARGET_EVENT,
        1,
        key,
        val,
        0,
    );
    let out = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10)
        .expect("valid")
        .expect("applied to the bytes");
    assert_eq!(out.chunks.len(), 2);
    assert_eq!(out.chunks[1].as_ptr(), chunks[1].as_ptr(), "no copy");
    assert_ne!(out.chunks[0], chunks[0]);
    let (before, after) = (items(&chunks), items(&out.chunks));
    assert_eq!((before[0], before[2]), (after[0], after[2]));
    let span = Span::decode(after[1]).expect("decodes");
    assert_eq!(
        span.events[0].attributes,
        vec![kv("code.function", "handle")]
    );
    assert_eq!(out.items, 4);
}

#[test]
fn dropping_every_span_of_a_group_removes_it() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    row(
        &mut raw,
        e::OP_DROP_SPAN,
        e::TARGET_SPAN,
        3,
        (0, 0),
        NONE,
        0,
    );
    let out = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10)
        .expect("valid")
        .expect("applied to the bytes");
    assert_eq!(
        out.chunks,
        vec![chunks[0].clone()],
        "the emptied fragment goes"
    );
    assert_eq!((out.items, out.stats.spans_dropped), (3, 1));
}

#[test]
fn refused_lists_are_refused_as_by_the_decoded_path() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    row(
        &mut raw,
        e::OP_DROP_SPAN,
        e::TARGET_SPAN,
        0,
        (0, 0),
        NONE,
        0,
    );
    row(
        &mut raw,
        e::OP_SET_STATUS,
        e::TARGET_SPAN,
        0,
        (0, 0),
        NONE,
        9,
    );
    let mut req: ExportTraceServiceRequest = decode(&chunks);
    let want = apply_traces(&mut req, &index, &raw_edits(&raw), 10).expect_err("refused");
    let got = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10).expect_err("refused");
    assert_eq!(got, want);
    assert_eq!(got, EditError::BadStatus { edit: 1, code: 9 });
}

/// A value `2 * arrays` message levels deep: arrays of one element.
fn nested(arrays: u32) -> AnyValue {
    let mut val = AnyValue {
        value: Some(V::IntValue(1)),
    };
    for _ in 0..arrays {
        val = AnyValue {
            value: Some(V::ArrayValue(ArrayValue { values: vec![val] })),
        };
    }
    val
}

/// The bytes an edit makes pass pdata's validating scan (so the batch may
/// stay marked validated) up to [`MAX_NESTING`]; deeper values go to the
/// decoded path.
#[test]
fn values_up_to_the_nesting_bound_keep_the_bytes_scannable() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    // The check's count of levels: two an array, three a list entry.
    let nesting = |val: &AnyValue| {
        let mut raw = Raw::default();
        let key = raw.text(b"k");
        let node = pack(&mut raw, val);
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            0,
            key,
            node,
            0,
        );
        match check(&raw_edits(&raw), &index, 10)
            .expect("valid")
            .as_slice()
        {
            [Edit::SetAttribute { value, .. }] => value.nesting,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(nesting(&nested(MAX_NESTING / 2)), MAX_NESTING);
    let kvlist = AnyValue {
        value: Some(V::KvlistValue(KeyValueList {
            values: vec![kv("a", "b")],
        })),
    };
    assert_eq!(nesting(&kvlist), 3);
    let empty = AnyValue {
        value: Some(V::ArrayValue(ArrayValue { values: vec![] })),
    };
    assert_eq!(nesting(&empty), 1);
    for (arrays, encoded) in [(MAX_NESTING / 2, true), (MAX_NESTING / 2 + 1, false)] {
        let mut raw = Raw::default();
        let key = raw.text(b"deep");
        let val = pack(&mut raw, &nested(arrays));
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            0,
            key,
            val,
            0,
        );
        let out = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10).expect("valid");
        assert_eq!(out.is_some(), encoded, "{arrays} arrays");
        if let Some(out) = out {
            let body: Vec<u8> = out.chunks.concat();
            let received =
                pdata::Batch::from_protobuf(pdata::Signal::Traces, body.into()).expect("decodes");
            assert!(received.batch.validated(), "the scan accepts it");
        }
    }
}

/// The encoder writes the bytes prost writes for the value the decoded path
/// builds (`Node::to_any`), and measures them: generated trees, and a value
/// whose nodes share a run of children (each length is remembered by node).
#[test]
fn values_encode_as_prost_encodes_them() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let encoded = |raw: &Raw| {
        let raw_edits = raw_edits(raw);
        let edits = check(&raw_edits, &index, 10).expect("valid");
        let [Edit::SetAttribute { value: n, .. }] = edits.as_slice() else {
            panic!("one set: {edits:?}");
        };
        let mut enc = Encoder::new(raw.values.len() / v::SIZE);
        let mut out = Vec::new();
        enc.write_any(n, n.index, &mut out);
        assert_eq!(enc.any_len(n, n.index), out.len(), "measured");
        (out, n.to_any().encode_to_vec())
    };
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..2000 {
        let mut raw = Raw::default();
        let key = raw.text(b"k");
        let node = pack(&mut raw, &value(&mut rng, 0));
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            0,
            key,
            node,
            0,
        );
        let (got, want) = encoded(&raw);
        assert_eq!(got, want);
    }
    // [[x, [..]], [x, [..]]]: nodes 1 and 2 share their children 3 and 4.
    let mut raw = Raw::default();
    let key = raw.text(b"k");
    let x = raw.text("ünï".as_bytes());
    raw.node(v::KIND_ARRAY, (0, 0), pair(1, 2));
    raw.node(v::KIND_ARRAY, (0, 0), pair(3, 2));
    raw.node(v::KIND_KVLIST, (0, 0), pair(3, 2));
    raw.node(v::KIND_STRING, key, pair(x.0, x.1));
    raw.node(v::KIND_INT, (0, 0), (-5i64).to_le_bytes());
    row(&mut raw, e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, key, 0, 0);
    let (got, want) = encoded(&raw);
    assert_eq!(got, want);
    assert!(want.len() > 20, "the fixture nests");
}

mod shared;
