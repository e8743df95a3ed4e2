//! Builds the pipeline graph from a checked [`Config`], runs it, and shuts it down in
//! order: receivers stop accepting, processors flush downstream, exporters drain or
//! persist their queues.
//!
//! Every pipeline gets its own processor instances; an exporter is one instance per
//! (id, signal), shared by the pipelines of that signal; a receiver feeds every pipeline
//! that lists it through a fan-out, and a pipeline fans out to its exporters. A batch is
//! cloned only at a fan-out. WASM modules (`wasm/*` processors and `tail_sampling`'s
//! sampler) are loaded once per component id on one shared runtime; each pipeline still
//! gets its own `tail_sampling` buffer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use tokio_util::sync::CancellationToken;

use crate::components::{ExporterConfig, ExtensionConfig, ProcessorConfig, ReceiverConfig};
use crate::config::{ComponentId, Config, ConfigErrors};
use crate::exporters::{self, QueuedExporter};
use crate::extensions::file_storage::FileStorage;
use crate::extensions::health_check;
use crate::processors::batch::BatchProcessor;
use crate::processors::memory_limiter::{MemoryGauge, MemoryLimiter};
use crate::processors::tail_sampling::{self, TailSamplingStage};
use crate::processors::wasm::{self as wasm_processor, WasmStage};
use crate::receivers::{self, Consumers};
use crate::telemetry::{ExporterLabels, Health, SelfMetrics};

/// Sends each batch to every consumer: clones for all but the last.
struct FanOut(Vec<Arc<dyn Consumer>>);

#[async_trait]
impl Consumer for FanOut {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let mut first_err = None;
        let last = self.0.len().saturating_sub(1);
        let mut batch = Some(batch);
        for (i, c) in self.0.iter().enumerate() {
            let b = if i == last {
                batch.take()
            } else {
                batch.clone()
            };
            if let Some(b) = b
                && let Err(e) = c.consume(b).await
            {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn fan_out(mut list: Vec<Arc<dyn Consumer>>) -> Arc<dyn Consumer> {
    if list.len() == 1 {
        list.remove(0)
    } else {
        Arc::new(FanOut(list))
    }
}

/// Runs the collector until `shutdown` resolves, then drains and returns.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let metrics = Arc::new(SelfMetrics::new());
    let health = Arc::new(Health::default());
    let stop_servers = CancellationToken::new();
    let mut server_tasks = Vec::new();

    if let Some(addr) = config
        .service
        .telemetry
        .metrics
        .listen_address()
        .map_err(|e| anyhow!("service.telemetry.metrics: {e}"))?
    {
        server_tasks.push(
            crate::telemetry::serve_metrics(&addr, metrics.clone(), stop_servers.clone())
                .await
                .context("service.telemetry.metrics")?,
        );
        tracing::info!(endpoint = %addr, "Serving the collector's own metrics at /metrics.");
    }

    // Extensions.
    let mut storages: BTreeMap<ComponentId, FileStorage> = BTreeMap::new();
    for id in &config.service.extensions {
        match config.extensions.get(id) {
            Some(ExtensionConfig::FileStorage(cfg)) => {
                let fs = FileStorage::start(cfg).with_context(|| format!("extensions.{id}"))?;
                storages.insert(id.clone(), fs);
            }
            Some(ExtensionConfig::HealthCheck(cfg)) => {
                server_tasks.push(
                    health_check::start(cfg, health.clone(), stop_servers.clone())
                        .await
                        .with_context(|| format!("extensions.{id}"))?,
                );
                tracing::info!(extension = %id, endpoint = %cfg.endpoint, "Started health_check extension.");
            }
            None => {}
        }
    }

    // Exporters, one per (id, signal).
    let mut exporters: BTreeMap<(ComponentId, Signal), Arc<dyn Consumer>> = BTreeMap::new();
    let mut truncated = Vec::new();
    for (pid, p) in &config.service.pipelines {
        for id in &p.exporters {
            let key = (id.clone(), pid.signal);
            if exporters.contains_key(&key) {
                continue;
            }
            let Some(cfg) = config.exporters.get(id) else {
                continue;
            };
            let e = build_exporter(id, pid.signal, cfg, &storages, &metrics, &mut truncated)
                .with_context(|| format!("exporters.{id}"))?;
            exporters.insert(key, e);
        }
    }

    // WASM processors and tail samplers: loaded once each (compile, instantiate,
    // configure), before any receiver opens, so a module that cannot start (or policies
    // the sampler refuses) stops startup with its reason. One runtime serves both.
    let used_wasm = used_processors(&config, |c| matches!(c, ProcessorConfig::Wasm(_)));
    let used_sampling = used_processors(&config, |c| matches!(c, ProcessorConfig::TailSampling(_)));
    let runtime = if used_wasm.is_empty() && used_sampling.is_empty() {
        None
    } else {
        Some(wasm_processor::runtime(Some(&metrics))?)
    };
    let mut wasm = BTreeMap::new();
    let mut samplers = BTreeMap::new();
    let mut sampling_metrics = None;
    if let Some(runtime) = &runtime {
        let mut errors = Vec::new();
        match wasm_processor::load_all(&config, used_wasm, runtime) {
            Ok(loaded) => wasm = loaded,
            Err(e) => errors.extend(e.0),
        }
        match tail_sampling::load_all(&config, used_sampling, runtime) {
            Ok(loaded) => samplers = loaded,
            Err(e) => errors.extend(e.0),
        }
        if !errors.is_empty() {
            return Err(anyhow!("{}", ConfigErrors(errors)));
        }
        for (id, p) in &wasm {
            wasm_processor::watch_health(&health, id, p.clone());
            tracing::info!(processor = %id, "Loaded WASM processor.");
        }
        for (id, s) in &samplers {
            tail_sampling::watch_health(&health, id, s.clone());
            tracing::info!(processor = %id, "Loaded tail sampler.");
        }
        if !samplers.is_empty() {
            sampling_metrics = Some(tail_sampling::register_metrics(&metrics));
        }
    }

    // Pipelines, built from the exporters back to the first processor.
    let mut gauges: BTreeMap<ComponentId, Arc<MemoryGauge>> = BTreeMap::new();
    let mut processors: Vec<Arc<dyn Consumer>> = Vec::new();
    let mut receiver_inputs: BTreeMap<ComponentId, BTreeMap<Signal, Vec<Arc<dyn Consumer>>>> =
        BTreeMap::new();
    for (pid, p) in &config.service.pipelines {
        let signal = pid.signal;
        let outs: Vec<Arc<dyn Consumer>> = p
            .exporters
            .iter()
            .filter_map(|id| exporters.get(&(id.clone(), signal)).cloned())
            .collect();
        let mut next = fan_out(outs);
        let mut chain: Vec<Arc<dyn Consumer>> = Vec::new();
        for id in p.processors.iter().rev() {
            let Some(cfg) = config.processors.get(id) else {
                continue;
            };
            let name = id.to_string();
            next = match cfg {
                ProcessorConfig::Batch(c) => {
                    Arc::new(BatchProcessor::new(&name, signal, c, next, &metrics))
                }
                ProcessorConfig::MemoryLimiter(c) => {
                    let gauge = gauges
                        .entry(id.clone())
                        .or_insert_with(|| MemoryGauge::start(&name, c))
                        .clone();
                    Arc::new(MemoryLimiter::new(&name, signal, gauge, next, &metrics))
                }
                ProcessorConfig::Wasm(_) => {
                    let Some(p) = wasm.get(id) else {
                        continue;
                    };
                    Arc::new(WasmStage::new(p.clone(), signal, next, &metrics))
                }
                ProcessorConfig::TailSampling(c) => {
                    let (Some(sampler), Some(m)) = (samplers.get(id), &sampling_metrics) else {
                        continue;
                    };
                    let stage = TailSamplingStage::start(id, c, sampler.clone(), m, next, &metrics)
                        .with_context(|| format!("processors.{id}"))?;
                    Arc::new(stage)
                }
            };
            chain.push(next.clone());
        }
        // Shut down upstream first so each processor flushes into a live successor.
        chain.reverse();
        processors.extend(chain);
        for r in &p.receivers {
            receiver_inputs
                .entry(r.clone())
                .or_default()
                .entry(signal)
                .or_default()
                .push(next.clone());
        }
        tracing::info!(pipeline = %pid, "Built pipeline.");
    }

    // Receivers last, so data only arrives once everything downstream runs.
    let mut running = Vec::new();
    for (id, inputs) in receiver_inputs {
        let mut consumers = Consumers::default();
        for (signal, list) in inputs {
            consumers.set(signal, fan_out(list));
        }
        let Some(ReceiverConfig::Otlp(cfg)) = config.receivers.get(&id) else {
            continue;
        };
        let r = receivers::otlp::start(&id.to_string(), cfg, consumers, &metrics)
            .await
            .with_context(|| format!("receivers.{id}"))?;
        running.push(r);
    }
    health.set_ready(true);
    tracing::info!("Everything is ready. Begin running and processing data.");

    shutdown.await;

    tracing::info!(
        "Shutdown requested: stopping receivers, flushing processors, draining exporters."
    );
    health.set_ready(false);
    for r in running {
        r.stop().await;
    }
    for p in &processors {
        p.shutdown().await;
    }
    for e in exporters.values() {
        e.shutdown().await;
    }
    for g in gauges.values() {
        g.stop();
    }
    stop_servers.cancel();
    for t in server_tasks {
        let _ = t.await;
    }
    tracing::info!("Shutdown complete.");
    Ok(())
}

/// The processors of the kind `want` that some pipeline uses.
fn used_processors(config: &Config, want: fn(&ProcessorConfig) -> bool) -> Vec<&ComponentId> {
    config
        .service
        .pipelines
        .values()
        .flat_map(|p| &p.processors)
        .filter(|id| config.processors.get(id).is_some_and(want))
        .collect()
}

fn build_exporter(
    id: &ComponentId,
    signal: Signal,
    cfg: &ExporterConfig,
    storages: &BTreeMap<ComponentId, FileStorage>,
    metrics: &SelfMetrics,
    truncated: &mut Vec<ComponentId>,
) -> anyhow::Result<Arc<dyn Consumer>> {
    let name = id.to_string();
    let labels = ExporterLabels {
        exporter: name.clone(),
    };
    let sent = metrics
        .exporter_sent
        .get(signal)
        .get_or_create(&labels)
        .clone();
    // Config validation has checked the reference; this guards the service's own wiring.
    let storage = || -> anyhow::Result<_> {
        let Some((queue, s)) = cfg.queue_storage() else {
            return Ok(None);
        };
        let sid = ComponentId::parse(s).map_err(|e| anyhow!(e))?;
        let fs = storages.get(&sid).ok_or_else(|| {
            anyhow!("exporters.{name}.{queue}.storage: extension `{sid}` is not running")
        })?;
        Ok(Some(fs.client(&format!("exporter_{}_{}", name, signal))?))
    };
    Ok(match cfg {
        ExporterConfig::Otlp(c) => {
            let sender = exporters::otlp::OtlpSender::new(c, signal).map_err(|e| anyhow!(e))?;
            let storage = storage()?;
            Arc::new(QueuedExporter::new(
                &name,
                signal,
                Arc::new(sender),
                &c.sending_queue,
                &c.retry_on_failure,
                storage,
                metrics,
            )?)
        }
        ExporterConfig::OtlpHttp(c) => {
            let sender =
                exporters::otlphttp::OtlpHttpSender::new(c, signal).map_err(|e| anyhow!(e))?;
            let storage = storage()?;
            Arc::new(QueuedExporter::new(
                &name,
                signal,
                Arc::new(sender),
                &c.sending_queue,
                &c.retry_on_failure,
                storage,
                metrics,
            )?)
        }
        ExporterConfig::LoadBalancing(c) => {
            let storage = storage()?;
            Arc::new(exporters::loadbalancing::LoadBalancingExporter::new(
                &name, signal, c, storage, metrics,
            )?)
        }
        ExporterConfig::Debug(c) => Arc::new(exporters::debug::DebugExporter {
            id: name.clone(),
            verbosity: c.verbosity,
            sent,
        }),
        ExporterConfig::Nop(_) => Arc::new(exporters::nop::NopExporter { sent }),
        ExporterConfig::File(c) => {
            if !truncated.contains(id) {
                exporters::file::FileExporter::truncate(c)?;
                truncated.push(id.clone());
            }
            let failed = metrics
                .exporter_send_failed
                .get(signal)
                .get_or_create(&labels)
                .clone();
            Arc::new(exporters::file::FileExporter::open(c, sent, failed)?)
        }
    })
}
