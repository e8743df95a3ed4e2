//! Receivers: where data enters the collector.

pub mod otlp;

use std::sync::Arc;

use bytes::Bytes;
use pdata::{Batch, ConsumeError, Consumer, DecodeError, Signal};
use prometheus_client::metrics::counter::Counter;

use crate::telemetry::{ReceiverLabels, SelfMetrics};

/// The first hop of the pipelines a receiver feeds, per signal.
#[derive(Clone, Default)]
pub struct Consumers {
    pub traces: Option<Arc<dyn Consumer>>,
    pub logs: Option<Arc<dyn Consumer>>,
    pub metrics: Option<Arc<dyn Consumer>>,
    /// Per signal (`Signal as usize`): a pipeline fed holds a component that reads the
    /// side index of received requests (`AnyConfig::reads_item_index`), so the
    /// validating scan makes it ([`Batch::from_protobuf_indexed`]).
    pub item_index: [bool; 3],
}

impl Consumers {
    pub fn get(&self, signal: Signal) -> Option<&Arc<dyn Consumer>> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Logs => self.logs.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
        }
    }

    /// Whether received `signal` requests are to be indexed.
    pub fn wants_index(&self, signal: Signal) -> bool {
        self.item_index[signal as usize]
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
        self.count(signal, items as usize, &result);
        result
    }

    /// Takes a received protobuf request body into the pipelines: through the first
    /// hop's [`pdata::ProtobufIntake`] when it has one and it takes the body (the
    /// request is then parsed once), else decoded and validated here and pushed.
    /// `Ok((rejected, why))` for the response's partial success.
    pub async fn push_protobuf(
        &self,
        signal: Signal,
        body: Bytes,
    ) -> Result<(usize, String), ReceiveError> {
        if let Some(intake) = self.consumers.get(signal).and_then(|c| c.protobuf_intake())
            && let Some((items, result)) = intake.consume_protobuf(signal, &body).await
        {
            self.count(signal, items, &result);
            return result
                .map(|()| (0, String::new()))
                .map_err(ReceiveError::Consume);
        }
        let received = if self.consumers.wants_index(signal) {
            Batch::from_protobuf_indexed(signal, body)
        } else {
            Batch::from_protobuf(signal, body)
        }
        .map_err(ReceiveError::Decode)?;
        self.push_received(received).await
    }

    /// As [`Ingest::push_protobuf`], for an OTLP/JSON body.
    pub async fn push_json(
        &self,
        signal: Signal,
        body: &[u8],
    ) -> Result<(usize, String), ReceiveError> {
        let received = Batch::from_json(signal, body).map_err(ReceiveError::Decode)?;
        self.push_received(received).await
    }

    async fn push_received(
        &self,
        received: pdata::Received,
    ) -> Result<(usize, String), ReceiveError> {
        if received.rejected > 0 {
            self.count_refused(received.batch.signal(), received.rejected);
        }
        self.push(received.batch)
            .await
            .map_err(ReceiveError::Consume)?;
        Ok((received.rejected, received.rejection))
    }

    fn count(&self, signal: Signal, items: usize, result: &Result<(), ConsumeError>) {
        match result {
            Ok(()) => {
                self.accepted[signal as usize].inc_by(items as u64);
            }
            Err(e) => {
                self.refused[signal as usize].inc_by(items as u64);
                tracing::debug!(%signal, items, error = %e, "Refused data.");
            }
        }
    }

    /// Counts items refused before they could be pushed (e.g. invalid ids).
    pub fn count_refused(&self, signal: Signal, items: usize) {
        self.refused[signal as usize].inc_by(items as u64);
    }
}

/// Why a received request was not taken.
#[derive(Debug)]
pub enum ReceiveError {
    /// The body is not a valid request: the client's fault, not to be retried.
    Decode(DecodeError),
    /// The pipelines refused it (see [`ConsumeError::kind`]).
    Consume(ConsumeError),
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::testenv::logs;

    /// Records whether each batch arrived with a side index.
    #[derive(Default)]
    struct Seen(Mutex<Vec<bool>>);

    #[async_trait]
    impl Consumer for Seen {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(batch.has_index());
            Ok(())
        }
    }

    /// The scan writes the side index only for the signals whose pipelines read it.
    #[tokio::test]
    async fn requests_are_indexed_only_for_pipelines_that_read_the_index() {
        let seen = Arc::new(Seen::default());
        let body = logs(2).to_protobuf();
        for wanted in [false, true] {
            let mut consumers = Consumers::default();
            consumers.set(Signal::Logs, seen.clone());
            consumers.item_index[Signal::Logs as usize] = wanted;
            let ingest = Ingest::new("otlp", "grpc", consumers, &SelfMetrics::new());
            let (rejected, _) = ingest
                .push_protobuf(Signal::Logs, body.clone())
                .await
                .map_err(|_| "refused")
                .expect("taken");
            assert_eq!(rejected, 0);
        }
        assert_eq!(*seen.0.lock().expect("seen"), [false, true]);
    }
}
