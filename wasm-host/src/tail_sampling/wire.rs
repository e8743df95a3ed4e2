//! Held spans are kept protobuf-encoded, not as prost structs: a decoded span
//! costs several times its encoded size (a heap allocation per string and
//! attribute), and most held spans are dropped unread. Incoming requests are
//! split by trace on the wire ([`split`]: only the framing and each span's
//! `trace_id` are read) and the span messages held as they came. A trace to
//! decide or release is written straight back as an encoded
//! `ExportTraceServiceRequest` by framing the stored bytes, so the host never
//! decodes a span.
//!
//! Message layouts used (OTLP `trace.proto`):
//! `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`,
//! `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }`,
//! `ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }`,
//! `Span { ... repeated KeyValue attributes = 9; ... }`.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_length_delimiter, encoded_len_varint};

use pdata::group::{self, ByTrace, TraceId};
use pdata::wire::field::{self, resource_items, scope_items};
use pdata::wire::{self, Reader};

use super::buffer::{Charge, ContextBytes};

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

/// Spans of one trace under one scope: each span framed as field 2 of
/// `ScopeSpans` (key, length, message), concatenated.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) ctx: Arc<ScopeCtx>,
    pub(crate) spans: Vec<u8>,
    pub(crate) count: u64,
}

impl Group {
    /// The span messages `spans` of one scope, framed.
    pub(crate) fn of(ctx: &Arc<ScopeCtx>, spans: &[&[u8]]) -> Group {
        let mut framed = Vec::with_capacity(spans.iter().map(|s| framed_len(s.len())).sum());
        for s in spans {
            push_span(&mut framed, s);
        }
        Group {
            ctx: ctx.clone(),
            spans: framed,
            count: spans.len() as u64,
        }
    }
}

/// Appends the encoded span message `body` framed as a `ScopeSpans.spans`
/// entry (key, length, message).
pub(crate) fn push_span(out: &mut Vec<u8>, body: &[u8]) {
    encode_key(2, WireType::LengthDelimited, out);
    let _ = encode_length_delimiter(body.len(), out);
    out.extend_from_slice(body);
}

/// Bytes `push_span` appends for a span message of `len` bytes.
pub(crate) fn framed_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
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

/// One input `ResourceSpans`, split.
pub(crate) struct ResourcePart<'a> {
    /// The encoded `Resource`, if present.
    pub(crate) resource: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    pub(crate) scopes: Vec<ScopePart<'a>>,
}

/// One input `ScopeSpans`, its spans grouped by trace.
pub(crate) struct ScopePart<'a> {
    /// The encoded `InstrumentationScope`, if present.
    pub(crate) scope: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    /// Span messages by trace id, traces in first-seen order, spans in
    /// arrival order; spans without a 16-byte trace id under `None`.
    pub(crate) traces: Vec<TraceItems<'a>>,
}

/// Splits an encoded `ExportTraceServiceRequest` into resources, scopes and
/// the span messages of each trace, without decoding spans: only the
/// framing and each span's `trace_id` are read. The span bytes are
/// borrowed from `request`, to be held as they came.
///
/// Only the structure is checked; the content of spans, resources and
/// scopes is not (the collector's receivers validate requests before they
/// reach a processor).
pub(crate) fn split(request: &[u8]) -> Result<Vec<ResourcePart<'_>>, WireError> {
    split_by(request, field::span::TRACE_ID)
}

/// [`split`] for a request whose items carry their trace id in field
/// `trace_id_field`: `Span.trace_id` (1) for an `ExportTraceServiceRequest`,
/// `LogRecord.trace_id` (9) for an `ExportLogsServiceRequest` (the outer
/// levels of both share their field numbers).
pub(crate) fn split_by(
    request: &[u8],
    trace_id_field: u32,
) -> Result<Vec<ResourcePart<'_>>, WireError> {
    let mut out = Vec::new();
    wire::for_each_field(request, field::request::RESOURCES, |rs| {
        out.push(resource_spans(rs, trace_id_field)?);
        Ok::<(), WireError>(())
    })?;
    Ok(out)
}

fn resource_spans(buf: &[u8], trace_id_field: u32) -> Result<ResourcePart<'_>, WireError> {
    let mut resource = None;
    let mut schema_url = "";
    let mut scopes = Vec::new();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            resource_items::RESOURCE => merge_into(&mut resource, r.message(wt)?),
            resource_items::SCOPES => scopes.push(scope_spans(r.message(wt)?, trace_id_field)?),
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

fn scope_spans(buf: &[u8], trace_id_field: u32) -> Result<ScopePart<'_>, WireError> {
    let mut scope = None;
    let mut schema_url = "";
    let mut traces = ByTrace::new();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            scope_items::SCOPE => merge_into(&mut scope, r.message(wt)?),
            scope_items::ITEMS => {
                let span = r.message(wt)?;
                traces.push(trace_id(span, trace_id_field)?, span);
            }
            scope_items::SCHEMA_URL => schema_url = string(&mut r, wt)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(ScopePart {
        scope: joined(scope),
        schema_url,
        traces: traces.into_groups(),
    })
}

/// An item's trace id (the last occurrence wins, as in prost), or `None` when
/// it is not 16 bytes.
fn trace_id(span: &[u8], trace_id_field: u32) -> Result<Option<TraceId>, WireError> {
    let id = wire::last_field(span, trace_id_field)?;
    Ok(id.and_then(group::trace_id))
}

/// Items of one trace under one scope: its id (`None` without a valid one)
/// and the item messages.
pub(crate) type TraceItems<'a> = (Option<TraceId>, Vec<&'a [u8]>);

/// The split `parts` with their resources and scopes made into shared
/// contexts, each charged to `pool` while it lives. No lock is needed.
pub(crate) fn scoped<'a>(
    parts: Vec<ResourcePart<'a>>,
    pool: &Arc<ContextBytes>,
) -> Vec<(Arc<ScopeCtx>, Vec<TraceItems<'a>>)> {
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

/// The framed spans of `spans`, each split into its key byte and message.
fn frames(spans: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut r = Reader::new(spans);
    // `push_span` wrote these frames: a bad length cannot occur, and would
    // end the iteration rather than read past the buffer.
    std::iter::from_fn(move || {
        let key = *r.fixed(1).ok()?.first()?;
        Some((key, r.bytes().ok()?))
    })
}

/// Bytes [`spans_with`] writes.
fn spans_with_len(spans: &[u8], extra: &[u8]) -> usize {
    if extra.is_empty() {
        return spans.len();
    }
    frames(spans)
        .map(|(_, body)| {
            1 + encoded_len_varint((body.len() + extra.len()) as u64) + body.len() + extra.len()
        })
        .sum()
}

/// Writes the framed spans of `spans`, each with `extra` appended to the
/// span message (a repeated field appended to a message's encoding adds
/// one element: here, one attribute).
fn spans_with(out: &mut Vec<u8>, spans: &[u8], extra: &[u8]) {
    if extra.is_empty() {
        out.extend_from_slice(spans);
        return;
    }
    for (key, body) in frames(spans) {
        out.push(key);
        let _ = encode_length_delimiter(body.len() + extra.len(), out);
        out.extend_from_slice(body);
        out.extend_from_slice(extra);
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

/// Bytes of `g` as a `ScopeSpans` message.
fn scope_spans_len(g: &Group, extra: &[u8]) -> usize {
    opt_field_len(g.ctx.scope.as_deref())
        + spans_with_len(&g.spans, extra)
        + str_field_len(&g.ctx.schema_url)
}

/// A group and its size as a `ScopeSpans` message.
type SizedGroup<'a> = (&'a Group, usize);

/// Encodes `groups` as one `ExportTraceServiceRequest`, grouping scopes
/// under their resource. `extra` is appended to every span (see
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
            spans_with(&mut out, &g.spans, extra);
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

fn same_resource(a: &ResourceCtx, b: &ResourceCtx) -> bool {
    a.resource == b.resource && a.schema_url == b.schema_url
}

#[cfg(test)]
mod tests;
