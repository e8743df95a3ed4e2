//! `sending_queue`: a bounded queue of batches between the pipeline and the exporter's
//! senders, in memory or persisted through a `file_storage` extension so queued data
//! survives a restart or a downstream outage.
//!
//! Persisted entries are written before `push` returns (so an acknowledged batch is on
//! disk) and deleted only after their final outcome, so a crash mid-send resends them
//! on restart: delivery is at least once.

use std::collections::VecDeque;
use std::sync::Mutex;

use pdata::{Batch, Signal};
use prometheus_client::metrics::gauge::Gauge;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::config::{ComponentId, ConfigError};
use crate::extensions::file_storage::DirStore;

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
        errors
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
