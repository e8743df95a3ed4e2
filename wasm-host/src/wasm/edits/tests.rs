use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::wasm::view::BatchView;

/// A hand-packed edit list, independent of the guest SDK's encoder.
#[derive(Default)]
pub(super) struct Raw {
    pub(super) rows: Vec<u8>,
    pub(super) arena: Vec<u8>,
    pub(super) values: Vec<u8>,
}

impl Raw {
    pub(super) fn text(&mut self, b: &[u8]) -> (u32, u32) {
        let off = self.arena.len() as u32;
        self.arena.extend_from_slice(b);
        (off, b.len() as u32)
    }
    pub(super) fn node(&mut self, kind: u8, key: (u32, u32), payload: [u8; 8]) -> u32 {
        let idx = (self.values.len() / v::SIZE) as u32;
        let mut row = [0u8; v::SIZE];
        row[v::KIND] = kind;
        row[v::PARENT..v::PARENT + 4].copy_from_slice(&NONE.to_le_bytes());
        row[v::KEY..v::KEY + 4].copy_from_slice(&key.0.to_le_bytes());
        row[v::KEY + 4..v::KEY + 8].copy_from_slice(&key.1.to_le_bytes());
        row[v::PAYLOAD..v::PAYLOAD + 8].copy_from_slice(&payload);
        self.values.extend_from_slice(&row);
        idx
    }
    pub(super) fn edit(&mut self, op: u8, target: u8, index: u32, text: (u32, u32), value: u32) {
        let mut row = [0u8; e::SIZE];
        row[e::OP] = op;
        row[e::TARGET] = target;
        row[e::INDEX..e::INDEX + 4].copy_from_slice(&index.to_le_bytes());
        row[e::TEXT..e::TEXT + 4].copy_from_slice(&text.0.to_le_bytes());
        row[e::TEXT + 4..e::TEXT + 8].copy_from_slice(&text.1.to_le_bytes());
        row[e::VALUE..e::VALUE + 4].copy_from_slice(&value.to_le_bytes());
        self.rows.extend_from_slice(&row);
    }
    fn apply(&self, req: &mut ExportTraceServiceRequest) -> Result<EditStats, EditError> {
        let view = BatchView::from_traces(req);
        let raw = RawEdits {
            rows: &self.rows,
            arena: &self.arena,
            values: &self.values,
        };
        apply_traces(req, &view.index, &raw, 1000)
    }
}

pub(super) fn pair(a: u32, b: u32) -> [u8; 8] {
    let mut p = [0u8; 8];
    p[..4].copy_from_slice(&a.to_le_bytes());
    p[4..].copy_from_slice(&b.to_le_bytes());
    p
}

fn req() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A valid first edit, then `bad`: the result must be a refusal and an
/// untouched request.
fn refused(bad: impl FnOnce(&mut Raw)) -> EditError {
    let mut raw = Raw::default();
    let name = raw.text(b"renamed");
    raw.edit(e::OP_RENAME_SPAN, e::TARGET_SPAN, 0, name, NONE);
    bad(&mut raw);
    let mut r = req();
    let err = raw.apply(&mut r).expect_err("refused");
    assert_eq!(r, req(), "nothing half-applied");
    err
}

#[test]
fn valid_list_applies() {
    let mut raw = Raw::default();
    let key = raw.text(b"k");
    let s = raw.text("ünïcode".as_bytes());
    let node = raw.node(v::KIND_STRING, (0, 0), pair(s.0, s.1));
    raw.edit(e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, key, node);
    let mut r = req();
    assert_eq!(raw.apply(&mut r).expect("valid").applied, 1);
    let span = &r.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.attributes[0].key, "k");
}

#[test]
fn out_of_range_index() {
    let err = refused(|raw| raw.edit(e::OP_DROP_SPAN, e::TARGET_SPAN, 1, (0, 0), NONE));
    assert!(
        matches!(
            err,
            EditError::IndexOutOfRange {
                edit: 1,
                index: 1,
                len: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = refused(|raw| raw.edit(e::OP_DROP_LOG, e::TARGET_LOG, 0, (0, 0), NONE));
    assert!(
        matches!(err, EditError::IndexOutOfRange { table: "log", .. }),
        "{err}"
    );
}

#[test]
fn bad_utf8() {
    let err = refused(|raw| {
        let t = raw.text(&[0xff, 0xfe]);
        raw.edit(e::OP_RENAME_SPAN, e::TARGET_SPAN, 0, t, NONE);
    });
    assert_eq!(err, EditError::BadUtf8 { edit: 1 });
}

#[test]
fn string_out_of_arena() {
    let err = refused(|raw| raw.edit(e::OP_RENAME_SPAN, e::TARGET_SPAN, 0, (0, 9999), NONE));
    assert_eq!(err, EditError::StringOutOfRange { edit: 1 });
}

#[test]
fn unknown_op_target_and_kind() {
    let err = refused(|raw| raw.edit(99, 0, 0, (0, 0), NONE));
    assert_eq!(err, EditError::UnknownOp { edit: 1, op: 99 });
    let err = refused(|raw| raw.edit(e::OP_REMOVE_ATTRIBUTE, 42, 0, (0, 0), NONE));
    assert_eq!(
        err,
        EditError::UnknownTarget {
            edit: 1,
            target: 42
        }
    );
    let err = refused(|raw| {
        let n = raw.node(77, (0, 0), [0; 8]);
        raw.edit(e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, (0, 0), n);
    });
    assert!(matches!(err, EditError::BadValue { .. }), "{err}");
}

#[test]
fn value_cycles_and_bombs_are_refused() {
    // A kvlist whose child run points back at itself.
    let err = refused(|raw| {
        let n = raw.node(v::KIND_ARRAY, (0, 0), pair(0, 1));
        raw.edit(e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, (0, 0), n);
    });
    assert!(matches!(err, EditError::BadValue { .. }), "{err}");
    // 40 levels, each node listing the next level twice: 2^40 nodes
    // if expanded. The budget stops it.
    let err = refused(|raw| {
        for level in 0..40u32 {
            raw.node(v::KIND_ARRAY, (0, 0), pair(level + 1, 2));
        }
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        raw.node(v::KIND_INT, (0, 0), [0; 8]);
        raw.edit(e::OP_SET_ATTRIBUTE, e::TARGET_SPAN, 0, (0, 0), 0);
    });
    assert!(err.to_string().contains("too many nodes"), "{err}");
}

#[test]
fn ragged_buffers_and_too_many() {
    let err = refused(|raw| raw.rows.push(0));
    assert!(
        matches!(err, EditError::Ragged { buffer: "rows", .. }),
        "{err}"
    );
    let mut raw = Raw::default();
    for _ in 0..1001 {
        raw.edit(e::OP_DROP_SPAN, e::TARGET_SPAN, 0, (0, 0), NONE);
    }
    let err = raw.apply(&mut req()).expect_err("too many");
    assert_eq!(
        err,
        EditError::TooMany {
            count: 1001,
            max: 1000
        }
    );
}

#[test]
fn bad_status_code() {
    let err = refused(|raw| {
        let mut row = [0u8; e::SIZE];
        row[e::OP] = e::OP_SET_STATUS;
        row[e::CODE..e::CODE + 4].copy_from_slice(&7u32.to_le_bytes());
        raw.rows.extend_from_slice(&row);
    });
    assert_eq!(err, EditError::BadStatus { edit: 1, code: 7 });
}
