//! The `reproduce` stage: check out the envelope's commit, build (or reuse) the service's
//! image, replay the envelope's request against the service inside a locked-down
//! container N times, and decide from the service's own error output whether the failure
//! reproduced: same exception type and same top in-app frame as the envelope.
//!
//! Verdicts: `reproduced` (the stage completes; `stable` says whether every run agreed),
//! `not_reproduced` (the job is rejected with what differed), `sandbox_error` (the stage
//! fails with the cause). An unreachable engine makes the job wait and retry.

mod image;
mod replay;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tracing::info;

pub use replay::{evaluate, runner_spec};

use crate::config::{ReproduceConfig, ServiceConfig};
use envelope::Frame;
use crate::repo::{Repo, RepoError};
use crate::sandbox::{ImageInfo, RunOutput, RunSpec, Sandbox, SandboxError};
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome};

/// Outcome of one replay, or of the stage.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Reproduced,
    NotReproduced,
    SandboxError,
}

/// The exception seen in one run, summarized.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObservedSummary {
    pub exception_type: String,
    pub message: String,
    pub top_in_app_frame: Option<Frame>,
}

/// One replay in one fresh container.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    pub run: u32,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub clock_faked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_note: Option<String>,
    pub response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_error: Option<String>,
    pub observed: Option<ObservedSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The stage.
pub struct Reproduce {
    pub services: BTreeMap<String, ServiceConfig>,
    pub sandbox: Arc<dyn Sandbox>,
    pub config: ReproduceConfig,
    pub sandbox_timeout: Duration,
    pub repos_dir: PathBuf,
    /// Scopes container names (and leftovers cleanup) to this engine.
    pub owner: String,
}

impl Stage for Reproduce {
    fn name(&self) -> &'static str {
        "reproduce"
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.reproduce(ctx))
    }
}

fn sandbox_error(cause: String, mut result: Value) -> StageError {
    result["verdict"] = json!(Verdict::SandboxError);
    result["cause"] = json!(cause);
    StageError::Failed {
        error: format!("sandbox_error: {cause}"),
        result,
        artifacts: Vec::new(),
    }
}

fn from_sandbox(e: SandboxError, result: Value) -> StageError {
    match e {
        SandboxError::Unreachable(m) => {
            StageError::Unavailable(format!("docker engine unreachable: {m}"))
        }
        other => sandbox_error(other.to_string(), result),
    }
}

impl Reproduce {
    async fn reproduce(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let envelope = ctx.envelope;
        let name = &envelope.identity.service.name;
        let mut result = json!({
            "service": name,
            "expected": {
                "exception_type": envelope.symptom.exception.exception_type,
                "top_in_app_frame": envelope.symptom.exception.top_in_app_frame(),
            },
        });
        let Some(service) = self.services.get(name) else {
            result["verdict"] = json!("not_attempted");
            return Ok(StageOutcome::Rejected {
                reason: format!("service {name} is not in the services map"),
                result,
                artifacts: Vec::new(),
            });
        };
        let repo = Repo::open(&service.repository, &self.repos_dir)
            .await
            .map_err(|e| sandbox_error(format!("repository: {e}"), result.clone()))?;
        let commit = match repo.resolve_commit(&envelope.identity.commit).await {
            Ok(c) => c,
            Err(e @ RepoError::UnknownCommit { .. }) => {
                result["verdict"] = json!("not_attempted");
                return Ok(StageOutcome::Rejected {
                    reason: e.to_string(),
                    result,
                    artifacts: Vec::new(),
                });
            }
            Err(e) => return Err(sandbox_error(format!("repository: {e}"), result)),
        };
        result["commit"] = json!(commit);

        let image_spec = image::image_spec(&repo, name, service, &commit)
            .await
            .map_err(|e| sandbox_error(e, result.clone()))?;
        let image: ImageInfo = self
            .sandbox
            .ensure_image(&image_spec)
            .await
            .map_err(|e| from_sandbox(e, result.clone()))?;
        result["image"] = json!(image);
        result["sandbox"] = json!({
            "network": "none",
            "read_only_root": true,
            "tmpfs": "/tmp",
            "capabilities": "all dropped",
            "no_new_privileges": true,
            "timeout_ms": self.sandbox_timeout.as_millis() as u64,
            "seed": self.config.seed,
            "clock": self.config.clock,
        });

        let env = replay::runner_env(envelope, service, &self.config)
            .map_err(|e| sandbox_error(e, result.clone()))?;
        tokio::fs::create_dir_all(&ctx.artifacts_dir)
            .await
            .map_err(|e| sandbox_error(format!("artifacts directory: {e}"), result.clone()))?;
        let mut runs = Vec::new();
        let mut artifacts = Vec::new();
        for run in 1..=self.config.runs {
            let spec = RunSpec {
                image: image.tag.clone(),
                name: format!(
                    "tracemend-repro-{}-{}-{}-{}",
                    self.owner,
                    ctx.incident_id,
                    run,
                    crate::store::now_ms()
                ),
                cmd: vec!["python3".into(), "/opt/tracemend/replay.py".into()],
                env: env.clone(),
                workdir: service.workdir.clone(),
                timeout: self.sandbox_timeout,
            };
            let output = match self.sandbox.run(&spec).await {
                // Another job's build pruned the image (or someone removed it) after it
                // was ensured: build it again, once, rather than failing the job.
                Err(SandboxError::ImageMissing(tag)) => {
                    info!(incident = ctx.incident_id, image = %tag, "Image gone before the run; ensuring it again.");
                    self.sandbox
                        .ensure_image(&image_spec)
                        .await
                        .map_err(|e| from_sandbox(e, result.clone()))?;
                    self.sandbox.run(&spec).await
                }
                other => other,
            }
            .map_err(|e| from_sandbox(e, result.clone()))?;
            let record = evaluate(run, &envelope.symptom.exception, &output, &service.workdir);
            info!(incident = ctx.incident_id, run, verdict = ?record.verdict, "Replay finished.");
            let artifact = format!("reproduce-run-{run}.json");
            write_artifact(&ctx.artifacts_dir.join(&artifact), &record, &output).await;
            artifacts.push(artifact);
            runs.push(record);
        }
        let (verdict, stable) = summarize(&runs);
        result["verdict"] = json!(verdict);
        result["stable"] = json!(stable);
        result["runs"] = json!(runs);
        match verdict {
            Verdict::Reproduced => Ok(StageOutcome::Completed { result, artifacts }),
            Verdict::NotReproduced => {
                let diffs = runs
                    .first()
                    .map(|r| r.differences.join("; "))
                    .unwrap_or_default();
                result["differences"] = json!(runs.first().map(|r| r.differences.clone()));
                Ok(StageOutcome::Rejected {
                    reason: format!("not_reproduced: {diffs}"),
                    result,
                    artifacts,
                })
            }
            Verdict::SandboxError => {
                let cause = runs
                    .iter()
                    .find_map(|r| r.cause.clone())
                    .unwrap_or_else(|| "unknown".into());
                let mut err = sandbox_error(cause, result);
                if let StageError::Failed { artifacts: a, .. } = &mut err {
                    *a = artifacts;
                }
                Err(err)
            }
        }
    }
}

/// The stage's verdict and whether every run agreed.
pub fn summarize(runs: &[RunRecord]) -> (Verdict, bool) {
    let stable = runs
        .windows(2)
        .all(|w| w[0].verdict == w[1].verdict && w[0].observed == w[1].observed);
    let verdict = if runs.iter().any(|r| r.verdict == Verdict::SandboxError) {
        Verdict::SandboxError
    } else if runs.iter().any(|r| r.verdict == Verdict::Reproduced) {
        Verdict::Reproduced
    } else {
        Verdict::NotReproduced
    };
    (verdict, stable)
}

async fn write_artifact(path: &Path, record: &RunRecord, output: &RunOutput) {
    let body = json!({ "record": record, "container": output });
    if let Err(e) = tokio::fs::write(path, body.to_string()).await {
        tracing::warn!(path = %path.display(), error = %e, "Cannot write artifact.");
    }
}
