//! The patch stage's typed result: the candidate fixes, each with its regression test,
//! its diff and the policy gate's decision. Verify reads these.

use serde::{Deserialize, Serialize};

/// Whether a changed file is the fix or the regression test.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Application code.
    Fix,
    /// The generated regression test.
    Test,
}

/// One file a candidate writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the repository root.
    pub path: String,
    /// Fix or test.
    pub kind: ChangeKind,
    /// The file did not exist before.
    pub new_file: bool,
    /// The whole file after the change.
    pub content: String,
    /// Unified diff against the commit (`a/<path>`, `b/<path>`).
    pub diff: String,
    /// Lines added.
    pub added: u32,
    /// Lines removed.
    pub removed: u32,
}

/// The policy gate's decision on a candidate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyDecision {
    /// No rule denied it.
    pub allowed: bool,
    /// Each denying rule's message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<String>,
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A crash-class template.
    Template,
    /// The model-based patcher.
    Model,
}

/// One proposed fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Candidate {
    /// 1-based, in the order verify tries them.
    pub id: u32,
    /// Template or model.
    pub origin: Origin,
    /// The template's name (or `model`).
    pub template: String,
    /// The hypothesis it acts on (its rank), when it acts on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis_rank: Option<u32>,
    /// What the fix does.
    pub description: String,
    /// What holds after it (the fix commit's `INVARIANT:` line).
    pub invariant: String,
    /// The application change.
    pub fix: FileChange,
    /// The regression test it adds.
    pub test: FileChange,
    /// The policy gate's decision.
    pub policy: PolicyDecision,
}

/// The test framework the repository uses, from its `test_command`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TestFramework {
    /// `pytest`.
    Pytest,
    /// `unittest`.
    Unittest,
}

/// The stage's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PatchResult {
    /// The commit the candidates apply to.
    pub commit: String,
    /// The repository's test framework.
    pub test_framework: TestFramework,
    /// The candidates, in the order verify tries them.
    pub candidates: Vec<Candidate>,
    /// Suspects no template applied to, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_patched: Vec<String>,
    /// The model patcher's use, when it is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelUse>,
}

/// What the model patcher was asked and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelUse {
    /// The model.
    pub model: String,
    /// The endpoint.
    pub endpoint: String,
    /// Envelope fields shown to it (empty when nothing was sent).
    pub fields_shown: Vec<String>,
    /// Tokens it reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// What came of it (the candidate's file, or why there was none).
    pub outcome: String,
}

impl PatchResult {
    /// Candidates the policy allowed, in order.
    pub fn allowed(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.policy.allowed)
    }
}
