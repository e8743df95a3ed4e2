//! Borrowed views over the packed row tables of a batch.

use crate::layout::{self, NONE};
use crate::value::{Value, decode_node, read_node};

/// Reads a little-endian u32 at `off` of `row`; 0 when out of bounds so a
/// malformed table degrades to empty fields instead of a panic. Always
/// inlined: rows are fixed-size arrays (`[u8; SIZE]`) and offsets constants,
/// so the check folds away where a whole row was checked once.
#[inline(always)]
pub(crate) fn u32_at(row: &[u8], off: usize) -> u32 {
    row.get(off..)
        .and_then(|b| b.first_chunk::<4>())
        .map_or(0, |b| u32::from_le_bytes(*b))
}

#[inline(always)]
pub(crate) fn u64_at(row: &[u8], off: usize) -> u64 {
    row.get(off..)
        .and_then(|b| b.first_chunk::<8>())
        .map_or(0, |b| u64::from_le_bytes(*b))
}

/// The `len` bytes at `start` of the arena; empty when out of bounds.
#[inline(always)]
pub(crate) fn arena_bytes(arena: &[u8], start: u32, len: u32) -> &[u8] {
    let start = start as usize;
    arena
        .get(start..start.saturating_add(len as usize))
        .unwrap_or(&[])
}

#[inline(always)]
pub(crate) fn bytes_at<'a>(arena: &'a [u8], row: &[u8], off: usize) -> &'a [u8] {
    arena_bytes(arena, u32_at(row, off), u32_at(row, off + 4))
}

/// The string at `off` of `row` (see [`arena_str`]).
#[inline]
pub(crate) fn str_at<'a>(arena: &'a [u8], row: &[u8], off: usize) -> &'a str {
    arena_str(arena, u32_at(row, off), u32_at(row, off + 4))
}

/// The string of `len` bytes at `start` of the arena; `""` when it is out
/// of bounds.
///
/// Every string field of a batch is UTF-8: the host checks it before the
/// call (`wit/types.wit` says so), as the component model's canonical ABI
/// does for `string`. So a release build reads strings without checking
/// them again, as wit-bindgen's generated code does for `string`: the
/// check cost the redact guest more than a third of its walk over the
/// attributes (about 220 instructions an attribute). A debug build still
/// checks, `""` for what is not UTF-8, so tests of a guest catch a host that
/// breaks the promise.
#[inline]
pub(crate) fn arena_str(arena: &[u8], start: u32, len: u32) -> &str {
    let b = arena_bytes(arena, start, len);
    if cfg!(debug_assertions) {
        return checked_str(b);
    }
    // SAFETY: the host guarantees that every string field it points a row
    // at is UTF-8 (the batch contract in `wit/types.wit`).
    unsafe { std::str::from_utf8_unchecked(b) }
}

/// `b` as `str`, `""` when it is not UTF-8: most strings are ASCII, which
/// [`all_ascii`] confirms eight bytes a step without the general decoder.
#[inline]
fn checked_str(b: &[u8]) -> &str {
    if all_ascii(b) {
        // SAFETY: every byte is below 0x80, and a sequence of ASCII bytes
        // is valid UTF-8 (each byte is a one-byte code point).
        unsafe { std::str::from_utf8_unchecked(b) }
    } else {
        std::str::from_utf8(b).unwrap_or("")
    }
}

/// `true` when every byte of `b` is ASCII (`< 0x80`), read as little-endian
/// words of eight bytes; the last word overlaps the one before it rather
/// than being copied out (a copy into a stack buffer is a `memory.copy` in
/// wasm). Only this string is read: other parts of the arena need not be
/// UTF-8.
#[inline(always)]
fn all_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |w: &[u8]| w.try_into().map_or(HIGH, u64::from_le_bytes);
    if b.len() < 8 {
        // Four to seven bytes: two overlapping words; shorter: a byte loop
        // without a closure (`Iterator::all` was not inlined at `opt-level
        // = "s"`: a call per short key or value).
        if let (Some(h), Some(t)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            return (u32::from_le_bytes(*h) | u32::from_le_bytes(*t)) & 0x8080_8080 == 0;
        }
        let mut seen = 0u8;
        for c in b {
            seen |= *c;
        }
        return seen < 0x80;
    }
    let mut seen = word(&b[b.len() - 8..]);
    for w in b.chunks_exact(8) {
        seen |= word(w);
    }
    seen & HIGH == 0
}

/// Row `index` of a table of `N`-byte rows, checked once as a whole so
/// that its fields are fixed-offset reads; `None` past the table.
#[inline(always)]
fn row<const N: usize>(table: &[u8], index: u32) -> Option<&[u8; N]> {
    table
        .get((index as usize).checked_mul(N)?..)?
        .first_chunk::<N>()
}

/// One batch of spans or log records, borrowed from the buffers the host
/// passed in. `Copy`: views carry it around by value.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    pub(crate) arena: &'a [u8],
    pub(crate) resources: &'a [u8],
    pub(crate) scopes: &'a [u8],
    pub(crate) spans: &'a [u8],
    pub(crate) events: &'a [u8],
    pub(crate) links: &'a [u8],
    pub(crate) logs: &'a [u8],
    pub(crate) values: &'a [u8],
}

impl<'a> Batch<'a> {
    /// Builds a view from the raw buffers of the WIT `batch` record, in its
    /// field order. The export glue calls this; plugin code rarely needs to.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        arena: &'a [u8],
        resources: &'a [u8],
        scopes: &'a [u8],
        spans: &'a [u8],
        events: &'a [u8],
        links: &'a [u8],
        logs: &'a [u8],
        values: &'a [u8],
    ) -> Self {
        Batch {
            arena,
            resources,
            scopes,
            spans,
            events,
            links,
            logs,
            values,
        }
    }

    /// Number of spans.
    pub fn span_count(&self) -> u32 {
        (self.spans.len() / layout::span::SIZE) as u32
    }

    /// Number of log records.
    pub fn log_count(&self) -> u32 {
        (self.logs.len() / layout::log::SIZE) as u32
    }

    /// Iterates over every span, in batch order.
    pub fn spans(&self) -> impl ExactSizeIterator<Item = Span<'a>> + 'a {
        let b = *self;
        (0..self.span_count()).map(move |index| Span { batch: b, index })
    }

    /// Iterates over every log record, in batch order.
    pub fn logs(&self) -> impl ExactSizeIterator<Item = LogRecord<'a>> + 'a {
        let b = *self;
        (0..self.log_count()).map(move |index| LogRecord { batch: b, index })
    }

    /// Iterates over every resource.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = Resource<'a>> + 'a {
        let b = *self;
        let n = (self.resources.len() / layout::resource::SIZE) as u32;
        (0..n).map(move |index| Resource { batch: b, index })
    }

    /// Iterates over every instrumentation scope.
    pub fn scopes(&self) -> impl ExactSizeIterator<Item = Scope<'a>> + 'a {
        let b = *self;
        let n = (self.scopes.len() / layout::scope::SIZE) as u32;
        (0..n).map(move |index| Scope { batch: b, index })
    }

    /// The span at `index`, if there is one.
    pub fn span(&self, index: u32) -> Option<Span<'a>> {
        (index < self.span_count()).then_some(Span {
            batch: *self,
            index,
        })
    }

    /// The log record at `index`, if there is one.
    pub fn log(&self, index: u32) -> Option<LogRecord<'a>> {
        (index < self.log_count()).then_some(LogRecord {
            batch: *self,
            index,
        })
    }

    fn attributes(&self, r: &[u8], first_off: usize) -> Attributes<'a> {
        let first = u32_at(r, first_off);
        let end = first.saturating_add(u32_at(r, first_off + 4));
        // The rows of nodes `first..end` that lie inside the table: the
        // same nodes, in the same order, as reading each index until the
        // first one past the table (a trailing partial row ends it too).
        let hi = (end as usize)
            .saturating_mul(layout::value::SIZE)
            .min(self.values.len());
        let nodes = (first as usize)
            .checked_mul(layout::value::SIZE)
            .and_then(|lo| self.values.get(lo..hi))
            .unwrap_or(&[]);
        Attributes {
            arena: self.arena,
            values: self.values,
            nodes,
            next: first,
        }
    }
}

/// Which table a row lives in: what an attribute edit addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A resource.
    Resource,
    /// An instrumentation scope.
    Scope,
    /// A span.
    Span,
    /// A span event.
    Event,
    /// A span link.
    Link,
    /// A log record.
    Log,
}

impl Target {
    pub(crate) fn code(self) -> u8 {
        use crate::layout::edit::*;
        match self {
            Target::Resource => TARGET_RESOURCE,
            Target::Scope => TARGET_SCOPE,
            Target::Span => TARGET_SPAN,
            Target::Event => TARGET_EVENT,
            Target::Link => TARGET_LINK,
            Target::Log => TARGET_LOG,
        }
    }
}

/// A row that carries attributes and can be addressed by an edit.
pub trait Row {
    /// The table this row is in.
    fn target(&self) -> Target;
    /// The row's index in its table.
    fn index(&self) -> u32;
}

/// Iterator over `(key, value)` attribute pairs of one row.
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    arena: &'a [u8],
    values: &'a [u8],
    /// The rows not read yet, sliced once from the value table: each step
    /// is one length check, not a multiply and a bounds check per node.
    nodes: &'a [u8],
    /// Index of the first row of `nodes`.
    next: u32,
}

impl<'a> Attributes<'a> {
    /// The value of the first remaining attribute named `key`. Compares the
    /// key's length, then its bytes, before anything else of a node is read:
    /// what [`Span::attribute`] and the other rows' `attribute` spend their
    /// time on is keys that differ, mostly already in length.
    fn value_of(mut self, key: &str) -> Option<Value<'a>> {
        use crate::layout::value as v;
        if key.is_empty() {
            // An empty key also matches a key out of the arena's bounds or,
            // in a debug build, one that is not UTF-8 (both read as `""`).
            return self.find(|(k, _)| k.is_empty()).map(|(_, v)| v);
        }
        let want = key.as_bytes();
        while let Some((row, rest)) = self.nodes.split_first_chunk::<{ v::SIZE }>() {
            self.nodes = rest;
            let index = self.next;
            self.next = index.wrapping_add(1);
            if u32_at(row, v::KEY + 4) as usize == want.len()
                && arena_bytes(self.arena, u32_at(row, v::KEY), want.len() as u32) == want
            {
                return Some(decode_node(self.arena, self.values, index, row).value);
            }
        }
        None
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a str, Value<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (row, rest) = self.nodes.split_first_chunk::<{ layout::value::SIZE }>()?;
        self.nodes = rest;
        let index = self.next;
        // Cannot wrap: `nodes` ends at a node index that fits a u32.
        self.next = index.wrapping_add(1);
        let node = decode_node(self.arena, self.values, index, row);
        Some((node.key, node.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.nodes.len() / layout::value::SIZE;
        (n, Some(n))
    }
}

macro_rules! common_row {
    ($name:ident, $doc:literal, $field:ident, $table:ident, $target:ident) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'a> {
            batch: Batch<'a>,
            index: u32,
        }

        impl<'a> $name<'a> {
            /// The row's bytes; all zeros (every field empty) when the
            /// index is past the table, as a malformed batch may say.
            #[inline(always)]
            fn raw(&self) -> &'a [u8; layout::$table::SIZE] {
                static ZERO: [u8; layout::$table::SIZE] = [0; layout::$table::SIZE];
                row(self.batch.$field, self.index).unwrap_or(&ZERO)
            }

            /// The row's attributes, in order.
            pub fn attributes(&self) -> Attributes<'a> {
                self.batch
                    .attributes(self.raw(), layout::$table::ATTRS_FIRST)
            }

            /// The value of attribute `key`, if present (first match).
            /// Each attribute's key is compared by length, then by bytes,
            /// and only the match's value is read; still a scan of the
            /// row's attributes, so a guest that wants several keys of
            /// every row reads [`Self::attributes`] once instead.
            pub fn attribute(&self, key: &str) -> Option<Value<'a>> {
                self.attributes().value_of(key)
            }

            /// `dropped_attributes_count`.
            pub fn dropped_attributes_count(&self) -> u32 {
                u32_at(self.raw(), layout::$table::DROPPED_ATTRS)
            }
        }

        impl Row for $name<'_> {
            fn target(&self) -> Target {
                Target::$target
            }
            fn index(&self) -> u32 {
                self.index
            }
        }
    };
}

common_row!(
    Resource,
    "A resource (service, host, ...).",
    resources,
    resource,
    Resource
);
common_row!(Scope, "An instrumentation scope.", scopes, scope, Scope);
common_row!(Span, "A span.", spans, span, Span);
common_row!(Event, "A span event.", events, event, Event);
common_row!(Link, "A span link.", links, link, Link);
common_row!(LogRecord, "A log record.", logs, log, Log);

impl<'a> Resource<'a> {
    /// `schema_url` of the enclosing resource group.
    pub fn schema_url(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::resource::SCHEMA_URL)
    }
}

impl<'a> Scope<'a> {
    /// The scope's resource.
    pub fn resource(&self) -> Resource<'a> {
        Resource {
            batch: self.batch,
            index: u32_at(self.raw(), layout::scope::RESOURCE),
        }
    }
    /// Scope name.
    pub fn name(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::scope::NAME)
    }
    /// Scope version.
    pub fn version(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::scope::VERSION)
    }
    /// `schema_url` of the enclosing scope group.
    pub fn schema_url(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::scope::SCHEMA_URL)
    }
}

impl<'a> Span<'a> {
    fn s(&self, off: usize) -> &'a str {
        str_at(self.batch.arena, self.raw(), off)
    }
    fn b(&self, off: usize) -> &'a [u8] {
        bytes_at(self.batch.arena, self.raw(), off)
    }
    /// The span's scope.
    pub fn scope(&self) -> Scope<'a> {
        Scope {
            batch: self.batch,
            index: u32_at(self.raw(), layout::span::SCOPE),
        }
    }
    /// The span's resource.
    pub fn resource(&self) -> Resource<'a> {
        self.scope().resource()
    }
    /// Span name.
    pub fn name(&self) -> &'a str {
        self.s(layout::span::NAME)
    }
    /// Trace id bytes (16, or empty if unset).
    pub fn trace_id(&self) -> &'a [u8] {
        self.b(layout::span::TRACE_ID)
    }
    /// Span id bytes (8, or empty if unset).
    pub fn span_id(&self) -> &'a [u8] {
        self.b(layout::span::SPAN_ID)
    }
    /// Parent span id bytes (empty for a root span).
    pub fn parent_span_id(&self) -> &'a [u8] {
        self.b(layout::span::PARENT_SPAN_ID)
    }
    /// W3C trace state.
    pub fn trace_state(&self) -> &'a str {
        self.s(layout::span::TRACE_STATE)
    }
    /// `SpanKind` protobuf number (0 unspecified, 1 internal, 2 server,
    /// 3 client, 4 producer, 5 consumer).
    pub fn kind(&self) -> u32 {
        u32_at(self.raw(), layout::span::KIND)
    }
    /// Span flags.
    pub fn flags(&self) -> u32 {
        u32_at(self.raw(), layout::span::FLAGS)
    }
    /// Start time, Unix nanoseconds.
    pub fn start_time_unix_nano(&self) -> u64 {
        u64_at(self.raw(), layout::span::START)
    }
    /// End time, Unix nanoseconds.
    pub fn end_time_unix_nano(&self) -> u64 {
        u64_at(self.raw(), layout::span::END)
    }
    /// End minus start, in nanoseconds (0 if end is before start).
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano()
            .saturating_sub(self.start_time_unix_nano())
    }
    /// Status code: 0 unset, 1 ok, 2 error.
    pub fn status_code(&self) -> u32 {
        u32_at(self.raw(), layout::span::STATUS_CODE)
    }
    /// Status message.
    pub fn status_message(&self) -> &'a str {
        self.s(layout::span::STATUS_MESSAGE)
    }
    /// `true` when the status code is error.
    pub fn is_error(&self) -> bool {
        self.status_code() == 2
    }
    /// The span's events.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'a>> + 'a {
        let r = self.raw();
        let first = u32_at(r, layout::span::EVENTS_FIRST);
        let n = u32_at(r, layout::span::EVENTS_COUNT);
        let b = self.batch;
        (first..first.saturating_add(n)).map(move |index| Event { batch: b, index })
    }
    /// The span's links.
    pub fn links(&self) -> impl ExactSizeIterator<Item = Link<'a>> + 'a {
        let r = self.raw();
        let first = u32_at(r, layout::span::LINKS_FIRST);
        let n = u32_at(r, layout::span::LINKS_COUNT);
        let b = self.batch;
        (first..first.saturating_add(n)).map(move |index| Link { batch: b, index })
    }
    /// `dropped_events_count`.
    pub fn dropped_events_count(&self) -> u32 {
        u32_at(self.raw(), layout::span::DROPPED_EVENTS)
    }
    /// `dropped_links_count`.
    pub fn dropped_links_count(&self) -> u32 {
        u32_at(self.raw(), layout::span::DROPPED_LINKS)
    }
}

impl<'a> Event<'a> {
    /// The span this event belongs to.
    pub fn span(&self) -> Span<'a> {
        Span {
            batch: self.batch,
            index: u32_at(self.raw(), layout::event::SPAN),
        }
    }
    /// Event name.
    pub fn name(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::event::NAME)
    }
    /// Event time, Unix nanoseconds.
    pub fn time_unix_nano(&self) -> u64 {
        u64_at(self.raw(), layout::event::TIME)
    }
}

impl<'a> Link<'a> {
    /// The span this link belongs to.
    pub fn span(&self) -> Span<'a> {
        Span {
            batch: self.batch,
            index: u32_at(self.raw(), layout::link::SPAN),
        }
    }
    /// Linked trace id bytes.
    pub fn trace_id(&self) -> &'a [u8] {
        bytes_at(self.batch.arena, self.raw(), layout::link::TRACE_ID)
    }
    /// Linked span id bytes.
    pub fn span_id(&self) -> &'a [u8] {
        bytes_at(self.batch.arena, self.raw(), layout::link::SPAN_ID)
    }
    /// W3C trace state of the link.
    pub fn trace_state(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::link::TRACE_STATE)
    }
    /// Link flags.
    pub fn flags(&self) -> u32 {
        u32_at(self.raw(), layout::link::FLAGS)
    }
}

impl<'a> LogRecord<'a> {
    /// The record's scope.
    pub fn scope(&self) -> Scope<'a> {
        Scope {
            batch: self.batch,
            index: u32_at(self.raw(), layout::log::SCOPE),
        }
    }
    /// The record's resource.
    pub fn resource(&self) -> Resource<'a> {
        self.scope().resource()
    }
    /// Time, Unix nanoseconds.
    pub fn time_unix_nano(&self) -> u64 {
        u64_at(self.raw(), layout::log::TIME)
    }
    /// Observed time, Unix nanoseconds.
    pub fn observed_time_unix_nano(&self) -> u64 {
        u64_at(self.raw(), layout::log::OBSERVED_TIME)
    }
    /// `SeverityNumber` (1..=24, 0 unspecified).
    pub fn severity_number(&self) -> u32 {
        u32_at(self.raw(), layout::log::SEVERITY_NUMBER)
    }
    /// Severity text.
    pub fn severity_text(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::log::SEVERITY_TEXT)
    }
    /// The body, a tree of values; `None` when the record has no body.
    pub fn body(&self) -> Option<Value<'a>> {
        let node = u32_at(self.raw(), layout::log::BODY);
        if node == NONE {
            return None;
        }
        read_node(self.batch.arena, self.batch.values, node).map(|n| n.value)
    }
    /// Log flags.
    pub fn flags(&self) -> u32 {
        u32_at(self.raw(), layout::log::FLAGS)
    }
    /// Trace id bytes (empty if unset).
    pub fn trace_id(&self) -> &'a [u8] {
        bytes_at(self.batch.arena, self.raw(), layout::log::TRACE_ID)
    }
    /// Span id bytes (empty if unset).
    pub fn span_id(&self) -> &'a [u8] {
        bytes_at(self.batch.arena, self.raw(), layout::log::SPAN_ID)
    }
    /// Event name.
    pub fn event_name(&self) -> &'a str {
        str_at(self.batch.arena, self.raw(), layout::log::EVENT_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row whose string field at offset 0 is `len` bytes at `start`.
    fn row_for(start: u32, len: usize) -> [u8; 8] {
        let mut row = [0u8; 8];
        row[..4].copy_from_slice(&start.to_le_bytes());
        row[4..].copy_from_slice(&(len as u32).to_le_bytes());
        row
    }

    /// `Attributes` (rows sliced once from the value table) yields the same
    /// pairs as reading each node index of the row's range with `read_node`
    /// until the first one past the table, for ranges inside, straddling
    /// and past the table, empty and overflowing ranges, and a table with a
    /// trailing partial row.
    #[test]
    fn attributes_match_per_node_reads() {
        use crate::layout::value as v;
        let mut arena = Vec::new();
        let mut values = Vec::new();
        for i in 0..7u32 {
            let key = format!("key{i}");
            let val = format!("value number {i}");
            let mut node = [0u8; v::SIZE];
            node[v::KIND] = [v::KIND_STRING, v::KIND_INT, v::KIND_KVLIST][i as usize % 3];
            node[v::KEY..v::KEY + 4].copy_from_slice(&(arena.len() as u32).to_le_bytes());
            node[v::KEY + 4..v::KEY + 8].copy_from_slice(&(key.len() as u32).to_le_bytes());
            arena.extend_from_slice(key.as_bytes());
            let payload = if i % 3 == 2 {
                // A kvlist whose children are the next two nodes, or (node
                // 2) one claiming an earlier node.
                let first = if i == 5 { i + 1 } else { 1 };
                (2u64 << 32) | u64::from(first)
            } else if i % 3 == 1 {
                u64::from(i) * 1000
            } else {
                ((val.len() as u64) << 32) | arena.len() as u64
            };
            node[v::PAYLOAD..].copy_from_slice(&payload.to_le_bytes());
            arena.extend_from_slice(val.as_bytes());
            values.extend_from_slice(&node);
        }
        let whole = values.clone();
        let mut partial = values.clone();
        partial.extend_from_slice(&[1u8; 10]);
        for table in [&whole, &partial] {
            let batch = Batch::from_parts(&arena, &[], &[], &[], &[], &[], &[], table);
            for (first, count) in [
                (0u32, 0u32),
                (0, 3),
                (0, 7),
                (2, 5),
                (5, 4),
                (6, 10),
                (7, 1),
                (9, 2),
                (3, u32::MAX),
                (u32::MAX, 1),
                (u32::MAX - 1, u32::MAX),
            ] {
                let mut r = [0u8; 8];
                r[..4].copy_from_slice(&first.to_le_bytes());
                r[4..].copy_from_slice(&count.to_le_bytes());
                let got: Vec<String> = batch
                    .attributes(&r, 0)
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                let mut want = Vec::new();
                let mut i = first;
                while i < first.saturating_add(count) {
                    let Some(n) = read_node(&arena, table, i) else {
                        break;
                    };
                    want.push(format!("{}={:?}", n.key, n.value));
                    i += 1;
                }
                assert_eq!(got, want, "first {first} count {count}");
                assert_eq!(batch.attributes(&r, 0).size_hint().0, want.len());
            }
        }
        // The fixture exercises strings, ints, kvlists and the cycle guard.
        let batch = Batch::from_parts(&arena, &[], &[], &[], &[], &[], &[], &whole);
        let mut r = [0u8; 8];
        r[4..].copy_from_slice(&7u32.to_le_bytes());
        let kinds: Vec<String> = batch
            .attributes(&r, 0)
            .map(|(_, v)| format!("{v:?}"))
            .collect();
        assert!(kinds[0].starts_with("String(\"value number 0"));
        assert_eq!(kinds[1], "Int(1000)");
        assert_eq!(kinds[2], "Empty");
        assert!(kinds[5].starts_with("KvList"));
    }

    /// The debug build's check returns exactly what `from_utf8` decides, on
    /// random byte strings: ASCII, valid multi-byte UTF-8, invalid and
    /// truncated sequences, a high byte at every position of a word and
    /// its tail.
    #[test]
    fn checked_str_agrees_with_from_utf8() {
        const PIECES: &[&[u8]] = &[
            b"a",
            b"Z",
            b"0",
            b" ",
            b"\x00",
            b"\x7f",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\x80",
            b"\xbf",
            b"\xc3",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xff",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..40 {
            // ASCII with one high byte at each position, and none.
            for at in 0..=len {
                let mut s: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                if at < len {
                    s[at] = 0x80 | (next() as u8);
                }
                inputs.push(s);
            }
        }
        for _ in 0..20_000 {
            let n = (next() % 24) as usize;
            // Mostly ASCII: most strings take the fast path.
            let ascii = next() % 2 == 0;
            let mut s = Vec::new();
            for _ in 0..n {
                let p = if ascii {
                    next() % 5
                } else {
                    next() % PIECES.len() as u64
                };
                s.extend_from_slice(PIECES[p as usize]);
            }
            inputs.push(s);
        }
        for s in &inputs {
            let want = std::str::from_utf8(s).unwrap_or("");
            // Inside a larger arena whose other bytes are not UTF-8.
            let mut arena = vec![0xffu8; 3];
            arena.extend_from_slice(s);
            arena.extend_from_slice(&[0xff; 9]);
            let row = row_for(3, s.len());
            assert_eq!(
                checked_str(arena_bytes(&arena, 3, s.len() as u32)),
                want,
                "{s:?}"
            );
            if s.is_ascii() || cfg!(debug_assertions) {
                assert_eq!(str_at(&arena, &row, 0), want, "{s:?}");
            }
            assert_eq!(all_ascii(s), s.is_ascii(), "{s:?}");
        }
    }

    /// `attribute`'s lookup (key length, then bytes, then the value) finds
    /// what the first match of the decoding iterator finds, for present,
    /// repeated, absent, same-length, prefix and empty keys, and for nodes
    /// whose key lies out of the arena.
    #[test]
    fn value_of_matches_the_first_decoded_match() {
        use crate::layout::value as v;
        let keys: &[(&str, Option<(u32, u32)>)] = &[
            ("code.file.path", None),
            ("loadgen.attr.0", None),
            ("code.file.path", None),
            ("code.line", None),
            ("", None),
            ("far", Some((1 << 20, 3))),
            ("long", Some((0, 1 << 20))),
            ("code.line.number", None),
        ];
        let mut arena = Vec::new();
        let mut values = Vec::new();
        for (i, (key, raw)) in keys.iter().enumerate() {
            let (start, len) = raw.unwrap_or((arena.len() as u32, key.len() as u32));
            arena.extend_from_slice(key.as_bytes());
            let mut node = [0u8; v::SIZE];
            node[v::KIND] = v::KIND_INT;
            node[v::KEY..v::KEY + 4].copy_from_slice(&start.to_le_bytes());
            node[v::KEY + 4..v::KEY + 8].copy_from_slice(&len.to_le_bytes());
            node[v::PAYLOAD..].copy_from_slice(&(i as u64 + 100).to_le_bytes());
            values.extend_from_slice(&node);
        }
        let batch = Batch::from_parts(&arena, &[], &[], &[], &[], &[], &[], &values);
        let mut r = [0u8; 8];
        r[4..].copy_from_slice(&(keys.len() as u32).to_le_bytes());
        for key in [
            "code.file.path",
            "loadgen.attr.0",
            "code.line",
            "code.line.number",
            "code.line.numbe",
            "code",
            "",
            "far",
            "long",
            "absent",
        ] {
            let want = batch
                .attributes(&r, 0)
                .find(|(k, _)| *k == key)
                .map(|(_, v)| format!("{v:?}"));
            let got = batch
                .attributes(&r, 0)
                .value_of(key)
                .map(|v| format!("{v:?}"));
            assert_eq!(got, want, "{key:?}");
        }
        // The fixture finds what it should: the first of a repeated key, and
        // `""` for the empty key and the one out of the arena.
        let find = |k| batch.attributes(&r, 0).value_of(k).and_then(|v| v.as_int());
        assert_eq!(find("code.file.path"), Some(100));
        assert_eq!(find(""), Some(104));
        assert_eq!(find("far"), None);
    }
}
