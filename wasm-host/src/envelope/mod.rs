//! The host side of the `envelope` exporter: holds spans and log records by
//! trace id (in the tail-sampling buffer, [`crate::tail_sampling::buffer`]),
//! and when a trace with an error has waited `join_window`, hands the whole
//! trace and its logs to the assembler guest, then passes each envelope it
//! returns through the data contract, the schema and dedupe before it goes to
//! the sink (the exporter's sending queue).
//!
//! The parts: `holder` takes batches and lets traces go (timer, bounds,
//! shutdown), `assemble` turns a trace into envelopes, `signals` reads the
//! error and commit markers on the wire, `contract` is the data contract,
//! `dedupe` the per-fingerprint window, `memo` dedupe before assembly (a
//! trace with the evidence of one assembled before, whose fingerprint's
//! window is open, is counted without calling the guest), `metrics` the
//! counters.
//!
//! A trace fails when a span has status `ERROR`, an `exception` event, or a
//! log record of the trace carries `exception.type`; traces without one are
//! let go unread. A failing trace whose resources lack every commit attribute
//! (`commit`: the guest's `commit_attributes`, by default
//! `vcs.ref.head.revision`) is counted and logged with those names, and not
//! assembled (the engine needs the commit to reproduce).

mod assemble;
pub mod commit;
pub mod contract;
mod dedupe;
mod holder;
mod memo;
pub mod metrics;
pub mod signals;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::wasm::WasmAssembler;
pub use commit::{COMMIT_ATTRIBUTE, COMMIT_ATTRIBUTES_KEY, commit_attributes};
pub use contract::{Contract, ContractConfig, ContractError, Label, Refusal};
pub use holder::{Holder, HolderStats};
pub use memo::Evidence;
pub use metrics::{EnvelopeLabels, EnvelopeMetrics, FaultLabels};

/// Builds envelopes from one failing trace and its logs. [`WasmAssembler`] is
/// the real one.
pub trait Assemble: Send + Sync + 'static {
    /// The assembler's output for the trace: `None`, or JSON text holding one
    /// envelope (an object) or several (an array of objects).
    fn assemble(
        &self,
        trace: &ExportTraceServiceRequest,
        logs: &ExportLogsServiceRequest,
    ) -> Result<Option<String>, AssembleFault>;

    /// [`Assemble::assemble`] for the encoded requests, as the holder keeps
    /// the trace. The default decodes them with prost (a request that does
    /// not decode is an [`UNDECODABLE`] fault); [`WasmAssembler`] builds its
    /// guest's view from the bytes instead.
    fn assemble_encoded(&self, trace: &[u8], logs: &[u8]) -> Result<Option<String>, AssembleFault> {
        use prost::Message;
        let decoded = ExportTraceServiceRequest::decode(trace)
            .and_then(|t| ExportLogsServiceRequest::decode(logs).map(|l| (t, l)));
        match decoded {
            Ok((trace, logs)) => self.assemble(&trace, &logs),
            Err(e) => Err(undecodable(e)),
        }
    }
}

/// The fault kind of a held trace that does not decode (the guest is not
/// called).
pub const UNDECODABLE: &str = "undecodable";

fn undecodable(e: prost::DecodeError) -> AssembleFault {
    AssembleFault {
        kind: UNDECODABLE,
        message: e.to_string(),
    }
}

/// Why an assembler gave no output for a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AssembleFault {
    /// The metric label (`trap`, `timeout`, `memory`, `guest_error`, ...).
    pub kind: &'static str,
    /// What happened, for the log.
    pub message: String,
}

impl Assemble for WasmAssembler {
    fn assemble(
        &self,
        trace: &ExportTraceServiceRequest,
        logs: &ExportLogsServiceRequest,
    ) -> Result<Option<String>, AssembleFault> {
        WasmAssembler::assemble(self, trace, logs).map_err(|f| AssembleFault {
            kind: f.kind.as_str(),
            message: f.to_string(),
        })
    }

    fn assemble_encoded(&self, trace: &[u8], logs: &[u8]) -> Result<Option<String>, AssembleFault> {
        match WasmAssembler::assemble_encoded(self, trace, logs) {
            Ok(out) => out.map_err(undecodable),
            Err(f) => Err(AssembleFault {
                kind: f.kind.as_str(),
                message: f.to_string(),
            }),
        }
    }
}

impl<T: Assemble> Assemble for Arc<T> {
    fn assemble(
        &self,
        trace: &ExportTraceServiceRequest,
        logs: &ExportLogsServiceRequest,
    ) -> Result<Option<String>, AssembleFault> {
        (**self).assemble(trace, logs)
    }

    fn assemble_encoded(&self, trace: &[u8], logs: &[u8]) -> Result<Option<String>, AssembleFault> {
        (**self).assemble_encoded(trace, logs)
    }
}

/// Where envelopes go (validated JSON text). Called from the timer's
/// blocking thread or a receiver's task; keep it quick (a channel send).
pub type EnvelopeSink = Arc<dyn Fn(String) + Send + Sync>;

/// How the holder holds and what it lets through.
#[derive(Debug, Clone)]
pub struct HolderSettings {
    /// How long a trace is held after its first item before it is assembled
    /// (so late spans and logs join it).
    pub join_window: Duration,
    /// Most traces held; past it the oldest is let go early.
    pub num_traces: u64,
    /// Most bytes held; past it the oldest traces are let go early.
    pub max_buffered_bytes: u64,
    /// At most one envelope per fingerprint per window (zero: no dedupe).
    pub dedupe_window: Duration,
    /// Dedupe before assembly, reading this evidence ([`Evidence`]); `None`:
    /// every failing trace is assembled, then deduplicated.
    pub dedupe_before_assembly: Option<Evidence>,
    /// The data contract.
    pub contract: Contract,
    /// Resource attributes naming the commit, any of which lets a failing
    /// trace be assembled: the guest's own list ([`commit_attributes`]).
    pub commit_attributes: Vec<String>,
}

impl Default for HolderSettings {
    fn default() -> Self {
        HolderSettings {
            join_window: Duration::from_secs(10),
            num_traces: 50_000,
            max_buffered_bytes: 128 << 20,
            dedupe_window: Duration::from_secs(60),
            dedupe_before_assembly: None,
            contract: Contract::default(),
            commit_attributes: vec![COMMIT_ATTRIBUTE.to_owned()],
        }
    }
}

/// Why a batch could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    /// The encoded request's structure is broken.
    #[error(transparent)]
    Malformed(#[from] crate::tail_sampling::WireError),
    /// A batch came after `shutdown`.
    #[error("envelope exporter is shut down")]
    Stopped,
    /// `start` was called outside a tokio runtime.
    #[error("envelope exporter: start needs a tokio runtime")]
    NoRuntime,
}
#[cfg(test)]
mod memo_tests;
#[cfg(test)]
mod tests;
