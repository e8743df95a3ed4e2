//! Validates the packed edit list a guest returns and applies it to the
//! request. Every edit is checked (operation, target, row index, string
//! bounds, UTF-8, value tree shape) before any is applied, so a bad list
//! changes nothing. Drops apply last, so every index refers to the batch the
//! guest was shown.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Status;

use super::layout_shared::{NONE, edit as e, value as v};
use super::view::RowIndex;

/// Deepest `AnyValue` nesting accepted from a guest (prost's own decode
/// limit is 100; stay well under it so the result can be encoded again).
const MAX_DEPTH: u32 = 64;

/// Why an edit list was refused (fault kind `invalid_edit`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// More edits than `limits.max_edits`.
    #[error("{count} edits, more than limits.max_edits ({max})")]
    TooMany {
        /// Edits returned.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A buffer's length is not a whole number of rows.
    #[error("{buffer} is {len} bytes, not a multiple of the {size}-byte row")]
    Ragged {
        /// `rows` or `values`.
        buffer: &'static str,
        /// Its length.
        len: usize,
        /// The row size.
        size: usize,
    },
    /// Unknown operation code.
    #[error("edit {edit}: unknown operation {op}")]
    UnknownOp {
        /// Edit number.
        edit: usize,
        /// The code.
        op: u8,
    },
    /// Unknown target table.
    #[error("edit {edit}: unknown target {target}")]
    UnknownTarget {
        /// Edit number.
        edit: usize,
        /// The code.
        target: u8,
    },
    /// Row index past the end of its table.
    #[error("edit {edit}: {table} index {index} out of range (batch has {len})")]
    IndexOutOfRange {
        /// Edit number.
        edit: usize,
        /// Table name.
        table: &'static str,
        /// The index.
        index: u32,
        /// Rows in the table.
        len: usize,
    },
    /// A string points outside the edit arena.
    #[error("edit {edit}: string out of the arena")]
    StringOutOfRange {
        /// Edit number.
        edit: usize,
    },
    /// A string is not UTF-8.
    #[error("edit {edit}: string is not valid UTF-8")]
    BadUtf8 {
        /// Edit number.
        edit: usize,
    },
    /// A value tree is malformed.
    #[error("edit {edit}: bad value: {reason}")]
    BadValue {
        /// Edit number.
        edit: usize,
        /// What is wrong.
        reason: String,
    },
    /// A status code other than unset, ok or error.
    #[error("edit {edit}: status code {code} is not 0, 1 or 2")]
    BadStatus {
        /// Edit number.
        edit: usize,
        /// The code.
        code: u32,
    },
}

/// What applying an edit list did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditStats {
    /// Edits applied.
    pub applied: usize,
    /// Spans removed by drop edits.
    pub spans_dropped: usize,
    /// Log records removed by drop edits.
    pub logs_dropped: usize,
}

/// Which table an attribute edit addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Resource,
    Scope,
    Span,
    Event,
    Link,
    Log,
}

/// One checked edit, borrowing its strings from the guest's arena.
#[derive(Debug, Clone)]
enum Edit<'a> {
    SetAttribute {
        target: Target,
        index: u32,
        key: &'a str,
        value: AnyValue,
    },
    RemoveAttribute {
        target: Target,
        index: u32,
        key: &'a str,
    },
    SetBody {
        index: u32,
        value: AnyValue,
    },
    RenameSpan {
        index: u32,
        name: &'a str,
    },
    SetStatus {
        index: u32,
        code: i32,
        message: &'a str,
    },
    DropSpan {
        index: u32,
    },
    DropLog {
        index: u32,
    },
}

/// The packed edits as received.
pub struct RawEdits<'a> {
    /// Edit rows.
    pub rows: &'a [u8],
    /// Strings.
    pub arena: &'a [u8],
    /// Value nodes.
    pub values: &'a [u8],
}

/// The little-endian `u32` at `off` of a row whose length is checked.
pub(super) fn u32_at(row: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&row[off..off + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(row: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&row[off..off + 8]);
    u64::from_le_bytes(b)
}

struct Checker<'a> {
    raw: &'a RawEdits<'a>,
    nodes: usize,
    edit: usize,
    /// Nodes materialized so far; bounds work when value runs are shared
    /// between parents (a DAG would otherwise expand exponentially).
    budget: usize,
}

impl<'a> Checker<'a> {
    fn bytes(&self, row: &[u8], off: usize) -> Result<&'a [u8], EditError> {
        let start = u32_at(row, off) as usize;
        let len = u32_at(row, off + 4) as usize;
        self.raw
            .arena
            .get(start..start.saturating_add(len))
            .ok_or(EditError::StringOutOfRange { edit: self.edit })
    }

    fn str(&self, row: &[u8], off: usize) -> Result<&'a str, EditError> {
        std::str::from_utf8(self.bytes(row, off)?)
            .map_err(|_| EditError::BadUtf8 { edit: self.edit })
    }

    fn bad(&self, reason: impl Into<String>) -> EditError {
        EditError::BadValue {
            edit: self.edit,
            reason: reason.into(),
        }
    }

    /// Reads node `index` and its subtree into a prost value.
    fn value(&mut self, index: u32, depth: u32) -> Result<(&'a str, AnyValue), EditError> {
        if depth > MAX_DEPTH {
            return Err(self.bad(format!("nested deeper than {MAX_DEPTH}")));
        }
        if self.budget == 0 {
            return Err(self.bad("value trees expand to too many nodes"));
        }
        self.budget -= 1;
        if index as usize >= self.nodes {
            return Err(self.bad(format!("node {index} out of range ({} nodes)", self.nodes)));
        }
        let start = index as usize * v::SIZE;
        let row = &self.raw.values[start..start + v::SIZE];
        let key = if u32_at(row, v::KEY + 4) == 0 {
            ""
        } else {
            self.str(row, v::KEY)?
        };
        let children = |c: &Self| -> Result<(u32, u32), EditError> {
            let first = u32_at(row, v::PAYLOAD);
            let count = u32_at(row, v::PAYLOAD + 4);
            if count > 0 && (first <= index || first as usize + count as usize > c.nodes) {
                return Err(c.bad(format!(
                    "node {index}: children {first}+{count} out of order or range"
                )));
            }
            Ok((first, count))
        };
        let value = match row[v::KIND] {
            v::KIND_EMPTY => None,
            v::KIND_STRING => Some(any_value::Value::StringValue(
                self.str(row, v::PAYLOAD)?.to_owned(),
            )),
            v::KIND_BOOL => Some(any_value::Value::BoolValue(row[v::PAYLOAD] != 0)),
            v::KIND_INT => Some(any_value::Value::IntValue(u64_at(row, v::PAYLOAD) as i64)),
            v::KIND_DOUBLE => Some(any_value::Value::DoubleValue(f64::from_bits(u64_at(
                row,
                v::PAYLOAD,
            )))),
            v::KIND_BYTES => Some(any_value::Value::BytesValue(
                self.bytes(row, v::PAYLOAD)?.to_vec(),
            )),
            v::KIND_ARRAY => {
                let (first, count) = children(self)?;
                let mut values = Vec::with_capacity(count as usize);
                for i in first..first + count {
                    values.push(self.value(i, depth + 1)?.1);
                }
                Some(any_value::Value::ArrayValue(ArrayValue { values }))
            }
            v::KIND_KVLIST => {
                let (first, count) = children(self)?;
                let mut values = Vec::with_capacity(count as usize);
                for i in first..first + count {
                    let (k, val) = self.value(i, depth + 1)?;
                    values.push(KeyValue {
                        key: k.to_owned(),
                        value: Some(val),
                        ..Default::default()
                    });
                }
                Some(any_value::Value::KvlistValue(KeyValueList { values }))
            }
            other => return Err(self.bad(format!("node {index}: unknown kind {other}"))),
        };
        Ok((key, AnyValue { value }))
    }
}

/// Row counts of the batch the guest saw.
struct Counts {
    resources: usize,
    scopes: usize,
    spans: usize,
    events: usize,
    links: usize,
    logs: usize,
}

impl Counts {
    fn of(index: &RowIndex) -> Self {
        Counts {
            resources: index.resources as usize,
            scopes: index.scopes.len(),
            spans: index.spans.len(),
            events: index.events.len(),
            links: index.links.len(),
            logs: index.logs.len(),
        }
    }
}

fn check<'a>(
    raw: &'a RawEdits<'a>,
    index: &RowIndex,
    max_edits: usize,
) -> Result<Vec<Edit<'a>>, EditError> {
    if !raw.rows.len().is_multiple_of(e::SIZE) {
        return Err(EditError::Ragged {
            buffer: "rows",
            len: raw.rows.len(),
            size: e::SIZE,
        });
    }
    if !raw.values.len().is_multiple_of(v::SIZE) {
        return Err(EditError::Ragged {
            buffer: "values",
            len: raw.values.len(),
            size: v::SIZE,
        });
    }
    let count = raw.rows.len() / e::SIZE;
    if count > max_edits {
        return Err(EditError::TooMany {
            count,
            max: max_edits,
        });
    }
    let counts = Counts::of(index);
    let nodes = raw.values.len() / v::SIZE;
    let mut c = Checker {
        raw,
        nodes,
        edit: 0,
        budget: nodes.saturating_mul(4).saturating_add(1024),
    };
    let mut out = Vec::with_capacity(count);
    for (n, row) in raw.rows.chunks_exact(e::SIZE).enumerate() {
        c.edit = n;
        let idx = u32_at(row, e::INDEX);
        let in_range = |table: &'static str, len: usize| {
            if (idx as usize) < len {
                Ok(idx)
            } else {
                Err(EditError::IndexOutOfRange {
                    edit: n,
                    table,
                    index: idx,
                    len,
                })
            }
        };
        let target = || -> Result<(Target, u32), EditError> {
            let t = row[e::TARGET];
            Ok(match t {
                e::TARGET_RESOURCE => (Target::Resource, in_range("resource", counts.resources)?),
                e::TARGET_SCOPE => (Target::Scope, in_range("scope", counts.scopes)?),
                e::TARGET_SPAN => (Target::Span, in_range("span", counts.spans)?),
                e::TARGET_EVENT => (Target::Event, in_range("event", counts.events)?),
                e::TARGET_LINK => (Target::Link, in_range("link", counts.links)?),
                e::TARGET_LOG => (Target::Log, in_range("log", counts.logs)?),
                target => return Err(EditError::UnknownTarget { edit: n, target }),
            })
        };
        let edit = match row[e::OP] {
            e::OP_SET_ATTRIBUTE => {
                let (target, index) = target()?;
                let key = c.str(row, e::TEXT)?;
                let value = c.value(u32_at(row, e::VALUE), 0)?.1;
                Edit::SetAttribute {
                    target,
                    index,
                    key,
                    value,
                }
            }
            e::OP_REMOVE_ATTRIBUTE => {
                let (target, index) = target()?;
                Edit::RemoveAttribute {
                    target,
                    index,
                    key: c.str(row, e::TEXT)?,
                }
            }
            e::OP_SET_BODY => {
                let index = in_range("log", counts.logs)?;
                let node = u32_at(row, e::VALUE);
                let value = if node == NONE {
                    AnyValue { value: None }
                } else {
                    c.value(node, 0)?.1
                };
                Edit::SetBody { index, value }
            }
            e::OP_RENAME_SPAN => Edit::RenameSpan {
                index: in_range("span", counts.spans)?,
                name: c.str(row, e::TEXT)?,
            },
            e::OP_SET_STATUS => {
                let index = in_range("span", counts.spans)?;
                let code = u32_at(row, e::CODE);
                if code > 2 {
                    return Err(EditError::BadStatus { edit: n, code });
                }
                Edit::SetStatus {
                    index,
                    code: code as i32,
                    message: c.str(row, e::TEXT)?,
                }
            }
            e::OP_DROP_SPAN => Edit::DropSpan {
                index: in_range("span", counts.spans)?,
            },
            e::OP_DROP_LOG => Edit::DropLog {
                index: in_range("log", counts.logs)?,
            },
            op => return Err(EditError::UnknownOp { edit: n, op }),
        };
        out.push(edit);
    }
    Ok(out)
}

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

/// Validates `raw` against the view `index` was built with and, if every
/// edit is valid, applies them all to `req`.
pub fn apply_traces(
    req: &mut ExportTraceServiceRequest,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    let edits = check(raw, index, max_edits)?;
    let mut stats = EditStats {
        applied: edits.len(),
        ..Default::default()
    };
    let mut dropped = vec![false; index.spans.len()];
    for edit in edits {
        match edit {
            Edit::SetAttribute {
                target,
                index: i,
                key,
                value,
            } => {
                if let Some(attrs) = trace_attrs(req, index, target, i) {
                    set_attr(attrs, key, value);
                }
            }
            Edit::RemoveAttribute {
                target,
                index: i,
                key,
            } => {
                if let Some(attrs) = trace_attrs(req, index, target, i) {
                    remove_attr(attrs, key);
                }
            }
            Edit::RenameSpan { index: i, name } => {
                if let Some(span) = span_at(req, index, i) {
                    name.clone_into(&mut span.name);
                }
            }
            Edit::SetStatus {
                index: i,
                code,
                message,
            } => {
                if let Some(span) = span_at(req, index, i) {
                    span.status = Some(Status {
                        code,
                        message: message.to_owned(),
                    });
                }
            }
            Edit::DropSpan { index: i } => dropped[i as usize] = true,
            // Log edits against a traces batch address no row: the range
            // check already refused them (the log table is empty).
            Edit::SetBody { .. } | Edit::DropLog { .. } => {}
        }
    }
    if dropped.iter().any(|d| *d) {
        let mut row = 0usize;
        for rs in &mut req.resource_spans {
            for ss in &mut rs.scope_spans {
                ss.spans.retain(|_| {
                    let keep = !dropped[row];
                    row += 1;
                    keep
                });
            }
        }
        stats.spans_dropped = dropped.iter().filter(|d| **d).count();
        // As otelcol's filter processor does: no empty groups downstream.
        for rs in &mut req.resource_spans {
            rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        }
        req.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
    }
    Ok(stats)
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

/// As [`apply_traces`], for a logs batch.
pub fn apply_logs(
    req: &mut ExportLogsServiceRequest,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<EditStats, EditError> {
    let edits = check(raw, index, max_edits)?;
    let mut stats = EditStats {
        applied: edits.len(),
        ..Default::default()
    };
    let mut dropped = vec![false; index.logs.len()];
    for edit in edits {
        match edit {
            Edit::SetAttribute {
                target,
                index: i,
                key,
                value,
            } => {
                if let Some(attrs) = log_attrs(req, index, target, i) {
                    set_attr(attrs, key, value);
                }
            }
            Edit::RemoveAttribute {
                target,
                index: i,
                key,
            } => {
                if let Some(attrs) = log_attrs(req, index, target, i) {
                    remove_attr(attrs, key);
                }
            }
            Edit::SetBody { index: i, value } => {
                if let Some(rec) = log_at(req, index, i) {
                    rec.body = value.value.is_some().then_some(value);
                }
            }
            Edit::DropLog { index: i } => dropped[i as usize] = true,
            // Span edits against a logs batch: refused by the range check.
            Edit::RenameSpan { .. } | Edit::SetStatus { .. } | Edit::DropSpan { .. } => {}
        }
    }
    if dropped.iter().any(|d| *d) {
        let mut row = 0usize;
        for rl in &mut req.resource_logs {
            for sl in &mut rl.scope_logs {
                sl.log_records.retain(|_| {
                    let keep = !dropped[row];
                    row += 1;
                    keep
                });
            }
        }
        stats.logs_dropped = dropped.iter().filter(|d| **d).count();
        for rl in &mut req.resource_logs {
            rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
        }
        req.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
    }
    Ok(stats)
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

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;
    use crate::wasm::view::BatchView;

    /// A hand-packed edit list, independent of the guest SDK's encoder.
    #[derive(Default)]
    struct Raw {
        rows: Vec<u8>,
        arena: Vec<u8>,
        values: Vec<u8>,
    }

    impl Raw {
        fn text(&mut self, b: &[u8]) -> (u32, u32) {
            let off = self.arena.len() as u32;
            self.arena.extend_from_slice(b);
            (off, b.len() as u32)
        }
        fn node(&mut self, kind: u8, key: (u32, u32), payload: [u8; 8]) -> u32 {
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
        fn edit(&mut self, op: u8, target: u8, index: u32, text: (u32, u32), value: u32) {
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

    fn pair(a: u32, b: u32) -> [u8; 8] {
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
}
