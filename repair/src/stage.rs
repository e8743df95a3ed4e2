//! The stage interface. A job runs its stages in order; each stage reads the envelope and
//! the typed results of the stages before it, and ends in one [`StageOutcome`] or a
//! [`StageError`]. Each stage declares the [`Dependency`]s it needs; the pipeline checks
//! them before the stage runs and parks the job while one is down. Stage results are
//! stored (as JSON, read back into their types), so a restarted job skips completed
//! stages. Reproduction is the first stage; minimize, localize, patch and verify come next,
//! each adding its result type to [`StageResult`].

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use envelope::Envelope;
use serde::Serialize;

use crate::dependency::Dependency;
use crate::localize::LocalizeResult;
use crate::minimize::MinimizeResult;
use crate::patch::PatchResult;
use crate::reproduce::ReproduceResult;
use crate::verify::VerifyResult;

/// One stage's result: one variant, and one type, per stage. Serialized without a tag
/// (the stage's name says which it is), so the API shows the stage's own fields.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum StageResult {
    /// Stage `reproduce` (boxed: results differ much in size).
    Reproduce(Box<ReproduceResult>),
    /// Stage `minimize`.
    Minimize(Box<MinimizeResult>),
    /// Stage `localize`.
    Localize(Box<LocalizeResult>),
    /// Stage `patch`.
    Patch(Box<PatchResult>),
    /// Stage `verify`.
    Verify(Box<VerifyResult>),
    /// A result used by the pipeline's own tests, for stages that are not real ones.
    #[cfg(test)]
    Test(tests_support::TestResult),
}

/// A stored result that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StageResultError {
    /// No stage of this name is known to this engine.
    #[error("no stage named {0:?} is known")]
    UnknownStage(String),
    /// The stored JSON does not fit the stage's result type.
    #[error("the stored result of stage {stage} does not fit its type: {source}")]
    Corrupt {
        /// The stage.
        stage: String,
        /// Why it does not fit.
        #[source]
        source: serde_json::Error,
    },
}

impl StageResult {
    /// The stage this result belongs to.
    pub fn stage(&self) -> &str {
        match self {
            StageResult::Reproduce(_) => crate::reproduce::STAGE,
            StageResult::Minimize(_) => crate::minimize::STAGE,
            StageResult::Localize(_) => crate::localize::STAGE,
            StageResult::Patch(_) => crate::patch::STAGE,
            StageResult::Verify(_) => crate::verify::STAGE,
            #[cfg(test)]
            StageResult::Test(t) => &t.stage,
        }
    }

    /// Reads a stored result back into the type of stage `stage`.
    pub fn from_json(stage: &str, text: &str) -> Result<Self, StageResultError> {
        let corrupt = |source| StageResultError::Corrupt {
            stage: stage.to_string(),
            source,
        };
        match stage {
            crate::reproduce::STAGE => serde_json::from_str(text)
                .map(|r| StageResult::Reproduce(Box::new(r)))
                .map_err(corrupt),
            crate::minimize::STAGE => serde_json::from_str(text)
                .map(|r| StageResult::Minimize(Box::new(r)))
                .map_err(corrupt),
            crate::localize::STAGE => serde_json::from_str(text)
                .map(|r| StageResult::Localize(Box::new(r)))
                .map_err(corrupt),
            crate::patch::STAGE => serde_json::from_str(text)
                .map(|r| StageResult::Patch(Box::new(r)))
                .map_err(corrupt),
            crate::verify::STAGE => serde_json::from_str(text)
                .map(|r| StageResult::Verify(Box::new(r)))
                .map_err(corrupt),
            #[cfg(test)]
            other => serde_json::from_str(text)
                .map(StageResult::Test)
                .map_err(corrupt)
                .and_then(|r| {
                    if r.stage() == other {
                        Ok(r)
                    } else {
                        Err(StageResultError::UnknownStage(other.to_string()))
                    }
                }),
            #[cfg(not(test))]
            other => Err(StageResultError::UnknownStage(other.to_string())),
        }
    }
}

/// The results of the stages that completed before the running one, by stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageResults {
    by_stage: BTreeMap<String, StageResult>,
}

impl StageResults {
    /// Adds (or replaces) the result of its stage.
    pub fn insert(&mut self, result: StageResult) {
        self.by_stage.insert(result.stage().to_string(), result);
    }

    /// The result of stage `name`.
    pub fn get(&self, name: &str) -> Option<&StageResult> {
        self.by_stage.get(name)
    }

    /// Names of the stages with a result, in name order.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.by_stage.keys().map(String::as_str)
    }

    /// The reproduce stage's result.
    pub fn reproduce(&self) -> Option<&ReproduceResult> {
        match self.by_stage.get(crate::reproduce::STAGE) {
            Some(StageResult::Reproduce(r)) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The minimize stage's result.
    pub fn minimize(&self) -> Option<&MinimizeResult> {
        match self.by_stage.get(crate::minimize::STAGE) {
            Some(StageResult::Minimize(r)) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The localize stage's result.
    pub fn localize(&self) -> Option<&LocalizeResult> {
        match self.by_stage.get(crate::localize::STAGE) {
            Some(StageResult::Localize(r)) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The patch stage's result.
    pub fn patch(&self) -> Option<&PatchResult> {
        match self.by_stage.get(crate::patch::STAGE) {
            Some(StageResult::Patch(r)) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The verify stage's result.
    pub fn verify(&self) -> Option<&VerifyResult> {
        match self.by_stage.get(crate::verify::STAGE) {
            Some(StageResult::Verify(r)) => Some(r.as_ref()),
            _ => None,
        }
    }
}

/// Everything a stage may read.
pub struct StageContext<'a> {
    /// The incident being worked on.
    pub incident_id: i64,
    /// Its first envelope.
    pub envelope: &'a Envelope,
    /// Results of the stages that completed before this one.
    pub previous: &'a StageResults,
    /// Directory for this incident's artifacts (created on demand by the stage).
    pub artifacts_dir: PathBuf,
}

/// How a stage that ran to its end came out.
#[derive(Debug, Clone, PartialEq)]
pub enum StageOutcome {
    /// The job goes on with the next stage.
    Completed {
        /// The stage's result.
        result: StageResult,
        /// Artifact file names in the incident's directory.
        artifacts: Vec<String>,
    },
    /// The job ends `rejected(reason)`; the stage's result is kept.
    Rejected {
        /// Why the incident goes no further.
        reason: String,
        /// The stage's result.
        result: StageResult,
        /// Artifact file names in the incident's directory.
        artifacts: Vec<String>,
    },
}

/// Why a stage did not run to its end.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StageError {
    /// A dependency went down while the stage ran: the job waits and is retried with
    /// backoff.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// The dependency's name (see [`crate::dependency`]).
        dependency: &'static str,
        /// Why (becomes the waiting job's reason).
        reason: String,
    },
    /// The stage failed: the job ends `failed(stage, error)`; `result` is kept.
    #[error("{error}")]
    Failed {
        /// What went wrong.
        error: String,
        /// What the stage learned before it failed.
        result: Option<StageResult>,
        /// Artifact file names in the incident's directory.
        artifacts: Vec<String>,
    },
}

impl StageError {
    /// A failure with nothing learned and no artifacts.
    pub(crate) fn failed(error: String) -> Self {
        StageError::Failed {
            error,
            result: None,
            artifacts: Vec::new(),
        }
    }

    /// A repository error: an unreachable remote makes the job wait, anything else fails it.
    pub(crate) fn from_repo(e: crate::repo::RepoError) -> Self {
        match e {
            crate::repo::RepoError::Remote { .. } => StageError::Unavailable {
                dependency: crate::dependency::GIT_REMOTE,
                reason: format!("repository: {e}"),
            },
            other => Self::failed(format!("repository: {other}")),
        }
    }
}

/// The future a stage's [`Stage::run`] returns.
pub type StageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<StageOutcome, StageError>> + Send + 'a>>;

/// One step of the repair pipeline.
pub trait Stage: Send + Sync {
    /// Verb-named, `lower_snake_case`: the key of its stored result.
    fn name(&self) -> &'static str;
    /// What must be up before the stage runs (checked by the pipeline).
    fn dependencies(&self) -> &[Arc<dyn Dependency>];
    /// Runs the stage once.
    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a>;
}

#[cfg(test)]
pub(crate) mod tests_support {
    use serde::{Deserialize, Serialize};

    /// A test stage's result: its name and the stages it saw before it.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct TestResult {
        pub stage: String,
        pub seen: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::TestResult;
    use super::*;

    #[test]
    fn results_are_read_back_into_their_stage_type() {
        let env = envelope::parse(
            include_str!("../../config/examples/envelopes/minimal.json").as_bytes(),
        )
        .expect("example");
        let result = StageResult::Reproduce(Box::new(ReproduceResult::new(
            &env.identity.service.name,
            &env.symptom.exception,
        )));
        let text = serde_json::to_string(&result).expect("json");
        assert!(
            text.starts_with("{\"service\""),
            "no tag around the stage's own fields: {text}"
        );
        let back = StageResult::from_json("reproduce", &text).expect("reads back");
        assert_eq!(back, result);
        let mut all = StageResults::default();
        all.insert(back);
        assert_eq!(
            all.reproduce().map(|r| r.service.as_str()),
            Some("checkout")
        );
        assert!(matches!(
            StageResult::from_json("reproduce", "{\"verdict\": 3}"),
            Err(StageResultError::Corrupt { .. })
        ));
        let other = serde_json::to_string(&TestResult {
            stage: "probe".into(),
            seen: vec![],
        })
        .expect("json");
        assert!(matches!(
            StageResult::from_json("no_such_stage", &other),
            Err(StageResultError::UnknownStage(_))
        ));
    }
}
