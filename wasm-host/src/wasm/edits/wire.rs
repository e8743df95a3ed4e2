//! Applies a checked edit list to the encoded request, re-encoding only what
//! the edits touch: each resource, scope, span or log record an edit
//! addresses (an event or link edit addresses its span) is decoded alone with
//! prost from its byte range, the edits are applied to it by the same loop as
//! for a decoded request ([`apply_checked`]), and it is encoded again; drops
//! leave an item out, and scopes and resources left empty by a drop go as
//! the decoded path removes them. Everything else, and every byte of an
//! untouched message (unknown fields and field order included), is copied as
//! received; the enclosing `ScopeSpans`/`ResourceSpans` (`ScopeLogs`/
//! `ResourceLogs`) get new length prefixes, and a fragment with nothing
//! touched is kept as it is (no copy).
//!
//! Rows are found as the view builder numbered them (request order, across
//! fragments): the [`RowIndex`] of a view built from these very bytes says
//! which resource and scope group each row is in, and the walk over the bytes
//! (pdata's [`Reader`]) counts fields as the builder did. Any disagreement, or
//! an item prost refuses, leaves the edits to the decoded path (`None`),
//! which is always right.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use pdata::wire::field::{log_record, request, resource_items, scope_items, span};
use pdata::wire::{LEN, Reader, WireError};
use prost::Message;
use prost::bytes::Bytes;
use prost::encoding::{encode_varint, encoded_len_varint};

use super::super::layout_shared::value as v;
use super::super::view::RowIndex;
use super::apply::{EditTarget, Items, apply_checked};
use super::encode::Encoder;
use super::{Edit, EditError, EditStats, RawEdits, Target, check};

mod item;

use item::AttrEdit;

/// Deepest value an edit may set for the result to be held encoded: message
/// levels below the `AnyValue` (an array element is two, a key-value list
/// entry's value three). pdata's validating scan accepts an `AnyValue` at
/// level 64 at most, and an attribute's value sits at level 2 (a log body at
/// 1), so every value within this passes it, and stays far from prost's
/// decoding limit (100) for whoever decodes the bytes later. Deeper values
/// (which no guest of ours sets) take the decoded path.
pub(super) const MAX_NESTING: u32 = 62;

/// A request after its edits, encoded.
#[derive(Debug)]
pub struct Rewritten {
    /// Fragments whose concatenation is the request, each a whole request.
    pub chunks: Vec<Bytes>,
    /// What the edits did.
    pub stats: EditStats,
    /// Spans or log records left.
    pub items: usize,
}

/// Validates `raw` against the view `index` was built from `chunks` (an
/// encoded traces request) and, if every edit is valid, applies them to the
/// encoding. `Ok(None)`: valid, but left to [`super::apply_traces`] on the
/// decoded request (see the module docs); nothing was changed.
pub fn apply_traces_encoded(
    chunks: &[Bytes],
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<Option<Rewritten>, EditError> {
    let edits = check(raw, index, max_edits)?;
    Ok(rewrite::<Span>(
        chunks,
        index,
        edits,
        raw.values.len() / v::SIZE,
    ))
}

/// As [`apply_traces_encoded`], for a logs request.
pub fn apply_logs_encoded(
    chunks: &[Bytes],
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) -> Result<Option<Rewritten>, EditError> {
    let edits = check(raw, index, max_edits)?;
    Ok(rewrite::<LogRecord>(
        chunks,
        index,
        edits,
        raw.values.len() / v::SIZE,
    ))
}

/// A span or a log record: the item a scope group holds.
pub(super) trait WireItem: Message + Default {
    const ITEMS: Items;
    /// The item's attributes field.
    const ATTRIBUTES: u32;
    /// The edit target of the item's own attributes.
    const TARGET: Target;
    /// The item rows of `index`: (resource group, scope group, item).
    fn rows(index: &RowIndex) -> &[(u32, u32, u32)];
    fn as_span(&mut self) -> Option<&mut Span>;
    fn as_log(&mut self) -> Option<&mut LogRecord>;
}

impl WireItem for Span {
    const ITEMS: Items = Items::Spans;
    const ATTRIBUTES: u32 = span::ATTRIBUTES;
    const TARGET: Target = Target::Span;
    fn rows(index: &RowIndex) -> &[(u32, u32, u32)] {
        &index.spans
    }
    fn as_span(&mut self) -> Option<&mut Span> {
        Some(self)
    }
    fn as_log(&mut self) -> Option<&mut LogRecord> {
        None
    }
}

impl WireItem for LogRecord {
    const ITEMS: Items = Items::Logs;
    const ATTRIBUTES: u32 = log_record::ATTRIBUTES;
    const TARGET: Target = Target::Log;
    fn rows(index: &RowIndex) -> &[(u32, u32, u32)] {
        &index.logs
    }
    fn as_span(&mut self) -> Option<&mut Span> {
        None
    }
    fn as_log(&mut self) -> Option<&mut LogRecord> {
        Some(self)
    }
}

/// The messages the edits address, decoded, by row; what the drops marked.
struct Touched<'c, I> {
    resources: BTreeMap<u32, Option<Resource>>,
    scopes: BTreeMap<u32, Option<InstrumentationScope>>,
    items: BTreeMap<u32, I>,
    /// Items rewritten from their bytes ([`item`]), not decoded: their
    /// received payload by row.
    raw: BTreeMap<u32, &'c [u8]>,
    dropped: Vec<bool>,
    removed: usize,
}

impl<I: WireItem> EditTarget for Touched<'_, I> {
    const ITEMS: Items = I::ITEMS;

    fn resource(&mut self, _: &RowIndex, row: u32) -> Option<&mut Option<Resource>> {
        self.resources.get_mut(&row)
    }

    fn scope(&mut self, _: &RowIndex, row: u32) -> Option<&mut Option<InstrumentationScope>> {
        self.scopes.get_mut(&row)
    }

    fn span(&mut self, _: &RowIndex, row: u32) -> Option<&mut Span> {
        self.items.get_mut(&row)?.as_span()
    }

    fn log(&mut self, _: &RowIndex, row: u32) -> Option<&mut LogRecord> {
        self.items.get_mut(&row)?.as_log()
    }

    fn drop_marked(&mut self, dropped: &[bool], stats: &mut EditStats) {
        self.dropped.clear();
        self.dropped.extend_from_slice(dropped);
        self.removed = dropped.iter().filter(|d| **d).count();
        match I::ITEMS {
            Items::Spans => stats.spans_dropped = self.removed,
            Items::Logs => stats.logs_dropped = self.removed,
        }
    }
}

/// Where each group's rows start: `scopes[r]..scopes[r + 1]` are resource
/// row `r`'s scope rows, `items[s]..items[s + 1]` scope row `s`'s item rows.
struct Layout {
    scopes: Vec<u32>,
    items: Vec<u32>,
}

impl Layout {
    /// From the row index; `None` if its rows are not in request order.
    fn of(index: &RowIndex, item_rows: &[(u32, u32, u32)]) -> Option<Layout> {
        let resources = index.resources as usize;
        let mut scopes = vec![0u32; resources + 1];
        for &(r, _) in &index.scopes {
            *scopes.get_mut(r as usize + 1)? += 1;
        }
        for r in 0..resources {
            scopes[r + 1] += scopes[r];
        }
        for (row, &(r, s)) in index.scopes.iter().enumerate() {
            if scopes[r as usize] + s != row as u32 {
                return None;
            }
        }
        let mut items = vec![0u32; index.scopes.len() + 1];
        let scope_row = |r: u32, s: u32| -> Option<usize> {
            let row = scopes.get(r as usize)?.checked_add(s)?;
            (row < *scopes.get(r as usize + 1)?).then_some(row as usize)
        };
        for &(r, s, _) in item_rows {
            *items.get_mut(scope_row(r, s)? + 1)? += 1;
        }
        for s in 0..index.scopes.len() {
            items[s + 1] += items[s];
        }
        for (row, &(r, s, i)) in item_rows.iter().enumerate() {
            if items[scope_row(r, s)?] + i != row as u32 {
                return None;
            }
        }
        Some(Layout { scopes, items })
    }

    /// Resource row `r`'s scope rows, `first..end`; an error past the last.
    fn scope_rows(&self, r: u32) -> Result<(u32, u32), WireError> {
        let r = r as usize;
        match (self.scopes.get(r), self.scopes.get(r + 1)) {
            (Some(a), Some(b)) => Ok((*a, *b)),
            _ => Err(WireError::Unsupported),
        }
    }

    /// Scope row `s`'s item rows, `first..end`; an error past the last.
    fn item_rows(&self, s: u32) -> Result<(u32, u32), WireError> {
        self.items_of((s, s + 1))
    }

    /// The item rows of scope rows `first..end`.
    fn items_of(&self, (first, end): (u32, u32)) -> Result<(u32, u32), WireError> {
        match (self.items.get(first as usize), self.items.get(end as usize)) {
            (Some(a), Some(b)) => Ok((*a, *b)),
            _ => Err(WireError::Unsupported),
        }
    }
}

/// What becomes of a resource or scope group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Copied as received.
    Kept,
    /// Rewritten: something in it changed.
    Rewritten,
    /// Left out: a drop emptied it, or it was empty and a drop removed it as
    /// the decoded path removes every empty group once anything is dropped.
    Removed,
}

/// Which rows the edits address, as flags by row.
struct Wanted {
    resources: Vec<bool>,
    scopes: Vec<bool>,
    items: Vec<bool>,
}

impl Wanted {
    /// `None` when an edit sets a value nested deeper than [`MAX_NESTING`].
    fn of<I: WireItem>(index: &RowIndex, edits: &[Edit<'_>]) -> Option<Wanted> {
        let mut w = Wanted {
            resources: vec![false; index.resources as usize],
            scopes: vec![false; index.scopes.len()],
            items: vec![false; I::rows(index).len()],
        };
        let mark = |flags: &mut Vec<bool>, row: u32| {
            if let Some(f) = flags.get_mut(row as usize) {
                *f = true;
            }
        };
        for edit in edits {
            let (target, row) = match edit {
                Edit::SetAttribute {
                    target,
                    index,
                    value,
                    ..
                } => {
                    if value.nesting > MAX_NESTING {
                        return None;
                    }
                    (*target, *index)
                }
                Edit::RemoveAttribute { target, index, .. } => (*target, *index),
                Edit::RenameSpan { index, .. } | Edit::SetStatus { index, .. } => {
                    (Target::Span, *index)
                }
                Edit::SetBody { index, value } => {
                    if value.is_some_and(|v| v.nesting > MAX_NESTING) {
                        return None;
                    }
                    (Target::Log, *index)
                }
                // Drops decode nothing; `Touched::dropped` carries them.
                Edit::DropSpan { .. } | Edit::DropLog { .. } => continue,
            };
            match target {
                Target::Resource => mark(&mut w.resources, row),
                Target::Scope => mark(&mut w.scopes, row),
                Target::Span | Target::Log => mark(&mut w.items, row),
                Target::Event => {
                    if let Some(&(span, _)) = index.events.get(row as usize) {
                        mark(&mut w.items, span);
                    }
                }
                Target::Link => {
                    if let Some(&(span, _)) = index.links.get(row as usize) {
                        mark(&mut w.items, span);
                    }
                }
            }
        }
        Some(w)
    }
}

/// The attribute edits of each item that only has edits of its own
/// attributes (the common case: a guest enriching or redacting spans), by
/// row, in list order: those items are rewritten from their bytes
/// ([`item`]). An item with any other edit (an event's or a link's
/// attributes, its name, status or body) is decoded.
fn own_attribute_edits<'e, I: WireItem>(
    index: &RowIndex,
    edits: &[Edit<'e>],
) -> BTreeMap<u32, Vec<AttrEdit<'e>>> {
    let mut by_row: BTreeMap<u32, Option<Vec<AttrEdit<'e>>>> = BTreeMap::new();
    let mut add = |row: u32, edit: Option<AttrEdit<'e>>| {
        let slot = by_row.entry(row).or_insert_with(|| Some(Vec::new()));
        match (slot.as_mut(), edit) {
            (Some(list), Some(e)) => list.push(e),
            _ => *slot = None,
        }
    };
    for edit in edits {
        match edit {
            Edit::SetAttribute {
                target,
                index: row,
                key,
                value,
            } if *target == I::TARGET => add(*row, Some(AttrEdit::Set(key, *value))),
            Edit::RemoveAttribute {
                target,
                index: row,
                key,
            } if *target == I::TARGET => add(*row, Some(AttrEdit::Remove(key))),
            Edit::SetAttribute {
                target, index: row, ..
            }
            | Edit::RemoveAttribute {
                target, index: row, ..
            } => match target {
                Target::Event => {
                    if let Some(&(span, _)) = index.events.get(*row as usize) {
                        add(span, None);
                    }
                }
                Target::Link => {
                    if let Some(&(span, _)) = index.links.get(*row as usize) {
                        add(span, None);
                    }
                }
                // Resources and scopes; a span target in a logs request
                // (refused by the check: that table is empty).
                _ => {}
            },
            Edit::RenameSpan { index: row, .. } | Edit::SetStatus { index: row, .. }
                if I::ITEMS == Items::Spans =>
            {
                add(*row, None)
            }
            Edit::SetBody { index: row, .. } if I::ITEMS == Items::Logs => add(*row, None),
            // Drops leave the item out whichever way it is rewritten.
            _ => {}
        }
    }
    by_row
        .into_iter()
        .filter_map(|(row, list)| Some((row, list?)))
        .collect()
}

/// The whole rewrite; `None` leaves it to the decoded path. `nodes`: the
/// edit list's value nodes.
fn rewrite<I: WireItem>(
    chunks: &[Bytes],
    index: &RowIndex,
    edits: Vec<Edit<'_>>,
    nodes: usize,
) -> Option<Rewritten> {
    let layout = Layout::of(index, I::rows(index))?;
    let wanted = Wanted::of::<I>(index, &edits)?;
    let own = own_attribute_edits::<I>(index, &edits);
    let mut touched = decode::<I>(chunks, &layout, &wanted, &own).ok()?;
    let stats = apply_checked(&mut touched, index, edits);
    let plan = Plan::new(&layout, &wanted, touched, &own, nodes)?;
    let mut out = Vec::with_capacity(chunks.len());
    let mut r = 0u32;
    for chunk in chunks {
        match plan.chunk(chunk, &mut r).ok()? {
            None => out.push(chunk.clone()),
            Some(p) if p.len == 0 => {}
            Some(p) => {
                let mut bytes = Vec::with_capacity(p.len);
                p.write(&mut bytes);
                out.push(Bytes::from(bytes));
            }
        }
    }
    if r != index.resources {
        return None;
    }
    Some(Rewritten {
        chunks: out,
        stats,
        items: I::rows(index).len() - plan.removed,
    })
}

/// Decodes the resources, scopes and items `wanted` names, walking only the
/// resource groups that hold one.
fn decode<'c, I: WireItem>(
    chunks: &'c [Bytes],
    layout: &Layout,
    wanted: &Wanted,
    own: &BTreeMap<u32, Vec<AttrEdit<'_>>>,
) -> Result<Touched<'c, I>, WireError> {
    let mut t = Touched {
        resources: BTreeMap::new(),
        scopes: BTreeMap::new(),
        items: BTreeMap::new(),
        raw: BTreeMap::new(),
        dropped: Vec::new(),
        removed: 0,
    };
    let any = |flags: &[bool], (a, b): (u32, u32)| {
        flags
            .get(a as usize..b as usize)
            .is_some_and(|f| f.contains(&true))
    };
    let bad = |_| WireError::Unsupported;
    let mut row = 0u32;
    for chunk in chunks {
        let mut r = Reader::new(chunk);
        while !r.done() {
            let (tag, wt) = r.key()?;
            if tag != request::RESOURCES {
                r.skip(wt)?;
                continue;
            }
            let group = r.message(wt)?;
            let rr = row;
            row += 1;
            let scopes = layout.scope_rows(rr)?;
            let items = layout.items_of(scopes)?;
            let want_resource = wanted.resources.get(rr as usize) == Some(&true);
            if !(want_resource || any(&wanted.scopes, scopes) || any(&wanted.items, items)) {
                continue;
            }
            let mut resource = None;
            let mut s = scopes.0;
            let mut g = Reader::new(group);
            while !g.done() {
                let (tag, wt) = g.key()?;
                match tag {
                    resource_items::RESOURCE => resource = Some(g.message(wt)?),
                    resource_items::SCOPES => {
                        let m = g.message(wt)?;
                        decode_scope(&mut t, m, s, layout, wanted, own)?;
                        s += 1;
                    }
                    _ => g.skip(wt)?,
                }
            }
            if s != scopes.1 {
                return Err(WireError::Unsupported);
            }
            if want_resource {
                let res = resource.map(Resource::decode).transpose().map_err(bad)?;
                t.resources.insert(rr, res);
            }
        }
    }
    Ok(t)
}

fn decode_scope<'c, I: WireItem>(
    t: &mut Touched<'c, I>,
    buf: &'c [u8],
    s: u32,
    layout: &Layout,
    wanted: &Wanted,
    own: &BTreeMap<u32, Vec<AttrEdit<'_>>>,
) -> Result<(), WireError> {
    let (first, end) = layout.item_rows(s)?;
    let want_scope = wanted.scopes.get(s as usize) == Some(&true);
    let want_items = wanted
        .items
        .get(first as usize..end as usize)
        .is_some_and(|f| f.contains(&true));
    if !(want_scope || want_items) {
        return Ok(());
    }
    let bad = |_| WireError::Unsupported;
    let mut scope = None;
    let mut i = first;
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            scope_items::SCOPE => scope = Some(r.message(wt)?),
            scope_items::ITEMS => {
                let m = r.message(wt)?;
                if own.contains_key(&i) {
                    t.raw.insert(i, m);
                } else if wanted.items.get(i as usize) == Some(&true) {
                    t.items.insert(i, I::decode(m).map_err(bad)?);
                }
                i += 1;
            }
            _ => r.skip(wt)?,
        }
    }
    if i != end {
        return Err(WireError::Unsupported);
    }
    if want_scope {
        let sc = scope
            .map(InstrumentationScope::decode)
            .transpose()
            .map_err(bad)?;
        t.scopes.insert(s, sc);
    }
    Ok(())
}

/// The edited messages encoded, and what becomes of every group.
struct Plan<'l> {
    layout: &'l Layout,
    /// Encodings of the edited resources, scopes and items, back to back.
    enc: Vec<u8>,
    /// Resource row -> its new encoding, `None` for a group without one.
    resources: BTreeMap<u32, Option<(usize, usize)>>,
    scopes: BTreeMap<u32, Option<(usize, usize)>>,
    items: BTreeMap<u32, (usize, usize)>,
    dropped: Vec<bool>,
    removed: usize,
    resource_fate: Vec<Fate>,
    scope_fate: Vec<Fate>,
}

/// Appends `m`'s encoding (a `Vec` always has room: `None` cannot happen).
fn encode_into(enc: &mut Vec<u8>, m: &impl Message) -> Option<(usize, usize)> {
    let from = enc.len();
    m.encode(enc).ok()?;
    Some((from, enc.len()))
}

impl<'l> Plan<'l> {
    fn new<I: WireItem>(
        layout: &'l Layout,
        wanted: &Wanted,
        t: Touched<'_, I>,
        own: &BTreeMap<u32, Vec<AttrEdit<'_>>>,
        nodes: usize,
    ) -> Option<Plan<'l>> {
        let any_drop = t.removed > 0;
        let scope_count = layout.items.len() - 1;
        let mut scope_fate = vec![Fate::Kept; scope_count];
        for (s, fate) in scope_fate.iter_mut().enumerate() {
            let (a, b) = layout.item_rows(s as u32).ok()?;
            let dropped = t
                .dropped
                .get(a as usize..b as usize)
                .map_or(0, |d| d.iter().filter(|x| **x).count());
            let edited = t.items.range(a..b).next().is_some() || t.raw.range(a..b).next().is_some();
            *fate = if any_drop && dropped == (b - a) as usize {
                Fate::Removed
            } else if wanted.scopes[s] || edited || dropped > 0 {
                Fate::Rewritten
            } else {
                Fate::Kept
            };
        }
        let resource_count = layout.scopes.len() - 1;
        let mut resource_fate = vec![Fate::Kept; resource_count];
        for (r, fate) in resource_fate.iter_mut().enumerate() {
            let (a, b) = layout.scope_rows(r as u32).ok()?;
            let fates = &scope_fate[a as usize..b as usize];
            *fate = if any_drop && fates.iter().all(|f| *f == Fate::Removed) {
                Fate::Removed
            } else if wanted.resources[r] || fates.iter().any(|f| *f != Fate::Kept) {
                Fate::Rewritten
            } else {
                Fate::Kept
            };
        }
        let mut enc = Vec::new();
        let mut items = BTreeMap::new();
        for (row, item) in &t.items {
            if t.dropped.get(*row as usize) != Some(&true) {
                items.insert(*row, encode_into(&mut enc, item)?);
            }
        }
        let mut encoder = Encoder::new(nodes);
        for (row, bytes) in &t.raw {
            if t.dropped.get(*row as usize) != Some(&true) {
                let from = enc.len();
                let edits = own.get(row).map_or(&[][..], Vec::as_slice);
                item::rewrite(bytes, I::ATTRIBUTES, edits, &mut encoder, &mut enc).ok()?;
                items.insert(*row, (from, enc.len()));
            }
        }
        let mut scopes = BTreeMap::new();
        for (row, sc) in &t.scopes {
            let range = match sc {
                Some(m) => Some(encode_into(&mut enc, m)?),
                None => None,
            };
            scopes.insert(*row, range);
        }
        let mut resources = BTreeMap::new();
        for (row, res) in &t.resources {
            let range = match res {
                Some(m) => Some(encode_into(&mut enc, m)?),
                None => None,
            };
            resources.insert(*row, range);
        }
        Some(Plan {
            layout,
            enc,
            resources,
            scopes,
            items,
            dropped: t.dropped,
            removed: t.removed,
            resource_fate,
            scope_fate,
        })
    }

    /// One fragment: `None` when nothing in it changes. `row` counts resource
    /// groups across fragments.
    fn chunk<'a>(&'a self, buf: &'a [u8], row: &mut u32) -> Result<Option<Pieces<'a>>, WireError> {
        let mut p = Pieces::new(buf);
        let mut changed = false;
        let mut r = Reader::new(buf);
        while !r.done() {
            let from = r.pos();
            let (tag, wt) = r.key()?;
            if tag != request::RESOURCES {
                r.skip(wt)?;
                p.keep(from, r.pos());
                continue;
            }
            let group = r.message(wt)?;
            let rr = *row;
            *row += 1;
            match self.resource_fate.get(rr as usize) {
                Some(Fate::Kept) => p.keep(from, r.pos()),
                Some(Fate::Rewritten) => {
                    p.message(request::RESOURCES, self.resource(group, rr)?);
                    changed = true;
                }
                Some(Fate::Removed) => changed = true,
                None => return Err(WireError::Unsupported),
            }
        }
        Ok(changed.then_some(p))
    }

    /// A `ResourceSpans`/`ResourceLogs`: a new resource goes first, where
    /// prost puts it.
    fn resource<'a>(&'a self, buf: &'a [u8], row: u32) -> Result<Pieces<'a>, WireError> {
        let mut p = Pieces::new(buf);
        let edited = self.resources.get(&row);
        if let Some(Some((a, b))) = edited {
            p.field(resource_items::RESOURCE, &self.enc[*a..*b]);
        }
        let (mut s, end) = self.layout.scope_rows(row)?;
        let mut r = Reader::new(buf);
        while !r.done() {
            let from = r.pos();
            let (tag, wt) = r.key()?;
            match tag {
                resource_items::RESOURCE if edited.is_some() => {
                    r.message(wt)?;
                }
                resource_items::SCOPES => {
                    let m = r.message(wt)?;
                    match self.scope_fate.get(s as usize) {
                        Some(Fate::Kept) => p.keep(from, r.pos()),
                        Some(Fate::Rewritten) => {
                            p.message(resource_items::SCOPES, self.scope(m, s)?);
                        }
                        Some(Fate::Removed) => {}
                        None => return Err(WireError::Unsupported),
                    }
                    s += 1;
                }
                _ => {
                    r.skip(wt)?;
                    p.keep(from, r.pos());
                }
            }
        }
        if s != end {
            return Err(WireError::Unsupported);
        }
        Ok(p)
    }

    /// A `ScopeSpans`/`ScopeLogs`.
    fn scope<'a>(&'a self, buf: &'a [u8], row: u32) -> Result<Pieces<'a>, WireError> {
        let mut p = Pieces::new(buf);
        let edited = self.scopes.get(&row);
        if let Some(Some((a, b))) = edited {
            p.field(scope_items::SCOPE, &self.enc[*a..*b]);
        }
        let (mut i, end) = self.layout.item_rows(row)?;
        let mut r = Reader::new(buf);
        while !r.done() {
            let from = r.pos();
            let (tag, wt) = r.key()?;
            match tag {
                scope_items::SCOPE if edited.is_some() => {
                    r.message(wt)?;
                }
                scope_items::ITEMS => {
                    r.message(wt)?;
                    if self.dropped.get(i as usize) == Some(&true) {
                        // Left out.
                    } else if let Some((a, b)) = self.items.get(&i) {
                        p.field(scope_items::ITEMS, &self.enc[*a..*b]);
                    } else {
                        p.keep(from, r.pos());
                    }
                    i += 1;
                }
                _ => {
                    r.skip(wt)?;
                    p.keep(from, r.pos());
                }
            }
        }
        if i != end {
            return Err(WireError::Unsupported);
        }
        Ok(p)
    }
}

/// A message being rewritten: stretches of its received bytes `buf` kept as
/// they are (adjacent ones merged into one copy) and fields written anew.
struct Pieces<'a> {
    buf: &'a [u8],
    list: Vec<Piece<'a>>,
    /// Encoded length of the whole.
    len: usize,
}

enum Piece<'a> {
    /// `buf[from..to]`.
    Kept(usize, usize),
    /// A length-delimited field: number and payload.
    Field(u32, &'a [u8]),
    /// A length-delimited field whose payload is itself rewritten.
    Message(u32, Pieces<'a>),
}

fn key_len(tag: u32) -> usize {
    encoded_len_varint(u64::from(tag) << 3 | u64::from(LEN))
}

impl<'a> Pieces<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Pieces {
            buf,
            list: Vec::new(),
            len: 0,
        }
    }

    fn keep(&mut self, from: usize, to: usize) {
        self.len += to - from;
        if let Some(Piece::Kept(_, end)) = self.list.last_mut()
            && *end == from
        {
            *end = to;
            return;
        }
        self.list.push(Piece::Kept(from, to));
    }

    fn field(&mut self, tag: u32, body: &'a [u8]) {
        self.len += key_len(tag) + encoded_len_varint(body.len() as u64) + body.len();
        self.list.push(Piece::Field(tag, body));
    }

    fn message(&mut self, tag: u32, body: Pieces<'a>) {
        self.len += key_len(tag) + encoded_len_varint(body.len as u64) + body.len;
        self.list.push(Piece::Message(tag, body));
    }

    fn write(&self, out: &mut Vec<u8>) {
        for piece in &self.list {
            match piece {
                Piece::Kept(from, to) => out.extend_from_slice(&self.buf[*from..*to]),
                Piece::Field(tag, body) => {
                    encode_varint(u64::from(*tag) << 3 | u64::from(LEN), out);
                    encode_varint(body.len() as u64, out);
                    out.extend_from_slice(body);
                }
                Piece::Message(tag, body) => {
                    encode_varint(u64::from(*tag) << 3 | u64::from(LEN), out);
                    encode_varint(body.len as u64, out);
                    body.write(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
