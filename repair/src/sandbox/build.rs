//! Service images: built from a tar context with the limits of `sandbox.build` (memory,
//! CPU, a wall-clock timeout after which the build is cancelled), the whole build log
//! kept for the incident, and a bounded cache of images per service.

use std::collections::HashMap;
use std::time::Instant;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;
use tracing::{debug, info, warn};

use super::output::tail;
use super::{
    DockerSandbox, ImageInfo, ImageSpec, LABEL_OWNER, LABEL_SERVICE, SandboxError, classify,
};

/// How much of the log's end a build error's message carries (the whole log is kept).
const MESSAGE_LOG_TAIL: usize = 2000;
/// CFS period of build steps; the quota is `cpus` times this.
const CPU_PERIOD_US: i32 = 100_000;

fn build_error(message: impl std::fmt::Display, log: &str) -> SandboxError {
    SandboxError::Build {
        message: format!("{message}\n{}", tail(log, MESSAGE_LOG_TAIL))
            .trim_end()
            .to_string(),
        log: log.to_string(),
    }
}

impl DockerSandbox {
    pub(super) async fn ensure_image_inner(
        &self,
        spec: &ImageSpec,
    ) -> Result<ImageInfo, SandboxError> {
        let docker = self.client().await?;
        match docker.inspect_image(&spec.tag).await {
            Ok(_) => {
                return Ok(ImageInfo {
                    tag: spec.tag.clone(),
                    cached: true,
                    build_ms: 0,
                    pruned: Vec::new(),
                    build_log: String::new(),
                });
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(classify(e)),
        }
        let started = Instant::now();
        let limits = &self.limits.build;
        info!(image = %spec.tag, memory_mib = limits.memory_mib, cpus = limits.cpus, timeout = ?limits.timeout, "Building sandbox image.");
        let mut log = String::new();
        let built = tokio::time::timeout(limits.timeout, self.build(&docker, spec, &mut log)).await;
        match built {
            Ok(result) => result?,
            // Dropping the build's request cancels it in the engine; its intermediate
            // containers are removed (`forcerm`).
            Err(_) => {
                warn!(image = %spec.tag, timeout = ?limits.timeout, "Image build timed out; cancelled.");
                return Err(build_error(
                    format!(
                        "timed out after {} and was cancelled (sandbox.build.timeout)",
                        humantime::format_duration(limits.timeout)
                    ),
                    &log,
                ));
            }
        }
        // The stream can end without an error detail on old engines: confirm the tag exists.
        docker.inspect_image(&spec.tag).await.map_err(|e| {
            build_error(format!("image {} missing after build: {e}", spec.tag), &log)
        })?;
        let build_ms = started.elapsed().as_millis() as u64;
        let pruned = self.prune_images(&docker, &spec.service, &spec.tag).await;
        Ok(ImageInfo {
            tag: spec.tag.clone(),
            cached: false,
            build_ms,
            pruned,
            build_log: log,
        })
    }

    /// Streams one build into `log`, with the memory and CPU limits of `sandbox.build`.
    async fn build(
        &self,
        docker: &Docker,
        spec: &ImageSpec,
        log: &mut String,
    ) -> Result<(), SandboxError> {
        let limits = &self.limits.build;
        let labels = HashMap::from([
            (LABEL_OWNER, self.owner.as_str()),
            (LABEL_SERVICE, spec.service.as_str()),
        ]);
        // The Engine API takes build memory as a 32-bit byte count: config validation
        // keeps `memory_mib` at or below 2047.
        let memory = i32::try_from(limits.memory_mib * 1024 * 1024).unwrap_or(i32::MAX);
        let quota = (limits.cpus * f64::from(CPU_PERIOD_US)).round() as i32;
        let options = BuildImageOptionsBuilder::default()
            .t(&spec.tag)
            .dockerfile(&spec.dockerfile)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .memory(memory)
            .memswap(memory)
            .cpuperiod(CPU_PERIOD_US)
            .cpuquota(quota)
            .build();
        let mut stream = docker.build_image(
            options,
            None,
            Some(bollard::body_full(spec.context.clone().into())),
        );
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(DockerError::DockerStreamError { error }) => {
                    return Err(build_error(error, log));
                }
                Err(e) => {
                    return Err(match classify(e) {
                        SandboxError::Engine(m) => build_error(m, log),
                        other => other,
                    });
                }
            };
            if let Some(s) = info.stream {
                log.push_str(&s);
            }
            if let Some(detail) = info.error_detail {
                return Err(build_error(detail.message.unwrap_or_default(), log));
            }
        }
        Ok(())
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
}
