//! Exporters: where data leaves the collector. Network exporters (`otlp`, `otlphttp`)
//! implement [`Sender`] and run behind [`QueuedExporter`], which gives them otelcol's
//! `sending_queue` and `retry_on_failure`.

pub mod debug;
pub mod envelope;
pub mod file;
mod grpc_tls;
pub mod loadbalancing;
pub mod logging;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod queue;
pub mod retry;
mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use prometheus_client::metrics::counter::Counter;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use prometheus_client::metrics::family::Family;

use crate::factory::ExporterContext;
use crate::telemetry::{ExporterLabels, PerSignal, SelfMetrics};
use queue::{Queue, QueueConfig};
use retry::RetryConfig;

/// The `sent` counter of an exporter instance.
fn sent_counter(ctx: &ExporterContext<'_>) -> Counter {
    ctx.metrics
        .exporter_sent
        .get(ctx.signal)
        .get_or_create(&ExporterLabels {
            exporter: ctx.id.to_string(),
        })
        .clone()
}

/// A network exporter: `sender` behind a sending queue and retries.
fn queued(
    ctx: ExporterContext<'_>,
    sender: Arc<dyn Sender>,
    queue: &QueueConfig,
    retry: &RetryConfig,
) -> anyhow::Result<Arc<dyn Consumer>> {
    Ok(Arc::new(QueuedExporter::new(
        &ctx.id.to_string(),
        ctx.signal,
        sender,
        queue,
        retry,
        ctx.storage,
        ctx.metrics,
    )?))
}

/// The config and build impls every queued network exporter shares: its ignored keys
/// as warnings, its persistent queue's storage, and its sender behind the queue. One
/// macro rather than a blanket impl, so an exporter's config type stays a plain struct.
macro_rules! queued_exporter {
    ($config:ty, $sender:ty) => {
        impl $crate::config::AnyConfig for $config {
            fn warnings(&self) -> Vec<$crate::config::ConfigError> {
                self.ignored()
            }

            fn queue_storage(&self) -> Option<(&'static str, &str)> {
                self.sending_queue
                    .persistent_storage()
                    .map(|s| ("sending_queue", s))
            }
        }

        impl $crate::factory::Exporter for $config {
            fn build(
                &self,
                ctx: $crate::factory::ExporterContext<'_>,
            ) -> anyhow::Result<std::sync::Arc<dyn pdata::Consumer>> {
                let sender = <$sender>::new(self, ctx.signal).map_err(|e| anyhow::anyhow!(e))?;
                $crate::exporters::queued(
                    ctx,
                    std::sync::Arc::new(sender),
                    &self.sending_queue,
                    &self.retry_on_failure,
                )
            }
        }
    };
}
pub(crate) use queued_exporter;

/// Why one attempt to send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{message}")]
    Retryable {
        message: String,
        /// The server asked us to wait this long (Retry-After, RetryInfo).
        after: Option<Duration>,
    },
    #[error("{0}")]
    Permanent(String),
}

/// One attempt to deliver a batch. Returns how many items the server rejected as
/// invalid (OTLP partial success), which are not retried.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    async fn send(&self, batch: &Batch) -> Result<usize, SendError>;
}

/// otelcol's per-exporter item counters for one signal.
pub(crate) struct Counters {
    pub sent: Counter,
    pub send_failed: Counter,
    pub enqueue_failed: Counter,
}

impl Counters {
    pub(crate) fn new(exporter: &str, signal: Signal, metrics: &SelfMetrics) -> Counters {
        let labels = ExporterLabels {
            exporter: exporter.to_owned(),
        };
        let get = |family: &PerSignal<Family<ExporterLabels, Counter>>| {
            family.get(signal).get_or_create(&labels).clone()
        };
        Counters {
            sent: get(&metrics.exporter_sent),
            send_failed: get(&metrics.exporter_send_failed),
            enqueue_failed: get(&metrics.exporter_enqueue_failed),
        }
    }
}

/// How long an in-memory queue keeps trying at shutdown before reporting data lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

struct Shared {
    id: String,
    signal: Signal,
    sender: Arc<dyn Sender>,
    retry: RetryConfig,
    closing: CancellationToken,
    sent: Counter,
    send_failed: Counter,
    enqueue_failed: Counter,
}

enum Outcome {
    Sent,
    /// Final failure: counted and logged.
    Failed(SendError),
    /// Shutdown interrupted a persisted entry; it stays on disk for the next run.
    Abandoned,
}

impl Shared {
    async fn deliver(&self, batch: &Batch, persistent: bool) -> Outcome {
        let items = batch.item_count() as u64;
        let started = Instant::now();
        let mut backoff = self.retry.backoff();
        loop {
            let err = match self.sender.send(batch).await {
                Ok(rejected) => {
                    let rejected = (rejected as u64).min(items);
                    self.sent.inc_by(items - rejected);
                    if rejected > 0 {
                        self.send_failed.inc_by(rejected);
                        tracing::warn!(exporter = %self.id, rejected, "The destination rejected some items as invalid.");
                    }
                    return Outcome::Sent;
                }
                Err(e) => e,
            };
            let after = match &err {
                SendError::Permanent(_) => return self.fail(err, items),
                SendError::Retryable { after, .. } => *after,
            };
            if !self.retry.enabled {
                return self.fail(err, items);
            }
            let wait = backoff.next_wait().max(after.unwrap_or_default());
            let max = self.retry.max_elapsed_time;
            if !max.is_zero() && started.elapsed() + wait > max {
                let e = SendError::Retryable {
                    message: format!("no more retries left after {:?}: {err}", started.elapsed()),
                    after: None,
                };
                return self.fail(e, items);
            }
            if self.closing.is_cancelled() {
                if persistent {
                    return Outcome::Abandoned;
                }
                if started.elapsed() > DRAIN_LIMIT {
                    return self.fail(err, items);
                }
                tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                continue;
            }
            tracing::debug!(exporter = %self.id, error = %err, wait = ?wait, "Export failed; will retry.");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.closing.cancelled() => {
                    if persistent {
                        return Outcome::Abandoned;
                    }
                }
            }
        }
    }

    fn fail(&self, err: SendError, items: u64) -> Outcome {
        self.send_failed.inc_by(items);
        tracing::error!(exporter = %self.id, signal = %self.signal, items, error = %err, "Exporting failed; dropping data.");
        Outcome::Failed(err)
    }
}

/// A network exporter with its sending queue and retries.
pub struct QueuedExporter {
    shared: Arc<Shared>,
    queue: Option<Arc<Queue>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl QueuedExporter {
    pub fn new(
        id: &str,
        signal: Signal,
        sender: Arc<dyn Sender>,
        queue_cfg: &QueueConfig,
        retry: &RetryConfig,
        storage: Option<crate::storage::DirStore>,
        metrics: &SelfMetrics,
    ) -> std::io::Result<QueuedExporter> {
        let Counters {
            sent,
            send_failed,
            enqueue_failed,
        } = Counters::new(id, signal, metrics);
        let shared = Arc::new(Shared {
            id: id.to_string(),
            signal,
            sender,
            retry: retry.clone(),
            closing: CancellationToken::new(),
            sent,
            send_failed,
            enqueue_failed,
        });
        let deliver = {
            let shared = shared.clone();
            move |batch: Batch, persistent: bool| {
                let shared = shared.clone();
                async move {
                    // Sent or failed for good: either way the entry is done.
                    !matches!(shared.deliver(&batch, persistent).await, Outcome::Abandoned)
                }
            }
        };
        let (queue, workers) = match queue::start(id, signal, queue_cfg, storage, metrics, deliver)?
        {
            Some(started) => (Some(started.queue), started.workers),
            None => (None, Vec::new()),
        };
        Ok(QueuedExporter {
            shared,
            queue,
            workers: Mutex::new(workers),
        })
    }
}

#[async_trait]
impl Consumer for QueuedExporter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        match &self.queue {
            Some(q) => q.push(batch).map_err(|e| {
                self.shared.enqueue_failed.inc_by(items);
                e.into_consume_error()
            }),
            None => match self.shared.deliver(&batch, false).await {
                Outcome::Sent => Ok(()),
                Outcome::Failed(SendError::Permanent(m)) => Err(ConsumeError::permanent(m)),
                Outcome::Failed(e) => Err(ConsumeError::retryable(e.to_string())),
                Outcome::Abandoned => Err(ConsumeError::retryable("the exporter is shutting down")),
            },
        }
    }

    async fn shutdown(&self) {
        if let Some(q) = &self.queue {
            q.close();
            self.shared.closing.cancel();
            let workers =
                std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
            for w in workers {
                let _ = w.await;
            }
            let left = q.len();
            if left > 0 {
                tracing::info!(exporter = %self.shared.id, batches = left, "Queued data kept in storage for the next start.");
            }
        } else {
            self.shared.closing.cancel();
        }
    }
}
