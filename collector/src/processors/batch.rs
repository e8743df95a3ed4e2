//! The `batch` processor: groups data into batches of `send_batch_size` items, or whatever
//! arrived within `timeout`, and splits anything larger than `send_batch_max_size`.
//!
//! Batches that were never decoded merge by concatenating their bytes, so batching costs
//! no decode. The processor owns what it accepted: a retryable refusal downstream is
//! retried with backoff (pushing back on receivers through the bounded input channel),
//! never dropped silently.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::{ProcessorLabels, SelfMetrics};

/// `processors.batch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Send a batch once this many items are buffered. Default 8192; 0 sends on timeout only.
    #[serde(default = "default_send_batch_size")]
    pub send_batch_size: usize,
    /// Upper bound on items per sent batch; larger batches are split. Default 0 (no bound).
    #[serde(default)]
    pub send_batch_max_size: usize,
    /// Send whatever is buffered after this long. Default `200ms`; `0s` sends at once.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Batching per value of these client metadata keys: receivers keep no client
    /// metadata here, so every item is in the one batch.
    #[serde(default)]
    pub metadata_keys: Ignored,
    #[serde(default)]
    pub metadata_cardinality_limit: Ignored,
}

fn default_send_batch_size() -> usize {
    8192
}
fn default_timeout() -> Duration {
    Duration::from_millis(200)
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: default_send_batch_size(),
            send_batch_max_size: 0,
            timeout: default_timeout(),
            metadata_keys: Ignored::default(),
            metadata_cardinality_limit: Ignored::default(),
        }
    }
}

impl ComponentConfig for BatchConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            errors.push(ConfigError::new(
                "send_batch_max_size",
                format!(
                    "must be 0 or at least send_batch_size ({}), got {}",
                    self.send_batch_size, self.send_batch_max_size
                ),
            ));
        }
        errors
    }
}

/// Batches waiting to be merged; bounded so a slow pipeline pushes back on receivers.
const INPUT_CAPACITY: usize = 64;
/// How long a receiver waits for room before it answers the client with a retryable error.
const ENQUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long shutdown keeps retrying a refused batch before reporting it lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

pub struct BatchProcessor {
    tx: Mutex<Option<mpsc::Sender<Batch>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    incoming: Counter,
}

struct Worker {
    cfg: BatchConfig,
    next: Arc<dyn Consumer>,
    id: String,
    signal: Signal,
    send_size: Histogram,
    size_trigger: Counter,
    timeout_trigger: Counter,
    outgoing: Counter,
}

impl BatchProcessor {
    pub fn new(
        id: &str,
        signal: Signal,
        cfg: &BatchConfig,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> BatchProcessor {
        let labels = ProcessorLabels {
            processor: id.to_string(),
        };
        let (tx, rx) = mpsc::channel(INPUT_CAPACITY);
        let worker = Worker {
            cfg: cfg.clone(),
            next,
            id: id.to_string(),
            signal,
            send_size: metrics.batch_send_size.get_or_create(&labels).clone(),
            size_trigger: metrics.batch_size_trigger.get_or_create(&labels).clone(),
            timeout_trigger: metrics.batch_timeout_trigger.get_or_create(&labels).clone(),
            outgoing: metrics
                .processor_outgoing
                .get(signal)
                .get_or_create(&labels)
                .clone(),
        };
        let task = tokio::spawn(worker.run(rx));
        BatchProcessor {
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            incoming: metrics
                .processor_incoming
                .get(signal)
                .get_or_create(&labels)
                .clone(),
        }
    }
}

#[async_trait]
impl Consumer for BatchProcessor {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(tx) = tx else {
            return Err(ConsumeError::retryable("the collector is shutting down"));
        };
        let items = batch.item_count() as u64;
        match tx.send_timeout(batch, ENQUEUE_WAIT).await {
            Ok(()) => {
                self.incoming.inc_by(items);
                Ok(())
            }
            Err(_) => Err(
                ConsumeError::retryable("the batch processor is full; retry later")
                    .with_retry_after(Duration::from_secs(1)),
            ),
        }
    }

    async fn shutdown(&self) {
        // Dropping the sender lets the worker drain what it holds and exit.
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Batch>) {
        let mut buffer = Batch::empty(self.signal);
        let mut deadline: Option<Instant> = None;
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(batch) => {
                        buffer.merge(batch);
                        let size = self.cfg.send_batch_size;
                        while size > 0 && buffer.item_count() >= size {
                            let out = self.take(&mut buffer);
                            self.size_trigger.inc();
                            self.send(out, false).await;
                        }
                        if self.cfg.timeout.is_zero() && !buffer.is_empty() {
                            self.flush_all(&mut buffer, false).await;
                        }
                        if buffer.is_empty() {
                            deadline = None;
                        } else if deadline.is_none() {
                            deadline = Some(Instant::now() + self.cfg.timeout);
                        }
                    }
                    None => {
                        self.flush_all(&mut buffer, true).await;
                        return;
                    }
                },
                () = timer => {
                    deadline = None;
                    if !buffer.is_empty() {
                        self.timeout_trigger.inc();
                        self.flush_all(&mut buffer, false).await;
                    }
                }
            }
        }
    }

    /// The next batch to send: everything buffered, or `send_batch_max_size` items when set.
    fn take(&self, buffer: &mut Batch) -> Batch {
        match buffer.split_front(self.cfg.send_batch_max_size) {
            Some(front) => front,
            None => std::mem::replace(buffer, Batch::empty(self.signal)),
        }
    }

    async fn flush_all(&self, buffer: &mut Batch, draining: bool) {
        while !buffer.is_empty() {
            let out = self.take(buffer);
            self.send(out, draining).await;
        }
    }

    /// Hands a batch on, retrying retryable refusals. While draining at shutdown the
    /// retries are bounded so a dead downstream cannot hold the process forever.
    async fn send(&self, batch: Batch, draining: bool) {
        let items = batch.item_count();
        let started = Instant::now();
        self.send_size.observe(items as f64);
        let mut backoff = Duration::from_millis(100);
        loop {
            // Cloning costs a refcount for received bytes; only a retry needs the copy.
            match self.next.consume(batch.clone()).await {
                Ok(()) => {
                    self.outgoing.inc_by(items as u64);
                    return;
                }
                Err(e) if e.is_retryable() && !(draining && started.elapsed() > DRAIN_LIMIT) => {
                    tracing::debug!(processor = %self.id, error = %e, "Downstream refused a batch; retrying.");
                    tokio::time::sleep(
                        e.retry_after.unwrap_or(backoff).min(Duration::from_secs(5)),
                    )
                    .await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(processor = %self.id, items, error = %e, "Downstream did not take a batch; dropping it.");
                    return;
                }
            }
        }
    }
}

impl AnyConfig for BatchConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let why = "receivers keep no client metadata, so data is not batched per metadata value";
        ignored::warnings(
            "",
            &[
                ("metadata_keys", &self.metadata_keys, why),
                (
                    "metadata_cardinality_limit",
                    &self.metadata_cardinality_limit,
                    why,
                ),
            ],
        )
    }
}

impl Processor for BatchConfig {
    fn prepare(
        &self,
        _id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        Ok(Box::new(self.clone()))
    }
}

/// Each pipeline gets its own batcher; nothing is shared.
impl Prepared for BatchConfig {
    fn build(
        &self,
        id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(BatchProcessor::new(
            &id.to_string(),
            signal,
            self,
            next,
            metrics,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdata::Payload;
    use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
    use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use tokio::sync::Mutex as AsyncMutex;

    #[derive(Default)]
    struct Collect(AsyncMutex<Vec<usize>>);

    #[async_trait]
    impl Consumer for Collect {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            self.0.lock().await.push(batch.item_count());
            Ok(())
        }
    }

    fn spans(n: usize) -> Batch {
        let spans = (0..n)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: vec![(i % 250 + 1) as u8; 8],
                ..Default::default()
            })
            .collect();
        Batch::from_payload(Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }))
    }

    fn processor(cfg: BatchConfig) -> (BatchProcessor, Arc<Collect>) {
        let sink = Arc::new(Collect::default());
        let p = BatchProcessor::new(
            "batch",
            Signal::Traces,
            &cfg,
            sink.clone(),
            &SelfMetrics::new(),
        );
        (p, sink)
    }

    #[tokio::test]
    async fn timeout_flushes_a_partial_batch() {
        let (p, sink) = processor(BatchConfig {
            timeout: Duration::from_millis(50),
            ..Default::default()
        });
        p.consume(spans(3)).await.expect("accepted");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*sink.0.lock().await, vec![3]);
        p.shutdown().await;
    }

    #[tokio::test]
    async fn size_triggers_and_max_size_splits() {
        let (p, sink) = processor(BatchConfig {
            send_batch_size: 10,
            send_batch_max_size: 10,
            timeout: Duration::from_secs(60),
            ..Default::default()
        });
        p.consume(spans(25)).await.expect("accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*sink.0.lock().await, vec![10, 10]);
        p.shutdown().await;
        assert_eq!(
            *sink.0.lock().await,
            vec![10, 10, 5],
            "shutdown flushes the rest"
        );
    }

    #[test]
    fn defaults_match_otelcol() {
        let c = BatchConfig::default();
        assert_eq!(
            (c.send_batch_size, c.send_batch_max_size, c.timeout),
            (8192, 0, Duration::from_millis(200))
        );
    }

    #[test]
    fn max_below_size_is_rejected() {
        let c = BatchConfig {
            send_batch_size: 100,
            send_batch_max_size: 10,
            ..Default::default()
        };
        let errors = c.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "send_batch_max_size");
    }
}
