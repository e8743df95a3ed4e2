//! The side index on a batch: made only when asked, kept per fragment through merges,
//! dropped whenever the bytes change.

use super::*;
use crate::otlp::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::otlp::trace::v1::{Span, Status};

fn span(trace: u8, error: bool) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![trace; 8],
        name: format!("op-{trace}"),
        status: error.then(|| Status {
            code: 2,
            message: "boom".into(),
        }),
        ..Default::default()
    }
}

fn traces(ids: &[u8]) -> Bytes {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: ids.iter().map(|&t| span(t, t % 2 == 0)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
    .into()
}

fn indexed(ids: &[u8]) -> Batch {
    Batch::from_protobuf_indexed(Signal::Traces, traces(ids))
        .expect("valid")
        .batch
}

fn plain(ids: &[u8]) -> Batch {
    Batch::from_protobuf(Signal::Traces, traces(ids))
        .expect("valid")
        .batch
}

/// Which chunks carry an index, and the trace ids it lists.
fn shape(b: &Batch) -> Vec<Option<Vec<u8>>> {
    b.indexed_chunks()
        .iter()
        .map(|(bytes, index)| {
            index.as_ref().map(|i| {
                assert!(i.describes(bytes), "the index is its chunk's");
                i.items
                    .iter()
                    .map(|it| it.trace_id.map_or(0, |t| t[0]))
                    .collect()
            })
        })
        .collect()
}

#[test]
fn only_an_indexed_receipt_makes_an_index() {
    let b = plain(&[1, 2]);
    assert!(!b.has_index());
    assert_eq!(shape(&b), vec![None]);
    let b = indexed(&[1, 2]);
    assert!(b.has_index());
    assert_eq!(shape(&b), vec![Some(vec![1, 2])]);
    let (_, index) = &b.indexed_chunks()[0];
    let index = index.as_ref().expect("indexed");
    assert_eq!(index.items.len(), b.item_count());
    assert_eq!(
        index.items.iter().map(|i| i.error).collect::<Vec<_>>(),
        [false, true]
    );
    // The same scan decides either way: same count, same validation.
    assert_eq!(plain(&[1, 2]).item_count(), b.item_count());
    assert!(b.validated());
}

#[test]
fn requests_the_scan_refuses_have_no_index() {
    // A span with a 5-byte trace id: removed by the prost path, so no bytes to index.
    let mut req = ExportTraceServiceRequest::decode(traces(&[1, 2])).expect("decodes");
    req.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 5];
    let r =
        Batch::from_protobuf_indexed(Signal::Traces, req.encode_to_vec().into()).expect("decodes");
    assert_eq!(r.rejected, 1);
    assert!(!r.batch.has_index());
    // Bytes only prost accepts (a group-typed unknown field) are kept but not indexed.
    let mut odd = traces(&[1]).to_vec();
    odd.extend_from_slice(&[0x1b, 0x1c]);
    let r = Batch::from_protobuf_indexed(Signal::Traces, odd.into()).expect("prost takes it");
    assert!(r.batch.encoded().is_some());
    assert!(!r.batch.has_index());
    // Malformed bytes are an error, as without the index.
    assert!(Batch::from_protobuf_indexed(Signal::Traces, Bytes::from_static(&[0x0a, 9])).is_err());
    // Metrics are never scanned.
    let r = Batch::from_protobuf_indexed(Signal::Metrics, Bytes::new()).expect("empty");
    assert!(!r.batch.has_index());
}

#[test]
fn merges_keep_each_fragments_index_in_place() {
    let mut b = Batch::empty(Signal::Traces);
    b.merge(indexed(&[1]));
    b.merge(plain(&[2, 3]));
    b.merge(indexed(&[4, 5]));
    assert_eq!(
        shape(&b),
        vec![Some(vec![1]), None, Some(vec![4, 5])],
        "offsets are per fragment; an unindexed fragment pads"
    );
    assert_eq!(b.item_count(), 5);
    // An unindexed batch first, then an indexed one: padded at the front.
    let mut c = plain(&[6]);
    c.merge(indexed(&[7]));
    assert_eq!(shape(&c), vec![None, Some(vec![7])]);
    // Two unindexed batches: no index at all.
    let mut d = plain(&[1]);
    d.merge(plain(&[2]));
    assert!(!d.has_index());
    assert_eq!(shape(&d), vec![None, None]);
    // Cloned for a fan-out: both copies keep it.
    let e = b.clone();
    assert_eq!(shape(&e), shape(&b));
}

#[test]
fn changed_bytes_drop_the_index() {
    let mut b = indexed(&[1, 2]);
    b.modify(|_| ());
    assert!(!b.has_index());
    assert_eq!(shape(&b), vec![None]);

    let mut b = indexed(&[1, 2]);
    b.modify_if_changed(|_| ((), true));
    assert!(!b.has_index());

    let mut b = indexed(&[1, 2, 3]);
    let front = b.split_front(1).expect("splits");
    assert!(!front.has_index() && !b.has_index());

    let mut b = indexed(&[1, 2]);
    b.replace_encoded(vec![traces(&[1, 2])], 2, true);
    assert!(!b.has_index(), "replaced bytes come without an index");

    // A merge that must decode (one side decoded) changes the bytes too.
    let mut b = indexed(&[1]);
    b.merge(Batch::from_payload(Payload::Traces(
        ExportTraceServiceRequest::decode(traces(&[2])).expect("decodes"),
    )));
    assert!(!b.has_index());
    assert_eq!(b.item_count(), 2);
}

#[test]
fn looking_without_changing_keeps_the_index() {
    // A decode for reading leaves the bytes, so the index still describes them.
    let mut b = indexed(&[1, 2]);
    let _ = b.payload();
    assert!(b.has_index());
    b.modify_if_changed(|_| ((), false));
    assert_eq!(shape(&b), vec![Some(vec![1, 2])]);
}

#[test]
fn log_requests_are_indexed_with_their_markers() {
    let record = |trace: Option<u8>, exception: bool| LogRecord {
        trace_id: trace.map(|t| vec![t; 16]).unwrap_or_default(),
        attributes: if exception {
            vec![crate::otlp::common::v1::KeyValue {
                key: "exception.type".into(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(Some(3), false), record(None, true)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let b = Batch::from_protobuf_indexed(Signal::Logs, req.encode_to_vec().into())
        .expect("valid")
        .batch;
    let (_, index) = &b.indexed_chunks()[0];
    let index = index.as_ref().expect("indexed");
    assert_eq!(index.signal, Signal::Logs);
    let got: Vec<_> = index
        .items
        .iter()
        .map(|i| (i.trace_id.map(|t| t[0]), i.error))
        .collect();
    assert_eq!(got, [(Some(3), false), (None, true)]);
}
