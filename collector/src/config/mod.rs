//! The otelcol configuration schema: load, merge, expand, parse into typed component
//! configs, and check the service graph. Every error found is reported at once, each with
//! its source, YAML path and line.

pub mod auth;
mod expand;
pub mod graph;
pub mod ignored;
pub mod lenient;
mod locate;
mod service;
mod source;

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use pdata::Signal;
use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

pub use component::{ComponentId, ConfigError, ConfigErrors, Kind};
pub use ignored::Ignored;
pub use service::{
    LogEncoding, LogsConfig, MetricsConfig, PipelineConfig, PipelineId, ServiceConfig,
    TelemetryConfig,
};
pub use source::Merged;

/// The built-in configuration used when no `--config` is given: OTLP in, `debug` out.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/default.yaml");

/// A component's own config: deserialized with unknown keys refused, then validated.
pub trait ComponentConfig: DeserializeOwned + Default {
    /// Problems with the values, each with its path relative to the component.
    fn validate(&self) -> Vec<ConfigError> {
        Vec::new()
    }
}

/// A parsed component config of any type, as [`Config`] holds it: the registry's
/// factories turn it back into their own type. It answers the questions the config
/// check asks across components.
pub trait AnyConfig: Any + fmt::Debug + Send + Sync + 'static {
    /// The storage extension id of a persistent sending queue, and the YAML path of that
    /// queue within the exporter (for error messages).
    fn queue_storage(&self) -> Option<(&'static str, &str)> {
        None
    }

    /// Whether this extension offers storage to persistent sending queues.
    fn provides_storage(&self) -> bool {
        false
    }

    /// Whether this processor or exporter takes received requests apart by trace and
    /// reads the receiver's side index of them when it is there
    /// ([`pdata::Batch::from_protobuf_indexed`]): receivers of its pipelines then make
    /// it in their validating scan. `false`: the scan records nothing for it.
    fn reads_item_index(&self) -> bool {
        false
    }

    /// Keys that loaded but have no effect here (otelcol keys tracemend does not act on,
    /// deprecated names), each with its path relative to the component and why.
    fn warnings(&self) -> Vec<ConfigError> {
        Vec::new()
    }

    /// The pipelines a connector names in its own config (`routing`'s tables), each with
    /// its path relative to the component: each must receive from the connector.
    fn pipeline_refs(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Why a connector cannot take data of signal `from` (a `routing` table entry whose
    /// OTTL context belongs to another signal), paths relative to the component.
    fn connector_signal_errors(&self, _from: Signal) -> Vec<ConfigError> {
        Vec::new()
    }
}

impl dyn AnyConfig {
    /// The config as its own type, when it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

/// What loading a configuration needs from the component registry: a parser per type
/// name and the signals each type handles.
pub trait Catalog {
    /// Parses and validates the YAML of component `id` of `kind` at `path`; an unknown
    /// type is an error listing the known ones.
    fn parse(
        &self,
        kind: Kind,
        id: &ComponentId,
        value: &Value,
        path: &str,
    ) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>>;

    /// Whether type `ty` of `kind` handles `signal`.
    fn supports(&self, kind: Kind, ty: &str, signal: Signal) -> bool;

    /// Parses and validates the YAML of connector `id` at `path`; an unknown type is an
    /// error listing the known ones.
    fn parse_connector(
        &self,
        id: &ComponentId,
        value: &Value,
        path: &str,
    ) -> Result<Box<dyn AnyConfig>, Vec<ConfigError>>;

    /// The (exporter pipeline signal, receiver pipeline signal) pairs connector type
    /// `ty` joins; empty for an unknown type.
    fn connector_pairs(&self, ty: &str) -> &'static [(Signal, Signal)];
}

/// Parsed configs by component id.
pub type Components = BTreeMap<ComponentId, Box<dyn AnyConfig>>;

/// Parses one component's YAML (`null` means all defaults) and validates it.
pub fn parse_component<T: ComponentConfig>(
    value: &Value,
    path: &str,
) -> Result<T, Vec<ConfigError>> {
    let parsed: T = if value.is_null() {
        T::default()
    } else {
        serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let full = if inner == "." {
                path.to_string()
            } else {
                expand::join(path, &inner)
            };
            vec![ConfigError::new(full, user_message(e.into_inner()))]
        })?
    };
    let errors: Vec<ConfigError> = parsed
        .validate()
        .into_iter()
        .map(|mut e| {
            e.path = expand::join(path, &e.path);
            e
        })
        .collect();
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// serde_yaml's message for a deserialization error, without the names of its internal
/// types: an enum key given a non-string value says what was expected instead.
fn user_message(e: serde_yaml::Error) -> String {
    e.to_string()
        .replace(
            "expected a Value::Tagged enum",
            "expected one of this key's names, as a string",
        )
        .replace("Value::Tagged", "tagged value")
}

/// A fully parsed and checked configuration.
#[derive(Debug)]
pub struct Config {
    pub receivers: Components,
    pub processors: Components,
    pub exporters: Components,
    pub extensions: Components,
    pub connectors: Components,
    pub service: ServiceConfig,
    /// Keys that loaded but have no effect here, located in their source; the caller
    /// logs them (`run`) or prints them (`validate`).
    pub warnings: Vec<ConfigError>,
    /// Where each part came from, to locate errors found after parsing (a WASM module
    /// that does not load).
    origin: Merged,
}

impl Config {
    /// Fills in the source file and line of an error found after parsing.
    pub fn locate(&self, error: ConfigError) -> ConfigError {
        self.origin.locate(error)
    }
}

/// Loads `--config` sources and `--set` values (or the built-in default when there
/// are no sources) into a checked [`Config`], parsing components with `catalog`.
pub fn load(
    configs: &[String],
    sets: &[String],
    catalog: &dyn Catalog,
) -> Result<Config, ConfigErrors> {
    let merged = if configs.is_empty() {
        let mut m = source::load(&[], sets)?;
        let mut base: Value = serde_yaml::from_str(DEFAULT_CONFIG)
            .map_err(|e| ConfigError::new("", format!("built-in default config: {e}")))?;
        source::merge(&mut base, m.value);
        m.value = base;
        m.sources.insert(
            0,
            source::Source {
                name: "<built-in default config>".to_string(),
                lines: locate::LineIndex::build(DEFAULT_CONFIG),
            },
        );
        m
    } else {
        source::load(configs, sets)?
    };
    from_merged(merged, catalog)
}

fn from_merged(mut merged: Merged, catalog: &dyn Catalog) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    expand::expand(&mut merged.value, "", &mut errors);
    let config = parse(&merged.value, catalog, &mut errors);
    if errors.is_empty()
        && let Some(mut c) = config
    {
        c.warnings = std::mem::take(&mut c.warnings)
            .into_iter()
            .map(|w| merged.locate(w))
            .collect();
        c.origin = Merged {
            value: Value::Null,
            sources: merged.sources,
        };
        return Ok(c);
    }
    Err(ConfigErrors(
        errors.into_iter().map(|e| merged.locate(e)).collect(),
    ))
}

const TOP_LEVEL: [&str; 6] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

fn parse(root: &Value, catalog: &dyn Catalog, errors: &mut Vec<ConfigError>) -> Option<Config> {
    let Some(map) = root.as_mapping() else {
        errors.push(ConfigError::new(
            "",
            "the configuration must be a YAML mapping",
        ));
        return None;
    };
    for key in map.keys() {
        let k = expand::key_str(key);
        if !TOP_LEVEL.contains(&k.as_str()) {
            errors.push(ConfigError::new(
                k.clone(),
                format!(
                    "unknown top-level key `{k}`, expected one of: {}",
                    TOP_LEVEL.join(", ")
                ),
            ));
        }
    }
    let section =
        |name: &str, errors: &mut Vec<ConfigError>| -> Vec<(ComponentId, String, Value)> {
            let mut out = Vec::new();
            match map.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Mapping(m)) => {
                    for (k, v) in m {
                        let id_str = expand::key_str(k);
                        let path = expand::join(name, &id_str);
                        match ComponentId::parse(&id_str) {
                            Ok(id) => out.push((id, path, v.clone())),
                            Err(e) => errors.push(ConfigError::new(path, e)),
                        }
                    }
                }
                Some(_) => errors.push(ConfigError::new(
                    name,
                    format!("`{name}` must be a mapping of component ids to their configs"),
                )),
            }
            out
        };

    let mut invalid = Vec::new();
    let mut warnings = Vec::new();
    let mut parsed: Vec<Components> = Vec::new();
    for kind in Kind::ALL {
        let mut components = Components::new();
        for (id, path, v) in section(kind.section(), errors) {
            match catalog.parse(kind, &id, &v, &path) {
                Ok(c) => {
                    warnings.extend(c.warnings().into_iter().map(|mut w| {
                        w.path = expand::join(&path, &w.path);
                        w
                    }));
                    components.insert(id, c);
                }
                Err(e) => {
                    invalid.push((kind, id));
                    errors.extend(e);
                }
            }
        }
        parsed.push(components);
    }
    let [receivers, processors, exporters, extensions]: [Components; 4] = parsed.try_into().ok()?;
    let mut connectors = Components::new();
    for (id, path, v) in section("connectors", errors) {
        match catalog.parse_connector(&id, &v, &path) {
            Ok(c) => {
                warnings.extend(c.warnings().into_iter().map(|mut w| {
                    w.path = expand::join(&path, &w.path);
                    w
                }));
                connectors.insert(id, c);
            }
            Err(e) => {
                errors.extend(e);
                // Already reported: its uses as a pipeline's receiver or exporter are not.
                invalid.push((Kind::Receiver, id.clone()));
                invalid.push((Kind::Exporter, id));
            }
        }
    }

    let service_value = map
        .get("service")
        .cloned()
        .unwrap_or(Value::Mapping(Mapping::new()));
    let raw: service::RawService = match parse_component(&service_value, "service") {
        Ok(s) => s,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    let lookup = service::Lookup {
        receivers: &receivers,
        processors: &processors,
        exporters: &exporters,
        extensions: &extensions,
        connectors: &connectors,
        invalid: &invalid,
    };
    warnings.extend(raw.warnings());
    let service = service::check(raw, &lookup, catalog, errors);
    graph::check(&connectors, &service.pipelines, catalog, errors);
    check_storage_refs(&exporters, &extensions, &service, errors);
    Some(Config {
        receivers,
        processors,
        exporters,
        extensions,
        connectors,
        service,
        warnings,
        origin: Merged {
            value: Value::Null,
            sources: Vec::new(),
        },
    })
}

/// A persistent sending queue needs a `file_storage` extension that the service enables.
fn check_storage_refs(
    exporters: &Components,
    extensions: &Components,
    service: &ServiceConfig,
    errors: &mut Vec<ConfigError>,
) {
    for (id, e) in exporters {
        let Some((queue, storage)) = e.queue_storage() else {
            continue;
        };
        let path = format!("exporters.{id}.{queue}.storage");
        let Ok(sid) = ComponentId::parse(storage) else {
            continue;
        };
        match extensions.get(&sid) {
            None => errors.push(ConfigError::new(
                path,
                format!("references extension `{sid}` which is not configured"),
            )),
            Some(e) if e.provides_storage() => {
                if !service.extensions.contains(&sid) {
                    errors.push(ConfigError::new(
                        path,
                        format!("extension `{sid}` must also be listed in service.extensions"),
                    ));
                }
            }
            Some(_) => errors.push(ConfigError::new(
                path,
                format!("extension `{sid}` is not a storage extension (use file_storage)"),
            )),
        }
    }
}
