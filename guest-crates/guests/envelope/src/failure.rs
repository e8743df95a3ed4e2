//! Which span failed, with which exception, and which span is the request
//! (docs/envelopes.md, "Which span fails, and where the inputs come from").

use crate::model::{Attrs, KIND_SERVER, Span, Trace, text};

/// The span event name of an exception (OpenTelemetry semantic conventions).
pub(crate) const EXCEPTION_EVENT: &str = "exception";
/// Attributes of an exception event or log record.
pub(crate) const EXCEPTION_TYPE: &str = "exception.type";
pub(crate) const EXCEPTION_MESSAGE: &str = "exception.message";
pub(crate) const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
/// The span attribute naming the error class when no exception was recorded.
pub(crate) const ERROR_TYPE: &str = "error.type";

/// One recorded exception: an `exception` span event or an exception log
/// record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded<'a> {
    pub(crate) ty: Option<&'a str>,
    pub(crate) message: Option<&'a str>,
    pub(crate) stacktrace: Option<&'a str>,
    /// Unix nanoseconds (0 when the record had none).
    pub(crate) time: u64,
}

impl<'a> Recorded<'a> {
    fn from_attrs(attrs: &Attrs<'a>, time: u64) -> Recorded<'a> {
        Recorded {
            ty: text(attrs, EXCEPTION_TYPE),
            message: crate::model::get(attrs, EXCEPTION_MESSAGE).and_then(|v| v.as_str()),
            stacktrace: text(attrs, EXCEPTION_STACKTRACE),
            time,
        }
    }
}

/// The trace's failure.
#[derive(Debug)]
pub(crate) struct Failure<'t, 'a> {
    /// The failing span.
    pub(crate) span: &'t Span<'a>,
    /// Its exception, when one was recorded.
    pub(crate) exception: Option<Recorded<'a>>,
}

/// Finds the failure: the span whose exception (event, or log record with
/// `exception.type` and the span's id) has the earliest timestamp, else the
/// first span with status `ERROR`. `None` for a trace without an error.
pub(crate) fn find<'t, 'a>(trace: &'t Trace<'a>) -> Option<Failure<'t, 'a>> {
    let mut best: Option<Failure<'t, 'a>> = None;
    let mut consider = |span: &'t Span<'a>, rec: Recorded<'a>| {
        let earlier = best
            .as_ref()
            .and_then(|b| b.exception)
            .is_none_or(|b| rec.time < b.time);
        if earlier {
            best = Some(Failure {
                span,
                exception: Some(rec),
            });
        }
    };
    for span in &trace.spans {
        for e in span.events.iter().filter(|e| e.name == EXCEPTION_EVENT) {
            consider(span, Recorded::from_attrs(&e.attrs, e.time));
        }
    }
    for log in &trace.logs {
        if text(&log.attrs, EXCEPTION_TYPE).is_none() {
            continue;
        }
        // A record with only the trace id (a logger outside any span) is
        // the request's: the trace's entry span.
        if let Some(span) = trace.span(log.span_id).or_else(|| entry_span(trace)) {
            consider(span, Recorded::from_attrs(&log.attrs, log.time));
        }
    }
    best.or_else(|| {
        trace.spans.iter().find(|s| s.error).map(|span| Failure {
            span,
            exception: None,
        })
    })
}

/// The span a trace entered the system by: the first server span whose
/// parent is not in the trace, else the first span without one.
fn entry_span<'t, 'a>(trace: &'t Trace<'a>) -> Option<&'t Span<'a>> {
    let is_root = |s: &&Span<'a>| trace.span(s.parent_span_id).is_none();
    trace
        .spans
        .iter()
        .filter(is_root)
        .find(|s| s.kind == KIND_SERVER)
        .or_else(|| trace.spans.iter().find(is_root))
}

/// The request span of `failing`: itself when it is a server span, else its
/// nearest server ancestor of the same `service.name`.
pub(crate) fn request_span<'t, 'a>(
    trace: &'t Trace<'a>,
    failing: &'t Span<'a>,
) -> Option<&'t Span<'a>> {
    let service = |s: &Span<'a>| text(trace.resource(s.resource), "service.name");
    let want = service(failing);
    let mut current = Some(failing);
    // Bounded by the span count: a cycle of parent ids cannot loop forever.
    for _ in 0..=trace.spans.len() {
        let s = current?;
        if s.kind == KIND_SERVER && service(s) == want {
            return Some(s);
        }
        current = trace.span(s.parent_span_id);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attr, Event, Log};

    fn span(id: u8, parent: Option<u8>, kind: u32) -> Span<'static> {
        let ids: &'static [u8] = Box::leak(vec![id; 8].into_boxed_slice());
        let parent: &'static [u8] = match parent {
            Some(p) => Box::leak(vec![p; 8].into_boxed_slice()),
            None => &[],
        };
        Span {
            trace_id: &[1; 16],
            span_id: ids,
            parent_span_id: parent,
            name: "s",
            kind,
            ..Span::default()
        }
    }

    fn exception(ty: &'static str, time: u64) -> Event<'static> {
        Event {
            name: EXCEPTION_EVENT,
            time,
            attrs: vec![(EXCEPTION_TYPE, Attr::Str(ty))],
        }
    }

    #[test]
    fn earliest_exception_wins_over_status() {
        let mut root = span(1, None, KIND_SERVER);
        root.error = true;
        root.events.push(exception("Outer", 20));
        let mut child = span(2, Some(1), 1);
        child.events.push(exception("Inner", 10));
        let trace = Trace {
            spans: vec![root, child],
            ..Trace::default()
        };
        let f = find(&trace).unwrap_or_else(|| panic!("a failure"));
        assert_eq!(f.span.span_id, [2; 8]);
        assert_eq!(f.exception.and_then(|e| e.ty), Some("Inner"));
        let req = request_span(&trace, f.span).map(|s| s.span_id);
        assert_eq!(req, Some(&[1u8; 8][..]));
    }

    #[test]
    fn exception_log_records_count() {
        let trace = Trace {
            spans: vec![span(1, None, KIND_SERVER)],
            logs: vec![Log {
                span_id: &[1; 8],
                time: 5,
                attrs: vec![(EXCEPTION_TYPE, Attr::Str("KeyError"))],
                ..Log::default()
            }],
            ..Trace::default()
        };
        let f = find(&trace).unwrap_or_else(|| panic!("a failure"));
        assert_eq!(f.exception.and_then(|e| e.ty), Some("KeyError"));
    }

    #[test]
    fn exception_logs_outside_any_span_belong_to_the_entry_span() {
        let trace = Trace {
            spans: vec![span(2, Some(1), 1), span(1, Some(9), KIND_SERVER)],
            logs: vec![Log {
                span_id: &[],
                time: 5,
                attrs: vec![(EXCEPTION_TYPE, Attr::Str("KeyError"))],
                ..Log::default()
            }],
            ..Trace::default()
        };
        let f = find(&trace).unwrap_or_else(|| panic!("a failure"));
        assert_eq!(f.span.span_id, [1; 8]);
    }

    #[test]
    fn no_error_no_failure_and_status_only() {
        let trace = Trace {
            spans: vec![span(1, None, KIND_SERVER)],
            ..Trace::default()
        };
        assert!(find(&trace).is_none());
        let mut s = span(1, None, KIND_SERVER);
        s.error = true;
        let trace = Trace {
            spans: vec![s],
            ..Trace::default()
        };
        let f = find(&trace).unwrap_or_else(|| panic!("a failure"));
        assert!(f.exception.is_none());
    }

    #[test]
    fn parent_cycles_end() {
        // 2 -> 3 -> 2: neither is a server span; the walk stops.
        let a = span(2, Some(3), 1);
        let b = span(3, Some(2), 1);
        let trace = Trace {
            spans: vec![a, b],
            ..Trace::default()
        };
        assert!(request_span(&trace, &trace.spans[0]).is_none());
    }
}
