use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Batch, Signal};

/// Whether the sender may retry data that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Temporary refusal (back-pressure, memory limit, full queue): the client should retry.
    Retryable,
    /// The data itself is bad and will never be accepted.
    Permanent,
}

/// Why a consumer did not take a batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConsumeError {
    pub kind: ErrorKind,
    pub message: String,
    /// How long the client should wait before retrying, when known.
    pub retry_after: Option<Duration>,
}

impl ConsumeError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ErrorKind::Retryable,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        ConsumeError {
            kind: ErrorKind::Permanent,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }
}

/// The next hop of a pipeline: a processor, a fan-out, or an exporter.
///
/// `consume` returns once the batch is owned by the consumer (queued, buffered or
/// delivered); an `Err` means the batch was not taken and the caller still answers for it.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError>;

    /// A first hop that reads received protobuf bytes closely anyway may take them
    /// before the receiver's own validating scan, so that a request is parsed once
    /// ([`ProtobufIntake`]). `None`, the default: the receiver scans (or decodes) first
    /// and calls [`Consumer::consume`].
    fn protobuf_intake(&self) -> Option<&dyn ProtobufIntake> {
        None
    }

    /// Flushes buffered data and stops background work. Called once, after every
    /// upstream component has stopped sending.
    async fn shutdown(&self) {}
}

/// The first hop of a pipeline taking a received protobuf request body as it came
/// (see [`Consumer::protobuf_intake`]). The WASM host's view builder is one: it parses
/// every field to show the batch to its guest, so it makes the receiver's checks as it
/// goes instead of after the receiver's scan.
#[async_trait]
pub trait ProtobufIntake: Send + Sync {
    /// Takes `body` only if it passes every check of the receiver's validating scan
    /// with no item to remove, and then consumes it: `Some((items, result))`, the
    /// number of spans or log records taken and what [`Consumer::consume`] would have
    /// returned for them. `None`: not taken, nothing done; the receiver decodes and
    /// validates `body` the usual way (its error and partial-success answers are made
    /// there) and calls [`Consumer::consume`].
    async fn consume_protobuf(
        &self,
        signal: Signal,
        body: &Bytes,
    ) -> Option<(usize, Result<(), ConsumeError>)>;
}
