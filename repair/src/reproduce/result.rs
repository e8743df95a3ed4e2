//! The reproduce stage's typed result: what the API shows under the stage and what later
//! stages read (the observed failure, the image, the commit).

use serde::{Deserialize, Serialize};

use crate::config::ClockMode;
use crate::sandbox::ImageInfo;
use envelope::Frame;

/// Outcome of one replay, or of the stage.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same exception type and top in-app frame as the envelope.
    Reproduced,
    /// The service ran and answered, but not with the envelope's failure.
    NotReproduced,
    /// The sandbox could not run the replay (build, start, timeout, runner).
    SandboxError,
    /// Nothing was run: the service or the commit is unknown.
    NotAttempted,
}

/// The exception seen in one run, summarized.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObservedSummary {
    /// Exception type as printed.
    pub exception_type: String,
    /// Exception message as printed.
    pub message: String,
    /// Innermost frame of the service's own code.
    pub top_in_app_frame: Option<Frame>,
}

/// One replay in one fresh container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// 1-based run number.
    pub run: u32,
    /// This run's verdict.
    pub verdict: Verdict,
    /// Wall-clock time of the container.
    pub duration_ms: u64,
    /// The runner's exit code (`None` when killed).
    pub exit_code: Option<i64>,
    /// Killed at `sandbox.timeout`.
    pub timed_out: bool,
    /// The wall clock was faked (time-machine is in the image).
    pub clock_faked: bool,
    /// Why the clock was not faked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_note: Option<String>,
    /// HTTP status of the replayed request, if it got an answer.
    pub response_status: Option<u16>,
    /// Why the replayed request got no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_error: Option<String>,
    /// The exception the service raised, if any.
    pub observed: Option<ObservedSummary>,
    /// What differs from the envelope (empty when reproduced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// Why the run is a `sandbox_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What the envelope says failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expected {
    /// The envelope's exception type.
    pub exception_type: String,
    /// The envelope's innermost in-app frame.
    pub top_in_app_frame: Option<Frame>,
}

/// The isolation every replay ran under, recorded with the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxFacts {
    /// Always `none`.
    pub network: String,
    /// The root filesystem is read-only.
    pub read_only_root: bool,
    /// The writable tmpfs.
    pub tmpfs: String,
    /// `all dropped`.
    pub capabilities: String,
    /// `no-new-privileges` is set.
    pub no_new_privileges: bool,
    /// `sandbox.timeout` in milliseconds.
    pub timeout_ms: u64,
    /// `reproduce.seed`.
    pub seed: u32,
    /// `reproduce.clock`.
    pub clock: ClockMode,
    /// The user the container runs as (`sandbox.user`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
}

/// The stage's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReproduceResult {
    /// `service.name` of the envelope.
    pub service: String,
    /// What the envelope says failed.
    pub expected: Expected,
    /// The stage's verdict.
    pub verdict: Verdict,
    /// The full SHA the image was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The service image used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// The isolation of the runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxFacts>,
    /// Every run agreed (same verdict, same observed failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
    /// One record per replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRecord>,
    /// For `not_reproduced`: what differed in the first run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// For `sandbox_error`: the cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// For `not_reproduced`: the envelope fields the replay uses that were empty (the
    /// instrumentation that may be missing), e.g. `state.fixtures`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub empty_inputs: Vec<EmptyInput>,
}

/// An envelope field the replay uses that the envelope left empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmptyInput {
    /// The field's path in the envelope (`inputs.body`, `state.fixtures`).
    pub field: String,
    /// What the replay does without it.
    pub effect: String,
}

/// The envelope fields the replay uses that are empty in `envelope`.
pub fn empty_inputs(envelope: &envelope::Envelope) -> Vec<EmptyInput> {
    let mut out = Vec::new();
    let mut push = |field: &str, effect: &str| {
        out.push(EmptyInput {
            field: field.to_string(),
            effect: effect.to_string(),
        })
    };
    let inputs = &envelope.inputs;
    let sends_body = matches!(
        inputs.method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    );
    if sends_body && inputs.body.is_none() {
        push("inputs.body", "the request was replayed without a body");
    }
    if inputs.headers.is_empty() {
        push(
            "inputs.headers",
            "the request was replayed with no headers but content-type",
        );
    }
    if inputs.query.is_empty() && inputs.route.contains('?') {
        push(
            "inputs.query",
            "the request was replayed without query parameters",
        );
    }
    if envelope
        .state
        .as_ref()
        .and_then(|s| s.fixtures.as_ref())
        .is_none_or(|f| f.is_empty())
    {
        push(
            "state.fixtures",
            "the service ran against its own seed data, not the failure's",
        );
    }
    let env = envelope.environment.as_ref();
    if env.is_none_or(|e| e.feature_flags.is_empty()) {
        push(
            "environment.feature_flags",
            "the service ran with its default flags",
        );
    }
    if env.is_none_or(|e| e.timezone.is_none()) {
        push("environment.timezone", "the service ran in UTC");
    }
    out
}

impl ReproduceResult {
    /// A result with nothing run yet.
    pub fn new(service: &str, exception: &envelope::Exception) -> Self {
        Self {
            service: service.to_string(),
            expected: Expected {
                exception_type: exception.exception_type.clone(),
                top_in_app_frame: exception.top_in_app_frame().cloned(),
            },
            verdict: Verdict::NotAttempted,
            commit: None,
            image: None,
            sandbox: None,
            stable: None,
            runs: Vec::new(),
            differences: Vec::new(),
            cause: None,
            empty_inputs: Vec::new(),
        }
    }

    /// The exception observed in the first run that reproduced the failure: what later
    /// stages (minimize's oracle, localize's crash frames) start from.
    pub fn reproduced_failure(&self) -> Option<&ObservedSummary> {
        self.runs
            .iter()
            .find(|r| r.verdict == Verdict::Reproduced)
            .and_then(|r| r.observed.as_ref())
    }
}
