//! The stage interface. A job runs its stages in order; each stage reads the envelope and
//! the stored results of the stages before it, and ends in one [`StageOutcome`] or a
//! [`StageError`]. Stage results are stored, so a restarted job skips completed stages.
//! Reproduction is the first stage; minimize, localize, patch and verify come next.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde_json::Value;

use envelope::Envelope;

/// Everything a stage may read.
pub struct StageContext<'a> {
    pub incident_id: i64,
    pub envelope: &'a Envelope,
    /// Results of the stages that completed before this one, by stage name.
    pub previous: &'a BTreeMap<String, Value>,
    /// Directory for this incident's artifacts (created on demand by the stage).
    pub artifacts_dir: PathBuf,
}

/// How a stage that ran to its end came out.
#[derive(Debug, Clone, PartialEq)]
pub enum StageOutcome {
    /// The job goes on with the next stage.
    Completed {
        result: Value,
        artifacts: Vec<String>,
    },
    /// The job ends `rejected(reason)`; the stage's result is kept.
    Rejected {
        reason: String,
        result: Value,
        artifacts: Vec<String>,
    },
}

/// Why a stage did not run to its end.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StageError {
    /// Something the stage needs is down (e.g. the Docker engine): the job waits and is
    /// retried with backoff.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The stage failed: the job ends `failed(stage, error)`; `result` is kept.
    #[error("{error}")]
    Failed {
        error: String,
        result: Value,
        artifacts: Vec<String>,
    },
}

pub type StageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<StageOutcome, StageError>> + Send + 'a>>;

/// One step of the repair pipeline.
pub trait Stage: Send + Sync {
    /// Verb-named, `lower_snake_case`: the key of its stored result.
    fn name(&self) -> &'static str;
    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a>;
}
