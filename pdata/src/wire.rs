//! A validating scan of OTLP trace and log requests in protobuf wire format: counts
//! items and checks ids without decoding into owned structs (no allocation per string).
//!
//! The scan is stricter than prost, never more lenient: whatever it accepts, prost
//! decodes, so a batch kept as bytes can always be decoded later. Anything it does not
//! accept (malformed input, groups, odd nesting) falls back to a full prost decode, which
//! either accepts it or produces the precise error for the client.

use crate::Signal;

mod reader;

use reader::{Fallback, I32, I64, LEN, R, Reader, VARINT};

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
    let mut out = Scan {
        items: 0,
        invalid: 0,
    };
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match (signal, tag) {
            (Signal::Traces, 1) => resource_spans(r.message(wt)?, &mut out)?,
            (Signal::Logs, 1) => resource_logs(r.message(wt)?, &mut out)?,
            (Signal::Metrics, _) => return Err(Fallback),
            _ => r.skip(wt)?,
        }
    }
    Ok(out)
}

fn resource_spans(buf: &[u8], out: &mut Scan) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => resource(r.message(wt)?)?,
            2 => scope_spans(r.message(wt)?, out)?,
            3 => {
                r.string(wt)?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn resource_logs(buf: &[u8], out: &mut Scan) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => resource(r.message(wt)?)?,
            2 => scope_logs(r.message(wt)?, out)?,
            3 => {
                r.string(wt)?;
            }
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
            1 => key_value(r.message(wt)?, 1)?,
            2 => r.scalar(wt, VARINT)?,
            3 => entity_ref(r.message(wt)?)?,
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
            1..=4 => {
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
            1 | 2 => {
                r.string(wt)?;
            }
            3 => key_value(r.message(wt)?, 1)?,
            4 => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn key_value(buf: &[u8], depth: u32) -> R<()> {
    if depth > MAX_DEPTH {
        return Err(Fallback);
    }
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.string(wt)?;
            }
            2 => any_value(r.message(wt)?, depth + 1)?,
            3 => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn any_value(buf: &[u8], depth: u32) -> R<()> {
    if depth > MAX_DEPTH {
        return Err(Fallback);
    }
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.string(wt)?;
            }
            2 | 3 | 8 => r.scalar(wt, VARINT)?,
            4 => r.scalar(wt, I64)?,
            5 | 6 => {
                // ArrayValue and KeyValueList: one repeated field 1.
                let list = r.message(wt)?;
                let mut inner = Reader::new(list);
                while !inner.done() {
                    let (t, w) = inner.key()?;
                    match (tag, t) {
                        (5, 1) => any_value(inner.message(w)?, depth + 2)?,
                        (6, 1) => key_value(inner.message(w)?, depth + 2)?,
                        _ => inner.skip(w)?,
                    }
                }
            }
            7 => r.scalar(wt, LEN)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn scope_spans(buf: &[u8], out: &mut Scan) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => scope(r.message(wt)?)?,
            2 => {
                out.items += 1;
                if !span(r.message(wt)?)? {
                    out.invalid += 1;
                }
            }
            3 => {
                r.string(wt)?;
            }
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

/// Scans a span; `Ok(false)` when its ids make it invalid.
fn span(buf: &[u8]) -> R<bool> {
    let (mut trace_id, mut span_id, mut parent) = (None, None, None);
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => trace_id = Some(r.message(wt)?),
            2 => span_id = Some(r.message(wt)?),
            4 => parent = Some(r.message(wt)?),
            3 | 5 => {
                r.string(wt)?;
            }
            6 | 10 | 12 | 14 => r.scalar(wt, VARINT)?,
            7 | 8 => r.scalar(wt, I64)?,
            16 => r.scalar(wt, I32)?,
            9 => key_value(r.message(wt)?, 1)?,
            11 => event(r.message(wt)?)?,
            13 => link(r.message(wt)?)?,
            15 => status(r.message(wt)?)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(valid_id(trace_id, 16) && valid_id(span_id, 8) && optional_id(parent, 8))
}

fn event(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => r.scalar(wt, I64)?,
            2 => {
                r.string(wt)?;
            }
            3 => key_value(r.message(wt)?, 1)?,
            4 => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn link(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 | 2 => r.scalar(wt, LEN)?,
            3 => {
                r.string(wt)?;
            }
            4 => key_value(r.message(wt)?, 1)?,
            5 => r.scalar(wt, VARINT)?,
            6 => r.scalar(wt, I32)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn status(buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            2 => {
                r.string(wt)?;
            }
            3 => r.scalar(wt, VARINT)?,
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn scope_logs(buf: &[u8], out: &mut Scan) -> R<()> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => scope(r.message(wt)?)?,
            2 => {
                out.items += 1;
                if !log_record(r.message(wt)?)? {
                    out.invalid += 1;
                }
            }
            3 => {
                r.string(wt)?;
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(())
}

fn log_record(buf: &[u8]) -> R<bool> {
    let (mut trace_id, mut span_id) = (None, None);
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 | 11 => r.scalar(wt, I64)?,
            2 | 7 => r.scalar(wt, VARINT)?,
            3 | 12 => {
                r.string(wt)?;
            }
            5 => any_value(r.message(wt)?, 1)?,
            6 => key_value(r.message(wt)?, 1)?,
            8 => r.scalar(wt, I32)?,
            9 => trace_id = Some(r.message(wt)?),
            10 => span_id = Some(r.message(wt)?),
            _ => r.skip(wt)?,
        }
    }
    Ok(optional_id(trace_id, 16) && optional_id(span_id, 8))
}

#[cfg(test)]
mod tests;
