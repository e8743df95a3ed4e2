//! The repair engine's YAML configuration (`config/repair.yaml` is the annotated example).
//!
//! Every struct denies unknown keys; [`RepairConfig::validate`] gathers every problem,
//! each named by its YAML path, before the service starts. The bearer token is never in
//! the YAML: `auth.token_env` or `auth.token_file` says where to read it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod dashboard;
mod stages;

pub use dashboard::{DashboardConfig, SecureCookie};
pub use stages::{LocalizeConfig, MinimizeConfig, Weights};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: invalid configuration:\n  - {}", .errors.join("\n  - "))]
    Invalid { path: PathBuf, errors: Vec<String> },
    #[error("cannot read the intake token: {0}")]
    Token(String),
}

/// Top level of the repair engine configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairConfig {
    /// Address the HTTP intake listens on. Default `127.0.0.1:8787`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the intake bearer token comes from.
    pub auth: AuthConfig,
    /// The embedded store.
    #[serde(default)]
    pub store: StoreConfig,
    /// Directory for repository caches and artifacts. Default: `repair-data` beside the store file.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Intake limits.
    #[serde(default)]
    pub intake: IntakeConfig,
    /// Number of incidents worked on at once. Default 2.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How the Docker engine is reached and how unreachable engines are retried.
    #[serde(default)]
    pub docker: DockerConfig,
    /// Resource limits and isolation of each sandbox container.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The reproduce stage.
    #[serde(default)]
    pub reproduce: ReproduceConfig,
    /// The stages a job runs, in pipeline order. Default: every stage (reproduce,
    /// minimize, localize, patch, verify); a prefix such as `[reproduce]` stops early.
    #[serde(default = "default_stages")]
    pub stages: Vec<String>,
    /// The patch stage and its policy gate.
    #[serde(default)]
    pub patch: crate::patch::PatchConfig,
    /// The verify stage.
    #[serde(default)]
    pub verify: crate::verify::VerifyConfig,
    /// The minimize stage.
    #[serde(default)]
    pub minimize: MinimizeConfig,
    /// The localize stage.
    #[serde(default)]
    pub localize: LocalizeConfig,
    /// The dashboard under `/ui/`.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// `service.name` -> how to build and run that service.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
}

/// Bearer token source: exactly one of `token_env` and `token_file`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Name of the environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the token (surrounding whitespace is ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file (WAL mode). Default `repair.db` (relative to the working directory).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// When a commit reaches the disk. `full` (default): before intake answers 202, so an
    /// accepted envelope survives a power loss. `normal`: a process crash loses nothing,
    /// a power loss may lose the last commits; faster intake.
    #[serde(default)]
    pub synchronous: Synchronous,
}

/// SQLite's `synchronous` setting in WAL mode.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

impl Synchronous {
    /// The value of `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: default_store_path(),
            synchronous: Synchronous::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Largest accepted request body in bytes; larger bodies get 413. Default 1048576 (1 MiB).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// Engine address (`unix:///var/run/docker.sock`, `tcp://host:2375`). Default: `DOCKER_HOST` or the local socket.
    #[serde(default)]
    pub host: Option<String>,
    /// First retry delay when the engine is unreachable. Default `2s`.
    #[serde(default = "default_backoff_initial", with = "humantime_serde")]
    pub retry_initial: Duration,
    /// Longest retry delay (the delay doubles up to this). Default `60s`.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub retry_max: Duration,
    /// Timeout of one Engine API request. Default `120s` (image builds stream within it).
    #[serde(default = "default_api_timeout", with = "humantime_serde")]
    pub api_timeout: Duration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            host: None,
            retry_initial: default_backoff_initial(),
            retry_max: default_backoff_max(),
            api_timeout: default_api_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Memory limit of a container in MiB (swap included). Default 512.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// CPU limit in cores. Default 1.0.
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    /// Maximum number of processes/threads. Default 256.
    #[serde(default = "default_pids")]
    pub pids_limit: i64,
    /// Size of the writable tmpfs at `/tmp` in MiB. Default 64.
    #[serde(default = "default_tmpfs_mib")]
    pub tmpfs_mib: u64,
    /// Wall-clock limit of one sandbox run; the container is killed after it. Default `60s`.
    #[serde(default = "default_sandbox_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// User the service runs as inside the container. Default `65534:65534` (nobody).
    /// Root (`0`, `root`, `0:...`) and the empty string (the image's own user) are
    /// refused unless `allow_root` is set; the runner also refuses to start the service
    /// when it finds itself running as uid 0 anyway (a named user that is root).
    #[serde(default = "default_user")]
    pub user: String,
    /// Let the service run as root inside the sandbox. Default `false`.
    #[serde(default)]
    pub allow_root: bool,
    /// Service images kept per service (one per commit; the newest stay, older ones this
    /// engine built are removed after each build). `0` keeps every image. Default 5.
    #[serde(default = "default_images_per_service")]
    pub images_per_service: usize,
    /// Limits of image builds from a repository's Dockerfile.
    #[serde(default)]
    pub build: BuildConfig,
}

/// Limits of one image build. Builds keep network access (they may install
/// dependencies) but not unbounded memory, CPU or time; the build log is kept with the
/// incident as `image-build.log`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// Memory limit of each build step's container in MiB (swap included), at most 2047
    /// (the Engine API's limit for builds). Default 1536.
    #[serde(default = "default_build_memory_mib")]
    pub memory_mib: u64,
    /// CPU limit of each build step in cores. Default 1.0.
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    /// Wall-clock limit of the whole build; it is cancelled after it. Default `10m`.
    #[serde(default = "default_build_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for BuildConfig {
    fn default() -> Self {
        Self {
            memory_mib: default_build_memory_mib(),
            cpus: default_cpus(),
            timeout: default_build_timeout(),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            memory_mib: default_memory_mib(),
            cpus: default_cpus(),
            pids_limit: default_pids(),
            tmpfs_mib: default_tmpfs_mib(),
            timeout: default_sandbox_timeout(),
            user: default_user(),
            allow_root: false,
            images_per_service: default_images_per_service(),
            build: BuildConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReproduceConfig {
    /// How many times the request is replayed (each in a fresh container). Default 3.
    #[serde(default = "default_runs")]
    pub runs: u32,
    /// Seed for `PYTHONHASHSEED` and `random`. Default 0.
    #[serde(default)]
    pub seed: u32,
    /// How long the service may take to accept connections. Default `15s`.
    #[serde(default = "default_ready_timeout", with = "humantime_serde")]
    pub ready_timeout: Duration,
    /// How long the replayed request may take. Default `10s`.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `frozen` stops the clock at the envelope's timestamp; `start_at` starts it there
    /// and lets it tick (safer for code that waits on time). Default `start_at`.
    #[serde(default)]
    pub clock: ClockMode,
}

impl Default for ReproduceConfig {
    fn default() -> Self {
        Self {
            runs: default_runs(),
            seed: 0,
            ready_timeout: default_ready_timeout(),
            request_timeout: default_request_timeout(),
            clock: ClockMode::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    Frozen,
    #[default]
    StartAt,
}

/// How to build and run one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Local path of a git repository, or a git URL (cloned into `data_dir`).
    pub repository: String,
    /// Dockerfile inside the repository; the image is built from it (it must provide `python3`).
    #[serde(default)]
    pub dockerfile: Option<PathBuf>,
    /// Base image the repository is copied onto (to `workdir`) when no `dockerfile` is given.
    #[serde(default)]
    pub base_image: Option<String>,
    /// Command that starts the service, run in `workdir`.
    pub command: Vec<String>,
    /// TCP port the service listens on inside the container.
    pub port: u16,
    /// Where the repository lives in the container. Default `/app`.
    #[serde(default = "default_workdir")]
    pub workdir: String,
    /// Required. The repository's test command (argv, run in `workdir`); the verify
    /// stage runs it with each candidate fix.
    pub test_command: Vec<String>,
    /// Extra environment for the service.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Push the verified fix's branch to `remote`. Default false.
    #[serde(default)]
    pub push: bool,
    /// Where the branch is pushed (a git URL or path); required with `push: true`.
    #[serde(default)]
    pub remote: Option<String>,
    /// The service keeps no state between requests: the minimize stage's probes reuse
    /// one running service instead of restarting it for each. Default false.
    #[serde(default)]
    pub stateless: bool,
}

/// Every stage, in pipeline order.
pub const PIPELINE_ORDER: [&str; 5] = [
    crate::reproduce::STAGE,
    crate::minimize::STAGE,
    crate::localize::STAGE,
    crate::patch::STAGE,
    crate::verify::STAGE,
];

fn default_stages() -> Vec<String> {
    PIPELINE_ORDER.iter().map(|s| s.to_string()).collect()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
fn default_workers() -> usize {
    2
}
fn default_store_path() -> PathBuf {
    PathBuf::from("repair.db")
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_backoff_initial() -> Duration {
    Duration::from_secs(2)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(60)
}
fn default_api_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_memory_mib() -> u64 {
    512
}
fn default_cpus() -> f64 {
    1.0
}
fn default_pids() -> i64 {
    256
}
fn default_tmpfs_mib() -> u64 {
    64
}
fn default_sandbox_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_user() -> String {
    "65534:65534".to_string()
}
fn default_build_memory_mib() -> u64 {
    1536
}
fn default_build_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_images_per_service() -> usize {
    5
}
fn default_runs() -> u32 {
    3
}
fn default_ready_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_workdir() -> String {
    "/app".to_string()
}

/// `user` (Docker's `user[:group]`) is root, or empty (the image decides, often root).
fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default().trim();
    name.is_empty() || name == "root" || name.parse::<u32>() == Ok(0)
}

impl RepairConfig {
    /// Whether stage `name` is among the configured `stages`.
    pub fn runs_stage(&self, name: &str) -> bool {
        self.stages.iter().any(|s| s == name)
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses and validates YAML text; `path` is used in messages only.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: RepairConfig = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let errors = config.validate();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                errors,
            })
        }
    }

    /// Every problem with this config, each prefixed with its YAML path.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match (&self.auth.token_env, &self.auth.token_file) {
            (None, None) => errors.push("auth: set one of token_env, token_file".to_string()),
            (Some(_), Some(_)) => {
                errors.push("auth: set only one of token_env, token_file".to_string())
            }
            (Some(name), None) if name.is_empty() => {
                errors.push("auth.token_env: must not be empty".to_string())
            }
            _ => {}
        }
        if self.workers == 0 {
            errors.push("workers: must be at least 1".to_string());
        }
        if self.intake.max_body_bytes < 1024 {
            errors.push("intake.max_body_bytes: must be at least 1024".to_string());
        }
        if self.docker.retry_initial.is_zero() || self.docker.retry_max < self.docker.retry_initial
        {
            errors.push(
                "docker.retry_initial: must be positive and not above docker.retry_max".to_string(),
            );
        }
        if let Some(host) = &self.docker.host {
            let known = ["unix://", "tcp://", "http://", "/"];
            if !known.iter().any(|p| host.starts_with(p)) {
                errors.push(format!(
                    "docker.host: {host:?} is not an engine address (unix:///path, tcp://host:port or http://host:port)"
                ));
            }
        }
        if self.sandbox.memory_mib < 16 {
            errors.push("sandbox.memory_mib: must be at least 16".to_string());
        }
        if !(self.sandbox.cpus > 0.0 && self.sandbox.cpus <= 64.0) {
            errors.push("sandbox.cpus: must be in (0, 64]".to_string());
        }
        if self.sandbox.pids_limit < 8 {
            errors.push("sandbox.pids_limit: must be at least 8".to_string());
        }
        if self.sandbox.timeout.is_zero() {
            errors.push("sandbox.timeout: must be positive".to_string());
        }
        if is_root_user(&self.sandbox.user) && !self.sandbox.allow_root {
            errors.push(format!(
                "sandbox.user: {:?} runs the service as root (or as the image's own user, which may be root); use an unprivileged uid:gid such as 65534:65534, or set sandbox.allow_root: true",
                self.sandbox.user
            ));
        }
        let build = &self.sandbox.build;
        if !(16..=2047).contains(&build.memory_mib) {
            errors.push("sandbox.build.memory_mib: must be between 16 and 2047".to_string());
        }
        if !(build.cpus > 0.0 && build.cpus <= 64.0) {
            errors.push("sandbox.build.cpus: must be in (0, 64]".to_string());
        }
        if build.timeout.is_zero() {
            errors.push("sandbox.build.timeout: must be positive".to_string());
        }
        self.minimize.validate(&mut errors);
        self.localize.validate(&mut errors);
        self.dashboard.validate(&mut errors);
        if self.reproduce.runs == 0 || self.reproduce.runs > 20 {
            errors.push("reproduce.runs: must be between 1 and 20".to_string());
        }
        for (name, service) in &self.services {
            let at = format!("services.{name}");
            if service.repository.is_empty() {
                errors.push(format!("{at}.repository: must not be empty"));
            }
            match (&service.dockerfile, &service.base_image) {
                (None, None) => errors.push(format!("{at}: set one of dockerfile, base_image")),
                (Some(_), Some(_)) => {
                    errors.push(format!("{at}: set only one of dockerfile, base_image"))
                }
                _ => {}
            }
            if service.command.first().is_none_or(|p| p.trim().is_empty()) {
                errors.push(format!("{at}.command: must name the program to run"));
            }
            if service.port == 0 {
                errors.push(format!("{at}.port: must be a TCP port (1-65535)"));
            }
            if !service.workdir.starts_with('/') {
                errors.push(format!("{at}.workdir: must be an absolute path"));
            }
            if service
                .test_command
                .first()
                .is_none_or(|p| p.trim().is_empty())
            {
                errors.push(format!(
                    "{at}.test_command: must name the program that runs the repository's tests"
                ));
            }
            if service.push
                && service
                    .remote
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
            {
                errors.push(format!("{at}.remote: required with push: true"));
            }
            for key in service.env.keys() {
                if key.is_empty() || key.contains('=') || key.contains('\0') {
                    errors.push(format!(
                        "{at}.env: {key:?} is not a valid environment variable name"
                    ));
                }
            }
        }
        let positions: Vec<Option<usize>> = self
            .stages
            .iter()
            .map(|s| PIPELINE_ORDER.iter().position(|p| p == s))
            .collect();
        for (name, pos) in self.stages.iter().zip(&positions) {
            if pos.is_none() {
                errors.push(format!(
                    "stages: unknown stage {name:?} (known: {})",
                    PIPELINE_ORDER.join(", ")
                ));
            }
        }
        if positions
            .iter()
            .flatten()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0] >= w[1])
        {
            errors.push(format!(
                "stages: must be in pipeline order without repeats ({})",
                PIPELINE_ORDER.join(", ")
            ));
        }
        if self.stages.first().map(String::as_str) != Some(crate::reproduce::STAGE) {
            errors.push("stages: must start with reproduce".to_string());
        }
        let has = |name: &str| self.stages.iter().any(|s| s == name);
        if has(crate::verify::STAGE) && !has(crate::patch::STAGE) {
            errors.push("stages: verify needs patch before it".to_string());
        }
        if self.patch.max_candidates == 0 {
            errors.push("patch.max_candidates: must be at least 1".to_string());
        }
        if self.patch.hypotheses == 0 {
            errors.push("patch.hypotheses: must be at least 1".to_string());
        }
        if self.patch.policy.allowed_paths.is_empty() {
            errors.push("patch.policy.allowed_paths: must list at least one glob".to_string());
        }
        for (i, f) in self.patch.policy.files.iter().enumerate() {
            if f.extension().is_none_or(|e| e != "rego") {
                errors.push(format!(
                    "patch.policy.files[{i}]: {} is not a .rego file",
                    f.display()
                ));
            }
        }
        if let Some(model) = &self.patch.model {
            if !(model.endpoint.starts_with("http://") || model.endpoint.starts_with("https://")) {
                errors.push(format!(
                    "patch.model.endpoint: {:?} is not an http(s) URL",
                    model.endpoint
                ));
            }
            if model.model.trim().is_empty() {
                errors.push("patch.model.model: must name the model".to_string());
            }
            if model.api_key_env.trim().is_empty() {
                errors.push(
                    "patch.model.api_key_env: must name the variable holding the key".to_string(),
                );
            }
        }
        if !self.patch.policy.default_policy && self.patch.policy.files.is_empty() {
            errors
                .push("patch.policy: default_policy is false but no files replace it".to_string());
        }
        errors
    }

    /// Directory for repository caches and artifacts.
    pub fn data_dir(&self) -> PathBuf {
        match &self.data_dir {
            Some(dir) => dir.clone(),
            None => self
                .store
                .path
                .parent()
                .map(|p| p.join("repair-data"))
                .unwrap_or_else(|| PathBuf::from("repair-data")),
        }
    }

    /// Reads the intake bearer token from the configured source.
    pub fn read_token(&self) -> Result<String, ConfigError> {
        let token = if let Some(var) = &self.auth.token_env {
            std::env::var(var)
                .map_err(|_| ConfigError::Token(format!("environment variable {var} is not set")))?
        } else if let Some(file) = &self.auth.token_file {
            std::fs::read_to_string(file)
                .map_err(|e| ConfigError::Token(format!("{}: {e}", file.display())))?
        } else {
            return Err(ConfigError::Token("auth has no token source".to_string()));
        };
        let token = token.trim().to_string();
        if token.len() < 16 {
            return Err(ConfigError::Token(
                "the token must be at least 16 characters".to_string(),
            ));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests;
