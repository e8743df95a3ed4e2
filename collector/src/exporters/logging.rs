//! The `logging` exporter: otelcol's old name of `debug`, removed there in v0.111 and
//! still in many configs. It is the `debug` exporter, with its old `loglevel` key mapped
//! to a verbosity, and a warning at load that names the replacement.

use std::sync::Arc;

use pdata::Consumer;
use serde::Deserialize;

use super::debug::{DebugConfig, Verbosity};
use crate::config::{AnyConfig, ComponentConfig, ConfigError, Ignored};
use crate::factory::{Exporter, ExporterContext};

/// `exporters.logging`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// The old verbosity key: `debug` is `detailed`, `info` is `normal`, `warn` and
    /// `error` are `basic`. Also spelled `logLevel` (otelcol matched keys regardless of
    /// case).
    #[serde(default, alias = "logLevel")]
    pub loglevel: Option<String>,
    /// `basic`, `normal` or `detailed`; wins over `loglevel`.
    #[serde(default)]
    pub verbosity: Option<Verbosity>,
    /// As in `debug`.
    #[serde(default)]
    pub sampling_initial: Option<u64>,
    /// As in `debug`.
    #[serde(default)]
    pub sampling_thereafter: Option<u64>,
    /// As in `debug`.
    #[serde(default)]
    pub use_internal_logger: Option<bool>,
    /// As in `debug`.
    #[serde(default)]
    pub sending_queue: Ignored,
}

impl LoggingConfig {
    fn level_verbosity(&self) -> Result<Option<Verbosity>, String> {
        let Some(level) = &self.loglevel else {
            return Ok(None);
        };
        match level.to_ascii_lowercase().as_str() {
            "debug" => Ok(Some(Verbosity::Detailed)),
            "info" => Ok(Some(Verbosity::Normal)),
            "warn" | "error" => Ok(Some(Verbosity::Basic)),
            other => Err(format!(
                "unknown log level {other:?}, expected one of debug, info, warn, error"
            )),
        }
    }

    /// The `debug` exporter this one is.
    pub fn as_debug(&self) -> DebugConfig {
        let mut d = DebugConfig::default();
        if let Some(v) = self.verbosity.or(self.level_verbosity().ok().flatten()) {
            d.verbosity = v;
        }
        if let Some(n) = self.sampling_initial {
            d.sampling_initial = n;
        }
        if let Some(n) = self.sampling_thereafter {
            d.sampling_thereafter = n;
        }
        if let Some(b) = self.use_internal_logger {
            d.use_internal_logger = b;
        }
        d.sending_queue = self.sending_queue.clone();
        d
    }
}

impl ComponentConfig for LoggingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = self.level_verbosity() {
            errors.push(ConfigError::new("loglevel", e));
        }
        errors.extend(self.as_debug().validate());
        errors
    }
}

impl AnyConfig for LoggingConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let mut w = vec![ConfigError::new(
            "",
            "the `logging` exporter is deprecated (removed from otelcol in v0.111): it runs as `debug`; rename it to `debug`",
        )];
        if self.loglevel.is_some() {
            w.push(ConfigError::new(
                "loglevel",
                "is deprecated: use `verbosity` (basic, normal, detailed)",
            ));
        }
        w.extend(self.as_debug().warnings());
        w
    }
}

impl Exporter for LoggingConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        self.as_debug().build(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> LoggingConfig {
        serde_yaml::from_str(yaml).expect("parses")
    }

    #[test]
    fn loglevel_maps_to_a_verbosity_and_verbosity_wins() {
        assert_eq!(
            parse("loglevel: debug").as_debug().verbosity,
            Verbosity::Detailed
        );
        assert_eq!(
            parse("logLevel: info").as_debug().verbosity,
            Verbosity::Normal
        );
        assert_eq!(
            parse("loglevel: WARN").as_debug().verbosity,
            Verbosity::Basic
        );
        assert_eq!(
            parse("loglevel: debug\nverbosity: basic")
                .as_debug()
                .verbosity,
            Verbosity::Basic
        );
        let d = parse("sampling_initial: 5\nsampling_thereafter: 200").as_debug();
        assert_eq!((d.sampling_initial, d.sampling_thereafter), (5, 200));
    }

    #[test]
    fn an_unknown_loglevel_is_an_error_and_the_name_a_warning() {
        let c = parse("loglevel: loud");
        let e = c.validate();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "loglevel");
        let w = parse("loglevel: debug").warnings();
        assert!(w[0].message.contains("rename it to `debug`"), "{w:?}");
        assert!(w.iter().any(|w| w.path == "loglevel"), "{w:?}");
    }
}
