//! The one explicit list of component types this distribution supports, and parsing of
//! each component's YAML into its typed config.

use pdata::Signal;
use serde_yaml::Value;

use crate::config::{ComponentId, ConfigError, parse_component};
use crate::{exporters, extensions, processors, receivers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Extension,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
        }
    }

    pub fn article(self) -> &'static str {
        match self {
            Kind::Extension | Kind::Exporter => "an",
            _ => "a",
        }
    }
}

/// One supported component type.
pub struct TypeInfo {
    pub kind: Kind,
    pub ty: &'static str,
    pub signals: &'static [Signal],
    pub about: &'static str,
}

const ALL: &[Signal] = &Signal::ALL;

/// Every component type, in the order `tracemend components` prints them.
pub const TYPES: &[TypeInfo] = &[
    TypeInfo {
        kind: Kind::Receiver,
        ty: "otlp",
        signals: ALL,
        about: "OTLP over gRPC and HTTP (protobuf and JSON)",
    },
    TypeInfo {
        kind: Kind::Processor,
        ty: "batch",
        signals: ALL,
        about: "groups data into batches by size and time",
    },
    TypeInfo {
        kind: Kind::Processor,
        ty: "memory_limiter",
        signals: ALL,
        about: "refuses data (retryably) when memory use is too high",
    },
    TypeInfo {
        kind: Kind::Processor,
        ty: "wasm",
        signals: &[Signal::Traces, Signal::Logs],
        about: "a sandboxed WebAssembly component (`module: PATH` or `builtin:NAME`)",
    },
    TypeInfo {
        kind: Kind::Processor,
        ty: "tail_sampling",
        signals: &[Signal::Traces],
        about: "holds traces for decision_wait, keeps those the contrib policies sample",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "otlp",
        signals: ALL,
        about: "OTLP over gRPC",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "otlphttp",
        signals: ALL,
        about: "OTLP over HTTP (protobuf or JSON)",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "loadbalancing",
        signals: &[Signal::Traces, Signal::Logs],
        about: "OTLP/gRPC to backends chosen by consistent hashing of the trace id or service",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "debug",
        signals: ALL,
        about: "writes data to the collector's log",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "nop",
        signals: ALL,
        about: "accepts and discards data",
    },
    TypeInfo {
        kind: Kind::Exporter,
        ty: "file",
        signals: ALL,
        about: "writes OTLP JSON lines to a file",
    },
    TypeInfo {
        kind: Kind::Extension,
        ty: "health_check",
        signals: &[],
        about: "HTTP readiness and health endpoint",
    },
    TypeInfo {
        kind: Kind::Extension,
        ty: "file_storage",
        signals: &[],
        about: "on-disk storage for persistent sending queues",
    },
];

pub fn supports(kind: Kind, ty: &str, signal: Signal) -> bool {
    TYPES
        .iter()
        .any(|t| t.kind == kind && t.ty == ty && t.signals.contains(&signal))
}

fn unknown(kind: Kind, id: &ComponentId, path: &str) -> Vec<ConfigError> {
    let known: Vec<&str> = TYPES
        .iter()
        .filter(|t| t.kind == kind)
        .map(|t| t.ty)
        .collect();
    vec![ConfigError::new(
        path,
        format!(
            "unknown {} type `{}`, expected one of: {}",
            kind.as_str(),
            id.ty,
            known.join(", ")
        ),
    )]
}

#[derive(Debug)]
pub enum ReceiverConfig {
    Otlp(receivers::otlp::OtlpReceiverConfig),
}

#[derive(Debug)]
pub enum ProcessorConfig {
    Batch(processors::batch::BatchConfig),
    MemoryLimiter(processors::memory_limiter::MemoryLimiterConfig),
    Wasm(processors::wasm::WasmConfig),
    TailSampling(Box<::processors::tail_sampling::TailSamplingConfig>),
}

#[derive(Debug)]
pub enum ExporterConfig {
    Otlp(exporters::otlp::OtlpExporterConfig),
    OtlpHttp(exporters::otlphttp::OtlpHttpExporterConfig),
    Debug(exporters::debug::DebugConfig),
    Nop(exporters::nop::NopConfig),
    File(exporters::file::FileExporterConfig),
    LoadBalancing(Box<exporters::loadbalancing::LoadBalancingConfig>),
}

impl ExporterConfig {
    /// The storage extension id of a persistent sending queue, and the YAML path of that
    /// queue within the exporter (for error messages).
    pub fn queue_storage(&self) -> Option<(&'static str, &str)> {
        let (path, q) = match self {
            ExporterConfig::Otlp(c) => ("sending_queue", &c.sending_queue),
            ExporterConfig::OtlpHttp(c) => ("sending_queue", &c.sending_queue),
            ExporterConfig::LoadBalancing(c) => c.queue(),
            _ => return None,
        };
        q.storage
            .as_deref()
            .filter(|_| q.enabled)
            .map(|s| (path, s))
    }
}

#[derive(Debug)]
pub enum ExtensionConfig {
    HealthCheck(extensions::health_check::HealthCheckConfig),
    FileStorage(extensions::file_storage::FileStorageConfig),
}

pub fn parse_receiver(
    id: &ComponentId,
    v: &Value,
    path: &str,
) -> Result<ReceiverConfig, Vec<ConfigError>> {
    match id.ty.as_str() {
        "otlp" => parse_component(v, path).map(ReceiverConfig::Otlp),
        _ => Err(unknown(Kind::Receiver, id, path)),
    }
}

pub fn parse_processor(
    id: &ComponentId,
    v: &Value,
    path: &str,
) -> Result<ProcessorConfig, Vec<ConfigError>> {
    match id.ty.as_str() {
        "batch" => parse_component(v, path).map(ProcessorConfig::Batch),
        "memory_limiter" => parse_component(v, path).map(ProcessorConfig::MemoryLimiter),
        "wasm" => parse_component(v, path).map(ProcessorConfig::Wasm),
        "tail_sampling" => {
            parse_component(v, path).map(|c| ProcessorConfig::TailSampling(Box::new(c)))
        }
        _ => Err(unknown(Kind::Processor, id, path)),
    }
}

pub fn parse_exporter(
    id: &ComponentId,
    v: &Value,
    path: &str,
) -> Result<ExporterConfig, Vec<ConfigError>> {
    match id.ty.as_str() {
        "otlp" => parse_component(v, path).map(ExporterConfig::Otlp),
        "otlphttp" => parse_component(v, path).map(ExporterConfig::OtlpHttp),
        "debug" => parse_component(v, path).map(ExporterConfig::Debug),
        "nop" => parse_component(v, path).map(ExporterConfig::Nop),
        "file" => parse_component(v, path).map(ExporterConfig::File),
        "loadbalancing" => {
            parse_component(v, path).map(|c| ExporterConfig::LoadBalancing(Box::new(c)))
        }
        _ => Err(unknown(Kind::Exporter, id, path)),
    }
}

pub fn parse_extension(
    id: &ComponentId,
    v: &Value,
    path: &str,
) -> Result<ExtensionConfig, Vec<ConfigError>> {
    match id.ty.as_str() {
        "health_check" => parse_component(v, path).map(ExtensionConfig::HealthCheck),
        "file_storage" => parse_component(v, path).map(ExtensionConfig::FileStorage),
        _ => Err(unknown(Kind::Extension, id, path)),
    }
}

/// A row of `tracemend components`: name, signals or world, description.
type Row = (&'static str, String, &'static str);

/// The text `tracemend components` prints: a section per kind, then the
/// built-in WASM modules, in three aligned columns (name, signals or world,
/// description).
pub fn describe() -> String {
    let mut sections: Vec<(String, Vec<Row>)> = Vec::new();
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
    ] {
        let rows = TYPES
            .iter()
            .filter(|t| t.kind == kind)
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
    let modules = ::processors::wasm::builtin::all()
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
        assert_eq!(
            rows.len(),
            TYPES.len() + ::processors::wasm::builtin::all().len()
        );
        for t in TYPES {
            assert!(
                rows.iter()
                    .any(|r| r.ends_with(t.about) && r.trim_start().starts_with(t.ty)),
                "{} missing",
                t.ty
            );
        }
        let column = |r: &str| {
            r.len()
                - TYPES
                    .iter()
                    .map(|t| t.about)
                    .chain(::processors::wasm::builtin::all().iter().map(|b| b.about))
                    .find(|a| r.ends_with(a))
                    .map_or(0, str::len)
        };
        let first = column(rows[0]);
        for r in &rows {
            assert_eq!(column(r), first, "{r:?}");
        }
    }
}
