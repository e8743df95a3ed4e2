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
//!   rules are pdata's validating scan's: both read with `pdata::wire`.
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

use super::interest::Interest;
use super::view::BatchView;

use pdata::wire::field::{any_value, entity_ref, request, scope_items, status};
use pdata::wire::{Reader, WireError, WireResult as R};

mod rows;
mod values;

/// The encoded request was left to prost: it is malformed, or shaped in a way
/// (see the module docs) where only prost can say what it decodes to. Decode
/// it and build the view with [`BatchView::fill_traces`] or
/// [`BatchView::fill_logs`]. The view's contents are unspecified until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encoded request left to the prost decoder")]
pub struct WireFallback;

impl From<WireError> for WireFallback {
    fn from(_: WireError) -> Self {
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
        Some(_) => Err(WireError::Unsupported),
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

    /// The `*_encoded` (or with `validated`, `*_validated`) fill for a
    /// traces or logs request; metrics have no view.
    pub(crate) fn fill_wire<B: AsRef<[u8]>>(
        &mut self,
        signal: pdata::Signal,
        chunks: &[B],
        validated: bool,
    ) -> Result<(), WireFallback> {
        let signal = Signal::of(signal)?;
        if validated {
            self.fill_encoded::<B, true>(chunks, signal)
        } else {
            self.fill_encoded::<B, false>(chunks, signal)
        }
    }

    /// The `*_checked` fill for a traces or logs request.
    pub(crate) fn fill_wire_checked<B: AsRef<[u8]>>(
        &mut self,
        signal: pdata::Signal,
        chunks: &[B],
    ) -> Result<usize, WireFallback> {
        self.fill_checked(chunks, Signal::of(signal)?)
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
        let interest = self.interest.clone();
        let f = interest.as_deref();
        self.start(f);
        let built = self.fill_chunks::<B, T>(chunks, signal, f);
        self.src = WireSrc::default();
        built
    }

    fn fill_chunks<B: AsRef<[u8]>, const T: bool>(
        &mut self,
        chunks: &[B],
        signal: Signal,
        f: Option<&Interest>,
    ) -> Result<(), WireFallback> {
        let mut ri = 0u32;
        for chunk in chunks {
            let chunk = chunk.as_ref();
            // The chunk goes into the arena whole, in one copy; its strings
            // are then referenced where they lie instead of copied one by one
            // (29% of the builder's instructions went to those copies). With
            // an interest the guest sees a few rows: their strings are copied
            // one by one, and the rest of the request not at all (the
            // default `src` holds nothing, so `wire_str` copies).
            if f.is_none() {
                self.src = WireSrc {
                    ptr: chunk.as_ptr() as usize,
                    len: chunk.len(),
                    base: self.arena.len(),
                };
                self.arena.extend_from_slice(chunk);
            }
            let mut r = Reader::new(chunk);
            while !r.done() {
                let (tag, wt) = r.key()?;
                if tag == request::RESOURCES {
                    self.wire_resource::<T>(r.message(wt)?, ri, signal, f)?;
                    ri += 1;
                } else {
                    r.skip(wt)?;
                }
            }
        }
        Ok(())
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

impl Signal {
    fn of(signal: pdata::Signal) -> Result<Signal, WireFallback> {
        match signal {
            pdata::Signal::Traces => Ok(Signal::Traces),
            pdata::Signal::Logs => Ok(Signal::Logs),
            pdata::Signal::Metrics => Err(WireFallback),
        }
    }
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
            scope_items::SCOPE => once(&mut scope, r.message(wt)?)?,
            scope_items::ITEMS => {
                r.message(wt)?;
                items.saw(at);
            }
            scope_items::SCHEMA_URL => url = text::<T>(&mut r, wt)?,
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
        if tag == any_value::LIST_VALUES {
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
            status::MESSAGE => message = text::<T>(&mut r, wt)?,
            status::CODE => code = r.varint_field(wt)? as u32,
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
            entity_ref::SCHEMA_URL
            | entity_ref::TYPE
            | entity_ref::ID_KEYS
            | entity_ref::DESCRIPTION_KEYS => {
                text::<T>(&mut r, wt)?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
