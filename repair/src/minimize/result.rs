//! The minimize stage's typed result: what the API shows and what localize, patch and
//! verify read (the minimized failing input and its passing neighbours).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One input the service can be probed with: the request plus the state it runs against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeInput {
    /// The request (method, path, query, headers, body).
    pub request: envelope::Inputs,
    /// Fixtures keyed by kind, as in the envelope's `state.fixtures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<BTreeMap<String, Value>>,
    /// Feature flags, as in the envelope's `environment.feature_flags`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_flags: BTreeMap<String, Value>,
}

/// How the stage ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MinimizeVerdict {
    /// A smaller input fails the same way.
    Minimized,
    /// No smaller input fails the same way: the original is already minimal.
    AlreadyMinimal,
    /// The probe or time budget ran out; `minimized` is the smallest failing input so far.
    BudgetExhausted,
    /// Not run: the failure was not reproduced.
    Skipped,
}

/// How probes were run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// Many probes in one container (the service restarted between probes unless it is
    /// declared stateless).
    Batched,
    /// One fresh container per probe.
    PerContainer,
}

/// Sizes before and after.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Reduction {
    /// Leaves of the input (JSON scalars of the body and fixtures, query values, headers)
    /// before.
    pub leaves_before: u32,
    /// Leaves after.
    pub leaves_after: u32,
    /// Bytes of the input's canonical JSON before.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
}

/// What the probes cost.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ProbeStats {
    /// Probes asked for, cached ones included.
    pub requested: u32,
    /// Probes actually run in a sandbox.
    pub executed: u32,
    /// Answered from the cache (same input hash).
    pub cached: u32,
    /// Probes that failed the same way (the oracle said yes).
    pub failing: u32,
    /// Probes that passed or failed differently.
    pub passing: u32,
    /// Probes the sandbox could not run.
    pub errors: u32,
    /// Of those, probes left unanswered (their batch timed out or its container ended
    /// before them); they are asked again when the search needs them.
    #[serde(default)]
    pub unanswered: u32,
    /// Containers started.
    pub containers: u32,
    /// Wall-clock time of the stage.
    pub elapsed_ms: u64,
}

/// An input one reduction step away from a failing one that does not fail that way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Neighbour {
    /// The input.
    pub input: ProbeInput,
    /// The step, in words (e.g. `removed body.items[0].qty`, `body.count: 3 -> 0`).
    pub change: String,
    /// HTTP status the service answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// The exception it raised instead, if any (`Type: message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_failure: Option<String>,
}

/// The stage's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MinimizeResult {
    /// How the stage ended.
    pub verdict: MinimizeVerdict,
    /// The envelope's input.
    pub original: ProbeInput,
    /// The smallest input that fails the same way (equal to `original` when nothing
    /// could be removed).
    pub minimized: ProbeInput,
    /// Sizes before and after.
    pub reduction: Reduction,
    /// How probes were run.
    pub mode: ProbeMode,
    /// What the probes cost.
    pub probes: ProbeStats,
    /// Passing inputs one step away from a failing one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passing_neighbours: Vec<Neighbour>,
    /// Why the stage did not run or stopped early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The exception message the oracle required besides type and top in-app frame:
    /// the envelope's, when the reproduction printed exactly it (so `{"items": []}`
    /// failing with `KeyError: 'customer'` does not stand in for `KeyError: 'country'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle_message: Option<String>,
}
