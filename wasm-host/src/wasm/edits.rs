//! Validates the packed edit list a guest returns and applies it to the
//! request. Every edit is checked (operation, target, row index, string
//! bounds, UTF-8, value tree shape) before any is applied, so a bad list
//! changes nothing. Drops apply last, so every index refers to the batch the
//! guest was shown. Several edits may name one value root (a value the guest
//! packed once for many rows): it is checked once, and encoded once by the
//! encoded path; a root may not also be another node's child.
//!
//! This file reads and checks the list; [`apply`] applies a checked list to
//! the decoded request, and [`wire`] to the encoded one, decoding and
//! re-encoding only the messages the edits touch (one loop of edit semantics
//! serves both).

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};

use super::layout_shared::{NONE, edit as e, value as v};
use super::view::RowIndex;

mod apply;
mod encode;
mod wire;

pub use apply::{apply_logs, apply_traces};
pub use wire::{Rewritten, apply_logs_encoded, apply_traces_encoded};

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
        value: Node<'a>,
    },
    RemoveAttribute {
        target: Target,
        index: u32,
        key: &'a str,
    },
    /// `None`: no body (an unset `AnyValue`).
    SetBody {
        index: u32,
        value: Option<Node<'a>>,
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

/// [`Checker::seen`]: a node not met yet.
const UNSEEN: u32 = 0;
/// [`Checker::seen`]: a node listed as the child of a checked node.
const CHILD: u32 = u32::MAX;

struct Checker<'a> {
    raw: &'a RawEdits<'a>,
    nodes: usize,
    edit: usize,
    /// Nodes materialized so far; bounds work when value runs are shared
    /// between parents (a DAG would otherwise expand exponentially).
    budget: usize,
    /// By node: [`UNSEEN`], [`CHILD`], or an edit's value (a root) already
    /// checked, as its nesting plus one, so a root that several edits
    /// share is checked once.
    seen: Vec<u32>,
    /// By node: how many edits name it as their value (2 means two or more).
    refs: Vec<u8>,
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

    /// Checks the value tree rooted at node `index`, an edit's value: once
    /// per edit list, however many edits share it. A root must not also be
    /// listed as the child of another node.
    fn node(&mut self, index: u32) -> Result<Node<'a>, EditError> {
        let nesting = match self.seen.get(index as usize).copied() {
            None => {
                return Err(self.bad(format!("node {index} out of range ({} nodes)", self.nodes)));
            }
            Some(CHILD) => return Err(self.root_and_child(index)),
            Some(UNSEEN) => {
                let nesting = self.value(index, 0)?.1;
                // Nesting is at most about 3 * MAX_DEPTH: no overflow.
                self.seen[index as usize] = nesting + 1;
                nesting
            }
            Some(checked) => checked - 1,
        };
        Ok(Node {
            values: self.raw.values,
            arena: self.raw.arena,
            index,
            nesting,
            shared: self.refs.get(index as usize).is_some_and(|r| *r > 1),
        })
    }

    fn root_and_child(&self, index: u32) -> EditError {
        self.bad(format!(
            "node {index} is both an edit's value and the child of another node"
        ))
    }

    /// Marks node `index` as a child; an edit's value may not be one.
    fn child(&mut self, index: u32) -> Result<(), EditError> {
        match self.seen.get(index as usize).copied() {
            Some(UNSEEN) | Some(CHILD) => {
                self.seen[index as usize] = CHILD;
                Ok(())
            }
            Some(_) => Err(self.root_and_child(index)),
            None => Err(self.bad(format!("node {index} out of range ({} nodes)", self.nodes))),
        }
    }

    fn bad(&self, reason: impl Into<String>) -> EditError {
        EditError::BadValue {
            edit: self.edit,
            reason: reason.into(),
        }
    }

    /// Checks node `index` and its subtree (kinds, child runs, strings,
    /// depth, the node budget) without building anything: its key, and the
    /// message levels below it ([`Node::nesting`]).
    fn value(&mut self, index: u32, depth: u32) -> Result<(&'a str, u32), EditError> {
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
        let nesting = match row[v::KIND] {
            v::KIND_EMPTY | v::KIND_BOOL | v::KIND_INT | v::KIND_DOUBLE => 0,
            v::KIND_STRING => {
                self.str(row, v::PAYLOAD)?;
                0
            }
            v::KIND_BYTES => {
                self.bytes(row, v::PAYLOAD)?;
                0
            }
            v::KIND_ARRAY => {
                let (first, count) = children(self)?;
                let mut deepest = None;
                for i in first..first + count {
                    self.child(i)?;
                    let below = 2 + self.value(i, depth + 1)?.1;
                    deepest = deepest.max(Some(below));
                }
                deepest.unwrap_or(1)
            }
            v::KIND_KVLIST => {
                let (first, count) = children(self)?;
                let mut deepest = None;
                for i in first..first + count {
                    self.child(i)?;
                    let below = 3 + self.value(i, depth + 1)?.1;
                    deepest = deepest.max(Some(below));
                }
                deepest.unwrap_or(1)
            }
            other => return Err(self.bad(format!("node {index}: unknown kind {other}"))),
        };
        Ok((key, nesting))
    }
}

/// A checked value: node `index` of the guest's value table and its subtree,
/// read when applied, straight into a prost value ([`Node::to_any`]) or into
/// protobuf bytes ([`wire`]). [`check`] made every read below succeed; they
/// still degrade to empty values rather than panic.
#[derive(Debug, Clone, Copy)]
struct Node<'a> {
    values: &'a [u8],
    arena: &'a [u8],
    index: u32,
    /// Message levels below this `AnyValue` (an array element is two, a
    /// key-value list entry's value three), computed by the check.
    nesting: u32,
    /// Several edits of the list set this value: its encoding is worth
    /// keeping for the next ([`encode::Encoder::write_value`]).
    shared: bool,
}

impl<'a> Node<'a> {
    /// The node's 24 bytes (zeros, an empty value, past the table).
    fn row(&self, index: u32) -> &'a [u8] {
        let start = index as usize * v::SIZE;
        self.values
            .get(start..start + v::SIZE)
            .unwrap_or(&[0; v::SIZE])
    }

    /// The bytes a string field of `row` names.
    fn bytes(&self, row: &[u8], off: usize) -> &'a [u8] {
        let start = u32_at(row, off) as usize;
        let len = u32_at(row, off + 4) as usize;
        self.arena
            .get(start..start.saturating_add(len))
            .unwrap_or(&[])
    }

    fn str(&self, row: &[u8], off: usize) -> &'a str {
        std::str::from_utf8(self.bytes(row, off)).unwrap_or("")
    }

    /// The first child and the count of an array or a key-value list.
    fn children(row: &[u8]) -> (u32, u32) {
        (u32_at(row, v::PAYLOAD), u32_at(row, v::PAYLOAD + 4))
    }

    /// The value as prost's `AnyValue`.
    fn to_any(self) -> AnyValue {
        self.any(self.index)
    }

    fn any(&self, index: u32) -> AnyValue {
        let row = self.row(index);
        let value = match row[v::KIND] {
            v::KIND_STRING => Some(any_value::Value::StringValue(
                self.str(row, v::PAYLOAD).to_owned(),
            )),
            v::KIND_BOOL => Some(any_value::Value::BoolValue(row[v::PAYLOAD] != 0)),
            v::KIND_INT => Some(any_value::Value::IntValue(u64_at(row, v::PAYLOAD) as i64)),
            v::KIND_DOUBLE => Some(any_value::Value::DoubleValue(f64::from_bits(u64_at(
                row,
                v::PAYLOAD,
            )))),
            v::KIND_BYTES => Some(any_value::Value::BytesValue(
                self.bytes(row, v::PAYLOAD).to_vec(),
            )),
            v::KIND_ARRAY => {
                let (first, count) = Self::children(row);
                let values = (first..first.saturating_add(count))
                    .map(|i| self.any(i))
                    .collect();
                Some(any_value::Value::ArrayValue(ArrayValue { values }))
            }
            v::KIND_KVLIST => {
                let (first, count) = Self::children(row);
                let values = (first..first.saturating_add(count))
                    .map(|i| KeyValue {
                        key: self.str(self.row(i), v::KEY).to_owned(),
                        value: Some(self.any(i)),
                        ..Default::default()
                    })
                    .collect();
                Some(any_value::Value::KvlistValue(KeyValueList { values }))
            }
            _ => None,
        };
        AnyValue { value }
    }
}

/// One table of the batch the guest saw: its rows, and where each lies in
/// the [`RowIndex`] (`None`: at the same number).
#[derive(Clone, Copy)]
struct Table<'i> {
    name: &'static str,
    len: usize,
    shown: Option<&'i [u32]>,
}

/// The tables of the batch the guest saw.
struct Counts<'i> {
    resources: Table<'i>,
    scopes: Table<'i>,
    spans: Table<'i>,
    events: Table<'i>,
    links: Table<'i>,
    logs: Table<'i>,
}

impl<'i> Counts<'i> {
    fn of(index: &'i RowIndex) -> Self {
        let all = |name, len| Table {
            name,
            len,
            shown: None,
        };
        let some = |name, rows: &'i [u32]| Table {
            name,
            len: rows.len(),
            shown: Some(rows),
        };
        // Events and links are listed only for shown spans, numbered as the
        // guest saw them.
        let events = all("event", index.events.len());
        let links = all("link", index.links.len());
        match &index.shown {
            None => Counts {
                resources: all("resource", index.resources as usize),
                scopes: all("scope", index.scopes.len()),
                spans: all("span", index.spans.len()),
                events,
                links,
                logs: all("log", index.logs.len()),
            },
            Some(s) => Counts {
                resources: some("resource", &s.resources),
                scopes: some("scope", &s.scopes),
                spans: some("span", &s.spans),
                events,
                links,
                logs: some("log", &s.logs),
            },
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
    // Which nodes several edits name as their value (out-of-range names are
    // refused by the loop below).
    let mut refs = vec![0u8; nodes];
    for row in raw.rows.chunks_exact(e::SIZE) {
        if matches!(row[e::OP], e::OP_SET_ATTRIBUTE | e::OP_SET_BODY)
            && let Some(r) = refs.get_mut(u32_at(row, e::VALUE) as usize)
        {
            *r = (*r + 1).min(2);
        }
    }
    let mut c = Checker {
        raw,
        nodes,
        edit: 0,
        budget: nodes.saturating_mul(4).saturating_add(1024),
        seen: vec![UNSEEN; nodes],
        refs,
    };
    let mut out = Vec::with_capacity(count);
    for (n, row) in raw.rows.chunks_exact(e::SIZE).enumerate() {
        c.edit = n;
        let idx = u32_at(row, e::INDEX);
        // The guest's row, checked against what it saw, as a row of the
        // index (the edits below address the whole request).
        let in_range = |t: Table<'_>| {
            if (idx as usize) < t.len {
                Ok(t.shown.map_or(idx, |rows| rows[idx as usize]))
            } else {
                Err(EditError::IndexOutOfRange {
                    edit: n,
                    table: t.name,
                    index: idx,
                    len: t.len,
                })
            }
        };
        let target = || -> Result<(Target, u32), EditError> {
            let t = row[e::TARGET];
            Ok(match t {
                e::TARGET_RESOURCE => (Target::Resource, in_range(counts.resources)?),
                e::TARGET_SCOPE => (Target::Scope, in_range(counts.scopes)?),
                e::TARGET_SPAN => (Target::Span, in_range(counts.spans)?),
                e::TARGET_EVENT => (Target::Event, in_range(counts.events)?),
                e::TARGET_LINK => (Target::Link, in_range(counts.links)?),
                e::TARGET_LOG => (Target::Log, in_range(counts.logs)?),
                target => return Err(EditError::UnknownTarget { edit: n, target }),
            })
        };
        let edit = match row[e::OP] {
            e::OP_SET_ATTRIBUTE => {
                let (target, index) = target()?;
                let key = c.str(row, e::TEXT)?;
                let value = c.node(u32_at(row, e::VALUE))?;
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
                let index = in_range(counts.logs)?;
                let node = u32_at(row, e::VALUE);
                let value = if node == NONE {
                    None
                } else {
                    Some(c.node(node)?)
                };
                Edit::SetBody { index, value }
            }
            e::OP_RENAME_SPAN => Edit::RenameSpan {
                index: in_range(counts.spans)?,
                name: c.str(row, e::TEXT)?,
            },
            e::OP_SET_STATUS => {
                let index = in_range(counts.spans)?;
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
                index: in_range(counts.spans)?,
            },
            e::OP_DROP_LOG => Edit::DropLog {
                index: in_range(counts.logs)?,
            },
            op => return Err(EditError::UnknownOp { edit: n, op }),
        };
        out.push(edit);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
