use super::*;
use crate::otlp::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::trace::v1::Span;

fn span(trace: u8, span: u8) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![span; 8],
        name: format!("op-{trace}-{span}"),
        attributes: vec![KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("v".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn traces(spans_per_scope: &[usize]) -> ExportTraceServiceRequest {
    let mut n = 0u8;
    ExportTraceServiceRequest {
        resource_spans: spans_per_scope
            .iter()
            .map(|&count| ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..count)
                        .map(|_| {
                            n += 1;
                            span(n, n)
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

#[test]
fn protobuf_round_trip_keeps_bytes() {
    let req = traces(&[2, 3]);
    let bytes = Bytes::from(req.encode_to_vec());
    let received = Batch::from_protobuf(Signal::Traces, bytes.clone()).expect("valid");
    assert_eq!(received.rejected, 0);
    assert_eq!(received.batch.item_count(), 5);
    assert_eq!(received.batch.to_protobuf(), bytes);
}

#[test]
fn malformed_protobuf_is_an_error() {
    let err = Batch::from_protobuf(Signal::Traces, Bytes::from_static(&[0x0a, 0xff, 0x01]))
        .expect_err("truncated");
    assert!(
        err.to_string().contains("malformed OTLP protobuf traces"),
        "{err}"
    );
}

#[test]
fn json_round_trip() {
    let req = traces(&[1]);
    let json = serde_json::to_string(&req).expect("serialize");
    assert!(
        json.contains("\"traceId\":\"01010101010101010101010101010101\""),
        "{json}"
    );
    let mut received = Batch::from_json(Signal::Traces, json.as_bytes()).expect("valid");
    assert_eq!(received.batch.item_count(), 1);
    assert_eq!(received.batch.payload(), &Payload::Traces(req));
}

#[test]
fn invalid_ids_are_rejected_partially() {
    let mut req = traces(&[3]);
    req.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![1; 5];
    let received =
        Batch::from_protobuf(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("decodes");
    assert_eq!(received.rejected, 1);
    assert_eq!(received.batch.item_count(), 2);
    assert!(received.rejection.contains("trace_id must be 16 bytes"));
}

#[test]
fn encoded_batches_merge_without_decoding() {
    let a = Batch::from_protobuf(Signal::Traces, traces(&[2]).encode_to_vec().into())
        .expect("a")
        .batch;
    let b = Batch::from_protobuf(Signal::Traces, traces(&[3]).encode_to_vec().into())
        .expect("b")
        .batch;
    let mut merged = a;
    merged.merge(b);
    assert!(merged.decoded.is_none());
    assert_eq!(merged.item_count(), 5);
    let Payload::Traces(req) = merged.payload().clone() else {
        panic!("traces")
    };
    assert_eq!(req.resource_spans.len(), 2);
}

#[test]
fn split_front_respects_the_budget_and_keeps_order() {
    let mut batch = Batch::from_payload(Payload::Traces(traces(&[3, 4, 2])));
    let front = batch.split_front(5).expect("split");
    assert_eq!(front.item_count(), 5);
    assert_eq!(batch.item_count(), 4);
    let names = |b: Batch| -> Vec<String> {
        let Payload::Traces(r) = b.into_payload() else {
            panic!("traces")
        };
        r.resource_spans
            .into_iter()
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .map(|s| s.name)
            .collect()
    };
    let mut all = names(front);
    all.extend(names(batch));
    let expected: Vec<String> = (1..=9).map(|i| format!("op-{i}-{i}")).collect();
    assert_eq!(all, expected);
}

#[test]
fn modify_recounts_and_drops_stale_bytes() {
    let mut batch = Batch::from_protobuf(Signal::Traces, traces(&[2]).encode_to_vec().into())
        .expect("valid")
        .batch;
    batch.modify(|p| {
        if let Payload::Traces(r) = p {
            r.resource_spans[0].scope_spans[0].spans.pop();
        }
    });
    assert_eq!(batch.item_count(), 1);
    let reparsed = Batch::from_protobuf(Signal::Traces, batch.to_protobuf()).expect("valid");
    assert_eq!(reparsed.batch.item_count(), 1);
}

#[test]
fn modify_if_changed_keeps_received_bytes_when_unchanged() {
    // An unknown field (99, varint 1) survives only as long as the received bytes do:
    // prost drops it on decode, so a re-encode would lose it.
    let mut bytes = traces(&[2]).encode_to_vec();
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    let bytes = Bytes::from(bytes);
    let mut batch = Batch::from_protobuf(Signal::Traces, bytes.clone())
        .expect("valid")
        .batch;
    batch.modify_if_changed(|p| (assert!(matches!(p, Payload::Traces(_))), false));
    assert_eq!(batch.to_protobuf(), bytes);
    batch.modify_if_changed(|p| {
        if let Payload::Traces(r) = p {
            r.resource_spans[0].scope_spans[0].spans.pop();
        }
        ((), true)
    });
    assert_eq!(batch.item_count(), 1);
    assert_ne!(batch.to_protobuf(), bytes);
}

#[test]
fn merging_into_an_empty_batch_keeps_bytes() {
    let mut buffer = Batch::empty(Signal::Traces);
    for n in [2, 3] {
        let b = Batch::from_protobuf(Signal::Traces, traces(&[n]).encode_to_vec().into())
            .expect("valid")
            .batch;
        buffer.merge(b);
    }
    assert!(
        buffer.decoded.is_none(),
        "a pass-through batch is never decoded"
    );
    assert_eq!(buffer.item_count(), 5);
    assert_eq!(Batch::empty(Signal::Logs).to_protobuf().len(), 0);
}

#[test]
fn encoded_exposes_the_held_bytes_until_modified() {
    let (a, b) = (traces(&[2]).encode_to_vec(), traces(&[1]).encode_to_vec());
    let mut batch = Batch::from_protobuf(Signal::Traces, Bytes::from(a.clone()))
        .expect("valid")
        .batch;
    batch.merge(
        Batch::from_protobuf(Signal::Traces, Bytes::from(b.clone()))
            .expect("valid")
            .batch,
    );
    let held: Vec<&[u8]> = batch
        .encoded()
        .expect("bytes held")
        .iter()
        .map(|c| &c[..])
        .collect();
    assert_eq!(held, [&a[..], &b[..]]);
    // Looking keeps the bytes; changing drops them.
    batch.payload();
    assert!(batch.encoded().is_some());
    batch.modify(|_| ());
    assert!(batch.encoded().is_none());
    assert!(
        Batch::from_payload(Payload::Traces(traces(&[1])))
            .encoded()
            .is_none()
    );
}

#[test]
fn validated_says_whether_the_scan_accepted_every_held_fragment() {
    let scanned = |n| {
        Batch::from_protobuf(Signal::Traces, traces(&[n]).encode_to_vec().into())
            .expect("valid")
            .batch
    };
    assert!(scanned(2).validated());
    assert!(Batch::empty(Signal::Traces).validated());

    // Bytes the scan leaves to prost (a group, wire type 3, in an unknown field of the
    // request) are kept but not marked: prost's rules are not the scan's.
    let mut grouped = traces(&[1]).encode_to_vec();
    grouped.extend_from_slice(&[0x9b, 0x06, 0x9c, 0x06]);
    let by_prost = Batch::from_protobuf(Signal::Traces, Bytes::from(grouped))
        .expect("prost accepts an empty group")
        .batch;
    assert!(by_prost.encoded().is_some());
    assert!(!by_prost.validated());

    // A merge is validated only when both sides are.
    let mut both = scanned(1);
    both.merge(scanned(2));
    assert!(both.validated());
    let mut mixed = scanned(1);
    mixed.merge(by_prost);
    assert!(mixed.encoded().is_some());
    assert!(!mixed.validated());

    // Decoded-only batches, and modified ones, hold no bytes to vouch for.
    assert!(!Batch::from_payload(Payload::Traces(traces(&[1]))).validated());
    let mut modified = scanned(2);
    modified.modify(|_| ());
    assert!(!modified.validated());
    let mut looked = scanned(2);
    looked.modify_if_changed(|_| ((), false));
    assert!(
        looked.validated(),
        "an unchanged batch keeps its scanned bytes"
    );
}

/// New bytes replace the content, decoded form and all: later readers see them.
#[test]
fn replaced_bytes_are_the_content() {
    let mut batch = Batch::from_payload(Payload::Traces(traces(&[2, 3])));
    assert!(batch.encoded().is_none());
    let chunks = vec![
        Bytes::from(traces(&[1]).encode_to_vec()),
        Bytes::from(traces(&[2]).encode_to_vec()),
    ];
    batch.replace_encoded(chunks.clone(), 3, true);
    assert_eq!(batch.encoded(), Some(&chunks[..]));
    assert_eq!(batch.item_count(), 3);
    assert!(batch.validated());
    let mut want = traces(&[1]);
    want.resource_spans.extend(traces(&[2]).resource_spans);
    assert_eq!(batch.payload(), &Payload::Traces(want));
    batch.replace_encoded(chunks, 3, false);
    assert!(!batch.validated(), "validated only when the caller says so");
}
