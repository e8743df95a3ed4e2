//! The YAML of a `wasm/<name>` processor.
//!
//! ```yaml
//! processors:
//!   wasm/redact:
//!     module: ./redact.wasm
//!     config: { rules: [...] }
//!     limits: { memory_mib: 64, call_timeout: 100ms }
//!     on_error: pass
//!     grants:
//!       data: { symbols: ./symbols.idx }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Configuration of one `wasm/<name>` processor.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WasmProcessorConfig {
    /// Path to the WebAssembly component (`.wasm`) built for the
    /// `tracemend:plugin` `processor` world. Required; no default. A relative
    /// path is taken as is (relative to the working directory): the collector
    /// resolves it against the config file before handing it here.
    pub module: PathBuf,
    /// The processor's own settings, any YAML map. Passed to the guest's
    /// `configure` as JSON text. Default: `{}`.
    #[serde(default)]
    pub config: serde_json::Value,
    /// Resource limits of each instance. Default: see [`Limits`].
    #[serde(default)]
    pub limits: Limits,
    /// What happens to a batch when the guest faults: `pass` forwards it
    /// unchanged, `drop` discards it (counted either way). Default: `pass`.
    #[serde(default)]
    pub on_error: OnError,
    /// Capabilities granted to the guest. Default: none.
    #[serde(default)]
    pub grants: Grants,
    /// When repeated faults stop calling the guest. Default: see
    /// [`CircuitBreakerConfig`].
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
}

/// Per-instance resource limits.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory of one instance, in MiB. Growing past it fails the
    /// allocation, which faults the call as `memory`. Default: `64`.
    pub memory_mib: u64,
    /// CPU time bound of one call, e.g. `100ms`. A call still running after
    /// it is interrupted and faults as `timeout`. Enforced with a resolution
    /// of the engine's epoch tick (5 ms). Default: `100ms`.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Most edits one call may return; more faults the call as
    /// `invalid_edit`. Default: `100000`.
    pub max_edits: usize,
    /// Idle instances kept warm for reuse; concurrent calls beyond this build
    /// temporary instances. Default: `4`.
    pub max_idle_instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            call_timeout: Duration::from_millis(100),
            max_edits: 100_000,
            max_idle_instances: 4,
        }
    }
}

/// Fault policy for the batch in flight.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Forward the batch unchanged.
    #[default]
    Pass,
    /// Discard the batch.
    Drop,
}

impl OnError {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Pass => "pass",
            OnError::Drop => "drop",
        }
    }
}

/// Capabilities a guest gets only when the YAML grants them.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// Read-only data blobs by name: a file path (`symbols: ./symbols.idx`)
    /// or `env:VAR` for the value of an environment variable (`hmac_key_v2:
    /// env:REDACT_KEY_V2`), so secrets such as HMAC keys never sit in the
    /// YAML. Each is read once at load; the guest reads it with
    /// `data-read(name, ...)`. Default: none.
    pub data: BTreeMap<String, DataSource>,
}

/// Where a granted data blob comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A file, read once at load.
    File(PathBuf),
    /// An environment variable of the collector process (YAML `env:VAR`),
    /// read once at load. Guests have no environment of their own; this is
    /// how a secret from the environment reaches one.
    Env(String),
}

impl DataSource {
    /// The YAML prefix of an environment variable source.
    pub const ENV_PREFIX: &'static str = "env:";

    /// A relative file path joined onto `base` (the config file's
    /// directory); environment sources and absolute paths are unchanged.
    pub fn resolve_relative(&self, base: &std::path::Path) -> DataSource {
        match self {
            DataSource::File(p) if p.is_relative() => DataSource::File(base.join(p)),
            other => other.clone(),
        }
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::File(p) => write!(f, "{}", p.display()),
            DataSource::Env(v) => write!(f, "{}{v}", DataSource::ENV_PREFIX),
        }
    }
}

impl From<&str> for DataSource {
    /// `env:VAR` is an environment variable, anything else a file path.
    fn from(s: &str) -> Self {
        match s.strip_prefix(DataSource::ENV_PREFIX) {
            Some(var) => DataSource::Env(var.to_owned()),
            None => DataSource::File(PathBuf::from(s)),
        }
    }
}

impl From<PathBuf> for DataSource {
    fn from(p: PathBuf) -> Self {
        DataSource::File(p)
    }
}

impl<'de> Deserialize<'de> for DataSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(DataSource::from(s.as_str()))
    }
}

/// When to stop calling a faulting guest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// Consecutive faulted calls that open the circuit. While open, batches
    /// skip the guest and follow `on_error`, and health is unhealthy.
    /// Default: `5`.
    pub consecutive_faults: u32,
    /// How long the circuit stays open before one trial call, e.g. `30s`.
    /// A successful trial closes it. Default: `30s`.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            consecutive_faults: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// One rule a [`WasmProcessorConfig`] breaks; its path is the YAML key relative to the
/// processor (e.g. `limits.memory_mib`).
pub use component::ConfigError;

impl WasmProcessorConfig {
    /// Checks every rule and returns every violation at once.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut bad = |key: &str, message: String| errors.push(ConfigError::new(key, message));
        if self.module.as_os_str().is_empty() {
            bad("module", "required: the path to a .wasm component".into());
        }
        if !(self.config.is_null() || self.config.is_object()) {
            bad("config", "must be a map".into());
        }
        let l = &self.limits;
        if !(1..=4096).contains(&l.memory_mib) {
            bad(
                "limits.memory_mib",
                format!("must be between 1 and 4096 MiB, got {}", l.memory_mib),
            );
        }
        if l.call_timeout < Duration::from_millis(1) || l.call_timeout > Duration::from_secs(60) {
            bad(
                "limits.call_timeout",
                format!(
                    "must be between 1ms and 60s, got {}",
                    humantime::format_duration(l.call_timeout)
                ),
            );
        }
        if l.max_edits == 0 {
            bad("limits.max_edits", "must be at least 1".into());
        }
        if l.max_idle_instances == 0 {
            bad("limits.max_idle_instances", "must be at least 1".into());
        }
        for (name, source) in &self.grants.data {
            if name.is_empty() {
                bad("grants.data", "a blob name must not be empty".into());
            }
            match source {
                DataSource::File(path) if path.as_os_str().is_empty() => bad(
                    &format!("grants.data.{name}"),
                    "must be a file path or env:VAR".into(),
                ),
                DataSource::Env(var)
                    if var.is_empty() || var.contains('=') || var.contains('\0') =>
                {
                    bad(
                        &format!("grants.data.{name}"),
                        format!("env:{var}: needs an environment variable name after `env:`"),
                    )
                }
                _ => {}
            }
        }
        if self.circuit_breaker.consecutive_faults == 0 {
            bad(
                "circuit_breaker.consecutive_faults",
                "must be at least 1".into(),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The guest's `config:` block as the JSON text `configure` receives.
    pub fn guest_config_json(&self) -> String {
        if self.config.is_null() {
            "{}".to_owned()
        } else {
            self.config.to_string()
        }
    }

    /// A config with only `module` set and every default.
    pub fn for_module(module: impl Into<PathBuf>) -> Self {
        WasmProcessorConfig {
            module: module.into(),
            config: serde_json::Value::Null,
            limits: Limits::default(),
            on_error: OnError::default(),
            grants: Grants::default(),
            circuit_breaker: CircuitBreakerConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<WasmProcessorConfig, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn defaults() {
        let c = parse("module: a.wasm").expect("parses");
        assert_eq!(c, WasmProcessorConfig::for_module("a.wasm"));
        assert_eq!(c.limits.memory_mib, 64);
        assert_eq!(c.limits.call_timeout, Duration::from_millis(100));
        assert_eq!(c.on_error, OnError::Pass);
        assert_eq!(c.guest_config_json(), "{}");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn full_yaml_round_trip() {
        let c = parse(
            "module: ./redact.wasm\n\
             config: { key: team, nested: { list: [1, 2] } }\n\
             limits: { memory_mib: 32, call_timeout: 250ms, max_edits: 10, max_idle_instances: 2 }\n\
             on_error: drop\n\
             grants: { data: { symbols: ./symbols.idx } }\n\
             circuit_breaker: { consecutive_faults: 3, open_for: 5s }\n",
        )
        .expect("parses");
        assert_eq!(c.limits.call_timeout, Duration::from_millis(250));
        assert_eq!(c.on_error, OnError::Drop);
        assert_eq!(
            c.grants.data["symbols"],
            DataSource::File(PathBuf::from("./symbols.idx"))
        );
        assert_eq!(c.circuit_breaker.open_for, Duration::from_secs(5));
        let json: serde_json::Value = serde_json::from_str(&c.guest_config_json()).expect("json");
        assert_eq!(json["nested"]["list"][1], 2);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn grants_take_files_and_environment_variables() {
        let c = parse(
            "module: a.wasm\n\
             grants: { data: { hmac_key_v2: 'env:REDACT_KEY_V2', hmac_key_v1: /etc/k1, rel: k/v1 } }\n",
        )
        .expect("parses");
        assert_eq!(
            c.grants.data["hmac_key_v2"],
            DataSource::Env("REDACT_KEY_V2".into())
        );
        assert_eq!(
            c.grants.data["hmac_key_v1"],
            DataSource::File("/etc/k1".into())
        );
        let base = std::path::Path::new("/cfg");
        assert_eq!(
            c.grants.data["rel"].resolve_relative(base),
            DataSource::File("/cfg/k/v1".into())
        );
        assert_eq!(
            c.grants.data["hmac_key_v2"].resolve_relative(base),
            c.grants.data["hmac_key_v2"]
        );
        assert!(c.validate().is_ok());
        let c = parse("module: a.wasm\ngrants: { data: { k: 'env:' } }\n").expect("parses");
        let errs = c.validate().expect_err("empty variable name");
        assert_eq!(errs[0].path, "grants.data.k");
    }

    #[test]
    fn unknown_keys_rejected() {
        assert!(parse("module: a.wasm\nmodul: b").is_err());
        assert!(parse("module: a.wasm\nlimits: { memory: 3 }").is_err());
        assert!(parse("module: a.wasm\non_error: retry").is_err());
        assert!(parse("config: {}").is_err(), "module is required");
    }

    #[test]
    fn every_rule_reports_its_key() {
        let c = parse(
            "module: ''\nconfig: [1]\n\
             limits: { memory_mib: 0, call_timeout: 0s, max_edits: 0, max_idle_instances: 0 }\n\
             grants: { data: { '': '' } }\n\
             circuit_breaker: { consecutive_faults: 0 }\n",
        )
        .expect("parses");
        let keys: Vec<String> = c
            .validate()
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.path)
            .collect();
        for key in [
            "module",
            "config",
            "limits.memory_mib",
            "limits.call_timeout",
            "limits.max_edits",
            "limits.max_idle_instances",
            "grants.data",
            "grants.data.",
            "circuit_breaker.consecutive_faults",
        ] {
            assert!(keys.iter().any(|k| k == key), "missing {key} in {keys:?}");
        }
    }
}
