//! What became of a trace: an envelope, or the reason there is none, plus
//! the notes on what an envelope lacks. Each is a counter the guest adds to
//! (`tracemend_wasm_guest_counter_total{name}` in the collector's metrics).

use std::collections::BTreeSet;

/// Counter for envelopes returned.
pub(crate) const ASSEMBLED: &str = "envelope.assembled";

/// Why a trace yields no envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// No span has status `ERROR`, an `exception` event or an exception log.
    NoError,
    /// The failing span has no `SERVER` span of its service above it.
    NoServerSpan,
    /// The request span's resource has no `service.name`, or one the schema
    /// does not take.
    NoService,
    /// None of the configured commit attributes is on the resource.
    NoCommit,
    /// The commit attribute is not 7 to 40 hex digits.
    InvalidCommit,
    /// No `http.request.method` (nor `http.method`), or a method the
    /// envelope does not take (`CONNECT`, `TRACE`, `_OTHER`).
    NoMethod,
    /// No `url.path` or older spelling, or one the schema does not take.
    NoPath,
    /// Neither `exception.type`, `error.type` nor a parsable stack trace
    /// names the failure.
    NoExceptionType,
}

impl Skip {
    /// The counter this reason is counted under.
    pub(crate) fn counter(self) -> &'static str {
        match self {
            Skip::NoError => "envelope.skipped.no_error",
            Skip::NoServerSpan => "envelope.skipped.no_server_span",
            Skip::NoService => "envelope.skipped.no_service",
            Skip::NoCommit => "envelope.skipped.no_commit",
            Skip::InvalidCommit => "envelope.skipped.invalid_commit",
            Skip::NoMethod => "envelope.skipped.no_method",
            Skip::NoPath => "envelope.skipped.no_path",
            Skip::NoExceptionType => "envelope.skipped.no_exception_type",
        }
    }
}

/// Something an envelope was built without, or with less of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Note {
    /// The exception had no `exception.stacktrace`.
    NoStacktrace,
    /// The stack trace's format was not recognized: no frames.
    StacktraceUnparsed,
    /// The stack trace was read in part (truncated, garbled lines).
    StacktracePartial,
    /// More frames than `max_frames`: the innermost were kept.
    FramesCapped,
    /// More spans than `max_spans`: the critical path and the earliest others kept.
    SpansCapped,
    /// Query parameters beyond the schema's limits were dropped.
    QueryCapped,
    /// Headers beyond the schema's limits were dropped or cut.
    HeadersCapped,
    /// The body was longer than `max_body_bytes` and is carried cut, as text.
    BodyCapped,
    /// The body is carried as text (not JSON, truncated, or base64).
    BodyText,
    /// A `tracemend.fixture.<kind>` was not JSON or its kind not a valid name.
    FixtureInvalid,
    /// `tracemend.locale` or `tracemend.timezone` did not fit the schema.
    EnvironmentInvalid,
    /// More than 256 feature flags.
    FlagsCapped,
}

impl Note {
    /// The counter this note is counted under.
    pub(crate) fn counter(self) -> &'static str {
        match self {
            Note::NoStacktrace => "envelope.note.no_stacktrace",
            Note::StacktraceUnparsed => "envelope.note.stacktrace_unparsed",
            Note::StacktracePartial => "envelope.note.stacktrace_partial",
            Note::FramesCapped => "envelope.note.frames_capped",
            Note::SpansCapped => "envelope.note.spans_capped",
            Note::QueryCapped => "envelope.note.query_capped",
            Note::HeadersCapped => "envelope.note.headers_capped",
            Note::BodyCapped => "envelope.note.body_capped",
            Note::BodyText => "envelope.note.body_text",
            Note::FixtureInvalid => "envelope.note.fixture_invalid",
            Note::EnvironmentInvalid => "envelope.note.environment_invalid",
            Note::FlagsCapped => "envelope.note.flags_capped",
        }
    }
}

/// The notes of one envelope, each once.
pub(crate) type Notes = BTreeSet<Note>;

/// A trace's result.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The envelope, and what it was built without.
    Envelope {
        json: serde_json::Value,
        notes: Notes,
    },
    /// No envelope, and why; `detail` says what to fix (for the log line).
    Skipped { reason: Skip, detail: String },
}
