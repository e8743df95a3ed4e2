//! Walks over the nesting of an OTLP traces or logs export request without decoding it:
//! request -> resources -> scopes -> items (spans or log records), which share their
//! field numbers across the two signals, so one walk serves both.

use super::field::{request, resource_items, scope_items};
use super::reader::{Reader, WireError};

/// Calls `f` with the payload of every occurrence of the length-delimited field
/// `wanted` of the message `buf`, in order; other fields are checked and skipped.
/// `wanted` with another wire type is [`WireError::WrongWireType`].
#[inline]
pub fn for_each_field<'a, E: From<WireError>>(
    buf: &'a [u8],
    wanted: u32,
    mut f: impl FnMut(&'a [u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        if tag == wanted {
            f(r.message(wt)?)?;
        } else {
            r.skip(wt)?;
        }
    }
    Ok(())
}

/// The payload of the last occurrence of the length-delimited field `wanted` (the one
/// a decoder keeps for a singular field), or `None` when there is none.
#[inline]
pub fn last_field(buf: &[u8], wanted: u32) -> Result<Option<&[u8]>, WireError> {
    let mut last = None;
    for_each_field(buf, wanted, |b| {
        last = Some(b);
        Ok::<(), WireError>(())
    })?;
    Ok(last)
}

/// Calls `f` with every span or log record message of an export request, in order.
pub fn for_each_item<'a, E: From<WireError>>(
    request: &'a [u8],
    mut f: impl FnMut(&'a [u8]) -> Result<(), E>,
) -> Result<(), E> {
    for_each_field(request, request::RESOURCES, |resource| {
        for_each_field(resource, resource_items::SCOPES, |scope| {
            for_each_field(scope, scope_items::ITEMS, &mut f)
        })
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::otlp::collector::logs::v1::ExportLogsServiceRequest;
    use crate::otlp::collector::trace::v1::ExportTraceServiceRequest;
    use crate::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use crate::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(name: &str, trace: u8) -> Span {
        Span {
            name: name.into(),
            trace_id: vec![trace; 16],
            ..Default::default()
        }
    }

    #[test]
    fn walks_every_span_and_log_record_in_order() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    scope_spans: vec![
                        ScopeSpans {
                            spans: vec![span("a", 1), span("b", 2)],
                            ..Default::default()
                        },
                        ScopeSpans {
                            spans: vec![span("c", 3)],
                            schema_url: "https://s".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span("d", 4)],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let bytes = req.encode_to_vec();
        let mut names = Vec::new();
        for_each_item(&bytes, |item| {
            let s = Span::decode(item).map_err(|_| WireError::Unsupported)?;
            names.push(s.name);
            Ok::<(), WireError>(())
        })
        .expect("walks");
        assert_eq!(names, ["a", "b", "c", "d"]);

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); 3],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut n = 0;
        for_each_item(&logs.encode_to_vec(), |_| {
            n += 1;
            Ok::<(), WireError>(())
        })
        .expect("walks");
        assert_eq!(n, 3);
    }

    #[test]
    fn last_field_keeps_the_last_occurrence() {
        // trace_id (1) twice, then a name (5).
        let buf = [0x0a, 1, 7, 0x0a, 2, 8, 9, 0x2a, 1, b'x'];
        assert_eq!(last_field(&buf, 1), Ok(Some(&[8, 9][..])));
        assert_eq!(last_field(&buf, 4), Ok(None));
    }

    #[test]
    fn malformed_nesting_is_an_error_from_every_level() {
        // A resource whose scope holds an item whose length runs past the end.
        let cut = [0x0a, 4, 0x12, 2, 0x12, 9];
        // A resource given as a varint.
        let wrong = [0x08, 1];
        // A truncated varint after a good resource.
        let truncated = [0x0a, 0, 0x80];
        let walk = |b: &[u8]| for_each_item(b, |_| Ok::<(), WireError>(()));
        assert_eq!(walk(&cut), Err(WireError::PastEnd));
        assert_eq!(walk(&wrong), Err(WireError::WrongWireType));
        assert_eq!(walk(&truncated), Err(WireError::TruncatedVarint));
        assert_eq!(walk(&[]), Ok(()));
    }

    #[test]
    fn the_callers_error_stops_the_walk() {
        let bytes = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span("a", 1), span("b", 2)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec();
        let mut seen = 0;
        let got = for_each_item(&bytes, |_| {
            seen += 1;
            Err(WireError::Unsupported)
        });
        assert_eq!((got, seen), (Err(WireError::Unsupported), 1));
    }
}
