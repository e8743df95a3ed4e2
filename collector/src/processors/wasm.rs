//! `wasm/<name>`: a span/log processor that runs as a sandboxed WebAssembly component
//! (the host is `wasm_host::wasm`). `module:` is a path to a `.wasm` component or
//! `builtin:<name>` for a guest embedded in the binary.
//!
//! One [`WasmProcessor`] per component id is shared by every pipeline that lists it: it
//! holds no per-pipeline state, and loading it (compile, instantiate, `configure`) once
//! keeps startup fast.

use std::sync::Arc;

use ::wasm_host::wasm::builtin::{self, ModuleRef, World};
use ::wasm_host::wasm::{
    Applied, BatchAccess, Fault, Health as PluginHealth, WasmProcessor, WasmProcessorConfig,
};
use ::wasm_host::wasm::{WasmRuntime, WasmRuntimeOptions};
use async_trait::async_trait;
use bytes::Bytes;
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::{Batch, ConsumeError, Consumer, Payload, ProtobufIntake, Signal};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
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
/// own metrics (or none, for `validate`). Shared by every WASM-backed processor through
/// [`PrepareEnv::shared`].
pub fn runtime(env: &PrepareEnv<'_>) -> Result<Arc<WasmRuntime>, PrepareError> {
    env.shared(|| {
        let options = WasmRuntimeOptions::default();
        match env.metrics {
            Some(m) => m.with_registry(|r| WasmRuntime::new(options, r)),
            None => WasmRuntime::without_registry(options),
        }
        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e:#}"))
    })
    .map_err(PrepareError::Fatal)
}

impl AnyConfig for WasmConfig {}

/// Loads (compiles, instantiates, configures) the module once per id; every pipeline
/// shares it.
impl Processor for WasmConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let Some(cfg) = &self.0 else {
            // Config validation refuses a `wasm` processor without a module.
            return Err(PrepareError::Module(
                "is required: a path to a .wasm component, or `builtin:<name>`".into(),
            ));
        };
        let runtime = runtime(env)?;
        let name = id.to_string();
        let loaded = match builtin::resolve(&cfg.module) {
            Ok(ModuleRef::Builtin(b)) => WasmProcessor::load_bytes(&name, cfg, b.bytes, &runtime),
            Ok(ModuleRef::File(_)) => WasmProcessor::load(&name, cfg, &runtime),
            Err(e) => return Err(PrepareError::Module(e)),
        };
        let processor = Arc::new(loaded.map_err(|e| PrepareError::Other(e.to_string()))?);
        if let Some(health) = env.health {
            watch_health(health, id, processor.clone());
            tracing::info!(processor = %id, "Loaded WASM processor.");
        }
        Ok(Box::new(LoadedWasm(processor)))
    }
}

/// A loaded module, shared by the pipelines that list it.
struct LoadedWasm(Arc<WasmProcessor>);

impl Prepared for LoadedWasm {
    fn build(
        &self,
        _id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(WasmStage::new(
            self.0.clone(),
            signal,
            next,
            metrics,
        )))
    }
}

/// Makes the `health_check` extension report the plugin unhealthy while its circuit is
/// open.
fn watch_health(health: &Health, id: &ComponentId, processor: Arc<WasmProcessor>) {
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
    fn replace_encoded(&mut self, chunks: Vec<Bytes>, items: usize, validated: bool) -> bool {
        self.0.replace_encoded(chunks, items, validated);
        true
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
    fn replace_encoded(&mut self, chunks: Vec<Bytes>, items: usize, validated: bool) -> bool {
        self.0.replace_encoded(chunks, items, validated);
        true
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
        self.forward(batch).await
    }

    fn protobuf_intake(&self) -> Option<&dyn ProtobufIntake> {
        Some(self)
    }
}

impl WasmStage {
    async fn forward(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.outgoing.inc_by(batch.item_count() as u64);
        self.next.consume(batch).await
    }
}

/// The guest's view builder parses every field of a request anyway; first in a
/// pipeline, it makes the receiver's checks as it does, so the request is read once
/// instead of scanned by the receiver and then read again here.
#[async_trait]
impl ProtobufIntake for WasmStage {
    async fn consume_protobuf(
        &self,
        signal: Signal,
        body: &Bytes,
    ) -> Option<(usize, Result<(), ConsumeError>)> {
        // With the circuit open the guest is not called and nothing would be
        // checked: the usual path applies `on_error` (and counts it once).
        if matches!(self.processor.health(), PluginHealth::Unhealthy { .. }) {
            return None;
        }
        let mut access = Unchecked {
            signal,
            chunk: [body.clone()],
            batch: None,
        };
        let _ = match signal {
            Signal::Traces => self.processor.process_traces_batch(&mut access),
            Signal::Logs => self.processor.process_logs_batch(&mut access),
            Signal::Metrics => return None,
        };
        let (items, batch) = access.batch?;
        self.incoming.inc_by(items as u64);
        Some((items, self.forward(batch).await))
    }
}

/// Received bytes the guest's view builder checks as it reads them (see
/// [`BatchAccess::unchecked`]); once they pass, the pipeline batch they make.
struct Unchecked {
    signal: Signal,
    chunk: [Bytes; 1],
    /// The item count and the batch, once checked.
    batch: Option<(usize, Batch)>,
}

impl Unchecked {
    fn encoded(&self) -> Option<&[Bytes]> {
        match &self.batch {
            Some((_, b)) => b.encoded(),
            None => Some(&self.chunk),
        }
    }

    fn checked(&mut self, items: usize) {
        let batch = Batch::from_checked_protobuf(self.signal, self.chunk[0].clone(), items);
        self.batch = Some((items, batch));
    }
}

/// Implements [`BatchAccess`] for [`Unchecked`]: the batch's own access once checked.
/// Before that the host reads only the bytes, and changes nothing.
macro_rules! unchecked_access {
    ($req:ty) => {
        impl BatchAccess<$req> for Unchecked {
            fn encoded(&self) -> Option<&[Bytes]> {
                Unchecked::encoded(self)
            }
            fn validated(&self) -> bool {
                self.batch.as_ref().is_some_and(|(_, b)| b.validated())
            }
            fn with_decoded<T>(&mut self, f: impl FnOnce(&mut $req) -> (T, bool)) -> T {
                match &mut self.batch {
                    Some((_, b)) => Access(b).with_decoded(f),
                    // The host decodes nothing it has not checked (it returns before).
                    None => f(&mut <$req>::default()).0,
                }
            }
            fn replace_encoded(
                &mut self,
                chunks: Vec<Bytes>,
                items: usize,
                validated: bool,
            ) -> bool {
                match &mut self.batch {
                    Some((_, b)) => {
                        b.replace_encoded(chunks, items, validated);
                        true
                    }
                    // As `with_decoded`: never called before the bytes are checked.
                    None => false,
                }
            }
            fn item_count(&self) -> usize {
                self.batch.as_ref().map_or(0, |(_, b)| b.item_count())
            }
            fn clear(&mut self) {
                if let Some((_, b)) = &mut self.batch {
                    *b = Batch::empty(self.signal);
                }
            }
            fn unchecked(&self) -> bool {
                self.batch.is_none()
            }
            fn checked(&mut self, items: usize) {
                Unchecked::checked(self, items);
            }
        }
    };
}
unchecked_access!(ExportTraceServiceRequest);
unchecked_access!(ExportLogsServiceRequest);

#[cfg(test)]
mod tests {
    use super::*;
    use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    use std::path::Path;
    use tokio::sync::Mutex as AsyncMutex;

    #[derive(Default)]
    struct Collect(AsyncMutex<Vec<(usize, bool)>>);

    #[async_trait]
    impl Consumer for Collect {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            self.0
                .lock()
                .await
                .push((batch.item_count(), batch.validated()));
            Ok(())
        }
    }

    fn stage() -> (WasmStage, Arc<Collect>) {
        let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
            cache_dir: None,
            ..Default::default()
        })
        .expect("runtime");
        let Ok(ModuleRef::Builtin(b)) = builtin::resolve(Path::new("builtin:noop")) else {
            panic!("builtin:noop resolves");
        };
        let cfg = WasmProcessorConfig::for_module("builtin:noop");
        let p = WasmProcessor::load_bytes("wasm/noop", &cfg, b.bytes, &rt).expect("noop loads");
        let sink = Arc::new(Collect::default());
        let stage = WasmStage::new(
            Arc::new(p),
            Signal::Traces,
            sink.clone(),
            &SelfMetrics::new(),
        );
        (stage, sink)
    }

    fn request(trace_id: Vec<u8>) -> Bytes {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (1..=3u8)
                        .map(|i| Span {
                            trace_id: trace_id.clone(),
                            span_id: vec![i; 8],
                            name: "s".into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
        .into()
    }

    /// A well-formed request is taken whole, checked and marked validated, in one
    /// read; anything the receiver's own path must answer (malformed bytes, spans to
    /// remove) is left to it untouched.
    #[tokio::test]
    async fn first_in_a_pipeline_it_takes_only_what_the_scan_would_take_whole() {
        let (stage, sink) = stage();
        let intake = stage
            .protobuf_intake()
            .expect("a wasm stage takes protobuf bodies");
        let taken = intake
            .consume_protobuf(Signal::Traces, &request(vec![1; 16]))
            .await;
        assert!(matches!(taken, Some((3, Ok(())))), "{taken:?}");
        assert_eq!(*sink.0.lock().await, vec![(3, true)]);
        for body in [
            request(vec![1; 5]),
            request(vec![0; 16]),
            Bytes::from_static(b"\x0a\xff\x01"),
        ] {
            assert!(
                intake
                    .consume_protobuf(Signal::Traces, &body)
                    .await
                    .is_none()
            );
        }
        assert_eq!(
            sink.0.lock().await.len(),
            1,
            "nothing else reached the pipeline"
        );
        assert_eq!(
            stage.processor.call_count(),
            1,
            "bodies left untouched are no calls"
        );
    }
}
