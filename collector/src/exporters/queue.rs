//! `sending_queue`: a bounded queue of batches between the pipeline and the exporter's
//! senders, in memory or persisted through a `file_storage` extension so queued data
//! survives a restart or a downstream outage.
//!
//! Persisted entries are written before `push` returns (so an acknowledged batch is on
//! disk) and deleted only after their final outcome, so a crash mid-send resends them
//! on restart: delivery is at least once.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pdata::{Batch, ConsumeError, Signal};
use prometheus_client::metrics::gauge::Gauge;
use serde::Deserialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::{ComponentId, ConfigError, Ignored, ignored};
use crate::storage::DirStore;
use crate::telemetry::{ExporterLabels, SelfMetrics};

/// `sending_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Concurrent senders. Default 10.
    #[serde(default = "default_consumers")]
    pub num_consumers: usize,
    /// Capacity in batches (requests). Default 1000.
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// A `file_storage` extension id; when set the queue is persisted on disk.
    #[serde(default)]
    pub storage: Option<String>,
    /// What `queue_size` counts: `requests` (default, batches) only; `items` and
    /// `bytes` are refused rather than read as a number of batches.
    #[serde(default)]
    pub sizer: Option<String>,
    /// Exporter-side batching: the queue sends batches as they come; the `batch`
    /// processor batches.
    #[serde(default)]
    pub batch: Ignored,
    /// The receiver's caller gets its answer once the data is queued (a full queue is a
    /// retryable refusal), never after the export.
    #[serde(default)]
    pub wait_for_result: Ignored,
    #[serde(default)]
    pub block_on_overflow: Ignored,
    /// otelcol's older name of `block_on_overflow`.
    #[serde(default)]
    pub blocking: Ignored,
}

impl QueueConfig {
    /// The storage extension id when the queue is enabled and persistent.
    pub fn persistent_storage(&self) -> Option<&str> {
        self.storage.as_deref().filter(|_| self.enabled)
    }
}

fn yes() -> bool {
    true
}
fn default_consumers() -> usize {
    10
}
fn default_queue_size() -> usize {
    1000
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: default_consumers(),
            queue_size: default_queue_size(),
            storage: None,
            sizer: None,
            batch: Ignored::default(),
            wait_for_result: Ignored::default(),
            block_on_overflow: Ignored::default(),
            blocking: Ignored::default(),
        }
    }
}

impl QueueConfig {
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.enabled && self.num_consumers == 0 {
            errors.push(ConfigError::new(
                format!("{path}.num_consumers"),
                "must be greater than 0",
            ));
        }
        if self.enabled && self.queue_size == 0 {
            errors.push(ConfigError::new(
                format!("{path}.queue_size"),
                "must be greater than 0",
            ));
        }
        if let Some(s) = &self.storage
            && let Err(e) = ComponentId::parse(s)
        {
            errors.push(ConfigError::new(format!("{path}.storage"), e));
        }
        match self.sizer.as_deref() {
            None | Some("requests") => {}
            Some(s @ ("items" | "bytes")) => errors.push(ConfigError::new(
                format!("{path}.sizer"),
                format!("sizer {s:?} is not supported: tracemend's queue counts batches (`requests`); set queue_size as a number of batches"),
            )),
            Some(other) => errors.push(ConfigError::new(
                format!("{path}.sizer"),
                format!("unknown sizer {other:?}, expected requests, items or bytes"),
            )),
        }
        errors
    }

    /// Keys accepted without effect, at paths under `path`.
    pub fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let answered =
            "the caller is answered once the data is queued; a full queue refuses retryably";
        ignored::warnings(
            path,
            &[
                (
                    "batch",
                    &self.batch,
                    "the sending queue does not batch; add the `batch` processor to the pipeline",
                ),
                ("wait_for_result", &self.wait_for_result, answered),
                ("block_on_overflow", &self.block_on_overflow, answered),
                ("blocking", &self.blocking, answered),
            ],
        )
    }
}

/// One queued batch; `seq` names its file when persisted.
pub struct Entry {
    pub seq: u64,
    pub batch: Batch,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("sending queue is full ({0} batches)")]
    Full(usize),
    #[error("the exporter is shutting down")]
    Closed,
    #[error("cannot persist the batch: {0}")]
    Storage(std::io::Error),
}

impl PushError {
    /// What the pipeline (and so the client) is told: every refusal is retryable, and a
    /// full or closing queue asks for a second's pause.
    pub fn into_consume_error(self) -> ConsumeError {
        match self {
            PushError::Full(_) | PushError::Closed => {
                ConsumeError::retryable(self.to_string()).with_retry_after(Duration::from_secs(1))
            }
            PushError::Storage(_) => ConsumeError::retryable(self.to_string()),
        }
    }
}

/// An exporter's queue and its consumers, started from `sending_queue`: the queue-size
/// and capacity gauges are registered under `exporter`, and each of `num_consumers`
/// tasks pops an entry, hands it to `deliver` (with whether the queue is persistent)
/// and acknowledges it when `deliver` returns true. `None` when the queue is disabled.
pub fn start<F, Fut>(
    exporter: &str,
    signal: Signal,
    cfg: &QueueConfig,
    storage: Option<DirStore>,
    metrics: &SelfMetrics,
    deliver: F,
) -> std::io::Result<Option<Started>>
where
    F: Fn(Batch, bool) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    if !cfg.enabled {
        return Ok(None);
    }
    let labels = ExporterLabels {
        exporter: exporter.to_owned(),
    };
    metrics
        .exporter_queue_capacity
        .get_or_create(&labels)
        .set(i64::try_from(cfg.queue_size).unwrap_or(i64::MAX));
    let size = metrics.exporter_queue_size.get_or_create(&labels).clone();
    let q = Arc::new(Queue::new(signal, cfg.queue_size, storage, size)?);
    let workers = (0..cfg.num_consumers)
        .map(|_| {
            let q = q.clone();
            let deliver = deliver.clone();
            tokio::spawn(async move {
                while let Some(entry) = q.pop().await {
                    if deliver(entry.batch, q.is_persistent()).await {
                        q.ack(entry.seq);
                    }
                }
            })
        })
        .collect();
    Ok(Some(Started { queue: q, workers }))
}

/// A started queue and its consumer tasks.
pub struct Started {
    pub queue: Arc<Queue>,
    pub workers: Vec<JoinHandle<()>>,
}

struct State {
    items: VecDeque<Entry>,
    next_seq: u64,
    closed: bool,
}

pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    store: Option<DirStore>,
    size: Gauge,
}

impl Queue {
    /// A queue, loading whatever a previous run left in `store`.
    pub fn new(
        signal: Signal,
        capacity: usize,
        store: Option<DirStore>,
        size: Gauge,
    ) -> std::io::Result<Queue> {
        let mut items = VecDeque::new();
        let mut next_seq = 0;
        if let Some(s) = &store {
            for (seq, bytes) in s.load()? {
                next_seq = next_seq.max(seq + 1);
                match Batch::from_protobuf(signal, bytes) {
                    Ok(r) => items.push_back(Entry {
                        seq,
                        batch: r.batch,
                    }),
                    Err(e) => {
                        // A corrupt file cannot be sent; keep it aside for inspection.
                        tracing::error!(seq, error = %e, "Skipping a corrupt persisted batch.");
                        s.quarantine(seq);
                    }
                }
            }
            if !items.is_empty() {
                tracing::info!(batches = items.len(), "Resuming persisted sending queue.");
            }
        }
        size.set(items.len() as i64);
        Ok(Queue {
            state: Mutex::new(State {
                items,
                next_seq,
                closed: false,
            }),
            notify: Notify::new(),
            capacity,
            store,
            size,
        })
    }

    pub fn is_persistent(&self) -> bool {
        self.store.is_some()
    }

    pub fn push(&self, batch: Batch) -> Result<(), PushError> {
        let seq = {
            let mut st = self.lock();
            if st.closed {
                return Err(PushError::Closed);
            }
            if st.items.len() >= self.capacity {
                return Err(PushError::Full(self.capacity));
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            seq
        };
        if let Some(s) = &self.store {
            s.put(seq, &batch.to_protobuf())
                .map_err(PushError::Storage)?;
        }
        let mut st = self.lock();
        st.items.push_back(Entry { seq, batch });
        self.size.set(st.items.len() as i64);
        drop(st);
        self.notify.notify_one();
        Ok(())
    }

    /// The next entry; `None` once closed and, for an in-memory queue, drained. A
    /// persistent queue stops handing out entries at close: they stay on disk.
    pub async fn pop(&self) -> Option<Entry> {
        loop {
            let notified = self.notify.notified();
            {
                let mut st = self.lock();
                if st.closed && self.store.is_some() {
                    return None;
                }
                if let Some(e) = st.items.pop_front() {
                    self.size.set(st.items.len() as i64);
                    return Some(e);
                }
                if st.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The entry's outcome is final: forget it.
    pub fn ack(&self, seq: u64) {
        if let Some(s) = &self.store
            && let Err(e) = s.remove(seq)
        {
            tracing::warn!(seq, error = %e, "Cannot delete a sent batch from storage; it may be sent again after a restart.");
        }
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::storage::FileStorage;
    use crate::testenv::logs;

    async fn pop_count(q: &Queue) -> Option<(u64, usize)> {
        q.pop().await.map(|e| (e.seq, e.batch.item_count()))
    }

    fn store(dir: &std::path::Path) -> DirStore {
        FileStorage::open(dir, false, false)
            .and_then(|s| s.client("exporter_otlp_logs"))
            .expect("store")
    }

    #[tokio::test]
    async fn batches_come_out_in_order_and_a_full_queue_refuses() {
        let size = Gauge::default();
        let q = Queue::new(Signal::Logs, 2, None, size.clone()).expect("queue");
        q.push(logs(1)).expect("first");
        q.push(logs(2)).expect("second");
        assert!(matches!(q.push(logs(3)), Err(PushError::Full(2))));
        assert_eq!(size.get(), 2);
        assert_eq!(pop_count(&q).await, Some((0, 1)));
        q.push(logs(3)).expect("room again");
        assert_eq!(pop_count(&q).await, Some((1, 2)));
        assert_eq!(pop_count(&q).await, Some((2, 3)));
        assert_eq!(size.get(), 0);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_closed_memory_queue_drains_then_ends_and_refuses() {
        let q = Queue::new(Signal::Logs, 4, None, Gauge::default()).expect("queue");
        q.push(logs(1)).expect("push");
        q.close();
        assert!(matches!(q.push(logs(2)), Err(PushError::Closed)));
        assert_eq!(pop_count(&q).await, Some((0, 1)));
        assert_eq!(pop_count(&q).await, None);
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_on_push_and_on_close() {
        let q = Arc::new(Queue::new(Signal::Logs, 4, None, Gauge::default()).expect("queue"));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { pop_count(&q).await }
        });
        tokio::task::yield_now().await;
        q.push(logs(5)).expect("push");
        assert_eq!(waiter.await.expect("joined"), Some((0, 5)));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { pop_count(&q).await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(waiter.await.expect("joined"), None);
    }

    #[tokio::test]
    async fn a_persistent_queue_survives_a_reopen_without_acknowledged_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q =
            Queue::new(Signal::Logs, 8, Some(store(dir.path())), Gauge::default()).expect("queue");
        assert!(q.is_persistent());
        for n in 1..=3 {
            q.push(logs(n)).expect("push");
        }
        let (seq, n) = pop_count(&q).await.expect("first");
        assert_eq!((seq, n), (0, 1));
        q.ack(seq);
        // At close a persistent queue hands out nothing more: the rest stays on disk.
        q.close();
        assert_eq!(pop_count(&q).await, None);
        drop(q);

        let size = Gauge::default();
        let q =
            Queue::new(Signal::Logs, 8, Some(store(dir.path())), size.clone()).expect("reopened");
        assert_eq!(size.get(), 2);
        assert_eq!(pop_count(&q).await, Some((1, 2)));
        assert_eq!(pop_count(&q).await, Some((2, 3)));
        // New entries continue after the highest sequence found on disk.
        q.push(logs(4)).expect("push");
        assert_eq!(pop_count(&q).await, Some((3, 4)));
    }

    #[tokio::test]
    async fn a_corrupt_persisted_batch_is_set_aside_and_the_rest_resume() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.put(0, &logs(2).to_protobuf()).expect("good entry");
        s.put(7, b"\xff\xff not protobuf").expect("corrupt entry");
        let q = Queue::new(Signal::Logs, 8, Some(s), Gauge::default()).expect("queue");
        assert_eq!(q.len(), 1);
        let client = dir.path().join("exporter_otlp_logs");
        assert!(client.join("00000000000000000007.corrupt").exists());
        assert!(!client.join("00000000000000000007.otlp").exists());
        assert_eq!(pop_count(&q).await, Some((0, 2)));
        q.push(logs(1)).expect("push");
        assert_eq!(pop_count(&q).await, Some((8, 1)));
    }

    #[test]
    fn every_refusal_is_retryable() {
        for e in [
            PushError::Full(3),
            PushError::Closed,
            PushError::Storage(std::io::Error::other("disk full")),
        ] {
            let text = e.to_string();
            let c = e.into_consume_error();
            assert!(c.is_retryable(), "{text}");
        }
    }

    #[test]
    fn validation_names_each_key() {
        let cfg = QueueConfig {
            enabled: true,
            num_consumers: 0,
            queue_size: 0,
            storage: Some("file_storage/".into()),
            sizer: Some("items".into()),
            ..QueueConfig::default()
        };
        let paths: Vec<String> = cfg
            .validate("sending_queue")
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "sending_queue.num_consumers",
                "sending_queue.queue_size",
                "sending_queue.storage",
                "sending_queue.sizer"
            ]
        );
        let disabled = QueueConfig {
            enabled: false,
            num_consumers: 0,
            queue_size: 0,
            ..QueueConfig::default()
        };
        assert!(disabled.validate("q").is_empty());
        assert_eq!(disabled.persistent_storage(), None);
        let persistent = QueueConfig {
            storage: Some("file_storage".into()),
            ..QueueConfig::default()
        };
        assert_eq!(persistent.persistent_storage(), Some("file_storage"));
    }

    #[test]
    fn otelcol_queue_keys_load_and_warn() {
        let q: QueueConfig = serde_yaml::from_str(
            "batch:\nwait_for_result: true\nsizer: requests\nqueue_size: 10\n",
        )
        .expect("parses");
        assert!(q.validate("q").is_empty());
        let w: Vec<String> = q.warnings("q").into_iter().map(|w| w.path).collect();
        assert_eq!(w, ["q.batch", "q.wait_for_result"]);
    }
}
