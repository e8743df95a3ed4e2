//! A validating scan of OTLP trace and log requests in protobuf wire format: counts
//! items and checks ids without decoding into owned structs (no allocation per string).
//!
//! The scan is stricter than prost, never more lenient: whatever it accepts, prost
//! decodes, so a batch kept as bytes can always be decoded later. Anything it does not
//! accept (malformed input, groups, odd nesting) falls back to a full prost decode, which
//! either accepts it or produces the precise error for the client.

use super::field::{
    any_value as av, entity_ref as er, event as ev, key_value as kv, link as ln, log_record as lr,
    request, resource as res, resource_items as ri, scope as sc, scope_items as si, span as sp,
    status as st,
};
use super::index::{EXCEPTION_EVENT, EXCEPTION_TYPE, STATUS_CODE_ERROR, Sink};
use super::reader::{I32, I64, LEN, Reader, VARINT, WireError, WireResult as R};
use crate::Signal;

/// What a successful scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    pub items: usize,
    /// Items with ids the OTLP spec says can never be valid.
    pub invalid: usize,
}

/// Below prost's recursion limit (100), so deep nesting is prost's to judge. Depth
/// counts messages as prost does: a list value (`ArrayValue`, `KeyValueList`) and its
/// element are two levels.
const MAX_DEPTH: u32 = 64;

/// Scans a trace or log export request. Metrics always take the prost path.
pub(crate) fn scan(signal: Signal, buf: &[u8]) -> R<Scan> {
    scan_into(signal, buf, &mut ())
}

/// [`scan`], telling `sink` where each resource, scope and item lies and what each
/// item's trace id and error markers are (the side index, [`super::index`]). With
/// `()` as the sink this is [`scan`]: nothing is recorded.
#[inline]
pub(crate) fn scan_into<S: Sink>(signal: Signal, buf: &[u8], sink: &mut S) -> R<Scan> {
    let mut out = Scan {
        items: 0,
        invalid: 0,
    };
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match (signal, tag) {
            (Signal::Traces, request::RESOURCES) => {
                resource_items(r.message(wt)?, &mut out, sink, span)?
            }
            (Signal::Logs, request::RESOURCES) => {
                resource_items(r.message(wt)?, &mut out, sink, log_record)?
            }
            (Signal::Metrics, _) => return Err(WireError::Unsupported),
            _ => r.skip(wt)?,
        }
    }
    Ok(out)
}

/// What the scan reads of one item for the index.
#[derive(Debug, Clone, Copy)]
struct ItemRead<'a> {
    /// Its ids are valid.
    valid: bool,
    /// Its `trace_id` (the last one given).
    trace_id: Option<&'a [u8]>,
    /// It shows an error ([`super::index`]'s markers).
    error: bool,
}

/// A `ResourceSpans` or `ResourceLogs`; `item` scans a span or a log record.
#[inline]
fn resource_items<S: Sink>(
    buf: &[u8],
    out: &mut Scan,
    sink: &mut S,
    item: impl Fn(&[u8]) -> R<ItemRead<'_>> + Copy,
) -> R<()> {
    sink.resource();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            ri::RESOURCE => {
                let msg = r.message(wt)?;
                resource(msg)?;
                sink.resource_message(msg);
            }
            ri::SCOPES => scope_items(r.message(wt)?, out, sink, item)?,
            ri::SCHEMA_URL => sink.resource_schema(r.string(wt)?),
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

/// A `ScopeSpans` or `ScopeLogs`.
#[inline]
fn scope_items<S: Sink>(
    buf: &[u8],
    out: &mut Scan,
    sink: &mut S,
    item: impl Fn(&[u8]) -> R<ItemRead<'_>>,
) -> R<()> {
    sink.scope();
    let mut r = Reader::new(buf);
    while !r.done() {
        let start = r.pos();
        let (tag, wt) = r.key()?;
        match tag {
            si::SCOPE => {
                let msg = r.message(wt)?;
                scope(msg)?;
                sink.scope_message(msg);
            }
            si::ITEMS => {
                out.items += 1;
                let read = item(r.message(wt)?)?;
                if !read.valid {
                    out.invalid += 1;
                }
                // `start..pos` lies in `buf`: the reader just read it.
                if let Some(framed) = buf.get(start..r.pos()) {
                    sink.item(framed, read.trace_id, read.error);
                }
            }
            si::SCHEMA_URL => sink.scope_schema(r.string(wt)?),
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn resource(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            res::ATTRIBUTES => {
                key_value(r.message(wt)?, 1)?;
            }
            res::DROPPED_ATTRIBUTES_COUNT => r.scalar(wt, VARINT)?,
            res::ENTITY_REFS => entity_ref(r.message(wt)?)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn entity_ref(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            er::SCHEMA_URL | er::TYPE | er::ID_KEYS | er::DESCRIPTION_KEYS => {
                r.string(wt)?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn scope(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            sc::NAME | sc::VERSION => {
                r.string(wt)?;
            }
            sc::ATTRIBUTES => {
                key_value(r.message(wt)?, 1)?;
            }
            sc::DROPPED_ATTRIBUTES_COUNT => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

/// Checks a `KeyValue`; its key as prost decodes it (the last one given).
fn key_value(buf: &[u8], depth: u32) -> R<&[u8]> {
    if depth > MAX_DEPTH {
        return Err(WireError::Unsupported);
    }
    let mut key: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            kv::KEY => key = r.string(wt)?,
            kv::VALUE => any_value(r.message(wt)?, depth + 1)?,
            kv::KEY_STRINDEX => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(key)
}

fn any_value(buf: &[u8], depth: u32) -> R<()> {
    if depth > MAX_DEPTH {
        return Err(WireError::Unsupported);
    }
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            av::STRING => {
                r.string(wt)?;
            }
            av::BOOL | av::INT | av::STRING_STRINDEX => r.scalar(wt, VARINT)?,
            av::DOUBLE => r.scalar(wt, I64)?,
            av::ARRAY | av::KVLIST => {
                // ArrayValue and KeyValueList: one repeated field 1.
                let list = r.message(wt)?;
                let mut inner = Reader::new(list);
                while !inner.done() {
                    let (t, w) = inner.key()?;
                    match (tag, t) {
                        (av::ARRAY, av::LIST_VALUES) => any_value(inner.message(w)?, depth + 2)?,
                        (av::KVLIST, av::LIST_VALUES) => {
                            key_value(inner.message(w)?, depth + 2)?;
                        }
                        _ => inner.skip(w)?,
                    }
                }
            }
            av::BYTES => r.scalar(wt, LEN)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn valid_id(id: Option<&[u8]>, len: usize) -> bool {
    id.is_some_and(|id| id.len() == len && id.iter().any(|b| *b != 0))
}

fn optional_id(id: Option<&[u8]>, len: usize) -> bool {
    id.is_none_or(|id| id.is_empty() || id.len() == len)
}

/// Checks one encoded `Span` as the validating scan checks each span of a
/// request, and in the same pass whether `attribute` holds for the key of
/// one of its attributes or `event` for the name of one of its events (each
/// as prost decodes it). `Err` where the scan refuses the request, else
/// (ids valid, one held). For readers that take a request apart themselves:
/// the WASM view builder tests a guest's rows of interest so, on bytes it
/// must check anyway, in one walk.
#[inline]
pub fn check_span_matching(
    buf: &[u8],
    attribute: impl Fn(&[u8]) -> bool,
    event: impl Fn(&[u8]) -> bool,
) -> R<(bool, bool)> {
    span_fields(buf, attribute, event).map(|(read, matched)| (read.valid, matched))
}

/// [`check_span_matching`], with what the index reads of the span.
#[inline]
fn span_fields<'a>(
    buf: &'a [u8],
    attribute: impl Fn(&[u8]) -> bool,
    event: impl Fn(&[u8]) -> bool,
) -> R<(ItemRead<'a>, bool)> {
    let (mut trace_id, mut span_id, mut parent) = (None, None, None);
    let mut matched = false;
    // The status code as prost merges repeated `status` fields: the last one given.
    let mut code = None;
    let mut exception = false;
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            sp::TRACE_ID => trace_id = Some(r.message(wt)?),
            sp::SPAN_ID => span_id = Some(r.message(wt)?),
            sp::PARENT_SPAN_ID => parent = Some(r.message(wt)?),
            sp::TRACE_STATE | sp::NAME => {
                r.string(wt)?;
            }
            sp::KIND
            | sp::DROPPED_ATTRIBUTES_COUNT
            | sp::DROPPED_EVENTS_COUNT
            | sp::DROPPED_LINKS_COUNT => r.scalar(wt, VARINT)?,
            sp::START_TIME | sp::END_TIME => r.scalar(wt, I64)?,
            sp::FLAGS => r.scalar(wt, I32)?,
            sp::ATTRIBUTES => {
                let key = key_value(r.message(wt)?, 1)?;
                matched = matched || attribute(key);
            }
            sp::EVENTS => {
                let name = event_fields(r.message(wt)?)?;
                exception = exception || name == EXCEPTION_EVENT;
                matched = matched || event(name);
            }
            sp::LINKS => link(r.message(wt)?)?,
            sp::STATUS => {
                if let Some(c) = status(r.message(wt)?)? {
                    code = Some(c);
                }
            }
            _ => r.skip(wt)?,
        }
    }
    let valid = valid_id(trace_id, 16) && valid_id(span_id, 8) && optional_id(parent, 8);
    let error = exception || code == Some(STATUS_CODE_ERROR);
    Ok((
        ItemRead {
            valid,
            trace_id,
            error,
        },
        matched,
    ))
}

/// As [`check_span_matching`], for one encoded `LogRecord`: whether
/// `attribute` holds for one of its attribute keys or `event_name` for its
/// `event_name`.
#[inline]
pub fn check_log_record_matching(
    buf: &[u8],
    attribute: impl Fn(&[u8]) -> bool,
    event_name: impl Fn(&[u8]) -> bool,
) -> R<(bool, bool)> {
    log_record_fields(buf, attribute, event_name).map(|(read, matched)| (read.valid, matched))
}

/// [`check_log_record_matching`], with what the index reads of the record.
#[inline]
fn log_record_fields<'a>(
    buf: &'a [u8],
    attribute: impl Fn(&[u8]) -> bool,
    event_name: impl Fn(&[u8]) -> bool,
) -> R<(ItemRead<'a>, bool)> {
    let (mut trace_id, mut span_id) = (None, None);
    let mut matched = false;
    let mut exception = false;
    let mut name: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            lr::TIME | lr::OBSERVED_TIME => r.scalar(wt, I64)?,
            lr::SEVERITY_NUMBER | lr::DROPPED_ATTRIBUTES_COUNT => r.scalar(wt, VARINT)?,
            lr::SEVERITY_TEXT => {
                r.string(wt)?;
            }
            lr::EVENT_NAME => name = r.string(wt)?,
            lr::BODY => any_value(r.message(wt)?, 1)?,
            lr::ATTRIBUTES => {
                let key = key_value(r.message(wt)?, 1)?;
                exception = exception || key == EXCEPTION_TYPE;
                matched = matched || attribute(key);
            }
            lr::FLAGS => r.scalar(wt, I32)?,
            lr::TRACE_ID => trace_id = Some(r.message(wt)?),
            lr::SPAN_ID => span_id = Some(r.message(wt)?),
            _ => r.skip(wt)?,
        }
    }
    let valid = optional_id(trace_id, 16) && optional_id(span_id, 8);
    Ok((
        ItemRead {
            valid,
            trace_id,
            error: exception,
        },
        matched || event_name(name),
    ))
}

/// Scans a span; `valid` is false when its ids make it invalid.
fn span(buf: &[u8]) -> R<ItemRead<'_>> {
    span_fields(buf, |_| false, |_| false).map(|(read, _)| read)
}

/// Checks an `Event`; its name as prost decodes it (the last one given).
fn event_fields(buf: &[u8]) -> R<&[u8]> {
    let mut name: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            ev::TIME => r.scalar(wt, I64)?,
            ev::NAME => name = r.string(wt)?,
            ev::ATTRIBUTES => {
                key_value(r.message(wt)?, 1)?;
            }
            ev::DROPPED_ATTRIBUTES_COUNT => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(name)
}

fn link(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            ln::TRACE_ID | ln::SPAN_ID => r.scalar(wt, LEN)?,
            ln::TRACE_STATE => {
                r.string(wt)?;
            }
            ln::ATTRIBUTES => {
                key_value(r.message(wt)?, 1)?;
            }
            ln::DROPPED_ATTRIBUTES_COUNT => r.scalar(wt, VARINT)?,
            ln::FLAGS => r.scalar(wt, I32)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

/// Checks a `Status`; its code as prost decodes it (the last one given), if any.
fn status(buf: &[u8]) -> R<Option<u64>> {
    let mut code = None;
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            st::MESSAGE => {
                r.string(wt)?;
            }
            st::CODE => code = Some(r.varint_field(wt)?),
            _ => r.skip(wt)?,
        }
    }
    Ok(code)
}

fn log_record(buf: &[u8]) -> R<ItemRead<'_>> {
    log_record_fields(buf, |_| false, |_| false).map(|(read, _)| read)
}

#[cfg(test)]
mod tests;
