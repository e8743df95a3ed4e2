//! The trace the assembler works on: spans, their events and the log records
//! of one trace, each with its resource's attributes, borrowed from the
//! host's batches. A plain model (not the SDK's views) so that the assembly
//! is a pure function that native tests drive with literal traces.

use tracemend_sdk::{Batch, Row, Value};

/// An attribute value, as far as an envelope can use it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr<'a> {
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// An array (semantic conventions' `string[]` headers).
    List(Vec<Attr<'a>>),
    /// Bytes, maps and empty values: nothing an envelope field takes.
    Other,
}

impl<'a> Attr<'a> {
    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer, or a string holding one.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Attr::Int(i) => Some(*i),
            Attr::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean, or the strings `true`/`false`.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            Attr::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Attributes in the order they came; the first of a repeated key wins.
pub(crate) type Attrs<'a> = Vec<(&'a str, Attr<'a>)>;

/// The value of `key` in `attrs`.
pub(crate) fn get<'b, 'a>(attrs: &'b Attrs<'a>, key: &str) -> Option<&'b Attr<'a>> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// A non-empty string attribute.
pub(crate) fn text<'a>(attrs: &Attrs<'a>, key: &str) -> Option<&'a str> {
    get(attrs, key)
        .and_then(Attr::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `SpanKind::SERVER` (protobuf number).
pub(crate) const KIND_SERVER: u32 = 2;

/// One span event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Event<'a> {
    pub(crate) name: &'a str,
    pub(crate) time: u64,
    pub(crate) attrs: Attrs<'a>,
}

/// One span.
#[derive(Debug, Clone, Default)]
pub(crate) struct Span<'a> {
    pub(crate) trace_id: &'a [u8],
    pub(crate) span_id: &'a [u8],
    pub(crate) parent_span_id: &'a [u8],
    pub(crate) name: &'a str,
    /// `SpanKind` protobuf number.
    pub(crate) kind: u32,
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Status code `ERROR`.
    pub(crate) error: bool,
    pub(crate) attrs: Attrs<'a>,
    pub(crate) events: Vec<Event<'a>>,
    /// Index into [`Trace::resources`].
    pub(crate) resource: usize,
}

/// One log record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log<'a> {
    pub(crate) span_id: &'a [u8],
    /// The record's time, else its observed time.
    pub(crate) time: u64,
    /// The record's event name (`event_name`, else the `event.name` attribute).
    pub(crate) event_name: &'a str,
    pub(crate) attrs: Attrs<'a>,
}

/// One trace and its logs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace<'a> {
    /// Resource attributes, one entry per resource of the trace batch.
    pub(crate) resources: Vec<Attrs<'a>>,
    pub(crate) spans: Vec<Span<'a>>,
    pub(crate) logs: Vec<Log<'a>>,
}

impl<'a> Trace<'a> {
    /// The resource attributes of resource `index` (empty when out of range).
    pub(crate) fn resource(&self, index: usize) -> &Attrs<'a> {
        static EMPTY: Attrs<'static> = Vec::new();
        self.resources.get(index).unwrap_or(&EMPTY)
    }

    /// The span with this id.
    pub(crate) fn span(&self, span_id: &[u8]) -> Option<&Span<'a>> {
        if span_id.is_empty() {
            return None;
        }
        self.spans.iter().find(|s| s.span_id == span_id)
    }

    /// Reads the host's trace and log batches.
    pub(crate) fn from_batches(trace: Batch<'a>, logs: Batch<'a>) -> Trace<'a> {
        let resources: Vec<Attrs<'a>> = trace.resources().map(|r| attrs(r.attributes())).collect();
        let spans = trace
            .spans()
            .map(|s| Span {
                trace_id: s.trace_id(),
                span_id: s.span_id(),
                parent_span_id: s.parent_span_id(),
                name: s.name(),
                kind: s.kind(),
                start: s.start_time_unix_nano(),
                end: s.end_time_unix_nano(),
                error: s.is_error(),
                attrs: attrs(s.attributes()),
                events: s
                    .events()
                    .map(|e| Event {
                        name: e.name(),
                        time: e.time_unix_nano(),
                        attrs: attrs(e.attributes()),
                    })
                    .collect(),
                resource: s.resource().index() as usize,
            })
            .collect();
        let logs = logs
            .logs()
            .map(|l| {
                let attrs = attrs(l.attributes());
                let event_name = match l.event_name() {
                    "" => text(&attrs, "event.name").unwrap_or(""),
                    name => name,
                };
                let time = match l.time_unix_nano() {
                    0 => l.observed_time_unix_nano(),
                    t => t,
                };
                Log {
                    span_id: l.span_id(),
                    time,
                    event_name,
                    attrs,
                }
            })
            .collect();
        Trace {
            resources,
            spans,
            logs,
        }
    }
}

fn attrs<'a>(it: impl Iterator<Item = (&'a str, Value<'a>)>) -> Attrs<'a> {
    it.map(|(k, v)| (k, attr(v))).collect()
}

fn attr(v: Value<'_>) -> Attr<'_> {
    match v {
        Value::String(s) => Attr::Str(s),
        Value::Bool(b) => Attr::Bool(b),
        Value::Int(i) => Attr::Int(i),
        Value::Double(d) => Attr::Double(d),
        Value::Array(a) => Attr::List(a.iter().map(attr).collect()),
        Value::Empty | Value::Bytes(_) | Value::KvList(_) => Attr::Other,
    }
}
