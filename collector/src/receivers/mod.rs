//! Receivers: where data enters the collector.

pub mod otlp;

use std::sync::Arc;

use pdata::{Batch, ConsumeError, Consumer, Signal};
use prometheus_client::metrics::counter::Counter;

use crate::telemetry::{ReceiverLabels, SelfMetrics};

/// The first hop of the pipelines a receiver feeds, per signal.
#[derive(Clone, Default)]
pub struct Consumers {
    pub traces: Option<Arc<dyn Consumer>>,
    pub logs: Option<Arc<dyn Consumer>>,
    pub metrics: Option<Arc<dyn Consumer>>,
}

impl Consumers {
    pub fn get(&self, signal: Signal) -> Option<&Arc<dyn Consumer>> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Logs => self.logs.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
        }
    }

    pub fn set(&mut self, signal: Signal, c: Arc<dyn Consumer>) {
        match signal {
            Signal::Traces => self.traces = Some(c),
            Signal::Logs => self.logs = Some(c),
            Signal::Metrics => self.metrics = Some(c),
        }
    }
}

/// Hands received batches to the pipelines and counts the outcome, per transport.
pub struct Ingest {
    consumers: Consumers,
    accepted: [Counter; 3],
    refused: [Counter; 3],
}

impl Ingest {
    pub fn new(
        receiver: &str,
        transport: &str,
        consumers: Consumers,
        metrics: &SelfMetrics,
    ) -> Ingest {
        let labels = ReceiverLabels {
            receiver: receiver.to_string(),
            transport: transport.to_string(),
        };
        let pick = |f: &crate::telemetry::PerSignal<_>, s: Signal| -> Counter {
            let fam: &prometheus_client::metrics::family::Family<ReceiverLabels, Counter> =
                f.get(s);
            fam.get_or_create(&labels).clone()
        };
        Ingest {
            accepted: Signal::ALL.map(|s| pick(&metrics.receiver_accepted, s)),
            refused: Signal::ALL.map(|s| pick(&metrics.receiver_refused, s)),
            consumers,
        }
    }

    pub fn accepts(&self, signal: Signal) -> bool {
        self.consumers.get(signal).is_some()
    }

    /// Pushes a batch into the pipelines; the caller answers the client from the result.
    pub async fn push(&self, batch: Batch) -> Result<(), ConsumeError> {
        let signal = batch.signal();
        let items = batch.item_count() as u64;
        let Some(consumer) = self.consumers.get(signal) else {
            return Err(ConsumeError::permanent(format!(
                "this receiver has no {signal} pipeline"
            )));
        };
        if items == 0 {
            return Ok(());
        }
        let result = consumer.consume(batch).await;
        match &result {
            Ok(()) => {
                self.accepted[signal as usize].inc_by(items);
            }
            Err(e) => {
                self.refused[signal as usize].inc_by(items);
                tracing::debug!(%signal, items, error = %e, "Refused data.");
            }
        }
        result
    }

    /// Counts items refused before they could be pushed (e.g. invalid ids).
    pub fn count_refused(&self, signal: Signal, items: usize) {
        self.refused[signal as usize].inc_by(items as u64);
    }
}
