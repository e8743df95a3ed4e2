//! A value several edits of one list share (named by each edit's value
//! root): applied as if each edit had its own copy, checked once, and
//! refused when it is reused as something else.

use super::*;

/// Spans' `frames`: an array of kvlists, as the symbolize guest sets.
fn frames(n: usize) -> AnyValue {
    let frame = |i: usize| AnyValue {
        value: Some(V::KvlistValue(KeyValueList {
            values: vec![kv("code.function.name", &format!("f{i}")), kv("x", "ünï")],
        })),
    };
    AnyValue {
        value: Some(V::ArrayValue(ArrayValue {
            values: (0..n).map(frame).collect(),
        })),
    }
}

/// Sets `frames` and `k` on spans 0, 2 and 3 of [`two_groups`], each edit
/// with its own packed value (`shared == false`) or naming one root.
fn set_on_three(shared: bool) -> Raw {
    let mut raw = Raw::default();
    let value = frames(4);
    let small = AnyValue {
        value: Some(V::IntValue(-7)),
    };
    let mut roots = None;
    for span in [0, 2, 3] {
        let (f, k) = match roots {
            Some(r) if shared => r,
            _ => (pack(&mut raw, &value), pack(&mut raw, &small)),
        };
        roots = Some((f, k));
        let fkey = raw.text(b"frames");
        let kkey = raw.text(b"k");
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            span,
            fkey,
            f,
            0,
        );
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            span,
            kkey,
            k,
            0,
        );
    }
    raw
}

#[test]
fn shared_and_unshared_values_give_the_same_bytes() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let apply = |raw: &Raw| {
        apply_traces_encoded(&chunks, &index, &raw_edits(raw), 10)
            .expect("valid")
            .expect("applied to the bytes")
    };
    let (shared, unshared) = (set_on_three(true), set_on_three(false));
    assert!(shared.values.len() * 3 == unshared.values.len(), "one copy");
    let (a, b) = (apply(&shared), apply(&unshared));
    assert_eq!(a.chunks, b.chunks, "byte-identical");
    assert_eq!(a.stats, b.stats);
    // And what the decoded path makes of the shared list.
    let mut want: ExportTraceServiceRequest = decode(&chunks);
    apply_traces(&mut want, &index, &raw_edits(&shared), 10).expect("valid");
    let got: ExportTraceServiceRequest = decode(&a.chunks);
    assert_eq!(got, want);
    let span = &got.resource_spans[1].scope_spans[0].spans[0];
    assert_eq!(span.attributes[1].value, Some(frames(4)));
}

/// A shared value is checked once: 2,000 edits naming one 601-node value
/// stay within the node budget (4 per node plus 1,024) that checking it per
/// edit would exceed 300 times over.
#[test]
fn a_shared_value_is_checked_once() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    let root = pack(&mut raw, &frames(200));
    let key = raw.text(b"frames");
    for i in 0..2000 {
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            i % 4,
            key,
            root,
            0,
        );
    }
    let out = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 2000)
        .expect("valid")
        .expect("applied to the bytes");
    let got: ExportTraceServiceRequest = decode(&out.chunks);
    let span = &got.resource_spans[0].scope_spans[0].spans[1];
    assert_eq!(span.attributes[1].value, Some(frames(200)));
}

/// An invalid shared value is refused at the first edit naming it, with what
/// is wrong with it, alike on both paths; nothing is applied.
#[test]
fn an_invalid_shared_value_is_refused_once() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    let name = raw.text(b"renamed");
    row(
        &mut raw,
        e::OP_RENAME_SPAN,
        e::TARGET_SPAN,
        0,
        name,
        NONE,
        0,
    );
    let bad = raw.text(&[b'a', 0xff]);
    let root = raw.node(v::KIND_ARRAY, (0, 0), pair(1, 1));
    raw.node(v::KIND_STRING, (0, 0), pair(bad.0, bad.1));
    for span in 0..3 {
        row(
            &mut raw,
            e::OP_SET_ATTRIBUTE,
            e::TARGET_SPAN,
            span,
            (0, 0),
            root,
            0,
        );
    }
    let got = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10).expect_err("refused");
    let mut req: ExportTraceServiceRequest = decode(&chunks);
    let want = apply_traces(&mut req, &index, &raw_edits(&raw), 10).expect_err("refused");
    assert_eq!(got, want);
    assert_eq!(got, EditError::BadUtf8 { edit: 1 });
    assert_eq!(req, decode(&chunks), "nothing half-applied");
}

/// `root`'s error when two edits set it, on a [`two_groups`] batch.
fn refused(build: impl FnOnce(&mut Raw) -> (u32, u32)) -> EditError {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    let (first, second) = build(&mut raw);
    let key = raw.text(b"k");
    row(
        &mut raw,
        e::OP_SET_ATTRIBUTE,
        e::TARGET_SPAN,
        0,
        key,
        first,
        0,
    );
    row(
        &mut raw,
        e::OP_SET_ATTRIBUTE,
        e::TARGET_SPAN,
        1,
        key,
        second,
        0,
    );
    let got = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10).expect_err("refused");
    let mut req: ExportTraceServiceRequest = decode(&chunks);
    let want = apply_traces(&mut req, &index, &raw_edits(&raw), 10).expect_err("refused");
    assert_eq!(got, want, "alike on both paths");
    got
}

fn reason(err: &EditError) -> (usize, &str) {
    match err {
        EditError::BadValue { edit, reason } => (*edit, reason),
        other => panic!("not a bad value: {other}"),
    }
}

#[test]
fn a_value_reused_as_a_child_is_refused() {
    // A tree, then one of its children as the next edit's value.
    let err = refused(|raw| {
        raw.node(v::KIND_ARRAY, (0, 0), pair(1, 2));
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        (0, 2)
    });
    assert_eq!(
        reason(&err),
        (
            1,
            "node 2 is both an edit's value and the child of another node"
        )
    );
    // A value, then a tree listing it as a child.
    let err = refused(|raw| {
        raw.node(v::KIND_KVLIST, (0, 0), pair(1, 2));
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        raw.node(v::KIND_BOOL, (0, 0), [1; 8]);
        (1, 0)
    });
    assert_eq!(
        reason(&err),
        (
            1,
            "node 1 is both an edit's value and the child of another node"
        )
    );
    // A node its own child (a cycle) and a value past the table.
    let err = refused(|raw| {
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        raw.node(v::KIND_ARRAY, (0, 0), pair(1, 1));
        (0, 1)
    });
    assert_eq!(
        reason(&err),
        (1, "node 1: children 1+1 out of order or range")
    );
    let err = refused(|raw| (raw.node(v::KIND_INT, (0, 0), [0; 8]), 5));
    assert_eq!(reason(&err), (1, "node 5 out of range (1 nodes)"));
}

/// Children shared by two nodes of one tree stay accepted (as before
/// values could be shared at all): only an edit's value may not be a child.
#[test]
fn shared_children_within_a_value_are_still_accepted() {
    let chunks = two_groups();
    let index = view_of(&chunks);
    let mut raw = Raw::default();
    let key = raw.text(b"k");
    raw.node(v::KIND_ARRAY, (0, 0), pair(1, 2));
    raw.node(v::KIND_ARRAY, (0, 0), pair(3, 1));
    raw.node(v::KIND_ARRAY, (0, 0), pair(3, 1));
    raw.node(v::KIND_INT, (0, 0), 4i64.to_le_bytes());
    row(&mut raw, e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, key, 0, 0);
    row(&mut raw, e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 3, key, 0, 0);
    let out = apply_traces_encoded(&chunks, &index, &raw_edits(&raw), 10)
        .expect("valid")
        .expect("applied to the bytes");
    let mut want: ExportTraceServiceRequest = decode(&chunks);
    apply_traces(&mut want, &index, &raw_edits(&raw), 10).expect("valid");
    assert_eq!(decode::<ExportTraceServiceRequest>(&out.chunks), want);
}
