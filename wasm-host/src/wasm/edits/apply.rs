//! Applies a checked edit list to the decoded request: attribute edits in
//! list order, then drops, so every index refers to the batch the guest was
//! shown.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Status;

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

/// The request types edits apply to: where an edit's attributes live, how an
/// item-level edit (rename, status, body) lands, and which rows a drop removes.
/// One [`apply`] loop serves both signals.
trait EditRows {
    /// Rows of the items (spans or log records) drop edits address.
    fn item_rows(index: &RowIndex) -> usize;
    /// The attribute list an attribute edit addresses.
    fn attrs<'r>(
        &'r mut self,
        index: &RowIndex,
        target: Target,
        row: u32,
    ) -> Option<&'r mut Vec<KeyValue>>;
    /// Applies an edit of an item's own fields; returns the row a drop edit
    /// marks instead of applying it.
    fn apply_item(&mut self, index: &RowIndex, edit: Edit<'_>) -> Option<u32>;
    /// Removes the marked rows; records how many in `stats`.
    fn drop_marked(&mut self, dropped: &[bool], stats: &mut EditStats);
}

/// Checks every edit, then applies them in list order and the drops last.
fn apply<R: EditRows>(
    req: &mut R,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    let edits = check(raw, index, max_edits)?;
    let mut stats = EditStats {
        applied: edits.len(),
        ..Default::default()
    };
    let mut dropped = vec![false; R::item_rows(index)];
    for edit in edits {
        match edit {
            Edit::SetAttribute {
                target,
                index: i,
                key,
                value,
            } => {
                if let Some(attrs) = req.attrs(index, target, i) {
                    set_attr(attrs, key, value);
                }
            }
            Edit::RemoveAttribute {
                target,
                index: i,
                key,
            } => {
                if let Some(attrs) = req.attrs(index, target, i) {
                    remove_attr(attrs, key);
                }
            }
            other => {
                if let Some(row) = req.apply_item(index, other)
                    && let Some(mark) = dropped.get_mut(row as usize)
                {
                    *mark = true;
                }
            }
        }
    }
    req.drop_marked(&dropped, &mut stats);
    Ok(stats)
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

impl EditRows for ExportTraceServiceRequest {
    fn item_rows(index: &RowIndex) -> usize {
        index.spans.len()
    }

    fn attrs<'r>(
        &'r mut self,
        index: &RowIndex,
        target: Target,
        row: u32,
    ) -> Option<&'r mut Vec<KeyValue>> {
        trace_attrs(self, index, target, row)
    }

    fn apply_item(&mut self, index: &RowIndex, edit: Edit<'_>) -> Option<u32> {
        match edit {
            Edit::RenameSpan { index: i, name } => {
                if let Some(span) = span_at(self, index, i) {
                    name.clone_into(&mut span.name);
                }
            }
            Edit::SetStatus {
                index: i,
                code,
                message,
            } => {
                if let Some(span) = span_at(self, index, i) {
                    span.status = Some(Status {
                        code,
                        message: message.to_owned(),
                    });
                }
            }
            Edit::DropSpan { index: i } => return Some(i),
            // Log edits against a traces batch address no row: the range
            // check already refused them (the log table is empty).
            Edit::SetBody { .. }
            | Edit::DropLog { .. }
            | Edit::SetAttribute { .. }
            | Edit::RemoveAttribute { .. } => {}
        }
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

impl EditRows for ExportLogsServiceRequest {
    fn item_rows(index: &RowIndex) -> usize {
        index.logs.len()
    }

    fn attrs<'r>(
        &'r mut self,
        index: &RowIndex,
        target: Target,
        row: u32,
    ) -> Option<&'r mut Vec<KeyValue>> {
        log_attrs(self, index, target, row)
    }

    fn apply_item(&mut self, index: &RowIndex, edit: Edit<'_>) -> Option<u32> {
        match edit {
            Edit::SetBody { index: i, value } => {
                if let Some(rec) = log_at(self, index, i) {
                    rec.body = value.value.is_some().then_some(value);
                }
            }
            Edit::DropLog { index: i } => return Some(i),
            // Span edits against a logs batch: refused by the range check.
            Edit::RenameSpan { .. }
            | Edit::SetStatus { .. }
            | Edit::DropSpan { .. }
            | Edit::SetAttribute { .. }
            | Edit::RemoveAttribute { .. } => {}
        }
        None
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

// Indices were range-checked against `index`, which was built from the same
// request, so these lookups cannot miss; `get` keeps that an invariant rather
// than a panic.
fn span_at<'r>(
    req: &'r mut ExportTraceServiceRequest,
    index: &RowIndex,
    row: u32,
) -> Option<&'r mut opentelemetry_proto::tonic::trace::v1::Span> {
    let (r, s, p) = *index.spans.get(row as usize)?;
    req.resource_spans
        .get_mut(r as usize)?
        .scope_spans
        .get_mut(s as usize)?
        .spans
        .get_mut(p as usize)
}

fn trace_attrs<'r>(
    req: &'r mut ExportTraceServiceRequest,
    index: &RowIndex,
    target: Target,
    row: u32,
) -> Option<&'r mut Vec<KeyValue>> {
    let row = row as usize;
    match target {
        Target::Resource => {
            let rs = req.resource_spans.get_mut(row)?;
            Some(&mut rs.resource.get_or_insert_with(Resource::default).attributes)
        }
        Target::Scope => {
            let (r, s) = *index.scopes.get(row)?;
            let ss = req
                .resource_spans
                .get_mut(r as usize)?
                .scope_spans
                .get_mut(s as usize)?;
            Some(
                &mut ss
                    .scope
                    .get_or_insert_with(InstrumentationScope::default)
                    .attributes,
            )
        }
        Target::Span => {
            let (r, s, p) = *index.spans.get(row)?;
            let span = req
                .resource_spans
                .get_mut(r as usize)?
                .scope_spans
                .get_mut(s as usize)?
                .spans
                .get_mut(p as usize)?;
            Some(&mut span.attributes)
        }
        Target::Event | Target::Link => {
            let (span_row, i) = if target == Target::Event {
                *index.events.get(row)?
            } else {
                *index.links.get(row)?
            };
            let (r, s, p) = *index.spans.get(span_row as usize)?;
            let span = req
                .resource_spans
                .get_mut(r as usize)?
                .scope_spans
                .get_mut(s as usize)?
                .spans
                .get_mut(p as usize)?;
            if target == Target::Event {
                Some(&mut span.events.get_mut(i as usize)?.attributes)
            } else {
                Some(&mut span.links.get_mut(i as usize)?.attributes)
            }
        }
        Target::Log => None,
    }
}

fn log_at<'r>(
    req: &'r mut ExportLogsServiceRequest,
    index: &RowIndex,
    row: u32,
) -> Option<&'r mut opentelemetry_proto::tonic::logs::v1::LogRecord> {
    let (r, s, l) = *index.logs.get(row as usize)?;
    req.resource_logs
        .get_mut(r as usize)?
        .scope_logs
        .get_mut(s as usize)?
        .log_records
        .get_mut(l as usize)
}

fn log_attrs<'r>(
    req: &'r mut ExportLogsServiceRequest,
    index: &RowIndex,
    target: Target,
    row: u32,
) -> Option<&'r mut Vec<KeyValue>> {
    match target {
        Target::Resource => {
            let rl = req.resource_logs.get_mut(row as usize)?;
            Some(&mut rl.resource.get_or_insert_with(Resource::default).attributes)
        }
        Target::Scope => {
            let (r, s) = *index.scopes.get(row as usize)?;
            let sl = req
                .resource_logs
                .get_mut(r as usize)?
                .scope_logs
                .get_mut(s as usize)?;
            Some(
                &mut sl
                    .scope
                    .get_or_insert_with(InstrumentationScope::default)
                    .attributes,
            )
        }
        Target::Log => Some(&mut log_at(req, index, row)?.attributes),
        Target::Span | Target::Event | Target::Link => None,
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
