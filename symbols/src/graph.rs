//! The coarse code graph over name-based edges: callees, callers and radius-k
//! neighbourhoods. A call `x.save()` is an edge to every definition named `save`:
//! an over-approximation, which is what a name-based graph without type
//! resolution can give, and enough to rank code near a failing frame.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};

use crate::error::FormatError;
use crate::model::{DefKind, EdgeKind};
use crate::reader::{Index, partition};
use crate::records::Definition;

type Result<T> = std::result::Result<T, FormatError>;

/// A call or import edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge<'a> {
    /// The definition the call or import occurs in.
    pub from: u32,
    /// Call or import.
    pub kind: EdgeKind,
    /// The called name or imported module.
    pub target: &'a str,
    /// The line it occurs on.
    pub line: u32,
}

impl<'a> Index<'a> {
    /// The edges that occur directly in definition `def` (not in definitions nested
    /// in it), by line.
    pub fn edges_from(&self, def: u32) -> Result<Vec<Edge<'a>>> {
        let n = self.edge_count();
        let cmp = |i: usize| -> Result<Ordering> { Ok(self.edge_raw(i)?.0.cmp(&def)) };
        let lo = partition(n, |i| Ok(cmp(i)? == Ordering::Less))?;
        let hi = partition(n, |i| Ok(cmp(i)? != Ordering::Greater))?;
        (lo..hi.max(lo)).map(|i| self.edge(i)).collect()
    }

    fn edge(&self, i: usize) -> Result<Edge<'a>> {
        let (from, code, line, _) = self.edge_raw(i)?;
        Ok(Edge {
            from,
            kind: EdgeKind::from_code(code).ok_or(FormatError::BadValue {
                field: "edge kind",
                value: u64::from(code),
            })?,
            target: self.edge_target(i)?,
            line,
        })
    }

    /// The definitions `def` may call: every non-module definition of the same
    /// language named like one of its call targets. Deduplicated, in table order.
    pub fn callees(&self, def: u32) -> Result<Vec<Definition<'a>>> {
        let language = self.definition(def)?.language;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for e in self.edges_from(def)? {
            if e.kind != EdgeKind::Call {
                continue;
            }
            for d in self.definitions_by_name(e.target)? {
                if d.kind != DefKind::Module && d.language == language && seen.insert(d.index) {
                    out.push(d);
                }
            }
        }
        out.sort_by_key(|d| d.index);
        Ok(out)
    }

    /// The definitions of the same language holding a call to `def`'s name.
    /// Deduplicated, in table order.
    pub fn callers(&self, def: u32) -> Result<Vec<Definition<'a>>> {
        let target = self.definition(def)?;
        let name = target.name;
        let idx = self.edges_by_target;
        let (lo, hi) = self.equal_range(idx.count, name.as_bytes(), |i| {
            let e = self.sorted_entry(idx, i, "EDGES_BY_TARGET")?;
            Ok(self.edge_raw(e as usize)?.3)
        })?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in lo..hi {
            let e = self.sorted_entry(idx, i, "EDGES_BY_TARGET")? as usize;
            let (from, code, _, _) = self.edge_raw(e)?;
            if code == EdgeKind::Call.code() && seen.insert(from) {
                let d = self.definition(from)?;
                if d.language == target.language {
                    out.push(d);
                }
            }
        }
        out.sort_by_key(|d| d.index);
        Ok(out)
    }

    /// The definitions within `radius` call edges of `def` in either direction, with
    /// their distance (`def` itself at 0), nearest first; at most `limit` of them,
    /// since common names (`get`, `run`) connect much of a code base.
    pub fn neighbourhood(
        &self,
        def: u32,
        radius: u32,
        limit: usize,
    ) -> Result<Vec<(Definition<'a>, u32)>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        seen.insert(def);
        queue.push_back((self.definition(def)?, 0u32));
        while let Some((d, dist)) = queue.pop_front() {
            if out.len() >= limit {
                break;
            }
            out.push((d, dist));
            if dist >= radius {
                continue;
            }
            let mut next = self.callees(d.index)?;
            next.extend(self.callers(d.index)?);
            for n in next {
                if seen.insert(n.index) {
                    queue.push_back((n, dist + 1));
                }
            }
        }
        Ok(out)
    }
}
