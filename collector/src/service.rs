//! Builds the pipeline graph from a checked [`Config`], runs it, and shuts it down in
//! order: receivers stop accepting, processors flush downstream, exporters drain or
//! persist their queues.
//!
//! Every pipeline gets its own processor instances; an exporter is one instance per
//! (id, signal), shared by the pipelines of that signal; a receiver feeds every pipeline
//! that lists it through a fan-out, and a pipeline fans out to its exporters. A batch is
//! cloned only at a fan-out. Processors are prepared once per component id (WASM
//! modules loaded, on one shared runtime) before any receiver opens, then built into
//! each pipeline. Components are reached only through the registry
//! ([`crate::components`]) and the kind traits of [`crate::factory`].
//!
//! Connectors make pipelines feed pipelines ([`crate::config::graph`]): pipelines are
//! built downstream first, so a connector instance, one per (id, signal in, signal
//! out) as in otelcol, is built with the heads of the pipelines it feeds. At shutdown
//! pipelines go upstream first, and a connector instance is shut down (flushing what
//! it holds) after every pipeline feeding it and before the pipelines it feeds.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use tokio_util::sync::CancellationToken;

use crate::components::Registry;
use crate::config::{
    AnyConfig, Catalog, ComponentId, Config, ConfigError, ConfigErrors, PipelineId, graph,
};
use crate::factory::{
    ConnectorContext, ExporterContext, ExtensionContext, PrepareEnv, PrepareError, Prepared,
};
use crate::receivers::Consumers;
use crate::storage::FileStorage;
use crate::telemetry::{Health, SelfMetrics};

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

/// One consumer for a list: the consumer itself when there is one.
pub(crate) fn fan_out(mut list: Vec<Arc<dyn Consumer>>) -> Arc<dyn Consumer> {
    if list.len() == 1 {
        list.remove(0)
    } else {
        Arc::new(FanOut(list))
    }
}

/// Runs the collector until `shutdown` resolves, then drains and returns.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let registry = Registry;
    let metrics = Arc::new(SelfMetrics::new());
    metrics.set_resource(&config.service.telemetry.resource);
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
    let extension_ctx = ExtensionContext {
        health: health.clone(),
        stop: stop_servers.clone(),
    };
    for id in &config.service.extensions {
        let Some(extension) = config
            .extensions
            .get(id)
            .and_then(|c| registry.extension(id, &**c))
        else {
            continue;
        };
        let started = extension
            .start(id, &extension_ctx)
            .await
            .with_context(|| format!("extensions.{id}"))?;
        server_tasks.extend(started.task);
        if let Some(s) = started.storage {
            storages.insert(id.clone(), s);
        }
    }

    // Exporters, one per (id, signal).
    let mut exporters: BTreeMap<(ComponentId, Signal), Arc<dyn Consumer>> = BTreeMap::new();
    for (pid, p) in &config.service.pipelines {
        for id in &p.exporters {
            let key = (id.clone(), pid.signal);
            if exporters.contains_key(&key) {
                continue;
            }
            let Some(cfg) = config.exporters.get(id) else {
                continue;
            };
            let first_of_id = !exporters.keys().any(|(built, _)| built == id);
            let e = build_exporter(
                id,
                pid.signal,
                &**cfg,
                first_of_id,
                &storages,
                &metrics,
                &health,
            )
            .with_context(|| format!("exporters.{id}"))?;
            exporters.insert(key, e);
        }
    }

    // Processors, prepared once per id (WASM modules compiled, instantiated,
    // configured) before any receiver opens, so one that cannot start (or policies a
    // sampler refuses) stops startup with its reason.
    let used = config
        .service
        .pipelines
        .values()
        .flat_map(|p| &p.processors);
    let prepared = prepare_processors(
        &config,
        used,
        &PrepareEnv::new(Some(&*metrics), Some(&*health)),
    )
    .map_err(|e| match e {
        PrepareFailure::Config(errors) => anyhow!("{errors}"),
        PrepareFailure::Fatal(e) => e,
    })?;

    // Pipelines, downstream first, each built from its exporters back to its first
    // processor.
    let pairs = |ty: &str| Registry.connector_pairs(ty);
    let edges = graph::edges(&config.connectors, &config.service.pipelines, &pairs);
    let order = graph::order(&config.service.pipelines, &edges);
    let mut heads: BTreeMap<PipelineId, Arc<dyn Consumer>> = BTreeMap::new();
    let mut chains: BTreeMap<PipelineId, Vec<Arc<dyn Consumer>>> = BTreeMap::new();
    let mut connectors: BTreeMap<ConnectorKey, Arc<dyn Consumer>> = BTreeMap::new();
    let mut receiver_inputs: BTreeMap<ComponentId, BTreeMap<Signal, Vec<Arc<dyn Consumer>>>> =
        BTreeMap::new();
    let indexed = indexed_receivers(&config);
    for pid in order.iter().rev() {
        let Some(p) = config.service.pipelines.get(pid) else {
            continue;
        };
        let signal = pid.signal;
        let mut outs: Vec<Arc<dyn Consumer>> = Vec::new();
        for id in &p.exporters {
            if config.connectors.contains_key(id) {
                outs.push(
                    connector_input(&config, id, signal, &heads, &mut connectors, &metrics)
                        .with_context(|| format!("connectors.{id}"))?,
                );
            } else if let Some(e) = exporters.get(&(id.clone(), signal)) {
                outs.push(e.clone());
            }
        }
        let mut next = fan_out(outs);
        let mut chain: Vec<Arc<dyn Consumer>> = Vec::new();
        for id in p.processors.iter().rev() {
            let Some(ready) = prepared.get(id) else {
                continue;
            };
            next = ready
                .build(id, signal, next, &metrics)
                .with_context(|| format!("processors.{id}"))?;
            chain.push(next.clone());
        }
        // Shut down upstream first so each processor flushes into a live successor.
        chain.reverse();
        chains.insert(pid.clone(), chain);
        heads.insert(pid.clone(), next.clone());
        for r in p
            .receivers
            .iter()
            .filter(|r| !config.connectors.contains_key(*r))
        {
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
        let mut consumers = Consumers {
            item_index: indexed.get(&id).copied().unwrap_or_default(),
            ..Consumers::default()
        };
        for (signal, list) in inputs {
            consumers.set(signal, fan_out(list));
        }
        let Some(receiver) = config
            .receivers
            .get(&id)
            .and_then(|c| registry.receiver(&id, &**c))
        else {
            continue;
        };
        let r = receiver
            .start(&id, consumers, &metrics)
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
    // Upstream first: a connector flushes into pipelines that are still running.
    let mut connectors_down: BTreeSet<ConnectorKey> = BTreeSet::new();
    for pid in &order {
        for (key, c) in &connectors {
            if key.2 == pid.signal
                && !connectors_down.contains(key)
                && config
                    .service
                    .pipelines
                    .get(pid)
                    .is_some_and(|p| p.receivers.contains(&key.0))
            {
                c.shutdown().await;
                connectors_down.insert(key.clone());
            }
        }
        for p in chains.get(pid).into_iter().flatten() {
            p.shutdown().await;
        }
    }
    for e in exporters.values() {
        e.shutdown().await;
    }
    for p in prepared.values() {
        p.stop();
    }
    stop_servers.cancel();
    for t in server_tasks {
        let _ = t.await;
    }
    tracing::info!("Shutdown complete.");
    Ok(())
}

/// Per receiver, the signals whose requests it scans into a side index
/// (`Batch::from_protobuf_indexed`): those it feeds to a pipeline with a processor or
/// exporter that reads the index (`AnyConfig::reads_item_index`). Requests for other
/// pipelines are scanned without recording anything.
fn indexed_receivers(config: &Config) -> BTreeMap<ComponentId, [bool; 3]> {
    let mut indexed: BTreeMap<ComponentId, [bool; 3]> = BTreeMap::new();
    for (pid, p) in &config.service.pipelines {
        let reads_index = p
            .processors
            .iter()
            .filter_map(|id| config.processors.get(id))
            .chain(p.exporters.iter().filter_map(|id| config.exporters.get(id)))
            .any(|c| c.reads_item_index());
        for r in p
            .receivers
            .iter()
            .filter(|r| !config.connectors.contains_key(*r))
        {
            indexed.entry(r.clone()).or_default()[pid.signal as usize] |= reads_index;
        }
    }
    indexed
}

/// Why processors could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareFailure {
    /// Every processor that cannot start, located in the config like any config error.
    #[error("{0}")]
    Config(ConfigErrors),
    /// Something no config change fixes (the WebAssembly runtime did not start).
    #[error(transparent)]
    Fatal(anyhow::Error),
}

/// Prepares every processor in `ids` once (an id listed by several pipelines is
/// prepared once and shared), gathering every failure so one run reports them all.
/// `tracemend validate` runs this too, without metrics or health.
pub fn prepare_processors<'a>(
    config: &Config,
    ids: impl IntoIterator<Item = &'a ComponentId>,
    env: &PrepareEnv<'_>,
) -> Result<BTreeMap<ComponentId, Box<dyn Prepared>>, PrepareFailure> {
    let registry = Registry;
    let mut prepared = BTreeMap::new();
    let mut errors = Vec::new();
    for id in ids {
        if prepared.contains_key(id) {
            continue;
        }
        let Some(processor) = config
            .processors
            .get(id)
            .and_then(|c| registry.processor(id, &**c))
        else {
            continue;
        };
        match processor.prepare(id, env) {
            Ok(p) => {
                prepared.insert(id.clone(), p);
            }
            Err(PrepareError::Module(e)) => {
                errors.push(config.locate(ConfigError::new(format!("processors.{id}.module"), e)));
            }
            Err(PrepareError::Other(e)) => {
                errors.push(config.locate(ConfigError::new(format!("processors.{id}"), e)));
            }
            Err(PrepareError::Fatal(e)) => return Err(PrepareFailure::Fatal(e)),
        }
    }
    if errors.is_empty() {
        Ok(prepared)
    } else {
        Err(PrepareFailure::Config(ConfigErrors(errors)))
    }
}

fn build_exporter(
    id: &ComponentId,
    signal: Signal,
    cfg: &dyn AnyConfig,
    first_of_id: bool,
    storages: &BTreeMap<ComponentId, FileStorage>,
    metrics: &SelfMetrics,
    health: &Arc<Health>,
) -> anyhow::Result<Arc<dyn Consumer>> {
    let exporter = Registry
        .exporter(id, cfg)
        .ok_or_else(|| anyhow!("`{}` is not an exporter type", id.ty))?;
    // Config validation has checked the reference; this guards the service's own wiring.
    let storage = match cfg.queue_storage() {
        None => None,
        Some((queue, s)) => {
            let sid = ComponentId::parse(s).map_err(|e| anyhow!(e))?;
            let fs = storages.get(&sid).ok_or_else(|| {
                anyhow!("exporters.{id}.{queue}.storage: extension `{sid}` is not running")
            })?;
            Some(fs.client(&format!("exporter_{id}_{signal}"))?)
        }
    };
    exporter.build(ExporterContext {
        id,
        signal,
        first_of_id,
        storage,
        metrics,
        health,
    })
}

/// A connector instance: (id, the signal it takes, the signal it emits).
type ConnectorKey = (ComponentId, Signal, Signal);

/// What a pipeline of `signal` exporting to connector `id` sends to: the connector's
/// instance for each signal it emits into a pipeline that receives from it (built on
/// first use and shared by every pipeline of `signal`).
fn connector_input(
    config: &Config,
    id: &ComponentId,
    signal: Signal,
    heads: &BTreeMap<PipelineId, Arc<dyn Consumer>>,
    built: &mut BTreeMap<ConnectorKey, Arc<dyn Consumer>>,
    metrics: &SelfMetrics,
) -> anyhow::Result<Arc<dyn Consumer>> {
    let cfg = config
        .connectors
        .get(id)
        .ok_or_else(|| anyhow!("connector `{id}` is not configured"))?;
    let connector = Registry
        .connector(id, &**cfg)
        .ok_or_else(|| anyhow!("`{}` is not a connector type", id.ty))?;
    let mut outs = Vec::new();
    for (from, to) in Registry.connector_pairs(&id.ty) {
        if *from != signal {
            continue;
        }
        let key = (id.clone(), *from, *to);
        if let Some(c) = built.get(&key) {
            outs.push(c.clone());
            continue;
        }
        // Downstream pipelines were built first: each is in `heads`.
        let pipelines: Vec<(PipelineId, Arc<dyn Consumer>)> = config
            .service
            .pipelines
            .iter()
            .filter(|(k, p)| k.signal == *to && p.receivers.contains(id))
            .filter_map(|(k, _)| heads.get(k).map(|h| (k.clone(), h.clone())))
            .collect();
        if pipelines.is_empty() {
            continue;
        }
        let c = connector.build(ConnectorContext {
            id,
            from: *from,
            to: *to,
            pipelines: &pipelines,
            metrics,
        })?;
        built.insert(key, c.clone());
        outs.push(c);
    }
    if outs.is_empty() {
        // Config validation refuses a connector that feeds nothing.
        anyhow::bail!("connector `{id}` feeds no pipeline from {signal}");
    }
    Ok(fan_out(outs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the signals whose pipelines hold `envelope` or `tail_sampling` are indexed,
    /// per receiver.
    #[test]
    fn receivers_index_the_signals_of_pipelines_that_read_the_index() {
        let text = "\
receivers:
  otlp:
    protocols:
      grpc:
  otlp/other:
    protocols:
      grpc:
        endpoint: 127.0.0.1:14317
processors:
  batch:
  tail_sampling:
    policies: [{name: a, type: always_sample}]
exporters:
  nop:
  envelope:
    endpoint: http://127.0.0.1:9
    token_env: H2_TEST_TOKEN
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop, envelope]
    logs:
      receivers: [otlp, otlp/other]
      processors: [batch]
      exporters: [nop]
    traces/sampled:
      receivers: [otlp/other]
      processors: [tail_sampling, batch]
      exporters: [nop]
    metrics:
      receivers: [otlp]
      exporters: [nop]
";
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, text).expect("write");
        let config = crate::components::load_config(&[path.display().to_string()], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let indexed = indexed_receivers(&config);
        let at = |id: &str| indexed.get(&ComponentId::parse(id).expect("id")).copied();
        let mut traces_only = [false; 3];
        traces_only[Signal::Traces as usize] = true;
        assert_eq!(at("otlp"), Some(traces_only));
        assert_eq!(at("otlp/other"), Some(traces_only));
    }
}
