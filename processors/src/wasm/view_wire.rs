//! Builds the guest's batch view straight from an encoded
//! `ExportTraceServiceRequest` or `ExportLogsServiceRequest`: no prost decode,
//! no copy per string (the arena is the received bytes, copied whole, and rows
//! point at the strings where they lie), buffers reused as in
//! [`view`](super::view).
//!
//! The result shows the guest exactly the batch [`BatchView::fill_traces`]
//! and [`BatchView::fill_logs`] build from the decoded request: the same rows
//! and value nodes, the same strings behind every (offset, length), and the
//! same [`RowIndex`], so edits address the same rows either way. Only the
//! arena differs (the decoded path copies each string in); compare views
//! with [`BatchView::packed`]. Two things make that hold:
//!
//! - Order. The decoded path writes value nodes in a fixed field
//!   order (a span's ids and name, then its attributes, then its status
//!   message, then its events, then its links), while the wire may carry the
//!   fields in any order and interleave repeated ones. So each message is read
//!   twice: a first pass checks every field, keeps the last occurrence of each
//!   singular one (prost's rule) and counts and locates the repeated ones; the
//!   second writes in the decoded path's order. Attributes (the most
//!   numerous) get their nodes in the first pass, in wire order (the
//!   decoded path writes a message's attributes before any other node of
//!   it); those that are not plain strings are noted in a reused scratch
//!   vector and their values written after the run. Events, links, scopes
//!   and list elements are found again from where the first one started.
//! - Refusal. Whatever prost might decode differently is not guessed at: a
//!   malformed field, a wrong wire type on a known field, a string that is not
//!   UTF-8, a group, a singular message field given twice (prost merges them),
//!   two `AnyValue` members, nesting near prost's recursion limit. All of these
//!   end in [`WireFallback`]; the caller decodes with prost and uses the
//!   decoded path, so the guest sees the same view in every case. The field
//!   rules are pdata's validating scan's, from the same source file.
//!
//! A string attribute in prost's canonical encoding with short key and value
//! is read as one fixed shape rather than through the field loop (same
//! result, fewer branches: most attributes look like that).
//!
//! Bytes that already passed that scan (a received batch, see
//! `pdata::Batch::validated`) are built with the `*_validated` methods, which
//! do not check strings for UTF-8 again (the `T` parameter below: trusted).
//! The scan does not stand in for the refusals above that are about prost's
//! merging rules, so those are still made.
//!
//! [`RowIndex`]: super::view::RowIndex

use super::layout_shared::{self as layout, NONE};
use super::view::{BatchView, Row, len32};

// The wire reader pdata's validating scan uses (`pdata/src/wire/reader.rs`),
// shared by path: this crate does not otherwise depend on pdata.
#[path = "../../../pdata/src/wire/reader.rs"]
mod reader;

use reader::{Fallback, R, Reader, VARINT};

/// The encoded request was left to prost: it is malformed, or shaped in a way
/// (see the module docs) where only prost can say what it decodes to. Decode
/// it and build the view with [`BatchView::fill_traces`] or
/// [`BatchView::fill_logs`]. The view's contents are unspecified until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encoded request left to the prost decoder")]
pub struct WireFallback;

impl From<Fallback> for WireFallback {
    fn from(_: Fallback) -> Self {
        WireFallback
    }
}

/// The chunk the builder is reading: its address and length in memory, and
/// where its copy starts in the arena. Default (nothing) between builds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct WireSrc {
    ptr: usize,
    len: usize,
    base: usize,
}

/// Deepest message nesting followed, counted as prost counts it (the request is
/// level 0, an `ArrayValue` and its element are a level each). prost refuses
/// past 100; anything this deep is its to judge.
const MAX_LEVEL: u32 = 64;

/// A repeated field seen in a first pass: how many, and where the first one's
/// key starts.
#[derive(Clone, Copy, Default)]
struct Run {
    count: u32,
    from: usize,
}

impl Run {
    fn saw(&mut self, at: usize) {
        if self.count == 0 {
            self.from = at;
        }
        self.count += 1;
    }
}

/// A `string` field's bytes. With `T` (trusted: the bytes passed pdata's
/// validating scan, which checked every string field this builder reads)
/// the UTF-8 check is not repeated; otherwise it is made as prost makes it.
#[inline(always)]
fn text<'a, const T: bool>(r: &mut Reader<'a>, wt: u8) -> R<&'a [u8]> {
    if T { r.message(wt) } else { r.string(wt) }
}

/// Notes a singular message field; prost merges repeats, which is not
/// reproduced here.
fn once<'a>(slot: &mut Option<&'a [u8]>, m: &'a [u8]) -> R<()> {
    match slot.replace(m) {
        None => Ok(()),
        Some(_) => Err(Fallback),
    }
}

/// Where each occurrence of the repeated field `tag` of `buf` is, in order,
/// starting at a field boundary `from`. The first pass checked every field.
struct Each<'a> {
    r: Reader<'a>,
    tag: u32,
    left: u32,
}

impl<'a> Each<'a> {
    fn new(buf: &'a [u8], tag: u32, run: Run) -> Self {
        Each {
            r: Reader::at(buf, run.from),
            tag,
            left: run.count,
        }
    }

    #[inline(always)]
    fn field(&mut self) -> R<Option<&'a [u8]>> {
        while self.left > 0 && !self.r.done() {
            let (tag, wt) = self.r.key()?;
            if tag == self.tag {
                self.left -= 1;
                return self.r.message(wt).map(Some);
            }
            self.r.skip(wt)?;
        }
        Ok(None)
    }
}

impl BatchView {
    /// Replaces the contents with the view of the traces request whose
    /// encoding is the concatenation of `chunks`, as [`BatchView::fill_traces`]
    /// would build it from the decoded request.
    pub fn fill_traces_encoded<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
    ) -> Result<(), WireFallback> {
        self.fill_encoded::<B, false>(chunks, Signal::Traces)
    }

    /// As [`BatchView::fill_traces_encoded`], for a logs request.
    pub fn fill_logs_encoded<B: AsRef<[u8]>>(&mut self, chunks: &[B]) -> Result<(), WireFallback> {
        self.fill_encoded::<B, false>(chunks, Signal::Logs)
    }

    /// As [`BatchView::fill_traces_encoded`], for chunks that all passed
    /// pdata's validating scan (`pdata::Batch::validated`): their strings are
    /// not UTF-8-checked again. Every other refusal stands (the scan does not
    /// refuse what prost merges, such as a singular message given twice).
    ///
    /// Only for scanned bytes: the batch contract (`wit/types.wit`) promises
    /// guests that every string field is UTF-8, and the Rust SDK reads them
    /// unchecked in release builds. The debug build's cross-check panics
    /// where prost refuses them.
    pub fn fill_traces_validated<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
    ) -> Result<(), WireFallback> {
        self.fill_encoded::<B, true>(chunks, Signal::Traces)
    }

    /// As [`BatchView::fill_traces_validated`], for a logs request.
    pub fn fill_logs_validated<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
    ) -> Result<(), WireFallback> {
        self.fill_encoded::<B, true>(chunks, Signal::Logs)
    }

    /// As [`BatchView::fill_traces_encoded`], for received bytes nothing
    /// has checked yet, checking them as pdata's validating scan would: the
    /// view is built (every string field UTF-8-checked) and `Ok` says how
    /// many spans the request holds only when the scan would accept the
    /// bytes with no span to remove (ids of the lengths the OTLP spec
    /// requires). The builder is stricter than the scan (it also refuses
    /// what prost merges, and nests less deep), never more lenient: a
    /// property test holds it to that. On `Err` the view is unspecified and
    /// the bytes go the usual way (scan, then prost).
    ///
    /// A collector whose pipeline starts with a WASM processor reads each
    /// request once this way instead of scanning it and then building.
    pub fn fill_traces_checked<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
    ) -> Result<usize, WireFallback> {
        self.fill_checked(chunks, Signal::Traces)
    }

    /// As [`BatchView::fill_traces_checked`], for a logs request: `Ok` says
    /// how many log records it holds.
    pub fn fill_logs_checked<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
    ) -> Result<usize, WireFallback> {
        self.fill_checked(chunks, Signal::Logs)
    }

    fn fill_checked<B: AsRef<[u8]>>(
        &mut self,
        chunks: &[B],
        signal: Signal,
    ) -> Result<usize, WireFallback> {
        self.fill_encoded::<B, false>(chunks, signal)?;
        if self.invalid_ids > 0 {
            return Err(WireFallback);
        }
        Ok(match signal {
            Signal::Traces => self.span_count(),
            Signal::Logs => self.log_count(),
        })
    }

    /// Both requests are one repeated field 1 of resource groups; resource
    /// rows count on across chunks, as prost's merge appends them.
    fn fill_encoded<B: AsRef<[u8]>, const T: bool>(
        &mut self,
        chunks: &[B],
        signal: Signal,
    ) -> Result<(), WireFallback> {
        self.clear();
        let built = self.fill_chunks::<B, T>(chunks, signal);
        self.src = WireSrc::default();
        built
    }

    fn fill_chunks<B: AsRef<[u8]>, const T: bool>(
        &mut self,
        chunks: &[B],
        signal: Signal,
    ) -> Result<(), WireFallback> {
        let mut ri = 0u32;
        for chunk in chunks {
            let chunk = chunk.as_ref();
            // The chunk goes into the arena whole, in one copy; its strings
            // are then referenced where they lie instead of copied one by one
            // (29% of the builder's instructions went to those copies).
            self.src = WireSrc {
                ptr: chunk.as_ptr() as usize,
                len: chunk.len(),
                base: self.arena.len(),
            };
            self.arena.extend_from_slice(chunk);
            let mut r = Reader::new(chunk);
            while !r.done() {
                let (tag, wt) = r.key()?;
                if tag == 1 {
                    self.wire_resource::<T>(r.message(wt)?, ri, signal)?;
                    ri += 1;
                } else {
                    r.skip(wt)?;
                }
            }
        }
        Ok(())
    }

    /// A `ResourceSpans` or `ResourceLogs` (level 1): the same three fields.
    fn wire_resource<const T: bool>(&mut self, buf: &[u8], ri: u32, signal: Signal) -> R<()> {
        use layout::resource as rs;
        let mut resource = None;
        let mut url: &[u8] = &[];
        let mut scopes = Run::default();
        let mut r = Reader::new(buf);
        while !r.done() {
            let at = r.pos();
            let (tag, wt) = r.key()?;
            match tag {
                1 => once(&mut resource, r.message(wt)?)?,
                2 => {
                    r.message(wt)?;
                    scopes.saw(at);
                }
                3 => url = text::<T>(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        let (attrs, dropped) = match resource {
            Some(m) => self.wire_resource_attrs::<T>(m)?,
            None => ((self.node_count(), 0), 0),
        };
        let url = self.wire_str(url);
        let mut row = Row::<{ rs::SIZE }>::new();
        row.u32(rs::ATTRS_FIRST, attrs.0)
            .u32(rs::ATTRS_COUNT, attrs.1)
            .u32(rs::DROPPED_ATTRS, dropped)
            .str(rs::SCHEMA_URL, url);
        self.resources.extend_from_slice(&row.0);
        self.index.resources += 1;
        let mut each = Each::new(buf, 2, scopes);
        let mut si = 0u32;
        while let Some(m) = each.field()? {
            match signal {
                Signal::Traces => self.wire_scope_spans::<T>(m, ri, si)?,
                Signal::Logs => self.wire_scope_logs::<T>(m, ri, si)?,
            }
            si += 1;
        }
        Ok(())
    }

    /// A `Resource` (level 2): its attributes and dropped count. Entity refs
    /// are not shown to guests but are checked as prost would decode them.
    fn wire_resource_attrs<const T: bool>(&mut self, buf: &[u8]) -> R<((u32, u32), u32)> {
        let attrs = self.attrs_start();
        let mut dropped = 0u32;
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 3)?;
                }
                2 => dropped = r.varint_field(wt)? as u32,
                3 => entity_ref::<T>(r.message(wt)?)?,
                _ => r.skip(wt)?,
            }
        }
        Ok((self.wire_attrs::<T>(buf, attrs, 3)?, dropped))
    }

    fn wire_scope_spans<const T: bool>(&mut self, buf: &[u8], ri: u32, si: u32) -> R<()> {
        let g = scope_group::<T>(buf)?;
        let scope_row = len32(self.index.scopes.len());
        self.wire_scope::<T>(ri, g.scope, g.url)?;
        self.index.scopes.push((ri, si));
        let mut each = Each::new(buf, 2, g.items);
        let mut pi = 0u32;
        while let Some(m) = each.field()? {
            self.wire_span::<T>(m, scope_row, ri, si, pi)?;
            pi += 1;
        }
        Ok(())
    }

    fn wire_scope_logs<const T: bool>(&mut self, buf: &[u8], ri: u32, si: u32) -> R<()> {
        let g = scope_group::<T>(buf)?;
        let scope_row = len32(self.index.scopes.len());
        self.wire_scope::<T>(ri, g.scope, g.url)?;
        self.index.scopes.push((ri, si));
        let mut each = Each::new(buf, 2, g.items);
        let mut li = 0u32;
        while let Some(m) = each.field()? {
            self.wire_log::<T>(m, scope_row, ri, si, li)?;
            li += 1;
        }
        Ok(())
    }

    /// The scope row, as `push_scope` writes it: a scope given (even empty)
    /// gets its strings in the arena, an absent one does not.
    fn wire_scope<const T: bool>(&mut self, ri: u32, scope: Option<&[u8]>, url: &[u8]) -> R<()> {
        use layout::scope as s;
        let mut row = Row::<{ s::SIZE }>::new();
        row.u32(s::RESOURCE, ri);
        match scope {
            Some(buf) => {
                // InstrumentationScope, level 3.
                let (mut name, mut version): (&[u8], &[u8]) = (&[], &[]);
                let attrs = self.attrs_start();
                let mut dropped = 0u32;
                let mut r = Reader::new(buf);
                while !r.done() {
                    let (tag, wt) = r.key()?;
                    match tag {
                        1 => name = text::<T>(&mut r, wt)?,
                        2 => version = text::<T>(&mut r, wt)?,
                        3 => {
                            let kv = r.message(wt)?;
                            self.attr::<T>(&r, kv, 4)?;
                        }
                        4 => dropped = r.varint_field(wt)? as u32,
                        _ => r.skip(wt)?,
                    }
                }
                let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
                row.str(s::NAME, self.wire_str(name))
                    .str(s::VERSION, self.wire_str(version))
                    .u32(s::ATTRS_FIRST, af)
                    .u32(s::ATTRS_COUNT, ac)
                    .u32(s::DROPPED_ATTRS, dropped);
            }
            None => {
                row.u32(s::ATTRS_FIRST, self.node_count());
            }
        }
        row.str(s::SCHEMA_URL, self.wire_str(url));
        self.scopes.extend_from_slice(&row.0);
        Ok(())
    }

    /// A `Span` (level 3).
    fn wire_span<const T: bool>(
        &mut self,
        buf: &[u8],
        scope_row: u32,
        ri: u32,
        si: u32,
        pi: u32,
    ) -> R<()> {
        use layout::span as sp;
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut trace_state, mut name): (&[u8], &[u8]) = (&[], &[]);
        let (mut kind, mut flags, mut start, mut end) = (0u32, 0u32, 0u64, 0u64);
        let (mut d_attrs, mut d_events, mut d_links) = (0u32, 0u32, 0u32);
        let attrs = self.attrs_start();
        let (mut events, mut links) = (Run::default(), Run::default());
        let mut status = None;
        let mut r = Reader::new(buf);
        // One field's effect, whatever order it comes in.
        macro_rules! field {
            ($tag:expr, $wt:expr, $at:expr) => {
                match $tag {
                    1 => trace_id = r.message($wt)?,
                    2 => span_id = r.message($wt)?,
                    3 => trace_state = text::<T>(&mut r, $wt)?,
                    4 => parent = r.message($wt)?,
                    5 => name = text::<T>(&mut r, $wt)?,
                    // Enums decode as `i32`, then show as `u32`: the low 32 bits.
                    6 => kind = r.varint_field($wt)? as u32,
                    7 => start = r.fixed64($wt)?,
                    8 => end = r.fixed64($wt)?,
                    9 => {
                        let kv = r.message($wt)?;
                        self.attr::<T>(&r, kv, 4)?;
                    }
                    10 => d_attrs = r.varint_field($wt)? as u32,
                    11 => {
                        r.message($wt)?;
                        events.saw($at);
                    }
                    12 => d_events = r.varint_field($wt)? as u32,
                    13 => {
                        r.message($wt)?;
                        links.saw($at);
                    }
                    14 => d_links = r.varint_field($wt)? as u32,
                    15 => once(&mut status, r.message($wt)?)?,
                    16 => flags = r.fixed32($wt)?,
                    _ => r.skip($wt)?,
                }
            };
        }
        // Fields come in field-number order from prost and every other
        // common encoder: expect them so, one predictable branch per field,
        // instead of a jump table the CPU mispredicts field after field. The
        // first field out of that order hands the rest to the loop below,
        // which reads any order with the same effect per field.
        let mut at = 0;
        let mut next = if r.done() { None } else { Some(r.key()?) };
        macro_rules! take {
            ($($n:literal)*) => {$(
                while let Some(($n, wt)) = next {
                    field!($n, wt, at);
                    at = r.pos();
                    next = if r.done() { None } else { Some(r.key()?) };
                }
            )*};
        }
        take!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        while let Some((tag, wt)) = next {
            field!(tag, wt, at);
            at = r.pos();
            next = if r.done() { None } else { Some(r.key()?) };
        }
        let status = status.map(status_fields::<T>).transpose()?;
        // The scan's item rule (pdata's `wire::span`), for the checked fill.
        if !(valid_id(trace_id, 16) && valid_id(span_id, 8) && optional_id(parent, 8)) {
            self.invalid_ids += 1;
        }
        let span_row = len32(self.index.spans.len());
        self.index.spans.push((ri, si, pi));
        let mut row = Row::<{ sp::SIZE }>::new();
        row.u32(sp::SCOPE, scope_row)
            .str(sp::TRACE_ID, self.wire_str(trace_id))
            .str(sp::SPAN_ID, self.wire_str(span_id))
            .str(sp::PARENT_SPAN_ID, self.wire_str(parent))
            .str(sp::TRACE_STATE, self.wire_str(trace_state))
            .str(sp::NAME, self.wire_str(name))
            .u32(sp::KIND, kind)
            .u32(sp::FLAGS, flags)
            .u64(sp::START, start)
            .u64(sp::END, end);
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
        row.u32(sp::ATTRS_FIRST, af)
            .u32(sp::ATTRS_COUNT, ac)
            .u32(sp::DROPPED_ATTRS, d_attrs);
        if let Some((code, message)) = status {
            row.u32(sp::STATUS_CODE, code)
                .str(sp::STATUS_MESSAGE, self.wire_str(message));
        }
        row.u32(sp::EVENTS_FIRST, len32(self.index.events.len()))
            .u32(sp::EVENTS_COUNT, events.count)
            .u32(sp::DROPPED_EVENTS, d_events)
            .u32(sp::LINKS_FIRST, len32(self.index.links.len()))
            .u32(sp::LINKS_COUNT, links.count)
            .u32(sp::DROPPED_LINKS, d_links);
        self.spans.extend_from_slice(&row.0);
        let mut each = Each::new(buf, 11, events);
        let mut ei = 0u32;
        while let Some(m) = each.field()? {
            self.index.events.push((span_row, ei));
            self.wire_event::<T>(m, span_row)?;
            ei += 1;
        }
        let mut each = Each::new(buf, 13, links);
        let mut li = 0u32;
        while let Some(m) = each.field()? {
            self.index.links.push((span_row, li));
            self.wire_link::<T>(m, span_row)?;
            li += 1;
        }
        Ok(())
    }

    /// A span event (level 4).
    fn wire_event<const T: bool>(&mut self, buf: &[u8], span_row: u32) -> R<()> {
        use layout::event as e;
        let mut name: &[u8] = &[];
        let (mut time, mut dropped) = (0u64, 0u32);
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => time = r.fixed64(wt)?,
                2 => name = text::<T>(&mut r, wt)?,
                3 => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 5)?;
                }
                4 => dropped = r.varint_field(wt)? as u32,
                _ => r.skip(wt)?,
            }
        }
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 5)?;
        let mut row = Row::<{ e::SIZE }>::new();
        row.u32(e::SPAN, span_row)
            .str(e::NAME, self.wire_str(name))
            .u32(e::ATTRS_FIRST, af)
            .u32(e::ATTRS_COUNT, ac)
            .u32(e::DROPPED_ATTRS, dropped)
            .u64(e::TIME, time);
        self.events.extend_from_slice(&row.0);
        Ok(())
    }

    /// A span link (level 4).
    fn wire_link<const T: bool>(&mut self, buf: &[u8], span_row: u32) -> R<()> {
        use layout::link as l;
        let (mut trace_id, mut span_id, mut trace_state): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut dropped, mut flags) = (0u32, 0u32);
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => trace_id = r.message(wt)?,
                2 => span_id = r.message(wt)?,
                3 => trace_state = text::<T>(&mut r, wt)?,
                4 => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 5)?;
                }
                5 => dropped = r.varint_field(wt)? as u32,
                6 => flags = r.fixed32(wt)?,
                _ => r.skip(wt)?,
            }
        }
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 5)?;
        let mut row = Row::<{ l::SIZE }>::new();
        row.u32(l::SPAN, span_row)
            .str(l::TRACE_ID, self.wire_str(trace_id))
            .str(l::SPAN_ID, self.wire_str(span_id))
            .str(l::TRACE_STATE, self.wire_str(trace_state))
            .u32(l::ATTRS_FIRST, af)
            .u32(l::ATTRS_COUNT, ac)
            .u32(l::DROPPED_ATTRS, dropped)
            .u32(l::FLAGS, flags);
        self.links.extend_from_slice(&row.0);
        Ok(())
    }

    /// A `LogRecord` (level 3).
    fn wire_log<const T: bool>(
        &mut self,
        buf: &[u8],
        scope_row: u32,
        ri: u32,
        si: u32,
        li: u32,
    ) -> R<()> {
        use layout::log as lg;
        let (mut time, mut observed) = (0u64, 0u64);
        let (mut severity, mut dropped, mut flags) = (0u32, 0u32, 0u32);
        let (mut severity_text, mut trace_id, mut span_id, mut event_name): (
            &[u8],
            &[u8],
            &[u8],
            &[u8],
        ) = (&[], &[], &[], &[]);
        let mut body = None;
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => time = r.fixed64(wt)?,
                2 => severity = r.varint_field(wt)? as u32,
                3 => severity_text = text::<T>(&mut r, wt)?,
                5 => once(&mut body, r.message(wt)?)?,
                6 => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 4)?;
                }
                7 => dropped = r.varint_field(wt)? as u32,
                8 => flags = r.fixed32(wt)?,
                9 => trace_id = r.message(wt)?,
                10 => span_id = r.message(wt)?,
                11 => observed = r.fixed64(wt)?,
                12 => event_name = text::<T>(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        self.index.logs.push((ri, si, li));
        // The scan's item rule (pdata's `wire::log_record`).
        if !(optional_id(trace_id, 16) && optional_id(span_id, 8)) {
            self.invalid_ids += 1;
        }
        // The body after the attributes, whose run the first pass wrote.
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
        let body = match body {
            Some(b) => {
                let n = self.reserve_nodes(1);
                self.wire_value::<T>(n, NONE, (0, 0), Some(b), 4)?;
                n
            }
            None => NONE,
        };
        let mut row = Row::<{ lg::SIZE }>::new();
        row.u32(lg::SCOPE, scope_row)
            .u32(lg::SEVERITY_NUMBER, severity)
            .u64(lg::TIME, time)
            .u64(lg::OBSERVED_TIME, observed)
            .str(lg::SEVERITY_TEXT, self.wire_str(severity_text))
            .u32(lg::BODY, body)
            .u32(lg::ATTRS_FIRST, af)
            .u32(lg::ATTRS_COUNT, ac)
            .u32(lg::DROPPED_ATTRS, dropped)
            .u32(lg::FLAGS, flags)
            .str(lg::TRACE_ID, self.wire_str(trace_id))
            .str(lg::SPAN_ID, self.wire_str(span_id))
            .str(lg::EVENT_NAME, self.wire_str(event_name));
        self.logs.extend_from_slice(&row.0);
        Ok(())
    }

    /// Where `bytes`, a slice of the chunk being read, lies in the arena.
    /// Anything else (the empty default of an absent field) is copied in.
    #[inline(always)]
    fn wire_str(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = (bytes.as_ptr() as usize).wrapping_sub(self.src.ptr);
        if at <= self.src.len && bytes.len() <= self.src.len - at {
            (len32(self.src.base + at), len32(bytes.len()))
        } else {
            self.str(bytes)
        }
    }

    fn node_count(&self) -> u32 {
        len32(self.values.len() / layout::value::SIZE)
    }

    /// Where a message's attributes start: the next node, and the next
    /// scratch note. Taken before its first pass.
    #[inline(always)]
    fn attrs_start(&self) -> (u32, usize) {
        (self.node_count(), self.scratch.len())
    }

    /// The `KeyValue` `kv` at `level`, just read by `r` in a message's first
    /// pass, gets its root node now: a message's attributes are then one
    /// contiguous run of nodes in wire order, as the decoded path writes them,
    /// with nothing else written during that pass. A string in prost's
    /// canonical shape (most attributes) is written at once, read once; any
    /// other value has its node reserved and its place noted, and is written
    /// by [`BatchView::wire_attrs`] after the run, since nested values go
    /// after the run.
    #[inline(always)]
    fn attr<const T: bool>(&mut self, r: &Reader<'_>, kv: &[u8], level: u32) -> R<()> {
        // The value node is at level + 1.
        if level < MAX_LEVEL
            && let Some((key, s)) = short_string_kv(kv)
            && (T || (utf8(key) && utf8(s)))
        {
            let key = self.wire_str(key);
            let s = self.wire_str(s);
            self.push_string_node(key, s);
            return Ok(());
        }
        let slot = self.reserve_nodes(1);
        let end = r.pos();
        self.scratch.push((slot, end - kv.len(), end));
        Ok(())
    }

    /// Appends a root string node (no parent) with `key` and `value`.
    #[inline(always)]
    fn push_string_node(&mut self, key: (u32, u32), value: (u32, u32)) {
        use layout::value as v;
        let mut row = Row::<{ v::SIZE }>::new();
        row.0[v::KIND] = v::KIND_STRING;
        row.u32(v::PARENT, NONE)
            .str(v::KEY, key)
            .str(v::PAYLOAD, value);
        self.values.extend_from_slice(&row.0);
    }

    /// Finishes the attributes of `buf` (at `level`) whose first pass
    /// started at `start` ([`BatchView::attrs_start`]): writes the values
    /// [`BatchView::attr`] left noted, nested values after the run, and
    /// removes the notes. (first node, count) of the run.
    fn wire_attrs<const T: bool>(
        &mut self,
        buf: &[u8],
        (first, base): (u32, usize),
        level: u32,
    ) -> R<(u32, u32)> {
        let count = self.node_count() - first;
        for i in base..self.scratch.len() {
            let (slot, from, to) = self.scratch[i];
            let kv = buf.get(from..to).ok_or(Fallback)?;
            // Nested lists do not take notes, so entries past `base` stay put.
            self.wire_key_value::<T>(slot, NONE, kv, level)?;
        }
        self.scratch.truncate(base);
        Ok((first, count))
    }

    /// A `KeyValue` at `level` into node `index`.
    #[inline(always)]
    fn wire_key_value<const T: bool>(
        &mut self,
        index: u32,
        parent: u32,
        buf: &[u8],
        level: u32,
    ) -> R<()> {
        if level > MAX_LEVEL {
            return Err(Fallback);
        }
        // Most attributes are strings in the canonical encoding: read that
        // one shape without the field loop. The value node is at level + 1.
        if level < MAX_LEVEL
            && let Some((key, s)) = short_string_kv(buf)
            && (T || (utf8(key) && utf8(s)))
        {
            let key = self.wire_str(key);
            let s = self.wire_str(s);
            let mut payload = [0u8; 8];
            payload[..4].copy_from_slice(&s.0.to_le_bytes());
            payload[4..].copy_from_slice(&s.1.to_le_bytes());
            self.put_node(index, layout::value::KIND_STRING, parent, key, payload);
            return Ok(());
        }
        let mut key: &[u8] = &[];
        let mut value = None;
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => key = text::<T>(&mut r, wt)?,
                2 => once(&mut value, r.message(wt)?)?,
                // `key_strindex`: profiles only, not shown.
                3 => r.scalar(wt, VARINT)?,
                _ => r.skip(wt)?,
            }
        }
        let key = self.wire_str(key);
        self.wire_value::<T>(index, parent, key, value, level + 1)
    }

    /// An `AnyValue` at `level` into node `index`, as `write_value` writes it.
    #[inline(always)]
    fn wire_value<const T: bool>(
        &mut self,
        index: u32,
        parent: u32,
        key: (u32, u32),
        value: Option<&[u8]>,
        level: u32,
    ) -> R<()> {
        use layout::value as v;
        if level > MAX_LEVEL {
            return Err(Fallback);
        }
        let mut member = None;
        if let Some(buf) = value {
            let mut r = Reader::new(buf);
            while !r.done() {
                let (tag, wt) = r.key()?;
                let m = match tag {
                    1 => Member::String(text::<T>(&mut r, wt)?),
                    2 => Member::Bool(r.varint_field(wt)? != 0),
                    3 => Member::Int(r.varint_field(wt)?),
                    4 => Member::Double(r.fixed64(wt)?),
                    5 => Member::Array(r.message(wt)?),
                    6 => Member::Kvlist(r.message(wt)?),
                    7 => Member::Bytes(r.message(wt)?),
                    // `string_value_strindex` points into a profiles
                    // dictionary traces and logs do not have: shown empty.
                    8 => {
                        r.varint_field(wt)?;
                        Member::Empty
                    }
                    _ => {
                        r.skip(wt)?;
                        continue;
                    }
                };
                // prost keeps the last member, merging a repeated message
                // member into the first: left to prost.
                if member.replace(m).is_some() {
                    return Err(Fallback);
                }
            }
        }
        let mut payload = [0u8; 8];
        let pair = |p: &mut [u8; 8], (a, b): (u32, u32)| {
            p[..4].copy_from_slice(&a.to_le_bytes());
            p[4..].copy_from_slice(&b.to_le_bytes());
        };
        let kind = match member {
            None | Some(Member::Empty) => v::KIND_EMPTY,
            Some(Member::String(s)) => {
                pair(&mut payload, self.wire_str(s));
                v::KIND_STRING
            }
            Some(Member::Bool(b)) => {
                payload[0] = b as u8;
                v::KIND_BOOL
            }
            Some(Member::Int(i)) => {
                payload = i.to_le_bytes();
                v::KIND_INT
            }
            Some(Member::Double(d)) => {
                payload = d.to_le_bytes();
                v::KIND_DOUBLE
            }
            Some(Member::Bytes(b)) => {
                pair(&mut payload, self.wire_str(b));
                v::KIND_BYTES
            }
            Some(Member::Array(buf)) => {
                pair(&mut payload, self.wire_list::<T>(index, buf, false, level)?);
                v::KIND_ARRAY
            }
            Some(Member::Kvlist(buf)) => {
                pair(&mut payload, self.wire_list::<T>(index, buf, true, level)?);
                v::KIND_KVLIST
            }
        };
        self.put_node(index, kind, parent, key, payload);
        Ok(())
    }

    /// The elements of an `ArrayValue` (or, with `keyed`, a `KeyValueList`)
    /// of the value at `level` in node `parent`: (first node, count). Out of
    /// line, so that the common scalar values inline into their callers
    /// (this is where the recursion is).
    #[inline(never)]
    fn wire_list<const T: bool>(
        &mut self,
        parent: u32,
        buf: &[u8],
        keyed: bool,
        level: u32,
    ) -> R<(u32, u32)> {
        // The list at level + 1, its elements at level + 2.
        let run = list(buf)?;
        let first = self.reserve_nodes(run.count as usize);
        let mut each = Each::new(buf, 1, run);
        let mut i = 0u32;
        while let Some(item) = each.field()? {
            if keyed {
                self.wire_key_value::<T>(first + i, parent, item, level + 2)?;
            } else {
                self.wire_value::<T>(first + i, parent, (0, 0), Some(item), level + 2)?;
            }
            i += 1;
        }
        Ok((first, run.count))
    }
}

/// A `KeyValue` encoded as prost encodes a string attribute with short key
/// and value (one-byte lengths): key field, then a value holding only a
/// string. (key, string) then; `None` for any other encoding, which the
/// field loop reads. Given the same bytes, the loop finds the same two.
#[inline(always)]
fn short_string_kv(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x0a, klen, rest @ ..] = buf else {
        return None;
    };
    if *klen >= 0x80 {
        return None;
    }
    let (key, rest) = rest.split_at_checked(usize::from(*klen))?;
    let [0x12, vlen, 0x0a, slen, s @ ..] = rest else {
        return None;
    };
    if *vlen >= 0x80 || *slen >= 0x80 || *vlen != slen.wrapping_add(2) {
        return None;
    }
    (s.len() == usize::from(*slen)).then_some((key, s))
}

/// An id the OTLP spec requires: `len` bytes, not all zero. An absent
/// field reads as empty here and is invalid, as in pdata's scan.
fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// An id that may be absent (empty) or else `len` bytes.
fn optional_id(id: &[u8], len: usize) -> bool {
    id.is_empty() || id.len() == len
}

/// As the reader checks a `string` field.
#[inline(always)]
fn utf8(s: &[u8]) -> bool {
    s.is_ascii() || std::str::from_utf8(s).is_ok()
}

/// Which request a resource group belongs to.
#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Logs,
}

/// The one `AnyValue` member present.
enum Member<'a> {
    Empty,
    String(&'a [u8]),
    Bool(bool),
    /// An `int64`'s 64 bits.
    Int(u64),
    /// A `double`'s bits.
    Double(u64),
    Array(&'a [u8]),
    Kvlist(&'a [u8]),
    Bytes(&'a [u8]),
}

/// A `ScopeSpans` or `ScopeLogs` after its first pass.
struct ScopeGroup<'a> {
    scope: Option<&'a [u8]>,
    items: Run,
    url: &'a [u8],
}

/// First pass over a `ScopeSpans` or `ScopeLogs`.
fn scope_group<const T: bool>(buf: &[u8]) -> R<ScopeGroup<'_>> {
    let mut scope = None;
    let mut items = Run::default();
    let mut url: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.done() {
        let at = r.pos();
        let (tag, wt) = r.key()?;
        match tag {
            1 => once(&mut scope, r.message(wt)?)?,
            2 => {
                r.message(wt)?;
                items.saw(at);
            }
            3 => url = text::<T>(&mut r, wt)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(ScopeGroup { scope, items, url })
}

/// First pass over an `ArrayValue` or `KeyValueList`: one repeated field 1.
fn list(buf: &[u8]) -> R<Run> {
    let mut run = Run::default();
    let mut r = Reader::new(buf);
    while !r.done() {
        let at = r.pos();
        let (tag, wt) = r.key()?;
        if tag == 1 {
            r.message(wt)?;
            run.saw(at);
        } else {
            r.skip(wt)?;
        }
    }
    Ok(run)
}

/// A span `Status`: (code, message).
fn status_fields<const T: bool>(buf: &[u8]) -> R<(u32, &[u8])> {
    let (mut code, mut message): (u32, &[u8]) = (0, &[]);
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            2 => message = text::<T>(&mut r, wt)?,
            3 => code = r.varint_field(wt)? as u32,
            _ => r.skip(wt)?,
        }
    }
    Ok((code, message))
}

/// Checks a resource's `EntityRef` as prost would decode it (four string
/// fields, two of them repeated).
fn entity_ref<const T: bool>(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1..=4 => {
                text::<T>(&mut r, wt)?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "view_wire/tests.rs"]
mod tests;
