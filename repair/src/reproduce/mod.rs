//! The `reproduce` stage: check out the envelope's commit, build (or reuse) the service's
//! image, replay the envelope's request against the service inside a locked-down
//! container N times, and decide from the service's own error output whether the failure
//! reproduced: same exception type and same top in-app frame as the envelope.
//!
//! Verdicts: `reproduced` (the stage completes; `stable` says whether every run agreed),
//! `not_reproduced` (the job is rejected with what differed), `sandbox_error` (the stage
//! fails with the cause), `not_attempted` (unknown service or commit: rejected). The
//! stage depends on the Docker engine (checked by the pipeline before it starts); an
//! engine lost mid-stage, or a git remote that keeps failing, makes the job wait and
//! retry. The log of a build from the repository's own Dockerfile (of any build that
//! fails) is kept as `image-build.log`.

mod image;
mod replay;
mod result;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tracing::info;

pub use image::{Vendor, image_spec};
pub use replay::{RESULT_MARKER, evaluate, runner_env, runner_spec, spec_env};
pub use result::{
    EmptyInput, Expected, ObservedSummary, ReproduceResult, RunRecord, SandboxFacts, Verdict,
    empty_inputs,
};

use crate::config::{ReproduceConfig, ServiceConfig};
use crate::dependency::{DOCKER, Dependency, DockerEngine, GIT_REMOTE, docker_reason};
use crate::repo::{Repo, RepoError};
use crate::sandbox::{ImageInfo, RunOutput, RunSpec, Sandbox, SandboxError};
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome, StageResult};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "reproduce";

/// The stage.
pub struct Reproduce {
    services: BTreeMap<String, ServiceConfig>,
    sandbox: Arc<dyn Sandbox>,
    config: ReproduceConfig,
    sandbox_timeout: Duration,
    sandbox_user: String,
    allow_root: bool,
    repos_dir: PathBuf,
    owner: String,
    vendor: Arc<Vendor>,
    dependencies: Vec<Arc<dyn Dependency>>,
}

/// What the stage is built from.
pub struct ReproduceParts {
    /// `service.name` -> how to build and run it.
    pub services: BTreeMap<String, ServiceConfig>,
    /// Where images are built and replays run.
    pub sandbox: Arc<dyn Sandbox>,
    /// `reproduce` settings.
    pub config: ReproduceConfig,
    /// `sandbox.timeout`.
    pub sandbox_timeout: Duration,
    /// `sandbox.user` (recorded with the result).
    pub sandbox_user: String,
    /// `sandbox.allow_root`: the runner refuses to start the service as uid 0 without it.
    pub allow_root: bool,
    /// Where remote repositories are mirrored.
    pub repos_dir: PathBuf,
    /// Scopes container names (and leftovers cleanup) to this engine.
    pub owner: String,
    /// Files vendored into the image (coverage.py for the localize stage), so one image
    /// serves every stage.
    pub vendor: Arc<Vendor>,
}

impl Reproduce {
    /// The stage; it depends on the Docker engine behind `parts.sandbox`.
    pub fn new(parts: ReproduceParts) -> Self {
        let docker: Arc<dyn Dependency> = Arc::new(DockerEngine(parts.sandbox.clone()));
        Self {
            services: parts.services,
            sandbox: parts.sandbox,
            config: parts.config,
            sandbox_timeout: parts.sandbox_timeout,
            sandbox_user: parts.sandbox_user,
            allow_root: parts.allow_root,
            repos_dir: parts.repos_dir,
            owner: parts.owner,
            vendor: parts.vendor,
            dependencies: vec![docker],
        }
    }
}

impl Stage for Reproduce {
    fn name(&self) -> &'static str {
        STAGE
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        &self.dependencies
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.reproduce(ctx))
    }
}

fn sandbox_error(cause: String, mut result: ReproduceResult) -> StageError {
    result.verdict = Verdict::SandboxError;
    result.cause = Some(cause.clone());
    StageError::Failed {
        error: format!("sandbox_error: {cause}"),
        result: Some(StageResult::Reproduce(Box::new(result))),
        artifacts: Vec::new(),
    }
}

fn from_sandbox(e: SandboxError, result: &ReproduceResult) -> StageError {
    match e {
        SandboxError::Unreachable(_) => StageError::Unavailable {
            dependency: DOCKER,
            reason: docker_reason(&e),
        },
        other => sandbox_error(other.to_string(), result.clone()),
    }
}

/// A remote that keeps failing makes the job wait (like an unreachable engine); any
/// other repository problem is the stage's failure.
fn from_repo(e: RepoError, result: &ReproduceResult) -> StageError {
    match e {
        RepoError::Remote { .. } => StageError::Unavailable {
            dependency: GIT_REMOTE,
            reason: format!("repository: {e}"),
        },
        other => sandbox_error(format!("repository: {other}"), result.clone()),
    }
}

impl Reproduce {
    async fn reproduce(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let envelope = ctx.envelope;
        let name = &envelope.identity.service.name;
        let mut result = ReproduceResult::new(name, &envelope.symptom.exception);
        let Some(service) = self.services.get(name) else {
            return Ok(StageOutcome::Rejected {
                reason: format!("service {name} is not in the services map"),
                result: StageResult::Reproduce(Box::new(result)),
                artifacts: Vec::new(),
            });
        };
        let repo = Repo::open(&service.repository, &self.repos_dir)
            .await
            .map_err(|e| from_repo(e, &result))?;
        let commit = match repo.resolve_commit(&envelope.identity.commit).await {
            Ok(c) => c,
            Err(e @ RepoError::UnknownCommit { .. }) => {
                return Ok(StageOutcome::Rejected {
                    reason: e.to_string(),
                    result: StageResult::Reproduce(Box::new(result)),
                    artifacts: Vec::new(),
                });
            }
            Err(e) => return Err(from_repo(e, &result)),
        };
        result.commit = Some(commit.clone());

        tokio::fs::create_dir_all(&ctx.artifacts_dir)
            .await
            .map_err(|e| sandbox_error(format!("artifacts directory: {e}"), result.clone()))?;
        let mut artifacts = Vec::new();
        let image_spec = image::image_spec(&repo, name, service, &commit, &self.vendor)
            .await
            .map_err(|e| sandbox_error(e, result.clone()))?;
        let image: ImageInfo = match self.sandbox.ensure_image(&image_spec).await {
            Ok(image) => {
                // A repository's own Dockerfile is the service's build, worth keeping;
                // the engine's two-line Dockerfile onto a base image is kept only when
                // it fails.
                if service.dockerfile.is_some() && !image.build_log.is_empty() {
                    artifacts.extend(keep_build_log(&ctx.artifacts_dir, &image.build_log).await);
                }
                image
            }
            Err(e) => {
                if let SandboxError::Build { log, .. } = &e {
                    artifacts.extend(keep_build_log(&ctx.artifacts_dir, log).await);
                }
                let mut err = from_sandbox(e, &result);
                if let StageError::Failed { artifacts: a, .. } = &mut err {
                    *a = artifacts;
                }
                return Err(err);
            }
        };
        result.image = Some(image.clone());
        result.sandbox = Some(SandboxFacts {
            network: "none".into(),
            read_only_root: true,
            tmpfs: "/tmp".into(),
            capabilities: "all dropped".into(),
            no_new_privileges: true,
            timeout_ms: self.sandbox_timeout.as_millis() as u64,
            seed: self.config.seed,
            clock: self.config.clock,
            user: self.sandbox_user.clone(),
        });

        let env = replay::runner_env(envelope, service, &self.config, self.allow_root)
            .map_err(|e| sandbox_error(e, result.clone()))?;
        let mut runs = Vec::new();
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
                        .map_err(|e| from_sandbox(e, &result))?;
                    self.sandbox.run(&spec).await
                }
                other => other,
            }
            .map_err(|e| from_sandbox(e, &result))?;
            let record = evaluate(run, &envelope.symptom.exception, &output, &service.workdir);
            info!(incident = ctx.incident_id, run, verdict = ?record.verdict, "Replay finished.");
            let artifact = format!("reproduce-run-{run}.json");
            write_artifact(&ctx.artifacts_dir.join(&artifact), &record, &output).await;
            artifacts.push(artifact);
            runs.push(record);
        }
        let (verdict, stable) = summarize(&runs);
        result.verdict = verdict;
        result.stable = Some(stable);
        result.runs = runs;
        match verdict {
            Verdict::Reproduced => Ok(StageOutcome::Completed {
                result: StageResult::Reproduce(Box::new(result)),
                artifacts,
            }),
            Verdict::NotReproduced | Verdict::NotAttempted => {
                result.differences = result
                    .runs
                    .first()
                    .map(|r| r.differences.clone())
                    .unwrap_or_default();
                result.empty_inputs = empty_inputs(envelope);
                Ok(StageOutcome::Rejected {
                    reason: format!("not_reproduced: {}", result.differences.join("; ")),
                    result: StageResult::Reproduce(Box::new(result)),
                    artifacts,
                })
            }
            Verdict::SandboxError => {
                let cause = result
                    .runs
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

/// Writes the image build's log as the incident's `image-build.log`; its name, if written.
async fn keep_build_log(dir: &Path, log: &str) -> Option<String> {
    let name = "image-build.log";
    match tokio::fs::write(dir.join(name), log).await {
        Ok(()) => Some(name.to_string()),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot keep the image build log.");
            None
        }
    }
}

async fn write_artifact(path: &Path, record: &RunRecord, output: &RunOutput) {
    let body = json!({ "record": record, "container": output });
    if let Err(e) = tokio::fs::write(path, body.to_string()).await {
        tracing::warn!(path = %path.display(), error = %e, "Cannot write artifact.");
    }
}
