//! Applies a checked edit list: attribute edits in list order, then drops, so
//! every index refers to the batch the guest was shown. One loop
//! ([`apply_checked`]) holds what each edit means; where it lands is an
//! [`EditTarget`]: the decoded request here, or the items decoded from an
//! encoded one ([`super::wire`]).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use super::super::view::RowIndex;
use super::{Edit, EditError, EditStats, RawEdits, Target, check};

fn set_attr(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

fn remove_attr(attrs: &mut Vec<KeyValue>, key: &str) {
    attrs.retain(|kv| kv.key != key);
}

/// The items drop edits remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Items {
    Spans,
    Logs,
}

/// Where edits land: lookups by row of the view `index` was built with. A
/// lookup that finds nothing makes the edit a no-op (rows were range-checked,
/// so for the decoded request that cannot happen; an encoded batch decodes
/// only the items its edits address, see [`super::wire`]).
pub(super) trait EditTarget {
    /// Which items drop edits address.
    const ITEMS: Items;
    /// Rows of those items.
    fn item_rows(index: &RowIndex) -> usize {
        match Self::ITEMS {
            Items::Spans => index.spans.len(),
            Items::Logs => index.logs.len(),
        }
    }
    /// Resource row `row`'s resource (`None`: the group has none).
    fn resource(&mut self, index: &RowIndex, row: u32) -> Option<&mut Option<Resource>>;
    /// Scope row `row`'s scope (`None`: the group has none).
    fn scope(&mut self, index: &RowIndex, row: u32) -> Option<&mut Option<InstrumentationScope>>;
    /// Span row `row`.
    fn span(&mut self, index: &RowIndex, row: u32) -> Option<&mut Span>;
    /// Log row `row`.
    fn log(&mut self, index: &RowIndex, row: u32) -> Option<&mut LogRecord>;
    /// Removes the marked item rows; records how many in `stats`.
    fn drop_marked(&mut self, dropped: &[bool], stats: &mut EditStats);
}

/// The attribute list an attribute edit addresses.
fn attrs<'r, R: EditTarget>(
    req: &'r mut R,
    index: &RowIndex,
    target: Target,
    row: u32,
) -> Option<&'r mut Vec<KeyValue>> {
    match target {
        Target::Resource => Some(
            &mut req
                .resource(index, row)?
                .get_or_insert_with(Resource::default)
                .attributes,
        ),
        Target::Scope => Some(
            &mut req
                .scope(index, row)?
                .get_or_insert_with(InstrumentationScope::default)
                .attributes,
        ),
        Target::Span => Some(&mut req.span(index, row)?.attributes),
        Target::Event => {
            let (span_row, i) = *index.events.get(row as usize)?;
            let span = req.span(index, span_row)?;
            Some(&mut span.events.get_mut(i as usize)?.attributes)
        }
        Target::Link => {
            let (span_row, i) = *index.links.get(row as usize)?;
            let span = req.span(index, span_row)?;
            Some(&mut span.links.get_mut(i as usize)?.attributes)
        }
        Target::Log => Some(&mut req.log(index, row)?.attributes),
    }
}

/// Applies checked edits in list order and the drops last.
pub(super) fn apply_checked<R: EditTarget>(
    req: &mut R,
    index: &RowIndex,
    edits: Vec<Edit<'_>>,
) -> EditStats {
    let mut stats = EditStats {
        applied: edits.len(),
        ..Default::default()
    };
    let mut dropped = vec![false; R::item_rows(index)];
    let mut mark = |row: u32| {
        if let Some(m) = dropped.get_mut(row as usize) {
            *m = true;
        }
    };
    for edit in edits {
        match edit {
            Edit::SetAttribute {
                target,
                index: i,
                key,
                value,
            } => {
                if let Some(attrs) = attrs(req, index, target, i) {
                    set_attr(attrs, key, value.to_any());
                }
            }
            Edit::RemoveAttribute {
                target,
                index: i,
                key,
            } => {
                if let Some(attrs) = attrs(req, index, target, i) {
                    remove_attr(attrs, key);
                }
            }
            Edit::RenameSpan { index: i, name } => {
                if let Some(span) = req.span(index, i) {
                    name.clone_into(&mut span.name);
                }
            }
            Edit::SetStatus {
                index: i,
                code,
                message,
            } => {
                if let Some(span) = req.span(index, i) {
                    span.status = Some(Status {
                        code,
                        message: message.to_owned(),
                    });
                }
            }
            Edit::SetBody { index: i, value } => {
                if let Some(rec) = req.log(index, i) {
                    rec.body = value.map(|v| v.to_any()).filter(|v| v.value.is_some());
                }
            }
            // A drop of the other signal's items addresses no row: the range
            // check already refused it (that table is empty).
            Edit::DropSpan { index: i } if R::ITEMS == Items::Spans => mark(i),
            Edit::DropLog { index: i } if R::ITEMS == Items::Logs => mark(i),
            Edit::DropSpan { .. } | Edit::DropLog { .. } => {}
        }
    }
    req.drop_marked(&dropped, &mut stats);
    stats
}

/// Checks every edit, then applies them in list order and the drops last.
fn apply<R: EditTarget>(
    req: &mut R,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    let edits = check(raw, index, max_edits)?;
    Ok(apply_checked(req, index, edits))
}

/// Validates `raw` against the view `index` was built with and, if every
/// edit is valid, applies them all to `req`.
pub fn apply_traces(
    req: &mut ExportTraceServiceRequest,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    apply(req, index, raw, max_edits)
}

/// As [`apply_traces`], for a logs batch.
pub fn apply_logs(
    req: &mut ExportLogsServiceRequest,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    apply(req, index, raw, max_edits)
}

// Indices were range-checked against `index`, which was built from the same
// request, so these lookups cannot miss; `get` keeps that an invariant rather
// than a panic.
impl EditTarget for ExportTraceServiceRequest {
    const ITEMS: Items = Items::Spans;

    fn resource(&mut self, _: &RowIndex, row: u32) -> Option<&mut Option<Resource>> {
        Some(&mut self.resource_spans.get_mut(row as usize)?.resource)
    }

    fn scope(&mut self, index: &RowIndex, row: u32) -> Option<&mut Option<InstrumentationScope>> {
        let (r, s) = *index.scopes.get(row as usize)?;
        let ss = self
            .resource_spans
            .get_mut(r as usize)?
            .scope_spans
            .get_mut(s as usize)?;
        Some(&mut ss.scope)
    }

    fn span(&mut self, index: &RowIndex, row: u32) -> Option<&mut Span> {
        let (r, s, p) = *index.spans.get(row as usize)?;
        self.resource_spans
            .get_mut(r as usize)?
            .scope_spans
            .get_mut(s as usize)?
            .spans
            .get_mut(p as usize)
    }

    fn log(&mut self, _: &RowIndex, _: u32) -> Option<&mut LogRecord> {
        None
    }

    fn drop_marked(&mut self, dropped: &[bool], stats: &mut EditStats) {
        stats.spans_dropped = drop_rows(
            &mut self.resource_spans,
            dropped,
            |rs| &mut rs.scope_spans,
            |ss| &mut ss.spans,
        );
    }
}

impl EditTarget for ExportLogsServiceRequest {
    const ITEMS: Items = Items::Logs;

    fn resource(&mut self, _: &RowIndex, row: u32) -> Option<&mut Option<Resource>> {
        Some(&mut self.resource_logs.get_mut(row as usize)?.resource)
    }

    fn scope(&mut self, index: &RowIndex, row: u32) -> Option<&mut Option<InstrumentationScope>> {
        let (r, s) = *index.scopes.get(row as usize)?;
        let sl = self
            .resource_logs
            .get_mut(r as usize)?
            .scope_logs
            .get_mut(s as usize)?;
        Some(&mut sl.scope)
    }

    fn span(&mut self, _: &RowIndex, _: u32) -> Option<&mut Span> {
        None
    }

    fn log(&mut self, index: &RowIndex, row: u32) -> Option<&mut LogRecord> {
        let (r, s, l) = *index.logs.get(row as usize)?;
        self.resource_logs
            .get_mut(r as usize)?
            .scope_logs
            .get_mut(s as usize)?
            .log_records
            .get_mut(l as usize)
    }

    fn drop_marked(&mut self, dropped: &[bool], stats: &mut EditStats) {
        stats.logs_dropped = drop_rows(
            &mut self.resource_logs,
            dropped,
            |rl| &mut rl.scope_logs,
            |sl| &mut sl.log_records,
        );
    }
}

/// Removes the items (spans or log records) whose row is marked in `dropped`
/// (rows number the items of all resources and scopes in order), then, as
/// otelcol's filter processor does, the scopes and resources left empty.
/// Returns how many items were removed.
fn drop_rows<R, S, I>(
    resources: &mut Vec<R>,
    dropped: &[bool],
    scopes: fn(&mut R) -> &mut Vec<S>,
    items: fn(&mut S) -> &mut Vec<I>,
) -> usize {
    let removed = dropped.iter().filter(|d| **d).count();
    if removed == 0 {
        return 0;
    }
    let mut row = 0usize;
    for r in resources.iter_mut() {
        let scopes = scopes(r);
        for s in scopes.iter_mut() {
            items(s).retain(|_| {
                let keep = !dropped.get(row).copied().unwrap_or(false);
                row += 1;
                keep
            });
        }
        scopes.retain_mut(|s| !items(s).is_empty());
    }
    resources.retain_mut(|r| !scopes(r).is_empty());
    removed
}
