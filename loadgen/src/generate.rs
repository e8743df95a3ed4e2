//! Builds OTLP export requests of a configured shape.
//!
//! Everything here runs once, before the clock starts: the sender only replays the
//! encoded results (see `pool`). So this code favours clarity over speed.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::Event, span::SpanKind, status::StatusCode,
};

use crate::ids::{IdGen, mix};

/// Which OTLP signal to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Spans (`/v1/traces`, `TraceService/Export`).
    Traces,
    /// Log records (`/v1/logs`, `LogsService/Export`).
    Logs,
}

impl Signal {
    /// The OTLP/HTTP path for this signal.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The OTLP/gRPC method path for this signal.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }
}

/// The shape of generated telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Spans sharing one trace id; for logs, records sharing one trace id.
    pub spans_per_trace: usize,
    /// Attributes on every span or log record.
    pub attributes: usize,
    /// Length in bytes of every attribute value.
    pub attribute_value_size: usize,
    /// Fraction (0..=1) of spans with error status and an `exception` event, or of log
    /// records with severity ERROR and `exception.*` attributes.
    pub error_ratio: f64,
    /// Length in bytes of every log record body.
    pub body_size: usize,
    /// Extra resource attributes (key, value), after the built-in ones: e.g. the
    /// commit (`vcs.ref.head.revision`) that envelope assembly and `symbolize` read.
    pub resource_attributes: Vec<(String, String)>,
    /// Give each trace's root (server) span the HTTP request attributes
    /// (`http.request.method`, `url.path`, `http.route`) a request span carries.
    pub http_attributes: bool,
    /// The `exception.stacktrace` of every error; `None`: a one-frame Python traceback.
    pub stacktrace: Option<String>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            spans_per_trace: 5,
            attributes: 10,
            attribute_value_size: 16,
            error_ratio: 0.0,
            body_size: 100,
            resource_attributes: Vec::new(),
            http_attributes: false,
            stacktrace: None,
        }
    }
}

/// One export request, of either signal.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportRequest {
    /// A trace export request.
    Traces(ExportTraceServiceRequest),
    /// A logs export request.
    Logs(ExportLogsServiceRequest),
}

impl ExportRequest {
    /// Spans or log records in the request.
    pub fn item_count(&self) -> usize {
        match self {
            ExportRequest::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            ExportRequest::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
        }
    }
}

/// Builds requests one after another; ids continue across requests, so a trace may
/// straddle two requests, as it does behind a real SDK's batcher.
#[derive(Debug)]
pub struct Generator {
    shape: Shape,
    ids: IdGen,
    /// Items generated so far: drives ids, errors and value variation.
    item: u64,
    trace_id: [u8; 16],
    root_span_id: [u8; 8],
    /// Position of the next item within its trace.
    in_trace: usize,
    /// Timestamps start here so the data looks recent to a backend.
    base_time_ns: u64,
}

const SPAN_NAMES: [&str; 4] = [
    "SELECT items",
    "cache.get",
    "POST /internal/price",
    "render",
];
const ROOT_NAME: &str = "GET /api/v1/items/{id}";
/// Printable characters for attribute values and bodies.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Generator {
    /// A generator with ids derived from `seed`, timestamps starting at `base_time_ns`.
    pub fn new(shape: Shape, seed: u64, base_time_ns: u64) -> Self {
        Self {
            shape,
            ids: IdGen::new(seed),
            item: 0,
            trace_id: [0; 16],
            root_span_id: [0; 8],
            in_trace: 0,
            base_time_ns,
        }
    }

    /// The next request of `signal` with `items` spans or log records.
    pub fn request(&mut self, signal: Signal, items: usize) -> ExportRequest {
        match signal {
            Signal::Traces => ExportRequest::Traces(self.traces(items)),
            Signal::Logs => ExportRequest::Logs(self.logs(items)),
        }
    }

    /// The next trace export request with `spans` spans.
    pub fn traces(&mut self, spans: usize) -> ExportTraceServiceRequest {
        let spans = (0..spans).map(|_| self.span()).collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// The next logs export request with `records` log records.
    pub fn logs(&mut self, records: usize) -> ExportLogsServiceRequest {
        let log_records = (0..records).map(|_| self.log_record()).collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn resource(&self) -> Resource {
        Resource {
            attributes: vec![
                kv("service.name", "loadgen"),
                kv(
                    "service.instance.id",
                    &format!("{:016x}", self.ids.run_id()),
                ),
                kv("telemetry.sdk.name", "tracemend-loadgen"),
            ]
            .into_iter()
            .chain(self.shape.resource_attributes.iter().map(|(k, v)| kv(k, v)))
            .collect(),
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }

    /// Advances to the next item: a new trace id every `spans_per_trace` items.
    /// Returns (item index, whether it is the trace's first item).
    fn advance(&mut self) -> (u64, bool) {
        let first = self.in_trace == 0;
        if first {
            self.trace_id = self.ids.trace_id();
        }
        self.in_trace = (self.in_trace + 1) % self.shape.spans_per_trace.max(1);
        let i = self.item;
        self.item += 1;
        (i, first)
    }

    /// Spreads errors evenly: item `i` is an error when the running count of
    /// `ratio * n` steps up at it, so any `n` consecutive items hold
    /// `round_down_or_up(ratio * n)` errors, exactly as configured over a run.
    fn is_error(&self, i: u64) -> bool {
        let r = self.shape.error_ratio;
        ((i + 1) as f64 * r).floor() > (i as f64 * r).floor()
    }

    fn span(&mut self) -> Span {
        let (i, root) = self.advance();
        let span_id = self.ids.span_id();
        let (name, kind, parent) = if root {
            self.root_span_id = span_id;
            (ROOT_NAME, SpanKind::Server, Vec::new())
        } else {
            let name = SPAN_NAMES[(i % SPAN_NAMES.len() as u64) as usize];
            (name, SpanKind::Client, self.root_span_id.to_vec())
        };
        let start = self.base_time_ns + i * 1_000_000;
        let end = start + 1_000_000 + mix(i) % 50_000_000;
        let error = self.is_error(i);
        let (status, events) = if error {
            (
                Status {
                    message: "loadgen injected error".into(),
                    code: StatusCode::Error as i32,
                },
                vec![exception_event(end, self.shape.stacktrace.as_deref())],
            )
        } else {
            (Status::default(), Vec::new())
        };
        let mut attributes = self.attributes(i);
        if root && self.shape.http_attributes {
            attributes.extend([
                kv("http.request.method", "GET"),
                kv("url.path", &format!("/api/v1/items/{}", i % 1000)),
                kv("http.route", "/api/v1/items/{id}"),
            ]);
        }
        Span {
            trace_id: self.trace_id.to_vec(),
            span_id: span_id.to_vec(),
            trace_state: String::new(),
            parent_span_id: parent,
            // Sampled, as a W3C trace flag.
            flags: 0x1,
            name: name.into(),
            kind: kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            dropped_attributes_count: 0,
            events,
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Some(status),
        }
    }

    fn log_record(&mut self) -> LogRecord {
        let (i, _) = self.advance();
        let span_id = self.ids.span_id();
        let time = self.base_time_ns + i * 1_000_000;
        let error = self.is_error(i);
        let mut attributes = self.attributes(i);
        let (severity, text) = if error {
            attributes.extend(exception_attributes(self.shape.stacktrace.as_deref()));
            (SeverityNumber::Error, "ERROR")
        } else {
            (SeverityNumber::Info, "INFO")
        };
        LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time,
            severity_number: severity as i32,
            severity_text: text.into(),
            body: Some(string_value(filler(i, u64::MAX, self.shape.body_size))),
            attributes,
            dropped_attributes_count: 0,
            flags: 0x1,
            trace_id: self.trace_id.to_vec(),
            span_id: span_id.to_vec(),
            event_name: String::new(),
        }
    }

    fn attributes(&self, i: u64) -> Vec<KeyValue> {
        (0..self.shape.attributes)
            .map(|k| KeyValue {
                key: format!("loadgen.attr.{k}"),
                value: Some(string_value(filler(
                    i,
                    k as u64,
                    self.shape.attribute_value_size,
                ))),
                key_strindex: 0,
            })
            .collect()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "tracemend-loadgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

fn exception_event(time: u64, stacktrace: Option<&str>) -> Event {
    Event {
        time_unix_nano: time,
        name: "exception".into(),
        attributes: exception_attributes(stacktrace),
        dropped_attributes_count: 0,
    }
}

/// The default `exception.stacktrace`: one frame of Python.
const STACKTRACE: &str = "Traceback (most recent call last):\n  File \"/app/shop/views.py\", line 42, in get_item\n    item_id = int(raw_id)\nValueError: invalid literal for int() with base 10: 'abc'";

fn exception_attributes(stacktrace: Option<&str>) -> Vec<KeyValue> {
    vec![
        kv("exception.type", "ValueError"),
        kv(
            "exception.message",
            "invalid literal for int() with base 10: 'abc'",
        ),
        kv("exception.stacktrace", stacktrace.unwrap_or(STACKTRACE)),
    ]
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(string_value(value.into())),
        key_strindex: 0,
    }
}

fn string_value(s: String) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s)),
    }
}

/// `len` printable bytes that vary with the item and the attribute, so values do not
/// compress or deduplicate unrealistically well.
fn filler(item: u64, salt: u64, len: usize) -> String {
    let mut state = mix(item ^ salt.rotate_left(32));
    let mut out = String::with_capacity(len);
    for n in 0..len {
        if n % 10 == 0 {
            state = mix(state);
        }
        out.push(ALPHABET[(state >> ((n % 10) * 6) & 63) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn shape() -> Shape {
        Shape {
            spans_per_trace: 4,
            attributes: 7,
            attribute_value_size: 33,
            error_ratio: 0.25,
            body_size: 77,
            ..Shape::default()
        }
    }

    #[test]
    fn spans_follow_the_shape() {
        let mut g = Generator::new(shape(), 7, 1_700_000_000_000_000_000);
        let req = g.traces(100);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 100);
        let mut per_trace: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut span_ids = HashSet::new();
        let mut errors = 0;
        for s in spans {
            assert_eq!(s.trace_id.len(), 16);
            assert_eq!(s.span_id.len(), 8);
            assert!(s.trace_id.iter().any(|&b| b != 0));
            assert!(s.span_id.iter().any(|&b| b != 0));
            assert!(span_ids.insert(s.span_id.clone()), "span ids are unique");
            *per_trace.entry(s.trace_id.clone()).or_default() += 1;
            assert_eq!(s.attributes.len(), 7);
            for a in &s.attributes {
                let Some(AnyValue {
                    value: Some(Value::StringValue(v)),
                    ..
                }) = &a.value
                else {
                    panic!("string attribute expected");
                };
                assert_eq!(v.len(), 33);
            }
            assert!(s.end_time_unix_nano > s.start_time_unix_nano);
            let is_error = s.status.as_ref().map(|st| st.code) == Some(StatusCode::Error as i32);
            if is_error {
                errors += 1;
                assert_eq!(s.events.len(), 1);
                assert_eq!(s.events[0].name, "exception");
            } else {
                assert!(s.events.is_empty());
            }
        }
        assert_eq!(per_trace.len(), 25);
        assert!(per_trace.values().all(|&n| n == 4));
        assert_eq!(errors, 25);
    }

    #[test]
    fn children_point_at_their_root() {
        let mut g = Generator::new(shape(), 7, 0);
        let req = g.traces(8);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        for trace in spans.chunks(4) {
            assert!(trace[0].parent_span_id.is_empty());
            for child in &trace[1..] {
                assert_eq!(child.trace_id, trace[0].trace_id);
                assert_eq!(child.parent_span_id, trace[0].span_id);
            }
        }
    }

    #[test]
    fn ids_stay_unique_across_requests() {
        let mut g = Generator::new(shape(), 9, 0);
        let mut traces = HashSet::new();
        let mut last_trace = Vec::new();
        for _ in 0..10 {
            let req = g.traces(6);
            for s in &req.resource_spans[0].scope_spans[0].spans {
                // A new trace id is never one seen before (traces may straddle requests).
                if s.trace_id != last_trace {
                    assert!(traces.insert(s.trace_id.clone()));
                    last_trace = s.trace_id.clone();
                }
            }
        }
        assert_eq!(traces.len(), 15);
    }

    #[test]
    fn logs_follow_the_shape() {
        let mut g = Generator::new(shape(), 3, 0);
        let req = g.logs(40);
        let records = &req.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(records.len(), 40);
        let mut errors = 0;
        for r in records {
            assert_eq!(r.trace_id.len(), 16);
            assert_eq!(r.span_id.len(), 8);
            let Some(AnyValue {
                value: Some(Value::StringValue(body)),
                ..
            }) = &r.body
            else {
                panic!("string body expected");
            };
            assert_eq!(body.len(), 77);
            if r.severity_number == SeverityNumber::Error as i32 {
                errors += 1;
                assert_eq!(r.attributes.len(), 7 + 3);
            } else {
                assert_eq!(r.attributes.len(), 7);
            }
        }
        assert_eq!(errors, 10);
    }

    #[test]
    fn zero_error_ratio_means_no_errors_and_one_means_all() {
        for (ratio, expected) in [(0.0, 0), (1.0, 50)] {
            let mut g = Generator::new(
                Shape {
                    error_ratio: ratio,
                    ..Shape::default()
                },
                1,
                0,
            );
            let req = g.traces(50);
            let errors = req.resource_spans[0].scope_spans[0]
                .spans
                .iter()
                .filter(|s| !s.events.is_empty())
                .count();
            assert_eq!(errors, expected);
        }
    }

    #[test]
    fn resource_http_and_stacktrace_options_shape_the_request() {
        let stack =
            "Traceback (most recent call last):\n  File \"/app/a.py\", line 1, in f\nKeyError: 1";
        let mut g = Generator::new(
            Shape {
                spans_per_trace: 2,
                error_ratio: 1.0,
                resource_attributes: vec![("vcs.ref.head.revision".into(), "9fceb02".into())],
                http_attributes: true,
                stacktrace: Some(stack.into()),
                ..Shape::default()
            },
            1,
            0,
        );
        let req = g.traces(4);
        let rs = &req.resource_spans[0];
        let text = |kvs: &[KeyValue], key: &str| {
            kvs.iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
        };
        let resource = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        assert_eq!(
            text(resource, "vcs.ref.head.revision").as_deref(),
            Some("9fceb02")
        );
        assert_eq!(text(resource, "service.name").as_deref(), Some("loadgen"));
        for (n, span) in rs.scope_spans[0].spans.iter().enumerate() {
            let root = n % 2 == 0;
            assert_eq!(
                text(&span.attributes, "http.request.method").is_some(),
                root,
                "{n}"
            );
            assert_eq!(
                text(&span.attributes, "http.route").as_deref(),
                root.then_some("/api/v1/items/{id}")
            );
            assert_eq!(
                text(&span.events[0].attributes, "exception.stacktrace").as_deref(),
                Some(stack)
            );
        }
        // Without the options, nothing of them.
        let plain = Generator::new(Shape::default(), 1, 0).traces(2);
        let span = &plain.resource_spans[0].scope_spans[0].spans[0];
        assert!(text(&span.attributes, "http.request.method").is_none());
    }

    #[test]
    fn item_count_counts_items() {
        let mut g = Generator::new(Shape::default(), 1, 0);
        assert_eq!(g.request(Signal::Traces, 12).item_count(), 12);
        assert_eq!(g.request(Signal::Logs, 5).item_count(), 5);
    }
}
