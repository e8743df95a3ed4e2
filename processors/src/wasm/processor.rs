//! [`WasmProcessor`]: a `wasm/<name>` span/log processor.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::bindings::processor::Processor as ProcessorWorld;
use super::circuit::Health;
use super::config::{OnError, WasmProcessorConfig};
use super::edits::{self, RawEdits};
use super::engine::WasmRuntime;
use super::instance::{CallError, Plugin};
use super::load::LoadError;

/// What a successful call did to the batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Edits applied.
    pub edits: usize,
    /// Spans the guest dropped.
    pub spans_dropped: usize,
    /// Log records the guest dropped.
    pub logs_dropped: usize,
}

/// Kinds of fault, as counted in `tracemend_wasm_faults_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The guest trapped (panic, unreachable, bad memory access, ...).
    Trap,
    /// The call ran past `limits.call_timeout`.
    Timeout,
    /// The guest tried to grow past `limits.memory_mib`.
    Memory,
    /// The guest returned an edit list the host refused.
    InvalidEdit,
    /// The guest returned an error.
    GuestError,
    /// A replacement instance could not be built or configured.
    Instantiate,
    /// A host function panicked during the call (a host bug; caught).
    HostPanic,
    /// The circuit is open; the guest was not called.
    CircuitOpen,
}

impl FaultKind {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Timeout => "timeout",
            FaultKind::Memory => "memory",
            FaultKind::InvalidEdit => "invalid_edit",
            FaultKind::GuestError => "guest_error",
            FaultKind::Instantiate => "instantiate",
            FaultKind::HostPanic => "host_panic",
            FaultKind::CircuitOpen => "circuit_open",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A faulted call. The batch has already had `on_error` applied: unchanged
/// (`pass`) or emptied (`drop`, `batch_dropped` is `true`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// Details, for logs.
    pub message: String,
    /// `true` when `on_error: drop` emptied the batch.
    pub batch_dropped: bool,
}

/// A `wasm/<name>` processor. `Send + Sync`: share it (e.g. in an `Arc`)
/// between pipeline tasks; each call checks out its own instance.
///
/// Calls are synchronous and CPU-bound: tens of µs for a no-op guest, at
/// most `limits.call_timeout` for a slow one. They may be made straight from
/// a tokio task. One catch is handled here: wasmtime-wasi's synchronous WASI
/// streams `block_on` a future, which tokio forbids on a worker thread. A
/// guest that writes to stdout or stderr (a Rust guest's panic message does)
/// is detected on its first such call, that batch is run again outside the
/// async context, and its later calls go there directly (`block_in_place` on
/// a multi-thread runtime, a scoped thread on a current-thread one).
pub struct WasmProcessor {
    plugin: Plugin<ProcessorWorld>,
    on_error: OnError,
    max_edits: usize,
}

impl WasmProcessor {
    /// Loads `config.module` from disk, checks it, and configures one
    /// instance with `config.config`. `name` is the component id
    /// (`wasm/redact`), used in metrics and logs.
    pub fn load(
        name: &str,
        config: &WasmProcessorConfig,
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        Self::build(name, config, None, runtime)
    }

    /// As [`WasmProcessor::load`], with the component bytes given (built-in
    /// guests embedded in the binary); `config.module` is only used in
    /// messages.
    pub fn load_bytes(
        name: &str,
        config: &WasmProcessorConfig,
        module: &[u8],
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        Self::build(name, config, Some(module), runtime)
    }

    fn build(
        name: &str,
        config: &WasmProcessorConfig,
        bytes: Option<&[u8]>,
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        Ok(WasmProcessor {
            plugin: Plugin::load(name, config, bytes, runtime)?,
            on_error: config.on_error,
            max_edits: config.limits.max_edits,
        })
    }

    /// The component id.
    pub fn name(&self) -> &str {
        &self.plugin.name
    }

    /// The plugin's health, for the `health_check` extension.
    pub fn health(&self) -> Health {
        self.plugin.circuit.health()
    }

    /// Runs a traces batch through the guest and applies its edits. On a
    /// fault, `on_error` has been applied to `req` when this returns.
    pub fn process_traces(&self, req: &mut ExportTraceServiceRequest) -> Result<Applied, Fault> {
        let max_edits = self.max_edits;
        let result = self.plugin.run(|inst| {
            inst.view.fill_traces(req);
            let record = inst.view.take_record();
            let out = inst
                .world
                .tracemend_plugin_span_processor()
                .call_process_traces(&mut inst.store, &record);
            inst.view.restore(record);
            let edits = out?.map_err(CallError::Guest)?;
            let raw = RawEdits {
                rows: &edits.rows,
                arena: &edits.arena,
                values: &edits.values,
            };
            edits::apply_traces(req, &inst.view.index, &raw, max_edits).map_err(CallError::Edit)
        });
        let m = &self.plugin.ctx.metrics;
        match result {
            Ok(stats) => {
                m.edits.inc_by(stats.applied as u64);
                m.spans_dropped_edit.inc_by(stats.spans_dropped as u64);
                Ok(Applied {
                    edits: stats.applied,
                    spans_dropped: stats.spans_dropped,
                    logs_dropped: 0,
                })
            }
            Err(mut fault) => {
                if self.on_error == OnError::Drop {
                    let spans: usize = req
                        .resource_spans
                        .iter()
                        .flat_map(|rs| &rs.scope_spans)
                        .map(|ss| ss.spans.len())
                        .sum();
                    req.resource_spans.clear();
                    m.spans_dropped_on_error.inc_by(spans as u64);
                    fault.batch_dropped = true;
                }
                Err(fault)
            }
        }
    }

    /// As [`WasmProcessor::process_traces`], for a logs batch.
    pub fn process_logs(&self, req: &mut ExportLogsServiceRequest) -> Result<Applied, Fault> {
        let max_edits = self.max_edits;
        let result = self.plugin.run(|inst| {
            inst.view.fill_logs(req);
            let record = inst.view.take_record();
            let out = inst
                .world
                .tracemend_plugin_span_processor()
                .call_process_logs(&mut inst.store, &record);
            inst.view.restore(record);
            let edits = out?.map_err(CallError::Guest)?;
            let raw = RawEdits {
                rows: &edits.rows,
                arena: &edits.arena,
                values: &edits.values,
            };
            edits::apply_logs(req, &inst.view.index, &raw, max_edits).map_err(CallError::Edit)
        });
        let m = &self.plugin.ctx.metrics;
        match result {
            Ok(stats) => {
                m.edits.inc_by(stats.applied as u64);
                m.logs_dropped_edit.inc_by(stats.logs_dropped as u64);
                Ok(Applied {
                    edits: stats.applied,
                    spans_dropped: 0,
                    logs_dropped: stats.logs_dropped,
                })
            }
            Err(mut fault) => {
                if self.on_error == OnError::Drop {
                    let logs: usize = req
                        .resource_logs
                        .iter()
                        .flat_map(|rl| &rl.scope_logs)
                        .map(|sl| sl.log_records.len())
                        .sum();
                    req.resource_logs.clear();
                    m.logs_dropped_on_error.inc_by(logs as u64);
                    fault.batch_dropped = true;
                }
                Err(fault)
            }
        }
    }

    /// Faults of `kind` counted so far for this processor.
    pub fn fault_count(&self, kind: FaultKind) -> u64 {
        self.plugin.ctx.metrics.fault_count(kind.as_str())
    }
}

// Pipelines share one processor between tokio tasks.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<WasmProcessor>();
    send_sync::<super::WasmSampler>();
    send_sync::<super::WasmAssembler>();
    send_sync::<WasmRuntime>();
};
