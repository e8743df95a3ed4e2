//! The `service` section: pipelines, enabled extensions, and the collector's own telemetry.

use std::collections::BTreeMap;
use std::fmt;

use pdata::Signal;
use serde::Deserialize;

use super::ignored::{self, Ignored};
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

impl RawService {
    /// Keys of `service` that loaded but have no effect here, with full paths.
    pub(super) fn warnings(&self) -> Vec<ConfigError> {
        self.telemetry.warnings("service.telemetry")
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
    /// Resource attributes of the collector's own telemetry; served as the labels of the
    /// `target_info` metric, as otelcol's Prometheus reader does.
    #[serde(default, deserialize_with = "super::lenient::string_map")]
    pub resource: BTreeMap<String, String>,
    /// The collector's own traces: tracemend does not trace itself.
    #[serde(default)]
    pub traces: Ignored,
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

    fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let mut w = ignored::warnings(
            path,
            &[(
                "traces",
                &self.traces,
                "tracemend does not trace its own work",
            )],
        );
        w.extend(self.logs.warnings(&format!("{path}.logs")));
        w.extend(self.metrics.warnings(&format!("{path}.metrics")));
        w
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
    /// The zap logger's options below have no counterpart in tracemend's log output
    /// (stderr through `tracing`); each is accepted and reported.
    #[serde(default)]
    pub development: Ignored,
    #[serde(default)]
    pub disable_caller: Ignored,
    #[serde(default)]
    pub disable_stacktrace: Ignored,
    #[serde(default)]
    pub sampling: Ignored,
    #[serde(default)]
    pub output_paths: Ignored,
    #[serde(default)]
    pub error_output_paths: Ignored,
    #[serde(default)]
    pub initial_fields: Ignored,
    #[serde(default)]
    pub processors: Ignored,
}

fn default_level() -> String {
    "info".to_string()
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            level: default_level(),
            encoding: LogEncoding::Console,
            development: Ignored::default(),
            disable_caller: Ignored::default(),
            disable_stacktrace: Ignored::default(),
            sampling: Ignored::default(),
            output_paths: Ignored::default(),
            error_output_paths: Ignored::default(),
            initial_fields: Ignored::default(),
            processors: Ignored::default(),
        }
    }
}

impl LogsConfig {
    fn warnings(&self, path: &str) -> Vec<ConfigError> {
        ignored::warnings(
            path,
            &[
                (
                    "development",
                    &self.development,
                    "tracemend's logs have no development mode",
                ),
                (
                    "disable_caller",
                    &self.disable_caller,
                    "tracemend's log lines carry no caller",
                ),
                (
                    "disable_stacktrace",
                    &self.disable_stacktrace,
                    "tracemend's log lines carry no stack traces",
                ),
                (
                    "sampling",
                    &self.sampling,
                    "tracemend writes every log line at or above `level`",
                ),
                (
                    "output_paths",
                    &self.output_paths,
                    "tracemend logs to stderr",
                ),
                (
                    "error_output_paths",
                    &self.error_output_paths,
                    "tracemend logs to stderr",
                ),
                (
                    "initial_fields",
                    &self.initial_fields,
                    "tracemend's log lines carry no extra fields",
                ),
                (
                    "processors",
                    &self.processors,
                    "tracemend's own logs go to stderr, not over OTLP",
                ),
            ],
        )
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

/// One of `readers`: `pull` (a Prometheus endpoint, served) or `periodic` (a push to an
/// OTLP endpoint, accepted and reported: tracemend serves its metrics for pull only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricReader {
    #[serde(default)]
    pub pull: Option<PullReader>,
    #[serde(default)]
    pub periodic: Ignored,
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
    /// Name-translation options of otelcol's Prometheus reader: tracemend's metric names
    /// are fixed (otelcol's, with units and `_total`).
    #[serde(default)]
    pub without_units: Ignored,
    #[serde(default)]
    pub without_type_suffix: Ignored,
    #[serde(default)]
    pub without_scope_info: Ignored,
    #[serde(default)]
    pub with_resource_constant_labels: Ignored,
    #[serde(default)]
    pub translation_strategy: Ignored,
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
        for (i, r) in self.readers.iter().enumerate() {
            if r.pull.is_some() == r.periodic.is_set() {
                return Err(format!(
                    "readers[{i}] must set exactly one of `pull` and `periodic`"
                ));
            }
        }
        let pulls: Vec<&PullReader> = self
            .readers
            .iter()
            .filter_map(|r| r.pull.as_ref())
            .collect();
        if self.address.is_some() && !pulls.is_empty() {
            return Err("set either `address` or a `pull` reader, not both".to_string());
        }
        if pulls.len() > 1 {
            return Err("only one Prometheus pull reader is supported".to_string());
        }
        let addr = match (&self.address, pulls.first()) {
            (Some(a), _) => a.clone(),
            (None, Some(r)) => {
                let p = &r.exporter.prometheus;
                format!("{}:{}", p.host, p.port)
            }
            // Only push readers: otelcol serves no Prometheus endpoint then.
            (None, None) if !self.readers.is_empty() => return Ok(None),
            (None, None) => "localhost:8888".to_string(),
        };
        crate::net::check_endpoint(&addr)?;
        Ok(Some(addr))
    }
}

impl MetricsConfig {
    fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let mut w = Vec::new();
        for (i, r) in self.readers.iter().enumerate() {
            let at = format!("{path}.readers[{i}]");
            w.extend(ignored::warnings(
                &at,
                &[(
                    "periodic",
                    &r.periodic,
                    "tracemend serves its own metrics for Prometheus to pull (a `pull` reader or `address`), it does not push them",
                )],
            ));
            if let Some(p) = &r.pull {
                let p = &p.exporter.prometheus;
                let why = "tracemend's own metric names are fixed";
                w.extend(ignored::warnings(
                    &format!("{at}.pull.exporter.prometheus"),
                    &[
                        ("without_units", &p.without_units, why),
                        ("without_type_suffix", &p.without_type_suffix, why),
                        ("without_scope_info", &p.without_scope_info, why),
                        (
                            "with_resource_constant_labels",
                            &p.with_resource_constant_labels,
                            "the resource is served as `target_info`",
                        ),
                        ("translation_strategy", &p.translation_strategy, why),
                    ],
                ));
            }
        }
        w
    }
}

pub(super) struct Lookup<'a> {
    pub receivers: &'a Components,
    pub processors: &'a Components,
    pub exporters: &'a Components,
    pub extensions: &'a Components,
    /// Connectors: each may stand as a pipeline's receiver or exporter.
    pub connectors: &'a Components,
    /// Components whose own config was invalid, by the kind they were configured as
    /// (already reported): references to them are not reported again.
    pub invalid: &'a [(Kind, ComponentId)],
}

impl Lookup<'_> {
    fn has(&self, kind: Kind, id: &ComponentId) -> bool {
        if matches!(kind, Kind::Receiver | Kind::Exporter) && self.connectors.contains_key(id) {
            return true;
        }
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
        let refused: Vec<String> = self
            .invalid
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| id.to_string())
            .collect();
        let kinds = format!("{}s", kind.as_str());
        let mut ids = ids;
        if matches!(kind, Kind::Receiver | Kind::Exporter) {
            ids.extend(self.connectors.keys().map(|id| format!("{id} (connector)")));
        }
        match (ids.is_empty(), refused.is_empty()) {
            (true, true) => format!("no {kinds} are configured"),
            (false, true) => format!("configured {kinds}: {}", ids.join(", ")),
            (true, false) => format!("no valid {kinds}: {} refused above", refused.join(", ")),
            (false, false) => format!(
                "configured {kinds}: {}; refused above: {}",
                ids.join(", "),
                refused.join(", ")
            ),
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
        // Its own error was reported; the same id as another kind (`otlp` is both a
        // receiver and an exporter) must not be offered instead.
        if self.invalid.iter().any(|(k, i)| *k == kind && *i == id) {
            return None;
        }
        match self.kind_of(&id, kind) {
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
        if sig == "profiles" {
            errors.push(ConfigError::new(
                base,
                "profiles pipelines are not supported: tracemend handles traces, logs and metrics \
                 (otelcol needs the feature gate `service.profilesSupport` for them)",
            ));
            continue;
        }
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
                    if lookup.connectors.contains_key(&id) {
                        if let Some(e) = connector_side(catalog, &id, kind, signal) {
                            errors.push(ConfigError::new(path, e));
                            continue;
                        }
                    } else if !catalog.supports(kind, &id.ty, signal) {
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

/// Why connector `id` cannot stand as `kind` (receiver or exporter) of a `signal`
/// pipeline, if it cannot: none of its signal pairs has `signal` on that side.
fn connector_side(
    catalog: &dyn Catalog,
    id: &ComponentId,
    kind: Kind,
    signal: Signal,
) -> Option<String> {
    let pairs = catalog.connector_pairs(&id.ty);
    let fits = pairs.iter().any(|(from, to)| {
        if kind == Kind::Exporter {
            *from == signal
        } else {
            *to == signal
        }
    });
    if fits {
        return None;
    }
    Some(format!(
        "connector `{id}` cannot be {} {} of a {signal} pipeline: it joins {}",
        kind.article(),
        kind.as_str(),
        super::graph::describe_pairs(pairs)
    ))
}
