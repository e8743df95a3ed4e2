//! The registry: one table of factories per component kind, the one place a component
//! type is named. A row gives the type name, its signals and description, and (through
//! [`crate::factory`]'s constructors) how its YAML is parsed and what builds it. Adding
//! an exporter is its file plus one row in [`EXPORTERS`].

use pdata::Signal;
use serde_yaml::Value;

use crate::config::{
    self, AnyConfig, Catalog, ComponentId, Config, ConfigError, ConfigErrors, Kind,
};
use crate::connectors::count::CountConfig;
use crate::connectors::forward::ForwardConfig;
use crate::connectors::routing::RoutingConfig;
use crate::connectors::spanmetrics::SpanMetricsConfig;
use crate::exporters::debug::DebugConfig;
use crate::exporters::envelope::EnvelopeExporterConfig;
use crate::exporters::file::FileExporterConfig;
use crate::exporters::loadbalancing::LoadBalancingConfig;
use crate::exporters::logging::LoggingConfig;
use crate::exporters::nop::NopConfig;
use crate::exporters::otlp::OtlpExporterConfig;
use crate::exporters::otlphttp::OtlpHttpExporterConfig;
use crate::extensions::file_storage::FileStorageConfig;
use crate::extensions::health_check::HealthCheckConfig;
use crate::factory::{
    Connector, ConnectorFactory, Exporter, Extension, Factory, ParseFn, Processor, Receiver,
    connector, exporter, extension, processor, receiver,
};
use crate::processors::attributes::AttributesConfig;
use crate::processors::batch::BatchConfig;
use crate::processors::filter::FilterConfig;
use crate::processors::memory_limiter::MemoryLimiterConfig;
use crate::processors::resource::ResourceConfig;
use crate::processors::resourcedetection::ResourceDetectionConfig;
use crate::processors::transform::TransformConfig;
use crate::processors::wasm::WasmConfig;
use crate::receivers::otlp::OtlpReceiverConfig;
use ::wasm_host::tail_sampling::TailSamplingConfig;

const ALL: &[Signal] = &Signal::ALL;
const TRACES_LOGS: &[Signal] = &[Signal::Traces, Signal::Logs];

/// Receiver types, in the order `tracemend components` prints them.
pub const RECEIVERS: &[Factory<dyn Receiver>] = &[receiver::<OtlpReceiverConfig>(
    "otlp",
    ALL,
    "OTLP over gRPC and HTTP (protobuf and JSON)",
)];

/// Processor types.
pub const PROCESSORS: &[Factory<dyn Processor>] = &[
    processor::<BatchConfig>("batch", ALL, "groups data into batches by size and time"),
    processor::<MemoryLimiterConfig>(
        "memory_limiter",
        ALL,
        "refuses data (retryably) when memory use is too high",
    ),
    processor::<WasmConfig>(
        "wasm",
        TRACES_LOGS,
        "a sandboxed WebAssembly component (`module: PATH` or `builtin:NAME`)",
    ),
    processor::<TailSamplingConfig>(
        "tail_sampling",
        &[Signal::Traces],
        "holds traces for decision_wait, keeps those the contrib policies sample",
    ),
    processor::<TransformConfig>(
        "transform",
        ALL,
        "modifies data with OTTL statements (set, delete_key, replace_pattern, ...)",
    ),
    processor::<FilterConfig>("filter", ALL, "drops data matching OTTL conditions"),
    processor::<AttributesConfig>(
        "attributes",
        ALL,
        "inserts, updates, deletes, hashes, extracts or converts item attributes",
    ),
    processor::<ResourceConfig>("resource", ALL, "applies attribute actions to resources"),
    processor::<ResourceDetectionConfig>(
        "resourcedetection",
        ALL,
        "adds resource attributes detected from the environment, host and Docker",
    ),
];

/// Exporter types.
pub const EXPORTERS: &[Factory<dyn Exporter>] = &[
    exporter::<OtlpExporterConfig>("otlp", ALL, "OTLP over gRPC"),
    exporter::<OtlpHttpExporterConfig>("otlphttp", ALL, "OTLP over HTTP (protobuf or JSON)"),
    exporter::<LoadBalancingConfig>(
        "loadbalancing",
        TRACES_LOGS,
        "OTLP/gRPC to backends chosen by consistent hashing of the trace id or service",
    ),
    exporter::<DebugConfig>("debug", ALL, "writes data to the collector's log"),
    exporter::<NopConfig>("nop", ALL, "accepts and discards data"),
    exporter::<FileExporterConfig>("file", ALL, "writes OTLP JSON lines to a file"),
    exporter::<OtlpExporterConfig>("otlp_grpc", ALL, "otlp under its otelcol >= 0.144 name"),
    exporter::<OtlpHttpExporterConfig>(
        "otlp_http",
        ALL,
        "otlphttp under its otelcol >= 0.144 name",
    ),
    exporter::<LoggingConfig>(
        "logging",
        ALL,
        "deprecated name of debug (a warning at load)",
    ),
    exporter::<EnvelopeExporterConfig>(
        "envelope",
        TRACES_LOGS,
        "turns failing traces and their logs into Failure Envelopes for the repair engine",
    ),
];

/// Extension types.
pub const EXTENSIONS: &[Factory<dyn Extension>] = &[
    extension::<HealthCheckConfig>("health_check", &[], "HTTP readiness and health endpoint"),
    extension::<FileStorageConfig>(
        "file_storage",
        &[],
        "on-disk storage for persistent sending queues",
    ),
];

/// Connector types, with the (exporter pipeline, receiver pipeline) signal pairs each
/// joins.
pub const CONNECTORS: &[ConnectorFactory] = &[
    connector::<ForwardConfig>(
        "forward",
        &[
            (Signal::Traces, Signal::Traces),
            (Signal::Logs, Signal::Logs),
            (Signal::Metrics, Signal::Metrics),
        ],
        "passes data from pipelines to pipelines of the same signal",
    ),
    connector::<RoutingConfig>(
        "routing",
        &[
            (Signal::Traces, Signal::Traces),
            (Signal::Logs, Signal::Logs),
            (Signal::Metrics, Signal::Metrics),
        ],
        "routes data to pipelines by OTTL conditions (resource, span, log, metric, datapoint)",
    ),
    connector::<SpanMetricsConfig>(
        "spanmetrics",
        &[(Signal::Traces, Signal::Metrics)],
        "R.E.D. metrics from spans: calls, duration histogram, by dimensions",
    ),
    connector::<CountConfig>(
        "count",
        &[
            (Signal::Traces, Signal::Metrics),
            (Signal::Logs, Signal::Metrics),
            (Signal::Metrics, Signal::Metrics),
        ],
        "counts spans, span events, log records, metrics and data points into metrics",
    ),
];

/// A row of any kind's table, without the kind's trait.
struct Info {
    ty: &'static str,
    signals: &'static [Signal],
    about: &'static str,
    parse: ParseFn,
}

fn infos<D: ?Sized>(table: &[Factory<D>]) -> Vec<Info> {
    table
        .iter()
        .map(|e| Info {
            ty: e.ty,
            signals: e.signals,
            about: e.about,
            parse: e.parse,
        })
        .collect()
}

fn table(kind: Kind) -> Vec<Info> {
    match kind {
        Kind::Receiver => infos(RECEIVERS),
        Kind::Processor => infos(PROCESSORS),
        Kind::Exporter => infos(EXPORTERS),
        Kind::Extension => infos(EXTENSIONS),
    }
}

fn find<'t, D: ?Sized>(table: &'t [Factory<D>], ty: &str) -> Option<&'t Factory<D>> {
    table.iter().find(|e| e.ty == ty)
}

/// The registry: parses configs for [`config::load`] and finds each component's
/// factory for the service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry;

impl Registry {
    /// Component `id`'s config as a receiver (`None` if its type is not one).
    pub fn receiver<'c>(
        &self,
        id: &ComponentId,
        cfg: &'c dyn AnyConfig,
    ) -> Option<&'c dyn Receiver> {
        find(RECEIVERS, &id.ty).and_then(|e| (e.view)(cfg))
    }

    /// Component `id`'s config as a processor.
    pub fn processor<'c>(
        &self,
        id: &ComponentId,
        cfg: &'c dyn AnyConfig,
    ) -> Option<&'c dyn Processor> {
        find(PROCESSORS, &id.ty).and_then(|e| (e.view)(cfg))
    }

    /// Component `id`'s config as an exporter.
    pub fn exporter<'c>(
        &self,
        id: &ComponentId,
        cfg: &'c dyn AnyConfig,
    ) -> Option<&'c dyn Exporter> {
        find(EXPORTERS, &id.ty).and_then(|e| (e.view)(cfg))
    }

    /// Connector `id`'s config as a connector.
    pub fn connector<'c>(
        &self,
        id: &ComponentId,
        cfg: &'c dyn AnyConfig,
    ) -> Option<&'c dyn Connector> {
        CONNECTORS
            .iter()
            .find(|e| e.ty == id.ty)
            .and_then(|e| (e.view)(cfg))
    }

    /// Component `id`'s config as an extension.
    pub fn extension<'c>(
        &self,
        id: &ComponentId,
        cfg: &'c dyn AnyConfig,
    ) -> Option<&'c dyn Extension> {
        find(EXTENSIONS, &id.ty).and_then(|e| (e.view)(cfg))
    }
}

impl Catalog for Registry {
    fn parse(
        &self,
        kind: Kind,
        id: &ComponentId,
        value: &Value,
        path: &str,
    ) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>> {
        let rows = table(kind);
        match rows.iter().find(|t| t.ty == id.ty) {
            Some(t) => (t.parse)(value, path),
            None => {
                let known: Vec<&str> = rows.iter().map(|t| t.ty).collect();
                Err(vec![ConfigError::new(
                    path,
                    format!(
                        "unknown {} type `{}`, expected one of: {}",
                        kind.as_str(),
                        id.ty,
                        known.join(", ")
                    ),
                )])
            }
        }
    }

    fn supports(&self, kind: Kind, ty: &str, signal: Signal) -> bool {
        table(kind)
            .iter()
            .any(|t| t.ty == ty && t.signals.contains(&signal))
    }

    fn parse_connector(
        &self,
        id: &ComponentId,
        value: &Value,
        path: &str,
    ) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>> {
        match CONNECTORS.iter().find(|t| t.ty == id.ty) {
            Some(t) => (t.parse)(value, path),
            None => {
                let known: Vec<&str> = CONNECTORS.iter().map(|t| t.ty).collect();
                Err(vec![ConfigError::new(
                    path,
                    format!(
                        "unknown connector type `{}`, expected one of: {}",
                        id.ty,
                        known.join(", ")
                    ),
                )])
            }
        }
    }

    fn connector_pairs(&self, ty: &str) -> &'static [(Signal, Signal)] {
        CONNECTORS
            .iter()
            .find(|t| t.ty == ty)
            .map_or(&[], |t| t.pairs)
    }
}

/// Loads and checks a configuration ([`config::load`]) with this registry's
/// components.
pub fn load_config(configs: &[String], sets: &[String]) -> Result<Config, ConfigErrors> {
    config::load(configs, sets, &Registry)
}

/// A row of `tracemend components`: name, signals or world, description.
type Row = (&'static str, String, &'static str);

/// The text `tracemend components` prints: a section per kind, then the
/// built-in WASM modules, in three aligned columns (name, signals or world,
/// description).
pub fn describe() -> String {
    let mut sections: Vec<(String, Vec<Row>)> = Vec::new();
    for kind in Kind::ALL {
        let rows = table(kind)
            .iter()
            .map(|t| {
                let signals: Vec<&str> = t.signals.iter().map(|s| s.as_str()).collect();
                let sig = if signals.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", signals.join(", "))
                };
                (t.ty, sig, t.about)
            })
            .collect();
        sections.push((format!("{}s:", kind.as_str()), rows));
    }
    let connectors = CONNECTORS
        .iter()
        .map(|t| {
            let pairs: Vec<String> = t.pairs.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            (t.ty, format!("[{}]", pairs.join(", ")), t.about)
        })
        .collect();
    sections.push(("connectors:".to_owned(), connectors));
    let modules = ::wasm_host::wasm::builtin::all()
        .iter()
        .map(|b| (b.name, format!("[{} world]", b.world.as_str()), b.about))
        .collect();
    sections.push((
        "built-in WASM modules (module: builtin:NAME):".to_owned(),
        modules,
    ));
    let rows = || sections.iter().flat_map(|(_, rows)| rows);
    let name_w = rows().map(|r| r.0.len()).max().unwrap_or(0);
    let sig_w = rows().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (title, rows) in &sections {
        out.push_str(title);
        out.push('\n');
        for (name, sig, about) in rows {
            out.push_str(&format!("  {name:<name_w$}  {sig:<sig_w$}  {about}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every component type and built-in module is listed once, and the
    /// description column starts at the same place on every row.
    #[test]
    fn components_are_listed_in_aligned_columns() {
        let text = describe();
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
        let types: Vec<Info> = Kind::ALL.into_iter().flat_map(table).collect();
        assert_eq!(
            rows.len(),
            types.len() + CONNECTORS.len() + ::wasm_host::wasm::builtin::all().len()
        );
        for c in CONNECTORS {
            assert!(
                rows.iter()
                    .any(|r| r.ends_with(c.about) && r.trim_start().starts_with(c.ty)),
                "{} missing",
                c.ty
            );
        }
        for t in &types {
            assert!(
                rows.iter()
                    .any(|r| r.ends_with(t.about) && r.trim_start().starts_with(t.ty)),
                "{} missing",
                t.ty
            );
        }
        let column = |r: &str| {
            r.len()
                - types
                    .iter()
                    .map(|t| t.about)
                    .chain(CONNECTORS.iter().map(|c| c.about))
                    .chain(::wasm_host::wasm::builtin::all().iter().map(|b| b.about))
                    .find(|a| r.ends_with(a))
                    .map_or(0, str::len)
        };
        let first = column(rows[0]);
        for r in &rows {
            assert_eq!(column(r), first, "{r:?}");
        }
    }
}
