//! The verify stage's typed result: every candidate's outcome, the winner's branch and
//! its risk.

use serde::{Deserialize, Serialize};

/// How the stage ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyVerdict {
    /// A candidate passed every check and is on the branch.
    Fixed,
    /// No candidate passed every check (each one's outcome says why).
    NoFix,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Check {
    /// Which check (`placebo`, `regression_test`, `test_command`, `original_request`,
    /// `differential`).
    pub name: String,
    /// It passed.
    pub passed: bool,
    /// What was seen, in words.
    pub detail: String,
    /// Wall-clock time of the check's sandbox runs.
    pub duration_ms: u64,
}

/// A candidate's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum CandidateOutcome {
    /// Refused by the policy gate before verification.
    PolicyRefused {
        /// The policy's messages.
        denials: Vec<String>,
    },
    /// A check failed (the last check in `checks`).
    Failed {
        /// The checks run, in order.
        checks: Vec<Check>,
    },
    /// Every check passed.
    Verified {
        /// The checks run, in order.
        checks: Vec<Check>,
    },
    /// Not tried: an earlier candidate won.
    NotTried,
}

/// One candidate's line in the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CandidateReport {
    /// The candidate's id (patch stage).
    pub id: u32,
    /// Its template.
    pub template: String,
    /// Its file.
    pub file: String,
    /// What happened to it.
    #[serde(flatten)]
    pub outcome: CandidateOutcome,
}

/// Inputs the differential check compared.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DifferentialSummary {
    /// Inputs sent to both versions.
    pub inputs: u32,
    /// Of them, passing neighbours from minimization.
    pub neighbours: u32,
    /// Of them, generated variants of the failing input.
    pub variants: u32,
    /// Inputs the original answered without a 5xx.
    pub original_ok: u32,
    /// Inputs the original failed on that the fix answers without a 5xx.
    pub fixed: u32,
    /// Inputs the original answered without a 5xx where the fix answers 5xx or fails
    /// to answer (a new exception).
    pub new_failures: u32,
    /// Inputs both versions fail on (another fault the fix does not address).
    pub still_failing: u32,
    /// Inputs the original answered without a 5xx that the fix answers differently.
    pub changed: u32,
    /// Up to five examples of what differed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// One part of the risk score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RiskPart {
    /// `lines_changed`, `callers`, `coverage`.
    pub name: String,
    /// The raw measure (lines, call sites, fraction covered), when measured.
    pub value: Option<f64>,
    /// Its contribution to the score, in `[0, weight]`.
    pub contribution: f64,
    /// Its weight.
    pub weight: f64,
    /// What it rests on.
    pub detail: String,
}

/// The winner's risk: a score in `[0, 1]` (higher is riskier) and its parts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Risk {
    /// The sum of the parts' contributions.
    pub score: f64,
    /// The parts.
    pub parts: Vec<RiskPart>,
}

/// The branch with the verified fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BranchInfo {
    /// `tracemend/incident-<id>`.
    pub name: String,
    /// The repository it is in.
    pub repository: String,
    /// The commit the branch starts from.
    pub base: String,
    /// The commit adding the failing test.
    pub test_commit: String,
    /// The commit with the fix (the branch's head).
    pub fix_commit: String,
    /// Where it was pushed, when `push` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_to: Option<String>,
}

/// The stage's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyResult {
    /// Fixed or no fix.
    pub verdict: VerifyVerdict,
    /// The winning candidate's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<u32>,
    /// Every candidate's outcome, in order.
    pub candidates: Vec<CandidateReport>,
    /// The placebo check: the regression test on the original commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placebo: Option<Check>,
    /// The winner's differential check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differential: Option<DifferentialSummary>,
    /// The winner's risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// The branch with the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<BranchInfo>,
}
