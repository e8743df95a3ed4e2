//! What the stages after reproduce share: the services map, the service's image at a
//! commit (ensured again if it was pruned), containers named for their stage and
//! incident, and on top of those batches of probes in one container and the
//! repository's tests under coverage (minimize, localize) and the checks of a candidate
//! fix (verify).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use super::{
    BatchOptions, Coverage, Covered, Judgement, Values, batch_spec, env_of, judge_batch,
    preload_of, tests_spec,
};
use crate::config::{ReproduceConfig, ServiceConfig};
use crate::dependency::{DOCKER, Dependency, DockerEngine, docker_reason};
use crate::minimize::ProbeInput;
use crate::repo::Repo;
use crate::reproduce::{Vendor, image_spec};
use crate::sandbox::{ImageInfo, ImageSpec, RunOutput, RunSpec, Sandbox, SandboxError};
use crate::stage::{StageContext, StageError};

/// What a [`Workbench`] is built from.
pub struct WorkbenchParts {
    /// `service.name` -> how to build and run it.
    pub services: BTreeMap<String, ServiceConfig>,
    /// Where images are built and probes run.
    pub sandbox: Arc<dyn Sandbox>,
    /// `reproduce` settings (timeouts, seed, clock).
    pub reproduce: ReproduceConfig,
    /// `sandbox.timeout`: one replay's budget, the base of a batch's.
    pub sandbox_timeout: Duration,
    /// `sandbox.allow_root`.
    pub allow_root: bool,
    /// Where remote repositories are mirrored.
    pub repos_dir: PathBuf,
    /// Scopes container names to this engine.
    pub owner: String,
    /// Files vendored into the image (coverage.py).
    pub vendor: Arc<Vendor>,
}

/// Shared by the minimize and localize stages.
pub struct Workbench {
    parts: WorkbenchParts,
    dependencies: Vec<Arc<dyn Dependency>>,
    containers: AtomicU64,
}

/// The service's image and repository at the reproduced commit.
pub struct Prepared<'a> {
    /// The service's configuration.
    pub service: &'a ServiceConfig,
    /// The repository.
    pub repo: Repo,
    /// The full commit.
    pub commit: String,
    /// The image's tag.
    pub image: String,
    spec: ImageSpec,
}

/// What one batch of probes gave.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The judgements, in probe order.
    pub judged: Vec<Judgement>,
    /// The container's wall-clock time.
    pub duration_ms: u64,
    /// The modules the service had imported when it listened, as the runner's fork
    /// server recorded them: handed to the next batch, whose fork server imports them
    /// before its first probe (empty when the batch ran without one).
    pub preload: Vec<String>,
}

/// Lines covered and values returned per test (coverage.py's dynamic context), by test
/// name.
pub type TestsCoverage = BTreeMap<String, Covered>;

#[derive(Debug, Default, Deserialize)]
struct TestsResult {
    #[serde(default)]
    tests_exit: Option<i64>,
    #[serde(default)]
    start_error: Option<String>,
    #[serde(default)]
    tests_coverage: Option<BTreeMap<String, Coverage>>,
    #[serde(default)]
    tests_values: Option<BTreeMap<String, Values>>,
}

impl Workbench {
    /// A workbench; stages built on it depend on the Docker engine behind the sandbox.
    pub fn new(parts: WorkbenchParts) -> Self {
        let docker: Arc<dyn Dependency> = Arc::new(DockerEngine(parts.sandbox.clone()));
        Self {
            parts,
            dependencies: vec![docker],
            containers: AtomicU64::new(0),
        }
    }

    /// What the workbench was built from.
    pub fn parts(&self) -> &WorkbenchParts {
        &self.parts
    }

    /// The image spec (build context and tag) of `service` at `commit` of `repo`.
    pub async fn image_spec(
        &self,
        repo: &Repo,
        name: &str,
        service: &ServiceConfig,
        commit: &str,
    ) -> Result<ImageSpec, String> {
        image_spec(repo, name, service, commit, &self.parts.vendor).await
    }

    /// The image of `spec`, built when missing.
    pub async fn ensure_image(&self, spec: &ImageSpec) -> Result<ImageInfo, SandboxError> {
        self.parts.sandbox.ensure_image(spec).await
    }

    /// Runs `cmd` in a fresh container of `image`, named for `stage` and `incident`;
    /// an image pruned by another job's build since it was ensured is built again, once.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_container(
        &self,
        stage: &str,
        incident: i64,
        image: &ImageSpec,
        cmd: Vec<String>,
        env: Vec<String>,
        workdir: &str,
        timeout: Duration,
    ) -> Result<RunOutput, SandboxError> {
        let n = self.containers.fetch_add(1, Ordering::Relaxed);
        let spec = RunSpec {
            image: image.tag.clone(),
            name: format!(
                "tracemend-{stage}-{}-{incident}-{n}-{}",
                self.parts.owner,
                crate::store::now_ms()
            ),
            cmd,
            env,
            workdir: workdir.to_string(),
            timeout,
        };
        match self.parts.sandbox.run(&spec).await {
            Err(SandboxError::ImageMissing(_)) => {
                self.parts.sandbox.ensure_image(image).await?;
                self.parts.sandbox.run(&spec).await
            }
            other => other,
        }
    }

    /// What a stage built on this workbench depends on.
    pub fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        &self.dependencies
    }

    /// Whether coverage.py is vendored into the images.
    pub fn has_coverage(&self) -> bool {
        !self.parts.vendor.is_empty()
    }

    /// The service's configuration for the envelope.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.parts.services.get(name)
    }

    /// The service's image at `commit` (the reproduce stage built it; built again when
    /// it was pruned since).
    pub async fn prepare<'a>(
        &'a self,
        name: &str,
        commit: &str,
    ) -> Result<Prepared<'a>, StageError> {
        let service = self.service(name).ok_or_else(|| {
            StageError::failed(format!("service {name} is not in the services map"))
        })?;
        let repo = Repo::open(&service.repository, &self.parts.repos_dir)
            .await
            .map_err(StageError::from_repo)?;
        let commit = repo
            .resolve_commit(commit)
            .await
            .map_err(StageError::from_repo)?;
        let spec = self
            .image_spec(&repo, name, service, &commit)
            .await
            .map_err(StageError::failed)?;
        let image = self.ensure_image(&spec).await.map_err(from_sandbox)?;
        Ok(Prepared {
            service,
            repo,
            commit,
            image: image.tag,
            spec,
        })
    }

    /// Runs `probes` in one container and judges each answer, in probe order; the
    /// answers given before a timeout are kept. `preload`: the modules an earlier
    /// batch's service imported (see [`Batch::preload`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn run_batch(
        &self,
        ctx: &StageContext<'_>,
        stage: &str,
        prepared: &Prepared<'_>,
        probes: &[ProbeInput],
        options: BatchOptions,
        message: Option<&str>,
        preload: &[String],
    ) -> Result<Batch, StageError> {
        let service = prepared.service;
        let spec = batch_spec(
            ctx.envelope,
            service,
            &self.parts.reproduce,
            self.parts.allow_root,
            probes,
            options,
            preload,
        )
        .map_err(StageError::failed)?;
        // Each probe may restart the service and wait for its answer.
        let per_probe = self.parts.reproduce.ready_timeout + self.parts.reproduce.request_timeout;
        let timeout = self.parts.sandbox_timeout + per_probe * probes.len() as u32;
        let output = self
            .run(ctx, stage, prepared, env_of(&spec), timeout)
            .await?;
        if output.timed_out {
            tracing::warn!(
                incident = ctx.incident_id,
                stage,
                "A probe batch timed out."
            );
        }
        let judged = judge_batch(
            &ctx.envelope.symptom.exception,
            message,
            &output.stdout,
            probes.len(),
            &service.workdir,
            output.timed_out,
        );
        Ok(Batch {
            judged,
            duration_ms: output.duration_ms,
            preload: preload_of(&output.stdout),
        })
    }

    /// Runs the repository's `test_command` under coverage; the lines each test covered.
    pub async fn run_tests(
        &self,
        ctx: &StageContext<'_>,
        stage: &str,
        prepared: &Prepared<'_>,
        timeout: Duration,
    ) -> Result<TestsCoverage, String> {
        let spec = tests_spec(
            ctx.envelope,
            prepared.service,
            &self.parts.reproduce,
            self.parts.allow_root,
            timeout,
        )?;
        let output = self
            .run(
                ctx,
                stage,
                prepared,
                env_of(&spec),
                timeout + Duration::from_secs(30),
            )
            .await
            .map_err(|e| e.to_string())?;
        let line = output
            .stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("TRACEMEND_RESULT "))
            .ok_or_else(|| {
                format!(
                    "the test run reported nothing (exit {:?})",
                    output.exit_code
                )
            })?;
        let result: TestsResult =
            serde_json::from_str(line).map_err(|e| format!("the test run's result: {e}"))?;
        if let Some(e) = result.start_error {
            return Err(format!("the tests could not run: {e}"));
        }
        let runs = result
            .tests_coverage
            .ok_or_else(|| format!("the tests wrote no coverage (exit {:?})", result.tests_exit))?;
        let mut values = result.tests_values.unwrap_or_default();
        // Context "" is import-time code outside any test.
        Ok(runs
            .into_iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, lines)| {
                let values = values.remove(&k).unwrap_or_default();
                (k, Covered { lines, values })
            })
            .collect())
    }

    async fn run(
        &self,
        ctx: &StageContext<'_>,
        stage: &str,
        prepared: &Prepared<'_>,
        env: Vec<String>,
        timeout: Duration,
    ) -> Result<RunOutput, StageError> {
        self.run_container(
            stage,
            ctx.incident_id,
            &prepared.spec,
            vec!["python3".into(), "/opt/tracemend/replay.py".into()],
            env,
            &prepared.service.workdir,
            timeout,
        )
        .await
        .map_err(from_sandbox)
    }
}

fn from_sandbox(e: SandboxError) -> StageError {
    match e {
        SandboxError::Unreachable(_) => StageError::Unavailable {
            dependency: DOCKER,
            reason: docker_reason(&e),
        },
        other => StageError::failed(format!("sandbox_error: {other}")),
    }
}
