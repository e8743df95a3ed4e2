//! The sandbox interface and its Docker Engine implementation (bollard).
//!
//! A [`Sandbox`] builds (or reuses) an image from a tar build context and runs one
//! command in a fresh, locked-down container: no network (`network_mode: none`),
//! read-only root with a tmpfs at `/tmp`, memory/CPU/pids limits, every capability
//! dropped, `no-new-privileges`, an unprivileged user, and a wall-clock timeout after
//! which the container is killed. The container is always removed, whatever happened.
//! Every container carries the label [`LABEL_OWNER`] with this engine's owner id so
//! [`Sandbox::remove_leftovers`] can clean up after a crash. Service images are a cache
//! bounded per service (`sandbox.images_per_service`): after a build, older images this
//! engine built for the same service are removed.
//!
//! Another scheduler (e.g. Kubernetes Jobs) fits behind the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::config::{DockerConfig, SandboxConfig};

mod build;
mod output;

use output::Tail;

/// Label put on every container and image the engine creates: the owner id of the
/// engine (see `serve::owner_id`).
pub const LABEL_OWNER: &str = "org.tracemend.repair.owner";
/// Label on every service image: the `service.name` it was built for (the unit of the
/// bounded image cache).
pub const LABEL_SERVICE: &str = "org.tracemend.repair.service";

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SandboxError {
    /// The engine cannot be reached; the work should be retried later.
    #[error("sandbox engine unreachable: {0}")]
    Unreachable(String),
    /// Building the image failed or timed out (a property of the repository, not of
    /// the engine). `log` is the build's whole output, kept with the incident.
    #[error("image build failed: {message}")]
    Build {
        /// What failed, with the end of the log.
        message: String,
        /// The build's output.
        log: String,
    },
    /// The engine answered with an error.
    #[error("sandbox engine error: {0}")]
    Engine(String),
    /// The image to run is gone (removed by a cache prune or by hand since it was
    /// ensured); ensuring it again rebuilds it.
    #[error("image {0} is missing")]
    ImageMissing(String),
}

/// An image to build from a tar context, cached by tag.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub tag: String,
    /// The `service.name` the image belongs to (label [`LABEL_SERVICE`]).
    pub service: String,
    /// Uncompressed tar of the build context.
    pub context: Vec<u8>,
    /// Dockerfile path inside the context.
    pub dockerfile: String,
}

/// The image a run uses, and whether it had to be built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image's tag.
    pub tag: String,
    /// The image existed already; nothing was built.
    pub cached: bool,
    /// Build time (0 when cached).
    pub build_ms: u64,
    /// Older images of the same service removed after this build to keep the cache
    /// within `sandbox.images_per_service`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    /// The build's output (empty when cached); kept as an artifact, not in the result.
    #[serde(skip)]
    pub build_log: String,
}

/// One command in one fresh container.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub image: String,
    pub name: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub timeout: Duration,
}

/// What one run printed and how it ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit code, `None` when the container was killed on timeout.
    pub exit_code: Option<i64>,
    /// Killed at the run's timeout.
    pub timed_out: bool,
    /// The last 2 MiB of stdout (the replay runner's result line is its last line; a
    /// batch of probes prints one line per probe).
    pub stdout: String,
    /// The last 2 MiB of stderr.
    pub stderr: String,
    /// Bytes of stdout dropped from the front to keep the tail.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stdout_dropped: u64,
    /// Bytes of stderr dropped from the front to keep the tail.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stderr_dropped: u64,
    /// Wall-clock time of the container.
    pub duration_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where reproduction commands run.
pub trait Sandbox: Send + Sync {
    /// Checks that the engine answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), SandboxError>>;
    /// Returns the image for `spec.tag`, building it from the context when missing.
    fn ensure_image<'a>(
        &'a self,
        spec: &'a ImageSpec,
    ) -> BoxFuture<'a, Result<ImageInfo, SandboxError>>;
    /// Runs one command in a fresh isolated container and removes the container.
    fn run<'a>(&'a self, spec: &'a RunSpec) -> BoxFuture<'a, Result<RunOutput, SandboxError>>;
    /// Removes containers this owner left behind (after a crash or kill). Returns how many.
    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, SandboxError>>;
}

/// The Docker Engine API implementation.
pub struct DockerSandbox {
    docker_config: DockerConfig,
    limits: SandboxConfig,
    owner: String,
    client: Mutex<Option<Docker>>,
}

fn classify(e: DockerError) -> SandboxError {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => SandboxError::Engine(format!("status {status_code}: {message}")),
        DockerError::IOError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::HyperLegacyError { .. }
        | DockerError::SocketNotFoundError(_)
        | DockerError::RequestTimeoutError => SandboxError::Unreachable(e.to_string()),
        other => SandboxError::Engine(other.to_string()),
    }
}

impl DockerSandbox {
    /// `owner` scopes leftovers cleanup (e.g. a hash of the store path).
    pub fn new(docker_config: DockerConfig, limits: SandboxConfig, owner: String) -> Self {
        Self {
            docker_config,
            limits,
            owner,
            client: Mutex::new(None),
        }
    }

    /// Connects (negotiating the API version with the engine) or reuses the connection.
    async fn client(&self) -> Result<Docker, SandboxError> {
        let mut guard = self.client.lock().await;
        if let Some(docker) = guard.as_ref() {
            return Ok(docker.clone());
        }
        let timeout = self.docker_config.api_timeout.as_secs().max(1);
        let docker = match &self.docker_config.host {
            Some(host) if host.starts_with("unix://") || host.starts_with('/') => {
                let path = host.trim_start_matches("unix://");
                Docker::connect_with_unix(path, timeout, bollard::API_DEFAULT_VERSION)
            }
            Some(host) => Docker::connect_with_http(host, timeout, bollard::API_DEFAULT_VERSION),
            None => Docker::connect_with_defaults(),
        }
        .map_err(|e| SandboxError::Unreachable(e.to_string()))?;
        let docker = docker.negotiate_version().await.map_err(classify)?;
        *guard = Some(docker.clone());
        Ok(docker)
    }

    /// Forgets the connection after the engine went away, so the next call reconnects.
    async fn reset_on_unreachable<T>(&self, r: Result<T, SandboxError>) -> Result<T, SandboxError> {
        if matches!(r, Err(SandboxError::Unreachable(_))) {
            *self.client.lock().await = None;
        }
        r
    }

    fn host_config(&self) -> HostConfig {
        let memory = (self.limits.memory_mib * 1024 * 1024) as i64;
        HostConfig {
            network_mode: Some("none".to_string()),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}m", self.limits.tmpfs_mib),
            )])),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((self.limits.cpus * 1e9) as i64),
            pids_limit: Some(self.limits.pids_limit),
            cap_drop: Some(vec!["ALL".to_string()]),
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            ..Default::default()
        }
    }

    async fn run_inner(&self, docker: &Docker, spec: &RunSpec) -> Result<RunOutput, SandboxError> {
        let started = Instant::now();
        let labels = HashMap::from([(LABEL_OWNER.to_string(), self.owner.clone())]);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            // The command is the entrypoint: an image's own ENTRYPOINT would otherwise
            // wrap it (`ENTRYPOINT ["gunicorn"]` + our argv = gunicorn python3 ...), and
            // an empty CMD keeps the image's CMD from being appended.
            entrypoint: Some(spec.cmd.clone()),
            cmd: Some(Vec::new()),
            env: Some(spec.env.clone()),
            working_dir: Some(spec.workdir.clone()),
            user: Some(self.limits.user.clone()),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(self.host_config()),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| match e {
                DockerError::DockerResponseServerError {
                    status_code: 404, ..
                } => SandboxError::ImageMissing(spec.image.clone()),
                other => classify(other),
            })?;
        docker
            .start_container(&spec.name, None)
            .await
            .map_err(classify)?;
        debug!(container = %spec.name, "Started sandbox container.");

        let mut wait = docker.wait_container(&spec.name, None);
        let (exit_code, timed_out) = match tokio::time::timeout(spec.timeout, wait.next()).await {
            Ok(Some(Ok(resp))) => (Some(resp.status_code), false),
            // A non-zero exit is a result, not an engine error.
            Ok(Some(Err(DockerError::DockerContainerWaitError { code, .. }))) => {
                (Some(code), false)
            }
            Ok(Some(Err(e))) => return Err(classify(e)),
            Ok(None) => {
                return Err(SandboxError::Engine(
                    "wait stream ended without a status".to_string(),
                ));
            }
            Err(_) => {
                warn!(container = %spec.name, timeout = ?spec.timeout, "Sandbox run timed out; killing the container.");
                let kill = KillContainerOptionsBuilder::default()
                    .signal("KILL")
                    .build();
                if let Err(e) = docker.kill_container(&spec.name, Some(kill)).await {
                    debug!(container = %spec.name, error = %e, "Kill after timeout failed.");
                }
                (None, true)
            }
        };
        drop(wait);

        let logs_options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = docker.logs(&spec.name, Some(logs_options));
        let (mut stdout, mut stderr) = (Tail::default(), Tail::default());
        while let Some(item) = logs.next().await {
            match item.map_err(classify)? {
                bollard::container::LogOutput::StdOut { message } => stdout.push(&message),
                bollard::container::LogOutput::StdErr { message } => stderr.push(&message),
                _ => {}
            }
        }
        let (stdout, stdout_dropped) = stdout.finish();
        let (stderr, stderr_dropped) = stderr.finish();
        Ok(RunOutput {
            exit_code,
            timed_out,
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn remove(&self, docker: &Docker, name: &str) -> Result<(), SandboxError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn leftovers_inner(&self) -> Result<usize, SandboxError> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_OWNER}={}", self.owner)],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = docker
            .list_containers(Some(options))
            .await
            .map_err(classify)?;
        let mut removed = 0;
        for c in containers {
            if let Some(id) = c.id {
                self.remove(&docker, &id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl Sandbox for DockerSandbox {
    fn ping(&self) -> BoxFuture<'_, Result<(), SandboxError>> {
        Box::pin(async move {
            let r = async {
                let docker = self.client().await?;
                docker.ping().await.map(|_| ()).map_err(classify)
            }
            .await;
            self.reset_on_unreachable(r).await
        })
    }

    fn ensure_image<'a>(
        &'a self,
        spec: &'a ImageSpec,
    ) -> BoxFuture<'a, Result<ImageInfo, SandboxError>> {
        Box::pin(async move {
            let r = self.ensure_image_inner(spec).await;
            self.reset_on_unreachable(r).await
        })
    }

    fn run<'a>(&'a self, spec: &'a RunSpec) -> BoxFuture<'a, Result<RunOutput, SandboxError>> {
        Box::pin(async move {
            let docker = match self.client().await {
                Ok(d) => d,
                Err(e) => return self.reset_on_unreachable(Err(e)).await,
            };
            let result = self.run_inner(&docker, spec).await;
            // Always remove the container, whatever happened above.
            let removed = self.remove(&docker, &spec.name).await;
            if let Err(e) = &removed {
                warn!(container = %spec.name, error = %e, "Could not remove sandbox container.");
            }
            let r = result.and_then(|out| removed.map(|()| out));
            self.reset_on_unreachable(r).await
        })
    }

    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, SandboxError>> {
        Box::pin(async move {
            let r = self.leftovers_inner().await;
            self.reset_on_unreachable(r).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_locks_the_container_down() {
        let s = DockerSandbox::new(
            DockerConfig::default(),
            SandboxConfig::default(),
            "t".into(),
        );
        let hc = s.host_config();
        assert_eq!(hc.network_mode.as_deref(), Some("none"));
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(hc.memory, Some(512 * 1024 * 1024));
        assert_eq!(hc.memory_swap, hc.memory);
        assert_eq!(hc.nano_cpus, Some(1_000_000_000));
        assert!(hc.tmpfs.as_ref().is_some_and(|t| t.contains_key("/tmp")));
    }

    #[test]
    fn connection_failures_are_unreachable() {
        let e = DockerError::SocketNotFoundError("/nope".into());
        assert!(matches!(classify(e), SandboxError::Unreachable(_)));
        let e = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "boom".into(),
        };
        assert!(matches!(classify(e), SandboxError::Engine(_)));
    }
}
