//! Held spans are kept protobuf-encoded, not as prost structs: a decoded span
//! costs several times its encoded size (a heap allocation per string and
//! attribute), and most held spans are dropped unread. Incoming requests are
//! split by trace on the wire ([`split`]: only the framing and each span's
//! `trace_id` are read, and for the envelope exporter its error markers, in
//! the same walk) into byte ranges of the request, held as they lie in it
//! ([`super::held`]). A trace to decide or release is written straight back
//! as an encoded `ExportTraceServiceRequest` by copying those ranges under
//! new resource and scope framing, so the host never decodes a span.
//!
//! Message layouts used (OTLP `trace.proto`):
//! `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`,
//! `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }`,
//! `ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }`,
//! `Span { ... repeated KeyValue attributes = 9; ... }`.

use std::ops::Range;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_length_delimiter, encoded_len_varint};

use pdata::Signal;
use pdata::group::{self, TraceId};
use pdata::wire::field::{self, resource_items, scope_items};
use pdata::wire::index::RequestIndex;
use pdata::wire::{self, LEN, Reader};
use smallvec::SmallVec;

use super::buffer::{Charge, ContextBytes, Item, Map};
use super::held::Group;
use crate::envelope::signals;

/// A resource, encoded once per input `ResourceSpans` and shared by the
/// spans that came with it.
#[derive(Debug)]
pub(crate) struct ResourceCtx {
    /// The encoded `Resource` message, if the input had one.
    pub(crate) resource: Option<Vec<u8>>,
    pub(crate) schema_url: String,
    /// Counts this context's bytes while it lives.
    pub(crate) _charge: Option<Charge>,
}

/// An instrumentation scope and its resource, shared likewise.
#[derive(Debug)]
pub(crate) struct ScopeCtx {
    pub(crate) resource: Arc<ResourceCtx>,
    /// The encoded `InstrumentationScope` message, if the input had one.
    pub(crate) scope: Option<Vec<u8>>,
    pub(crate) schema_url: String,
    /// Counts this context's bytes while it lives.
    pub(crate) _charge: Option<Charge>,
}

impl ScopeCtx {
    /// Same resource and scope content (contexts from different batches
    /// are different allocations).
    pub(crate) fn same_as(&self, other: &ScopeCtx) -> bool {
        (Arc::ptr_eq(&self.resource, &other.resource)
            || (self.resource.resource == other.resource.resource
                && self.resource.schema_url == other.resource.schema_url))
            && self.scope == other.scope
            && self.schema_url == other.schema_url
    }
}

/// Why an encoded request could not be split by trace.
#[derive(Debug, thiserror::Error)]
#[error("malformed OTLP request: {0}")]
pub struct WireError(#[from] pdata::wire::WireError);

/// A `string` field's text, as prost checks it.
fn string<'a>(r: &mut Reader<'a>, wt: u8) -> Result<&'a str, WireError> {
    let b = r.string(wt)?;
    // `Reader::string` checked the bytes are UTF-8.
    std::str::from_utf8(b).map_err(|_| WireError(pdata::wire::WireError::Utf8))
}

/// Appends a message field's occurrence: protobuf merges repeated
/// occurrences of a singular message field, and concatenating their
/// encodings is exactly that merge.
fn merge_into<'a>(slot: &mut Option<Vec<&'a [u8]>>, b: &'a [u8]) {
    slot.get_or_insert_with(Vec::new).push(b);
}

fn joined(parts: Option<Vec<&[u8]>>) -> Option<Vec<u8>> {
    parts.map(|p| p.concat())
}

/// One input `ResourceSpans` (or `ResourceLogs`), split.
#[derive(Debug, PartialEq)]
pub(crate) struct ResourcePart<'a> {
    /// The encoded `Resource`, if present.
    pub(crate) resource: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    pub(crate) scopes: Vec<ScopePart<'a>>,
}

/// One input `ScopeSpans` (or `ScopeLogs`), its items grouped by trace.
#[derive(Debug, PartialEq)]
pub(crate) struct ScopePart<'a> {
    /// The encoded `InstrumentationScope`, if present.
    pub(crate) scope: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    /// Items by trace id, traces in first-seen order; items without a
    /// 16-byte trace id under `None`.
    pub(crate) traces: Vec<TraceItems>,
}

/// The items of one trace under one scope: where they lie in the request.
#[derive(Debug, PartialEq)]
pub(crate) struct TraceItems {
    /// `None` for items without a valid trace id.
    pub(crate) id: Option<TraceId>,
    /// Byte ranges of the request, each a run of consecutive framed items
    /// (key, length, message), in arrival order.
    pub(crate) runs: SmallVec<[(usize, usize); 1]>,
    /// Items in the runs.
    pub(crate) count: u64,
    /// An item shows an error (read only when the split was asked to).
    pub(crate) error: bool,
}

impl TraceItems {
    fn new(id: Option<TraceId>) -> Self {
        TraceItems {
            id,
            runs: SmallVec::new(),
            count: 0,
            error: false,
        }
    }

    fn add(&mut self, (start, end): (usize, usize), error: bool) {
        match self.runs.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => self.runs.push((start, end)),
        }
        self.count += 1;
        self.error |= error;
    }

    /// Bytes of the framed items.
    pub(crate) fn bytes(&self) -> u64 {
        self.runs.iter().map(|(s, e)| (e - s) as u64).sum()
    }
}

/// What the split reads of each item besides its trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markers {
    /// Nothing (tail sampling).
    None,
    /// Whether the item shows an error: for spans, status `ERROR` or an
    /// `exception` event; for log records, an `exception.type` attribute
    /// (the envelope exporter: [`crate::envelope::signals`]).
    Errors,
}

/// Splits an encoded `ExportTraceServiceRequest` into resources, scopes and
/// the spans of each trace, without decoding spans: only the framing and
/// each span's `trace_id` are read. Spans are found as byte ranges of
/// `request`, to be held as they came.
///
/// Only the structure is checked; the content of spans, resources and
/// scopes is not (the collector's receivers validate requests before they
/// reach a processor).
pub(crate) fn split(request: &[u8]) -> Result<Vec<ResourcePart<'_>>, WireError> {
    split_by(request, Item::Span, Markers::None)
}

/// [`split`] for spans or log records (`kind`: an `ExportTraceServiceRequest`
/// or an `ExportLogsServiceRequest`, whose outer levels share their field
/// numbers), reading `markers` in the same walk of each item.
pub(crate) fn split_by(
    request: &[u8],
    kind: Item,
    markers: Markers,
) -> Result<Vec<ResourcePart<'_>>, WireError> {
    let at = Walk {
        origin: request.as_ptr() as usize,
        kind,
        markers,
    };
    let mut out = Vec::new();
    wire::for_each_field(request, field::request::RESOURCES, |rs| {
        out.push(at.resource(rs)?);
        Ok::<(), WireError>(())
    })?;
    Ok(out)
}

/// One split's settings.
struct Walk {
    /// Address of the request's first byte: a nested slice's offset in the
    /// request is its address minus this.
    origin: usize,
    kind: Item,
    markers: Markers,
}

impl Walk {
    fn resource<'a>(&self, buf: &'a [u8]) -> Result<ResourcePart<'a>, WireError> {
        let mut resource = None;
        let mut schema_url = "";
        let mut scopes = Vec::new();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                resource_items::RESOURCE => merge_into(&mut resource, r.message(wt)?),
                resource_items::SCOPES => scopes.push(self.scope(r.message(wt)?)?),
                resource_items::SCHEMA_URL => schema_url = string(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        Ok(ResourcePart {
            resource: joined(resource),
            schema_url,
            scopes,
        })
    }

    fn scope<'a>(&self, buf: &'a [u8]) -> Result<ScopePart<'a>, WireError> {
        let base = buf.as_ptr() as usize - self.origin;
        let mut scope = None;
        let mut schema_url = "";
        let mut traces = Grouping::sized_for(buf.len());
        let mut r = Reader::new(buf);
        while !r.done() {
            let start = r.pos();
            let (tag, wt) = r.key()?;
            match tag {
                scope_items::SCOPE => merge_into(&mut scope, r.message(wt)?),
                scope_items::ITEMS => {
                    let (id, error) = self.item(r.message(wt)?)?;
                    traces.add(id, (base + start, base + r.pos()), error);
                }
                scope_items::SCHEMA_URL => schema_url = string(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        let traces = traces.traces;
        Ok(ScopePart {
            scope: joined(scope),
            schema_url,
            traces,
        })
    }

    fn item(&self, item: &[u8]) -> Result<(Option<TraceId>, bool), WireError> {
        read_item(item, self.kind, self.markers)
    }
}

/// One scope's items grouped by trace: traces in first-seen order, each
/// trace's items as runs of the request.
struct Grouping {
    traces: Vec<TraceItems>,
    /// Consulted only when an item's trace differs from the one before
    /// (most requests hold a trace's items next to each other).
    index: Map<Option<TraceId>, usize>,
}

impl Grouping {
    /// Sized for a scope of `bytes` bytes: a few hundred bytes an item and a
    /// few items a trace, so that neither grows item by item (capped: the
    /// guess may be wrong).
    fn sized_for(bytes: usize) -> Self {
        let guess = (bytes / 1024).min(1024);
        Grouping {
            traces: Vec::with_capacity(guess),
            index: Map::with_capacity_and_hasher(guess, Default::default()),
        }
    }

    #[inline]
    fn add(&mut self, id: Option<TraceId>, framed: (usize, usize), error: bool) {
        let i = match self.traces.last() {
            Some(t) if t.id == id => self.traces.len() - 1,
            _ => {
                let traces = &mut self.traces;
                *self.index.entry(id).or_insert_with(|| {
                    traces.push(TraceItems::new(id));
                    traces.len() - 1
                })
            }
        };
        self.traces[i].add(framed, error);
    }
}

/// [`split_by`] from the side index the receiver's scan made of `request`
/// ([`pdata::wire::index`]), without reading an item: the same parts, as
/// the tests check. `None` when the index does not fit `request` or `kind`
/// (then split it with [`split_by`]).
pub(crate) fn split_indexed<'a>(
    request: &'a [u8],
    index: &RequestIndex,
    kind: Item,
    markers: Markers,
) -> Option<Vec<ResourcePart<'a>>> {
    let signal = match kind {
        Item::Span => Signal::Traces,
        Item::Log => Signal::Logs,
    };
    if index.signal != signal || !index.describes(request) {
        return None;
    }
    let range = move |r: &Range<u32>| request.get(r.start as usize..r.end as usize);
    let text = move |r: &Range<u32>| range(r).and_then(|b| std::str::from_utf8(b).ok());
    let joined_parts = move |parts: &[Range<u32>]| -> Option<Option<Vec<u8>>> {
        if parts.is_empty() {
            return Some(None);
        }
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(range(p)?);
        }
        Some(Some(out))
    };
    let marking = markers == Markers::Errors;
    let mut out = Vec::with_capacity(index.resources.len());
    for res in &index.resources {
        let of_resource = index.scopes.get(res.scopes.clone())?;
        let mut scopes = Vec::with_capacity(of_resource.len());
        for sc in of_resource {
            let items = index.items.get(sc.items.clone())?;
            let bytes = (items.last().map_or(0, |l| l.framed.end as usize))
                .saturating_sub(items.first().map_or(0, |f| f.framed.start as usize));
            let mut traces = Grouping::sized_for(bytes);
            for item in items {
                range(&item.framed)?;
                let framed = (item.framed.start as usize, item.framed.end as usize);
                traces.add(item.trace_id, framed, marking && item.error);
            }
            scopes.push(ScopePart {
                scope: joined_parts(&sc.scope)?,
                schema_url: text(&sc.schema_url)?,
                traces: traces.traces,
            });
        }
        out.push(ResourcePart {
            resource: joined_parts(&res.resource)?,
            schema_url: text(&res.schema_url)?,
            scopes,
        });
    }
    Some(out)
}

/// An item's trace id (the last occurrence wins, as in prost; `None` when it
/// is not 16 bytes) and, with [`Markers::Errors`], whether it shows an error:
/// one walk of its fields.
pub(crate) fn read_item(
    item: &[u8],
    kind: Item,
    markers: Markers,
) -> Result<(Option<TraceId>, bool), WireError> {
    let id_field = match kind {
        Item::Span => field::span::TRACE_ID,
        Item::Log => field::log_record::TRACE_ID,
    };
    let marking = markers == Markers::Errors;
    let mut id = None;
    // The status code as prost merges repeated `status` fields: the last
    // code given.
    let mut code = None;
    let mut exception = false;
    let mut r = Reader::new(item);
    while !r.done() {
        let (tag, wt) = r.key()?;
        if tag == id_field {
            id = Some(r.message(wt)?);
            continue;
        }
        if marking {
            match (kind, tag) {
                (Item::Span, field::span::STATUS) => {
                    if let Some(c) = signals::status_code(r.message(wt)?)? {
                        code = Some(c);
                    }
                    continue;
                }
                (Item::Span, field::span::EVENTS) => {
                    let event = r.message(wt)?;
                    exception = exception || signals::is_exception_event(event)?;
                    continue;
                }
                (Item::Log, field::log_record::ATTRIBUTES) => {
                    let kv = r.message(wt)?;
                    exception = exception || signals::is_exception_type(kv)?;
                    continue;
                }
                _ => {}
            }
        }
        // Most of an item's fields are length-delimited (attributes, name,
        // ids): skipped inline, the rest by the reader.
        if wt == LEN {
            r.bytes()?;
        } else {
            r.skip(wt)?;
        }
    }
    let error = exception || code == Some(signals::STATUS_CODE_ERROR);
    Ok((id.and_then(group::trace_id), error))
}

/// The split `parts` with their resources and scopes made into shared
/// contexts, each charged to `pool` while it lives. No lock is needed.
pub(crate) fn scoped(
    parts: Vec<ResourcePart<'_>>,
    pool: &Arc<ContextBytes>,
) -> Vec<(Arc<ScopeCtx>, Vec<TraceItems>)> {
    let mut scopes = Vec::new();
    for rs in parts {
        // 64: the context's own allocation, roughly.
        let bytes = rs.resource.as_ref().map_or(0, Vec::len) + rs.schema_url.len() + 64;
        let res = Arc::new(ResourceCtx {
            resource: rs.resource,
            schema_url: rs.schema_url.to_owned(),
            _charge: Some(Charge::new(pool, bytes as u64)),
        });
        for ss in rs.scopes {
            let bytes = ss.scope.as_ref().map_or(0, Vec::len) + ss.schema_url.len() + 64;
            let ctx = Arc::new(ScopeCtx {
                resource: res.clone(),
                scope: ss.scope,
                schema_url: ss.schema_url.to_owned(),
                _charge: Some(Charge::new(pool, bytes as u64)),
            });
            scopes.push((ctx, ss.traces));
        }
    }
    scopes
}

fn field_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, out);
    let _ = encode_length_delimiter(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// The encoded `Span.attributes` entry `tailsampling.policy = <policy>`.
pub(crate) fn policy_attribute(policy: &str) -> Vec<u8> {
    let kv = KeyValue {
        key: "tailsampling.policy".to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(policy.to_owned())),
        }),
    };
    let mut out = Vec::new();
    encode_key(9, WireType::LengthDelimited, &mut out);
    let _ = kv.encode_length_delimited(&mut out);
    out
}

/// The item messages of framed items (as the split found them: any key
/// encoding of field 2 is read).
fn frames(framed: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut r = Reader::new(framed);
    // The split read this framing: a bad key or length cannot occur, and
    // would end the iteration rather than read past the buffer.
    std::iter::from_fn(move || {
        r.key().ok()?;
        r.bytes().ok()
    })
}

/// Bytes [`items_with`] writes for `g`.
fn items_with_len(g: &Group, extra: &[u8]) -> usize {
    if extra.is_empty() {
        return g.len();
    }
    g.runs
        .iter()
        .flat_map(|run| frames(run.bytes()))
        .map(|body| field_len(body.len() + extra.len()))
        .sum()
}

/// Writes the framed items of `g`, each with `extra` appended to the item
/// message (a repeated field appended to a message's encoding adds one
/// element: here, one attribute). Without `extra`, the received bytes as
/// they are.
fn items_with(out: &mut Vec<u8>, g: &Group, extra: &[u8]) {
    for run in &g.runs {
        if extra.is_empty() {
            out.extend_from_slice(run.bytes());
            continue;
        }
        for body in frames(run.bytes()) {
            encode_key(2, WireType::LengthDelimited, out);
            let _ = encode_length_delimiter(body.len() + extra.len(), out);
            out.extend_from_slice(body);
            out.extend_from_slice(extra);
        }
    }
}

/// Bytes of a length-delimited field (tag below 16) holding `n` bytes.
fn field_len(n: usize) -> usize {
    1 + encoded_len_varint(n as u64) + n
}

fn opt_field_len(b: Option<&[u8]>) -> usize {
    b.map_or(0, |b| field_len(b.len()))
}

fn str_field_len(s: &str) -> usize {
    if s.is_empty() { 0 } else { field_len(s.len()) }
}

/// Bytes of `g` as a `ScopeSpans` (or `ScopeLogs`) message.
fn scope_spans_len(g: &Group, extra: &[u8]) -> usize {
    opt_field_len(g.ctx.scope.as_deref())
        + items_with_len(g, extra)
        + str_field_len(&g.ctx.schema_url)
}

/// A group and its size as a `ScopeSpans` message.
type SizedGroup<'a> = (&'a Group, usize);

/// Encodes `groups` as one `ExportTraceServiceRequest` (or, for groups of
/// log records, `ExportLogsServiceRequest`), grouping scopes under their
/// resource. `extra` is appended to every span (see
/// [`policy_attribute`]); empty for none. Message lengths are computed
/// first, so every byte is written once, into one allocation.
pub(crate) fn encode_request(groups: &[&Group], extra: &[u8]) -> Vec<u8> {
    // Groups by resource, in first-seen order (usually one group in all).
    let mut by_resource: Vec<(&Arc<ResourceCtx>, Vec<SizedGroup<'_>>)> = Vec::new();
    for g in groups {
        let len = scope_spans_len(g, extra);
        let res = &g.ctx.resource;
        match by_resource
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, res) || same_resource(r, res))
        {
            Some((_, members)) => members.push((g, len)),
            None => by_resource.push((res, vec![(g, len)])),
        }
    }
    let sized: Vec<usize> = by_resource
        .iter()
        .map(|(res, members)| {
            opt_field_len(res.resource.as_deref())
                + members.iter().map(|(_, n)| field_len(*n)).sum::<usize>()
                + str_field_len(&res.schema_url)
        })
        .collect();
    let mut out = Vec::with_capacity(sized.iter().map(|n| field_len(*n)).sum());
    for ((res, members), rs_len) in by_resource.iter().zip(sized) {
        encode_key(1, WireType::LengthDelimited, &mut out);
        let _ = encode_length_delimiter(rs_len, &mut out);
        if let Some(r) = &res.resource {
            field_bytes(&mut out, 1, r);
        }
        for (g, ss_len) in members {
            encode_key(2, WireType::LengthDelimited, &mut out);
            let _ = encode_length_delimiter(*ss_len, &mut out);
            if let Some(s) = &g.ctx.scope {
                field_bytes(&mut out, 1, s);
            }
            items_with(&mut out, g, extra);
            if !g.ctx.schema_url.is_empty() {
                field_bytes(&mut out, 3, g.ctx.schema_url.as_bytes());
            }
        }
        if !res.schema_url.is_empty() {
            field_bytes(&mut out, 3, res.schema_url.as_bytes());
        }
    }
    out
}

pub(crate) fn same_resource(a: &ResourceCtx, b: &ResourceCtx) -> bool {
    a.resource == b.resource && a.schema_url == b.schema_url
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod index_tests;
