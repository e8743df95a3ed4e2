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
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use crate::config::{DockerConfig, SandboxConfig};

/// Label put on every container and image the engine creates: the owner id of the
/// engine (see `serve::owner_id`).
pub const LABEL_OWNER: &str = "org.tracemend.repair.owner";
/// Label on every service image: the `service.name` it was built for (the unit of the
/// bounded image cache).
pub const LABEL_SERVICE: &str = "org.tracemend.repair.service";

/// Largest amount of stdout or stderr kept from one run.
const MAX_OUTPUT: usize = 256 * 1024;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SandboxError {
    /// The engine cannot be reached; the work should be retried later.
    #[error("sandbox engine unreachable: {0}")]
    Unreachable(String),
    /// Building the image failed (a property of the repository, not of the engine).
    #[error("image build failed: {0}")]
    Build(String),
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageInfo {
    pub tag: String,
    /// The image existed already; nothing was built.
    pub cached: bool,
    pub build_ms: u64,
    /// Older images of the same service removed after this build to keep the cache
    /// within `sandbox.images_per_service`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit code, `None` when the container was killed on timeout.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
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

    async fn ensure_image_inner(&self, spec: &ImageSpec) -> Result<ImageInfo, SandboxError> {
        let docker = self.client().await?;
        match docker.inspect_image(&spec.tag).await {
            Ok(_) => {
                return Ok(ImageInfo {
                    tag: spec.tag.clone(),
                    cached: true,
                    build_ms: 0,
                    pruned: Vec::new(),
                });
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(classify(e)),
        }
        let started = Instant::now();
        info!(image = %spec.tag, "Building sandbox image.");
        let labels = HashMap::from([
            (LABEL_OWNER, self.owner.as_str()),
            (LABEL_SERVICE, spec.service.as_str()),
        ]);
        let options = BuildImageOptionsBuilder::default()
            .t(&spec.tag)
            .dockerfile(&spec.dockerfile)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let mut stream = docker.build_image(
            options,
            None,
            Some(bollard::body_full(spec.context.clone().into())),
        );
        let mut log = String::new();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(DockerError::DockerStreamError { error }) => {
                    return Err(SandboxError::Build(format!(
                        "{error}\n{}",
                        tail(&log, 4000)
                    )));
                }
                Err(e) => {
                    return Err(match classify(e) {
                        SandboxError::Engine(m) => SandboxError::Build(m),
                        other => other,
                    });
                }
            };
            if let Some(s) = info.stream {
                log.push_str(&s);
            }
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_default();
                return Err(SandboxError::Build(format!(
                    "{message}\n{}",
                    tail(&log, 4000)
                )));
            }
        }
        // The stream can end without an error detail on old engines: confirm the tag exists.
        docker.inspect_image(&spec.tag).await.map_err(|e| {
            SandboxError::Build(format!(
                "image {} missing after build: {e}\n{}",
                spec.tag,
                tail(&log, 4000)
            ))
        })?;
        let build_ms = started.elapsed().as_millis() as u64;
        let pruned = self.prune_images(&docker, &spec.service, &spec.tag).await;
        Ok(ImageInfo {
            tag: spec.tag.clone(),
            cached: false,
            build_ms,
            pruned,
        })
    }

    /// Keeps at most `sandbox.images_per_service` images of `service` built by this
    /// engine: the one just built (`current`) and the newest others. Without it every
    /// commit that ever failed would keep an image forever. Only this engine's images
    /// are touched, removal is not forced (the engine refuses while a container uses an
    /// image), and a failure here is logged, never the build's failure: the cache is an
    /// optimization.
    async fn prune_images(&self, docker: &Docker, service: &str, current: &str) -> Vec<String> {
        let keep = self.limits.images_per_service;
        if keep == 0 {
            return Vec::new();
        }
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_OWNER}={}", self.owner),
                format!("{LABEL_SERVICE}={service}"),
            ],
        )]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let mut images = match docker.list_images(Some(options)).await {
            Ok(images) => images,
            Err(e) => {
                warn!(service, error = %e, "Cannot list images to prune the cache.");
                return Vec::new();
            }
        };
        images.retain(|i| !i.repo_tags.iter().any(|t| t == current));
        images.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        let mut pruned = Vec::new();
        for image in images.into_iter().skip(keep - 1) {
            let name = image
                .repo_tags
                .first()
                .cloned()
                .unwrap_or_else(|| image.id.clone());
            let options = RemoveImageOptionsBuilder::default().force(false).build();
            match docker.remove_image(&image.id, Some(options), None).await {
                Ok(_) => {
                    info!(image = %name, service, "Pruned an old sandbox image.");
                    pruned.push(name);
                }
                Err(e) => debug!(image = %name, error = %e, "Old sandbox image kept."),
            }
        }
        pruned
    }

    async fn run_inner(&self, docker: &Docker, spec: &RunSpec) -> Result<RunOutput, SandboxError> {
        let started = Instant::now();
        let labels = HashMap::from([(LABEL_OWNER.to_string(), self.owner.clone())]);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.cmd.clone()),
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
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(item) = logs.next().await {
            match item.map_err(classify)? {
                bollard::container::LogOutput::StdOut { message } => {
                    push_capped(&mut stdout, &message)
                }
                bollard::container::LogOutput::StdErr { message } => {
                    push_capped(&mut stderr, &message)
                }
                _ => {}
            }
        }
        Ok(RunOutput {
            exit_code,
            timed_out,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
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

fn push_capped(buf: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_OUTPUT.saturating_sub(buf.len());
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
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

    #[test]
    fn output_is_capped_and_tail_is_char_safe() {
        let mut buf = Vec::new();
        push_capped(&mut buf, &vec![b'x'; MAX_OUTPUT + 10]);
        assert_eq!(buf.len(), MAX_OUTPUT);
        assert_eq!(tail("héllo", 4), "llo");
    }
}
