//! The typed envelope. Fields mirror `config/envelope.schema.json` one to one, so a valid
//! document converts to [`Envelope`] and back without losing anything (absent optional
//! parts stay absent; empty maps are written as `{}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A validated Failure Envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Contract version; always [`crate::SCHEMA_VERSION`] once validated.
    pub schema_version: String,
    /// Unique id chosen by the sender; intake is idempotent on it.
    pub envelope_id: String,
    /// Failures this envelope stands for (itself and those the sender deduplicated since
    /// its last envelope of this fingerprint); absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u64>,
    /// Which trace, service and commit failed, and when.
    pub identity: Identity,
    /// What went wrong.
    pub symptom: Symptom,
    /// The request that failed, sensitive values already tokens.
    pub inputs: Inputs,
    /// State the request ran against (fixtures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// Flags, config, locale, time zone and runtime of the failing process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Timing of the failing request and its spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// Where and when the failure happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits: the span that recorded the exception.
    pub span_id: String,
    /// The failing service.
    pub service: Service,
    /// The commit the service ran (full or abbreviated SHA).
    pub commit: String,
    /// RFC 3339 UTC instant of the failure.
    pub timestamp: String,
}

/// The failing service, as its OpenTelemetry resource names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Service {
    /// `service.name`.
    pub name: String,
    /// `service.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `service.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The failure as observed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Symptom {
    /// The exception that was raised.
    pub exception: Exception,
    /// 16 hex digits; equal failures share it (one incident per fingerprint).
    pub fingerprint: String,
    /// HTTP status the request ended with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// An exception with its stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exception {
    /// Exception type, e.g. `KeyError` or `json.decoder.JSONDecodeError`.
    #[serde(rename = "type")]
    pub exception_type: String,
    /// The message with sensitive values replaced by tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_redacted: Option<String>,
    /// `sha256:` of the original message, to compare messages without seeing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_hash: Option<String>,
    /// Innermost first.
    pub frames: Vec<Frame>,
}

impl Exception {
    /// The innermost frame that is the service's own code: where the failure is located.
    pub fn top_in_app_frame(&self) -> Option<&Frame> {
        self.frames.iter().find(|f| f.in_app)
    }
}

/// One stack frame, as in the envelope or as parsed from a service's error output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Frame {
    /// Source file; relative to the repository root for in-app frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Function name.
    pub function: String,
    /// Module name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The service's own code (not the standard library or a dependency).
    pub in_app: bool,
}

/// The failing request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inputs {
    /// `http` today.
    pub protocol: String,
    /// HTTP method.
    pub method: String,
    /// The route template, e.g. `/orders/{id}`.
    pub route: String,
    /// The concrete path.
    pub path: String,
    /// A subset of headers, lowercase names, never credentials.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, QueryValue>,
    /// JSON body, absent when the request had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A query parameter: one value or a repeated parameter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum QueryValue {
    /// `?a=1`.
    One(String),
    /// `?a=1&a=2`.
    Many(Vec<String>),
}

/// State the failing request ran against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Small fixtures keyed by kind (`db_rows`, `cache`, `files`), de-identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<BTreeMap<String, Value>>,
}

/// The failing process's environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    /// Feature flag values (boolean, string or number).
    #[serde(default)]
    pub feature_flags: BTreeMap<String, Value>,
    /// `sha256:` of each config file, by name.
    #[serde(default)]
    pub config_hashes: BTreeMap<String, String>,
    /// e.g. `en_US.UTF-8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA zone name, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The language runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
}

/// A language runtime, e.g. `cpython` `3.11.2`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Runtime {
    /// Runtime name.
    pub name: String,
    /// Runtime version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Timing of the failing request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    /// RFC 3339 UTC start of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Duration of the request in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// The trace's spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<SpanTiming>>,
}

/// One span of the failing trace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpanTiming {
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent span, absent for the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// Span duration in milliseconds.
    pub duration_ms: f64,
    /// On the trace's critical path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_path: Option<bool>,
    /// The `service.name` of the span's resource; absent in envelopes of older
    /// assemblers, or when the edge's data contract withholds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The span ended in error (status `ERROR`, an `exception` event, or an exception
    /// log record with its span id); absent like `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
}
