//! `wasm/<name>`: a span/log processor that runs as a sandboxed WebAssembly component
//! (the host is `processors::wasm`). `module:` is a path to a `.wasm` component or
//! `builtin:<name>` for a guest embedded in the binary.
//!
//! One [`WasmProcessor`] per component id is shared by every pipeline that lists it: it
//! holds no per-pipeline state, and loading it (compile, instantiate, `configure`) once
//! keeps startup fast.

use std::collections::BTreeMap;
use std::sync::Arc;

use ::processors::wasm::builtin::{self, ModuleRef, World};
use ::processors::wasm::{
    Applied, BatchAccess, Fault, Health as PluginHealth, WasmProcessor, WasmProcessorConfig,
};
use ::processors::wasm::{WasmRuntime, WasmRuntimeOptions};
use async_trait::async_trait;
use bytes::Bytes;
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::components::ProcessorConfig;
use crate::config::{ComponentConfig, ComponentId, Config, ConfigError, ConfigErrors};
use crate::telemetry::{Health, ProcessorLabels, SelfMetrics};

/// `processors.wasm/<name>`: the host's [`WasmProcessorConfig`], required (there is no
/// useful default module).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct WasmConfig(pub Option<WasmProcessorConfig>);

impl ComponentConfig for WasmConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let Some(cfg) = &self.0 else {
            return vec![ConfigError::new(
                "module",
                "is required: a path to a .wasm component, or `builtin:<name>`",
            )];
        };
        let mut errors: Vec<ConfigError> = cfg
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| ConfigError::new(e.key, e.message))
            .collect();
        match builtin::resolve(&cfg.module) {
            Ok(ModuleRef::Builtin(b)) if b.world != World::Processor => {
                errors.push(ConfigError::new(
                    "module",
                    format!(
                        "`builtin:{}` is a {} guest, not a span/log processor",
                        b.name,
                        b.world.as_str()
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) => errors.push(ConfigError::new("module", e)),
        }
        errors
    }
}

/// The process's one WASM runtime, its metric families registered with the collector's
/// own metrics (or none, for `validate`).
pub fn runtime(metrics: Option<&SelfMetrics>) -> anyhow::Result<WasmRuntime> {
    let options = WasmRuntimeOptions::default();
    let rt = match metrics {
        Some(m) => m.with_registry(|r| WasmRuntime::new(options, r))?,
        None => WasmRuntime::without_registry(options)?,
    };
    Ok(rt)
}

/// Loads (compiles, instantiates, configures) every `wasm/*` processor in `ids`, or
/// reports every one that cannot start, located in the config like any config error.
pub fn load_all<'a>(
    config: &Config,
    ids: impl IntoIterator<Item = &'a ComponentId>,
    runtime: &WasmRuntime,
) -> Result<BTreeMap<ComponentId, Arc<WasmProcessor>>, ConfigErrors> {
    load_each(
        config,
        ids,
        |c| match c {
            ProcessorConfig::Wasm(WasmConfig(Some(cfg))) => Some(cfg),
            _ => None,
        },
        |name, cfg| {
            let loaded = match builtin::resolve(&cfg.module) {
                Ok(ModuleRef::Builtin(b)) => WasmProcessor::load_bytes(name, cfg, b.bytes, runtime),
                Ok(ModuleRef::File(_)) => WasmProcessor::load(name, cfg, runtime),
                Err(e) => return Err(LoadFailure::Module(e)),
            };
            loaded.map_err(|e| LoadFailure::Other(e.to_string()))
        },
    )
}

/// Why one guest could not be loaded, by where the config error points.
pub(crate) enum LoadFailure {
    /// `module:` names nothing loadable (`processors.<id>.module`).
    Module(String),
    /// Anything else: compile, instantiate, the guest refusing its config
    /// (`processors.<id>`).
    Other(String),
}

/// The loader every WASM-backed processor kind shares: for each id in `ids` whose config
/// `pick` selects, `load(name, config)` once (an id listed by several pipelines is loaded
/// once and shared), gathering every failure as a located config error so one startup
/// reports them all.
pub(crate) fn load_each<'a, C, T>(
    config: &Config,
    ids: impl IntoIterator<Item = &'a ComponentId>,
    pick: impl Fn(&ProcessorConfig) -> Option<&C>,
    mut load: impl FnMut(&str, &C) -> Result<T, LoadFailure>,
) -> Result<BTreeMap<ComponentId, Arc<T>>, ConfigErrors> {
    let mut loaded = BTreeMap::new();
    let mut errors = Vec::new();
    for id in ids {
        let Some(cfg) = config.processors.get(id).and_then(&pick) else {
            continue;
        };
        if loaded.contains_key(id) {
            continue;
        }
        match load(&id.to_string(), cfg) {
            Ok(p) => {
                loaded.insert(id.clone(), Arc::new(p));
            }
            Err(LoadFailure::Module(e)) => {
                errors.push(config.locate(ConfigError::new(format!("processors.{id}.module"), e)));
            }
            Err(LoadFailure::Other(e)) => {
                errors.push(config.locate(ConfigError::new(format!("processors.{id}"), e)));
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Makes the `health_check` extension report the plugin unhealthy while its circuit is
/// open.
pub fn watch_health(health: &Health, id: &ComponentId, processor: Arc<WasmProcessor>) {
    health.add_probe(
        &id.to_string(),
        Box::new(move || match processor.health() {
            PluginHealth::Unhealthy {
                consecutive_faults,
                last_fault,
            } => Some(format!(
                "circuit open after {consecutive_faults} faults in a row; last: {last_fault}"
            )),
            _ => None,
        }),
    );
}

/// One pipeline's view of a loaded [`WasmProcessor`].
pub struct WasmStage {
    processor: Arc<WasmProcessor>,
    next: Arc<dyn Consumer>,
    incoming: Counter,
    outgoing: Counter,
}

impl WasmStage {
    pub fn new(
        processor: Arc<WasmProcessor>,
        signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> Self {
        let labels = ProcessorLabels {
            processor: processor.name().to_string(),
        };
        WasmStage {
            incoming: metrics
                .processor_incoming
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            outgoing: metrics
                .processor_outgoing
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            processor,
            next,
        }
    }

    /// Runs the guest. Faults are already counted and logged by the host, with
    /// `on_error` applied to the batch. The guest reads the received bytes while
    /// they are current; the batch is decoded only when the guest edits it.
    fn process(&self, batch: &mut Batch) -> Result<Applied, Fault> {
        match batch.signal() {
            Signal::Traces => self.processor.process_traces_batch(&mut Access(batch)),
            Signal::Logs => self.processor.process_logs_batch(&mut Access(batch)),
            // Config checks refuse `wasm` in metrics pipelines.
            Signal::Metrics => Ok(Applied::default()),
        }
    }
}

/// A pipeline batch as the WASM host reads it.
struct Access<'a>(&'a mut Batch);

impl BatchAccess<ExportTraceServiceRequest> for Access<'_> {
    fn encoded(&self) -> Option<&[Bytes]> {
        self.0.encoded()
    }
    fn validated(&self) -> bool {
        self.0.validated()
    }
    fn with_decoded<T>(
        &mut self,
        f: impl FnOnce(&mut ExportTraceServiceRequest) -> (T, bool),
    ) -> T {
        self.0.modify_if_changed(|p| match p {
            Payload::Traces(r) => f(r),
            // `process` dispatches on the signal; another payload cannot come here.
            _ => (f(&mut ExportTraceServiceRequest::default()).0, false),
        })
    }
    fn item_count(&self) -> usize {
        self.0.item_count()
    }
    fn clear(&mut self) {
        *self.0 = Batch::empty(self.0.signal());
    }
}

impl BatchAccess<ExportLogsServiceRequest> for Access<'_> {
    fn encoded(&self) -> Option<&[Bytes]> {
        self.0.encoded()
    }
    fn validated(&self) -> bool {
        self.0.validated()
    }
    fn with_decoded<T>(&mut self, f: impl FnOnce(&mut ExportLogsServiceRequest) -> (T, bool)) -> T {
        self.0.modify_if_changed(|p| match p {
            Payload::Logs(r) => f(r),
            _ => (f(&mut ExportLogsServiceRequest::default()).0, false),
        })
    }
    fn item_count(&self) -> usize {
        self.0.item_count()
    }
    fn clear(&mut self) {
        *self.0 = Batch::empty(self.0.signal());
    }
}

#[async_trait]
impl Consumer for WasmStage {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        self.incoming.inc_by(batch.item_count() as u64);
        // A call is bounded by `limits.call_timeout` (tens of µs for typical guests),
        // so it runs on this task rather than paying a hand-off per batch.
        let _ = self.process(&mut batch);
        if batch.is_empty() {
            return Ok(());
        }
        self.outgoing.inc_by(batch.item_count() as u64);
        self.next.consume(batch).await
    }
}
