//! What a stage needs besides the envelope: a service that may be down (the Docker
//! engine today; a model API or a coverage runner later). A stage declares its
//! dependencies; the pipeline checks them before the stage runs and parks the job
//! (`waiting`, retried with backoff) while one is down, so no stage handles that itself.

use std::sync::Arc;

use crate::sandbox::{BoxFuture, Sandbox, SandboxError};

/// Name of the Docker engine as a dependency (and its key in `GET /healthz`).
pub const DOCKER: &str = "docker";
/// Name of a repository's git remote as a dependency.
pub const GIT_REMOTE: &str = "git_remote";

/// Something a stage cannot run without.
pub trait Dependency: Send + Sync {
    /// `lower_snake_case` name, the key of its state in `GET /healthz`.
    fn name(&self) -> &'static str;
    /// `Ok` when usable now; otherwise why not (shown as the waiting job's reason).
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// The Docker engine behind the sandbox.
pub struct DockerEngine(pub Arc<dyn Sandbox>);

impl Dependency for DockerEngine {
    fn name(&self) -> &'static str {
        DOCKER
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| docker_reason(&e)) })
    }
}

/// How an engine failure reads as a waiting job's reason.
pub fn docker_reason(e: &SandboxError) -> String {
    match e {
        SandboxError::Unreachable(m) => format!("docker engine unreachable: {m}"),
        other => format!("docker engine not usable: {other}"),
    }
}
