//! `tail_sampling`: the contrib `tail_sampling` processor's YAML, run by the host buffer
//! in `wasm_host::tail_sampling` with the policies evaluated by a sampler guest (the
//! built-in `builtin:tail_sampling` unless `module:` names another). Traces only.
//!
//! A batch's path: [`TailSamplingStage::consume`] hands the received (encoded) request to
//! the buffer, which holds spans by trace id until `decision_wait` has passed (or decides
//! early when a bound is reached). Kept traces come out of the buffer's sink as encoded
//! requests, from the caller's task (late spans, early decisions) or from the timer; the
//! sink only queues them in an outbox and one forwarder task per stage passes them to the
//! next consumer, retrying while it refuses retryably. While the outbox holds more than
//! [`OUTBOX_LIMIT`] bytes, new batches are refused retryably, so a slow exporter pushes
//! back to the receiver instead of growing memory without bound.
//!
//! The guest is loaded (compiled, instantiated, `configure`d with the policies) once per
//! component id, before any receiver opens, so an unknown policy type, `ottl_condition`
//! or a bad regex stops `tracemend validate` and startup with the processor's YAML path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::wasm_host::tail_sampling::{
    Released, Sink, TailSampling, TailSamplingConfig, TailSamplingError, TailSamplingMetrics,
    load_sampler,
};
use ::wasm_host::wasm::builtin::{self, ModuleRef, World};
use ::wasm_host::wasm::{Health as PluginHealth, WasmSampler};
use async_trait::async_trait;
use bytes::Bytes;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::{Health, ProcessorLabels, SelfMetrics};

/// Most bytes of kept spans waiting for the next consumer before new batches are
/// refused (retryably): the exporters are not keeping up.
pub const OUTBOX_LIMIT: u64 = 32 << 20;

/// How long the forwarder keeps retrying a refused batch at shutdown before it reports
/// the spans lost (the exporters' own drain limit is of the same order).
const SHUTDOWN_RETRY_LIMIT: Duration = Duration::from_secs(10);

impl ComponentConfig for TailSamplingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors: Vec<ConfigError> = TailSamplingConfig::validate(self)
            .err()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(module) = &self.module {
            match builtin::resolve(module) {
                Ok(ModuleRef::Builtin(b)) if b.world != World::Sampler => {
                    errors.push(ConfigError::new(
                        "module",
                        format!(
                            "`builtin:{}` is a {} guest, not a trace sampler",
                            b.name,
                            b.world.as_str()
                        ),
                    ));
                }
                Ok(_) => {}
                Err(e) => errors.push(ConfigError::new("module", e)),
            }
        }
        errors
    }
}

impl AnyConfig for TailSamplingConfig {
    /// The buffer splits every batch by trace: from the receiver's index when it has one.
    fn reads_item_index(&self) -> bool {
        true
    }
}

/// Loads the sampler guest once per id (a policy the guest refuses is reported with the
/// processor's YAML path); each pipeline gets its own buffer around it.
impl Processor for TailSamplingConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let runtime = super::wasm::runtime(env)?;
        let sampler = load_sampler(&id.to_string(), self, &runtime, None).map_err(|e| match e {
            TailSamplingError::Module(m) => PrepareError::Module(m),
            e => PrepareError::Other(e.to_string()),
        })?;
        let sampler = Arc::new(sampler);
        // The metric families of every `tail_sampling` processor, registered once.
        let metrics = match env.metrics {
            Some(m) => Some(
                env.shared(|| Ok(m.with_registry(TailSamplingMetrics::register)))
                    .map_err(PrepareError::Fatal)?,
            ),
            None => None,
        };
        if let Some(health) = env.health {
            watch_health(health, id, sampler.clone());
            tracing::info!(processor = %id, "Loaded tail sampler.");
        }
        Ok(Box::new(LoadedSampler {
            config: self.clone(),
            sampler,
            metrics,
        }))
    }
}

/// A loaded sampler guest and the metric families its buffers report to.
struct LoadedSampler {
    config: TailSamplingConfig,
    sampler: Arc<WasmSampler>,
    /// `None` only under `validate`, which builds no pipeline.
    metrics: Option<Arc<TailSamplingMetrics>>,
}

impl Prepared for LoadedSampler {
    fn build(
        &self,
        id: &ComponentId,
        _signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        let ts_metrics = self
            .metrics
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("prepared without the collector's metrics"))?;
        let stage = TailSamplingStage::start(
            id,
            &self.config,
            self.sampler.clone(),
            ts_metrics,
            next,
            metrics,
        )?;
        Ok(Arc::new(stage))
    }
}

/// Makes the `health_check` extension report the processor unhealthy while its sampler's
/// circuit is open (traces are then kept, not sampled: see the host's fault handling).
fn watch_health(health: &Health, id: &ComponentId, sampler: Arc<WasmSampler>) {
    health.add_probe(
        &id.to_string(),
        Box::new(move || match sampler.health() {
            PluginHealth::Unhealthy {
                consecutive_faults,
                last_fault,
            } => Some(format!(
                "sampler circuit open after {consecutive_faults} faults in a row; last: {last_fault}"
            )),
            _ => None,
        }),
    );
}

/// Kept spans between the buffer's sink and the forwarder task.
struct Outbox {
    tx: Mutex<Option<mpsc::UnboundedSender<Released>>>,
    /// Encoded bytes sent to the channel and not yet taken by the next consumer.
    pending: AtomicU64,
}

impl Outbox {
    fn push(&self, r: Released, id: &str) {
        let len = r.request.len() as u64;
        let spans = r.spans;
        let tx = lock(&self.tx);
        match tx.as_ref() {
            Some(tx) => {
                self.pending.fetch_add(len, Ordering::Relaxed);
                if tx.send(r).is_err() {
                    self.pending.fetch_sub(len, Ordering::Relaxed);
                    tracing::error!(processor = %id, spans, "Forwarder is gone; kept spans lost.");
                }
            }
            // The buffer decides everything before the outbox closes, so this is a bug.
            None => tracing::error!(processor = %id, spans, "Kept spans after shutdown; lost."),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One pipeline's `tail_sampling` processor.
pub struct TailSamplingStage {
    id: String,
    buffer: TailSampling,
    outbox: Arc<Outbox>,
    forwarder: Mutex<Option<JoinHandle<()>>>,
    incoming: Counter,
    refused: Counter,
}

impl TailSamplingStage {
    /// Builds the buffer around the loaded `sampler`, starts its decision timer and the
    /// forwarder to `next`. Must run inside the tokio runtime.
    pub fn start(
        id: &ComponentId,
        config: &TailSamplingConfig,
        sampler: Arc<WasmSampler>,
        ts_metrics: &TailSamplingMetrics,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<TailSamplingStage> {
        let name = id.to_string();
        let labels = ProcessorLabels {
            processor: name.clone(),
        };
        let signal = Signal::Traces;
        let outgoing = metrics
            .processor_outgoing
            .get(signal)
            .get_or_create(&labels)
            .clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let outbox = Arc::new(Outbox {
            tx: Mutex::new(Some(tx)),
            pending: AtomicU64::new(0),
        });
        let sink: Sink = {
            let outbox = outbox.clone();
            let name = name.clone();
            Arc::new(move |r: Released| outbox.push(r, &name))
        };
        let buffer = TailSampling::new(
            &name,
            config.clone(),
            Box::new(sampler),
            ts_metrics.clone(),
            sink,
        )?;
        buffer.start()?;
        let forwarder = tokio::spawn(forward(name.clone(), rx, outbox.clone(), next, outgoing));
        Ok(TailSamplingStage {
            incoming: metrics
                .processor_incoming
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            refused: metrics
                .processor_refused
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            id: name,
            buffer,
            outbox,
            forwarder: Mutex::new(Some(forwarder)),
        })
    }
}

/// Passes kept spans to the next consumer in order, retrying refusals with backoff; after
/// the outbox closes (shutdown) it drains what is left, then ends.
async fn forward(
    id: String,
    mut rx: mpsc::UnboundedReceiver<Released>,
    outbox: Arc<Outbox>,
    next: Arc<dyn Consumer>,
    outgoing: Counter,
) {
    while let Some(r) = rx.recv().await {
        let len = r.request.len() as u64;
        let spans = r.spans;
        match Batch::from_protobuf(Signal::Traces, Bytes::from(r.request)) {
            Ok(received) => {
                if deliver(&id, &*next, received.batch, &outbox).await {
                    outgoing.inc_by(spans);
                }
            }
            // The buffer encodes what it decoded; a failure here is a bug, not bad input.
            Err(e) => {
                tracing::error!(processor = %id, spans, error = %e, "Kept spans do not decode; lost.")
            }
        }
        outbox.pending.fetch_sub(len, Ordering::Relaxed);
    }
}

/// One batch to `next`: retries while it is refused retryably (a full exporter queue),
/// for at most [`SHUTDOWN_RETRY_LIMIT`] once shutdown has begun. True when delivered.
async fn deliver(id: &str, next: &dyn Consumer, batch: Batch, outbox: &Outbox) -> bool {
    let mut wait = Duration::from_millis(50);
    let mut closing_since: Option<Instant> = None;
    loop {
        // A clone of an encoded batch shares its bytes.
        let err = match next.consume(batch.clone()).await {
            Ok(()) => return true,
            Err(e) => e,
        };
        if !err.is_retryable() {
            tracing::error!(processor = %id, items = batch.item_count(), error = %err, "Next consumer refused kept spans permanently; dropped.");
            return false;
        }
        if lock(&outbox.tx).is_none() {
            let since = *closing_since.get_or_insert_with(Instant::now);
            if since.elapsed() > SHUTDOWN_RETRY_LIMIT {
                tracing::error!(processor = %id, items = batch.item_count(), error = %err, "Still refused at shutdown; kept spans dropped.");
                return false;
            }
        }
        tracing::debug!(processor = %id, error = %err, wait = ?wait, "Next consumer refused kept spans; retrying.");
        tokio::time::sleep(
            wait.max(
                err.retry_after
                    .unwrap_or_default()
                    .min(Duration::from_secs(1)),
            ),
        )
        .await;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

#[async_trait]
impl Consumer for TailSamplingStage {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        if self.outbox.pending.load(Ordering::Relaxed) > OUTBOX_LIMIT {
            self.refused.inc_by(items);
            return Err(ConsumeError::retryable(format!(
                "{}: the exporters are behind (more than {} MiB of kept spans waiting)",
                self.id,
                OUTBOX_LIMIT >> 20
            ))
            .with_retry_after(Duration::from_secs(1)));
        }
        self.incoming.inc_by(items);
        if batch.signal() != Signal::Traces {
            // Config checks keep `tail_sampling` out of logs and metrics pipelines.
            return Ok(());
        }
        // The received bytes, never decoded nor copied: the buffer splits them by trace on
        // the wire (from the receiver's side index when there is one) and holds ranges of
        // them. Each chunk is a whole request (merged batches
        // are concatenated requests).
        for (chunk, index) in batch.indexed_chunks() {
            if let Err(e) = self.buffer.consume_indexed(chunk, index.as_deref()).await {
                self.refused.inc_by(items);
                return Err(match e {
                    // Bytes a receiver accepted are well-formed; if not, retrying won't help.
                    TailSamplingError::Malformed(_) => ConsumeError::permanent(e.to_string()),
                    _ => ConsumeError::retryable(e.to_string()),
                });
            }
        }
        Ok(())
    }

    /// Decides every held trace, forwards what is kept, then returns: the service shuts
    /// processors down upstream first, so the next consumer is still running.
    async fn shutdown(&self) {
        self.buffer.shutdown().await;
        lock(&self.outbox.tx).take();
        let forwarder = lock(&self.forwarder).take();
        if let Some(f) = forwarder {
            let _ = f.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use ::wasm_host::tail_sampling::BUILTIN_MODULE;

    fn parse(yaml: &str) -> Result<TailSamplingConfig, Vec<ConfigError>> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component(&v, "processors.tail_sampling")
    }

    #[test]
    fn default_module_is_the_builtin_sampler() {
        let c = parse("policies: [{name: a, type: always_sample}]").expect("valid");
        assert!(c.module.is_none());
        let Ok(ModuleRef::Builtin(b)) =
            builtin::resolve(std::path::Path::new(&format!("builtin:{BUILTIN_MODULE}")))
        else {
            panic!("the tail_sampling guest is embedded");
        };
        assert_eq!(b.world, World::Sampler);
    }

    #[test]
    fn rejections_name_the_key() {
        let e = parse("num_traces: 0\npolicies: [{name: a, type: always_sample}]")
            .expect_err("invalid");
        assert_eq!(e[0].path, "processors.tail_sampling.num_traces");
        let e = parse("policies: []").expect_err("no policies");
        assert_eq!(e[0].path, "processors.tail_sampling.policies");
        let e = parse("module: builtin:noop\npolicies: [{name: a, type: always_sample}]")
            .expect_err("a processor guest");
        assert!(e[0].message.contains("not a trace sampler"), "{}", e[0]);
        let e = parse("decision_wiat: 1s").expect_err("unknown key");
        assert!(e[0].message.contains("decision_wiat"), "{}", e[0]);
    }
}
