//! The `service` section: pipelines, enabled extensions, and the collector's own telemetry.

use std::collections::BTreeMap;
use std::fmt;

use pdata::Signal;
use serde::Deserialize;

use super::{Catalog, ComponentConfig, ComponentId, Components, ConfigError, Kind};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    #[serde(default)]
    extensions: Vec<String>,
    #[serde(default)]
    pipelines: BTreeMap<String, RawPipeline>,
    #[serde(default)]
    telemetry: TelemetryConfig,
}

impl ComponentConfig for RawService {
    fn validate(&self) -> Vec<ConfigError> {
        self.telemetry.validate("telemetry")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    receivers: Vec<String>,
    #[serde(default)]
    processors: Vec<String>,
    #[serde(default)]
    exporters: Vec<String>,
}

/// `traces`, `logs`, `metrics`, or one of them with a name (`traces/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

#[derive(Debug)]
pub struct ServiceConfig {
    pub extensions: Vec<ComponentId>,
    pub pipelines: BTreeMap<PipelineId, PipelineConfig>,
    pub telemetry: TelemetryConfig,
}

/// `service.telemetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(default)]
    pub logs: LogsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

impl TelemetryConfig {
    fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = self.metrics.listen_address() {
            errors.push(ConfigError::new(format!("{path}.metrics"), e));
        }
        if !["debug", "info", "warn", "error"]
            .contains(&self.logs.level.to_ascii_lowercase().as_str())
        {
            errors.push(ConfigError::new(
                format!("{path}.logs.level"),
                format!(
                    "unknown log level {:?}, expected one of debug, info, warn, error",
                    self.logs.level
                ),
            ));
        }
        errors
    }
}

/// `service.telemetry.logs`: the collector's own log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// `debug`, `info` (default), `warn` or `error`.
    #[serde(default = "default_level")]
    pub level: String,
    /// `console` (default) or `json`.
    #[serde(default)]
    pub encoding: LogEncoding,
}

fn default_level() -> String {
    "info".to_string()
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            level: default_level(),
            encoding: LogEncoding::Console,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    #[default]
    Console,
    Json,
}

/// `service.telemetry.metrics`: the collector's own metrics in Prometheus text format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `none` turns the endpoint off; `basic`, `normal` (default) and `detailed` serve it.
    #[serde(default = "default_metrics_level")]
    pub level: String,
    /// Listen address of the Prometheus endpoint (otelcol's older form). Default `localhost:8888`.
    #[serde(default)]
    pub address: Option<String>,
    /// otelcol's newer form: `readers: [{pull: {exporter: {prometheus: {host, port}}}}]`.
    #[serde(default)]
    pub readers: Vec<MetricReader>,
}

fn default_metrics_level() -> String {
    "normal".to_string()
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            level: default_metrics_level(),
            address: None,
            readers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricReader {
    pub pull: PullReader,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReader {
    pub exporter: PullExporter,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullExporter {
    pub prometheus: PrometheusReader,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusReader {
    #[serde(default = "default_prom_host")]
    pub host: String,
    #[serde(default = "default_prom_port")]
    pub port: u16,
}

fn default_prom_host() -> String {
    "localhost".to_string()
}
fn default_prom_port() -> u16 {
    8888
}

impl MetricsConfig {
    /// Where to serve `/metrics`, or `None` when turned off.
    pub fn listen_address(&self) -> Result<Option<String>, String> {
        match self.level.as_str() {
            "none" => return Ok(None),
            "basic" | "normal" | "detailed" => {}
            other => {
                return Err(format!(
                    "unknown metrics level {other:?}, expected one of none, basic, normal, detailed"
                ));
            }
        }
        if self.address.is_some() && !self.readers.is_empty() {
            return Err("set either `address` or `readers`, not both".to_string());
        }
        if self.readers.len() > 1 {
            return Err("only one Prometheus pull reader is supported".to_string());
        }
        let addr = match (&self.address, self.readers.first()) {
            (Some(a), _) => a.clone(),
            (None, Some(r)) => {
                let p = &r.pull.exporter.prometheus;
                format!("{}:{}", p.host, p.port)
            }
            (None, None) => "localhost:8888".to_string(),
        };
        crate::net::check_endpoint(&addr)?;
        Ok(Some(addr))
    }
}

pub(super) struct Lookup<'a> {
    pub receivers: &'a Components,
    pub processors: &'a Components,
    pub exporters: &'a Components,
    pub extensions: &'a Components,
    /// Components whose own config was invalid (already reported): references to them
    /// are not reported again.
    pub invalid: &'a [ComponentId],
}

impl Lookup<'_> {
    fn has(&self, kind: Kind, id: &ComponentId) -> bool {
        match kind {
            Kind::Receiver => self.receivers.contains_key(id),
            Kind::Processor => self.processors.contains_key(id),
            Kind::Exporter => self.exporters.contains_key(id),
            Kind::Extension => self.extensions.contains_key(id),
        }
    }

    /// Where `id` is configured, preferring `wanted` (the same id, e.g. `otlp`, may be
    /// both a receiver and an exporter).
    fn kind_of(&self, id: &ComponentId, wanted: Kind) -> Option<Kind> {
        if self.has(wanted, id) {
            return Some(wanted);
        }
        Kind::ALL.into_iter().find(|k| self.has(*k, id))
    }

    fn names(&self, kind: Kind) -> String {
        let ids: Vec<String> = match kind {
            Kind::Receiver => self.receivers.keys().map(ToString::to_string).collect(),
            Kind::Processor => self.processors.keys().map(ToString::to_string).collect(),
            Kind::Exporter => self.exporters.keys().map(ToString::to_string).collect(),
            Kind::Extension => self.extensions.keys().map(ToString::to_string).collect(),
        };
        if ids.is_empty() {
            format!("no {}s are configured", kind.as_str())
        } else {
            format!("configured {}s: {}", kind.as_str(), ids.join(", "))
        }
    }

    /// Checks that `raw` names a configured component of `kind`.
    fn resolve(
        &self,
        raw: &str,
        kind: Kind,
        path: &str,
        errors: &mut Vec<ConfigError>,
    ) -> Option<ComponentId> {
        let id = match ComponentId::parse(raw) {
            Ok(id) => id,
            Err(e) => {
                errors.push(ConfigError::new(path, e));
                return None;
            }
        };
        match self.kind_of(&id, kind) {
            None if self.invalid.contains(&id) => None,
            Some(k) if k == kind => Some(id),
            Some(other) => {
                errors.push(ConfigError::new(
                    path,
                    format!(
                        "`{id}` is {} {}, not {} {}",
                        other.article(),
                        other.as_str(),
                        kind.article(),
                        kind.as_str()
                    ),
                ));
                None
            }
            None => {
                errors.push(ConfigError::new(
                    path,
                    format!(
                        "references {} `{id}` which is not configured ({})",
                        kind.as_str(),
                        self.names(kind)
                    ),
                ));
                None
            }
        }
    }
}

pub(super) fn check(
    raw: RawService,
    lookup: &Lookup<'_>,
    catalog: &dyn Catalog,
    errors: &mut Vec<ConfigError>,
) -> ServiceConfig {
    let mut extensions = Vec::new();
    for (i, e) in raw.extensions.iter().enumerate() {
        if let Some(id) = lookup.resolve(
            e,
            Kind::Extension,
            &format!("service.extensions[{i}]"),
            errors,
        ) {
            extensions.push(id);
        }
    }
    let mut pipelines = BTreeMap::new();
    if raw.pipelines.is_empty() {
        errors.push(ConfigError::new(
            "service.pipelines",
            "at least one pipeline must be configured",
        ));
    }
    for (key, p) in raw.pipelines {
        let base = format!("service.pipelines.{key}");
        let (sig, name) = match key.split_once('/') {
            Some((s, n)) => (s, Some(n.to_string())),
            None => (key.as_str(), None),
        };
        let Some(signal) = Signal::parse(sig) else {
            errors.push(ConfigError::new(
                base,
                format!("unknown pipeline type `{sig}`, expected traces, logs or metrics (optionally `type/name`)"),
            ));
            continue;
        };
        if name.as_deref() == Some("") {
            errors.push(ConfigError::new(
                base,
                "a pipeline name after `/` must not be empty",
            ));
            continue;
        }
        let mut resolve_all = |list: &[String], kind: Kind, field: &str| -> Vec<ComponentId> {
            let mut out = Vec::new();
            for (i, raw_id) in list.iter().enumerate() {
                let path = format!("{base}.{field}[{i}]");
                if let Some(id) = lookup.resolve(raw_id, kind, &path, errors) {
                    if !catalog.supports(kind, &id.ty, signal) {
                        errors.push(ConfigError::new(
                            path,
                            format!("{} `{id}` does not support {signal}", kind.as_str()),
                        ));
                        continue;
                    }
                    if out.contains(&id) {
                        errors.push(ConfigError::new(path, format!("`{id}` is listed twice")));
                        continue;
                    }
                    out.push(id);
                }
            }
            out
        };
        let receivers = resolve_all(&p.receivers, Kind::Receiver, "receivers");
        let processors = resolve_all(&p.processors, Kind::Processor, "processors");
        let exporters = resolve_all(&p.exporters, Kind::Exporter, "exporters");
        if p.receivers.is_empty() {
            errors.push(ConfigError::new(
                format!("{base}.receivers"),
                "a pipeline needs at least one receiver",
            ));
        }
        if p.exporters.is_empty() {
            errors.push(ConfigError::new(
                format!("{base}.exporters"),
                "a pipeline needs at least one exporter",
            ));
        }
        pipelines.insert(
            PipelineId { signal, name },
            PipelineConfig {
                receivers,
                processors,
                exporters,
            },
        );
    }
    ServiceConfig {
        extensions,
        pipelines,
        telemetry: raw.telemetry,
    }
}
