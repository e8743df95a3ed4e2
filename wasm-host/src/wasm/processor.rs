//! [`WasmProcessor`]: a `wasm/<name>` span/log processor.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use prost::Message;
use prost::bytes::Bytes;
use wasmtime::Store;

use super::bindings::processor::Processor as ProcessorWorld;
use super::bindings::types;
use super::circuit::Health;
use super::config::{OnError, WasmProcessorConfig};
use super::edits::{self, EditError, EditStats, RawEdits, Rewritten};
use super::engine::WasmRuntime;
use super::instance::{CallError, Plugin};
use super::layout_shared as layout;
use super::load::LoadError;
use super::sandbox::HostState;
use super::view::{BatchView, RowIndex};
use super::view_wire::WireFallback;

/// A batch as [`WasmProcessor`] reads it: encoded if it still is, decoded on
/// demand. The collector's pipeline batch keeps the received protobuf bytes;
/// a batch that only passes through a guest is never decoded whole, and a
/// guest's edits replace its bytes. A plain request is a batch that is only
/// decoded.
pub trait BatchAccess<Req>: Send {
    /// The encoded request as fragments whose concatenation is the request,
    /// or `None` when only the decoded form is current.
    fn encoded(&self) -> Option<&[Bytes]>;
    /// `true` when every fragment [`BatchAccess::encoded`] returns passed
    /// pdata's validating scan (`pdata::Batch::validated`), so the view
    /// builder need not check its strings for UTF-8 again. The default,
    /// `false`, is always correct.
    fn validated(&self) -> bool {
        false
    }
    /// Runs `f` on the decoded request, decoding first if needed. `f` says
    /// whether it changed the request; an unchanged batch may keep its
    /// encoding.
    fn with_decoded<T>(&mut self, f: impl FnOnce(&mut Req) -> (T, bool)) -> T;
    /// Replaces the content with the encoded request `chunks` (fragments
    /// whose concatenation is the request, each a whole request) holding
    /// `items` spans or log records, dropping any decoded form; `validated`
    /// as [`BatchAccess::validated`] says. The host calls it on a batch that
    /// was [`BatchAccess::encoded`], with bytes prost decodes: the edits of
    /// a guest applied to the encoding. `false`: the batch cannot hold it,
    /// nothing changed, and the host applies the edits to the decoded
    /// request instead. The default is `false`.
    fn replace_encoded(&mut self, _chunks: Vec<Bytes>, _items: usize, _validated: bool) -> bool {
        false
    }
    /// Spans or log records in the batch.
    fn item_count(&self) -> usize;
    /// Removes every item (`on_error: drop`).
    fn clear(&mut self);
    /// `true` for received bytes nothing has checked yet (one fragment,
    /// straight from a receiver). The call then checks them as it builds the
    /// guest's view, as pdata's validating scan would
    /// ([`BatchView::fill_traces_checked`]), and calls the guest only if
    /// they pass, after telling [`BatchAccess::checked`] how many items they
    /// hold. If they do not pass (or the guest cannot be called at all: an
    /// open circuit), the batch is left untouched and still unchecked, and
    /// the caller takes the usual way (scan, then prost). Default: `false`.
    fn unchecked(&self) -> bool {
        false
    }
    /// The bytes passed the checks and hold `items` spans or log records.
    fn checked(&mut self, _items: usize) {}
}

impl BatchAccess<ExportTraceServiceRequest> for ExportTraceServiceRequest {
    fn encoded(&self) -> Option<&[Bytes]> {
        None
    }
    fn with_decoded<T>(&mut self, f: impl FnOnce(&mut Self) -> (T, bool)) -> T {
        f(self).0
    }
    fn item_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum()
    }
    fn clear(&mut self) {
        self.resource_spans.clear();
    }
}

impl BatchAccess<ExportLogsServiceRequest> for ExportLogsServiceRequest {
    fn encoded(&self) -> Option<&[Bytes]> {
        None
    }
    fn with_decoded<T>(&mut self, f: impl FnOnce(&mut Self) -> (T, bool)) -> T {
        f(self).0
    }
    fn item_count(&self) -> usize {
        self.resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum()
    }
    fn clear(&mut self) {
        self.resource_logs.clear();
    }
}

/// What differs between the traces and the logs path of a call.
trait Request: Message + Default + Sized {
    const SIGNAL: pdata::Signal;
    /// Rows of this signal the view shows the guest.
    fn shown(view: &BatchView) -> usize;
    fn fill(view: &mut BatchView, req: &Self);
    /// `validated`: see [`BatchAccess::validated`].
    fn fill_encoded(
        view: &mut BatchView,
        chunks: &[Bytes],
        validated: bool,
    ) -> Result<(), WireFallback> {
        view.fill_wire(Self::SIGNAL, chunks, validated)
    }
    /// See [`BatchAccess::unchecked`]: the view, and the item count.
    fn fill_checked(view: &mut BatchView, chunks: &[Bytes]) -> Result<usize, WireFallback> {
        view.fill_wire_checked(Self::SIGNAL, chunks)
    }
    fn call(
        world: &ProcessorWorld,
        store: &mut Store<HostState>,
        batch: &types::Batch,
    ) -> wasmtime::Result<Result<types::Edits, String>>;
    fn apply(
        &mut self,
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<EditStats, EditError>;
    /// As `apply`, to the encoding the view was built from (`Ok(None)`:
    /// left to `apply`, see [`edits::apply_traces_encoded`]).
    fn apply_encoded(
        chunks: &[Bytes],
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<Option<Rewritten>, EditError>;
}

impl Request for ExportTraceServiceRequest {
    const SIGNAL: pdata::Signal = pdata::Signal::Traces;
    fn shown(view: &BatchView) -> usize {
        view.shown_spans()
    }
    fn fill(view: &mut BatchView, req: &Self) {
        view.fill_traces(req);
    }
    fn call(
        world: &ProcessorWorld,
        store: &mut Store<HostState>,
        batch: &types::Batch,
    ) -> wasmtime::Result<Result<types::Edits, String>> {
        world
            .tracemend_plugin_span_processor()
            .call_process_traces(store, batch)
    }
    fn apply(
        &mut self,
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<EditStats, EditError> {
        edits::apply_traces(self, index, raw, max_edits)
    }
    fn apply_encoded(
        chunks: &[Bytes],
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<Option<Rewritten>, EditError> {
        edits::apply_traces_encoded(chunks, index, raw, max_edits)
    }
}

impl Request for ExportLogsServiceRequest {
    const SIGNAL: pdata::Signal = pdata::Signal::Logs;
    fn shown(view: &BatchView) -> usize {
        view.shown_logs()
    }
    fn fill(view: &mut BatchView, req: &Self) {
        view.fill_logs(req);
    }
    fn call(
        world: &ProcessorWorld,
        store: &mut Store<HostState>,
        batch: &types::Batch,
    ) -> wasmtime::Result<Result<types::Edits, String>> {
        world
            .tracemend_plugin_span_processor()
            .call_process_logs(store, batch)
    }
    fn apply(
        &mut self,
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<EditStats, EditError> {
        edits::apply_logs(self, index, raw, max_edits)
    }
    fn apply_encoded(
        chunks: &[Bytes],
        index: &RowIndex,
        raw: &RawEdits<'_>,
        max_edits: usize,
    ) -> Result<Option<Rewritten>, EditError> {
        edits::apply_logs_encoded(chunks, index, raw, max_edits)
    }
}

/// Debug builds (every test, and the debug binary the end-to-end tests run)
/// check each view against the other builder: a wire-built view against the
/// decoded path on the prost-decoded bytes, a decoded-built one against the
/// wire builder on its encoding. A difference would make edits address the
/// wrong rows, so it panics (a `host_panic` fault naming the cause).
#[cfg(debug_assertions)]
fn self_check<Q: Request, B: BatchAccess<Q>>(batch: &mut B, view: &BatchView, from_wire: bool) {
    let mut other = BatchView::default();
    other.set_interest(view.interest.clone());
    if from_wire {
        let mut req = Q::default();
        for chunk in batch.encoded().unwrap_or_default() {
            if let Err(e) = req.merge(chunk.clone()) {
                panic!("the view builder accepted a request prost refuses: {e}");
            }
        }
        Q::fill(&mut other, &req);
    } else {
        let bytes = batch.with_decoded(|req| (req.encode_to_vec(), false));
        // Refusing is always allowed: the decoded path then serves.
        if Q::fill_encoded(&mut other, &[Bytes::from(bytes)], false).is_err() {
            return;
        }
    }
    assert!(
        view.packed() == other.packed(),
        "the wire-built and the decoded-built batch views differ"
    );
}

/// Debug builds also check edits applied to an encoded batch against the
/// decoded path: `old` decoded with prost and edited must be what `new`
/// decodes to (compared encoded, so NaN values compare), with the same
/// counts. A difference panics, as [`self_check`] does.
#[cfg(debug_assertions)]
fn self_check_edits<Q: Request>(
    old: &[Bytes],
    new: &Rewritten,
    index: &RowIndex,
    raw: &RawEdits<'_>,
    max_edits: usize,
) {
    let decode = |chunks: &[Bytes]| {
        let mut req = Q::default();
        for chunk in chunks {
            if let Err(e) = req.merge(chunk.clone()) {
                panic!("edited bytes prost refuses: {e}");
            }
        }
        req
    };
    let mut want = decode(old);
    let stats = want.apply(index, raw, max_edits);
    assert!(
        stats == Ok(new.stats) && decode(&new.chunks).encode_to_vec() == want.encode_to_vec(),
        "edits applied to the encoded batch differ from the decoded path's"
    );
}

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
        self.process_traces_batch(req)
    }

    /// As [`WasmProcessor::process_traces`], for a batch that may still be
    /// encoded: the guest's view is built straight from the encoded request,
    /// and the guest's edits are applied to it, decoding and re-encoding only
    /// the spans (resources, scopes) they touch
    /// ([`BatchAccess::replace_encoded`]). The whole batch is decoded only
    /// when the view builder leaves the encoding to prost, when the batch
    /// cannot take new bytes, or for edits the encoded path leaves to the
    /// decoded one (see [`edits::apply_traces_encoded`]).
    pub fn process_traces_batch(
        &self,
        batch: &mut impl BatchAccess<ExportTraceServiceRequest>,
    ) -> Result<Applied, Fault> {
        let result = self.process(batch);
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
                // Bytes still unchecked were not taken: the caller's usual
                // path applies `on_error` to them.
                if self.on_error == OnError::Drop && !batch.unchecked() {
                    m.spans_dropped_on_error.inc_by(batch.item_count() as u64);
                    batch.clear();
                    fault.batch_dropped = true;
                }
                Err(fault)
            }
        }
    }

    /// As [`WasmProcessor::process_traces`], for a logs batch.
    pub fn process_logs(&self, req: &mut ExportLogsServiceRequest) -> Result<Applied, Fault> {
        self.process_logs_batch(req)
    }

    /// As [`WasmProcessor::process_traces_batch`], for a logs batch.
    pub fn process_logs_batch(
        &self,
        batch: &mut impl BatchAccess<ExportLogsServiceRequest>,
    ) -> Result<Applied, Fault> {
        let result = self.process(batch);
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
                // Bytes still unchecked were not taken: the caller's usual
                // path applies `on_error` to them.
                if self.on_error == OnError::Drop && !batch.unchecked() {
                    m.logs_dropped_on_error.inc_by(batch.item_count() as u64);
                    batch.clear();
                    fault.batch_dropped = true;
                }
                Err(fault)
            }
        }
    }

    /// One call: view, guest, edits. `on_error` is the caller's.
    fn process<Q: Request, B: BatchAccess<Q>>(&self, batch: &mut B) -> Result<EditStats, Fault> {
        let max_edits = self.max_edits;
        self.plugin.run(|inst| {
            // The rows the guest declared it needs, if it did: the view
            // holds only those.
            let interest = inst.store.data().interest.clone();
            let filtered = interest.is_some();
            inst.view.set_interest(interest);
            let from_wire = if batch.unchecked() {
                // Checked as they are read, or left as they came for the
                // caller's usual path: the guest does not see them then.
                let items = match batch.encoded() {
                    Some(chunks) => Q::fill_checked(&mut inst.view, chunks),
                    None => Err(WireFallback),
                };
                match items {
                    Ok(n) => {
                        batch.checked(n);
                        true
                    }
                    Err(WireFallback) => {
                        inst.skipped = true;
                        return Ok(EditStats::default());
                    }
                }
            } else {
                match batch.encoded() {
                    Some(chunks) => {
                        Q::fill_encoded(&mut inst.view, chunks, batch.validated()).is_ok()
                    }
                    None => false,
                }
            };
            if !from_wire {
                batch.with_decoded(|req| {
                    Q::fill(&mut inst.view, req);
                    ((), false)
                });
            }
            #[cfg(debug_assertions)]
            self_check::<Q, B>(batch, &inst.view, from_wire);
            // Nothing the guest asked for: it is not called.
            if filtered && Q::shown(&inst.view) == 0 {
                inst.skipped = true;
                return Ok(EditStats::default());
            }
            let record = inst.view.take_record();
            let out = Q::call(&inst.world, &mut inst.store, &record);
            inst.view.restore(record);
            let edits = out?.map_err(CallError::Guest)?;
            // No edits: nothing to apply, so nothing to decode. (A ragged
            // value buffer still goes to `apply`, which refuses it.)
            if edits.rows.is_empty() && edits.values.len().is_multiple_of(layout::value::SIZE) {
                return Ok(EditStats::default());
            }
            let raw = RawEdits {
                rows: &edits.rows,
                arena: &edits.arena,
                values: &edits.values,
            };
            let index = &inst.view.index;
            // A view built from the bytes numbers rows as they lie in them:
            // the edits go to the bytes, re-encoding only what they touch,
            // and the batch stays encoded for the stages after this one.
            if from_wire && let Some(chunks) = batch.encoded() {
                let validated = batch.validated();
                if let Some(out) =
                    Q::apply_encoded(chunks, index, &raw, max_edits).map_err(CallError::Edit)?
                {
                    #[cfg(debug_assertions)]
                    self_check_edits::<Q>(chunks, &out, index, &raw, max_edits);
                    let stats = out.stats;
                    if batch.replace_encoded(out.chunks, out.items, validated) {
                        return Ok(stats);
                    }
                }
            }
            // Otherwise the decoded request: the view's row index addresses
            // it too (both number rows in request order).
            batch
                .with_decoded(|req| {
                    let r = Q::apply(req, index, &raw, max_edits);
                    // A refused list changed nothing: the encoding stays.
                    let changed = matches!(&r, Ok(s) if s.applied > 0);
                    (r, changed)
                })
                .map_err(CallError::Edit)
        })
    }

    /// Faults of `kind` counted so far for this processor.
    pub fn fault_count(&self, kind: FaultKind) -> u64 {
        self.plugin.ctx.metrics.fault_count(kind.as_str())
    }

    /// Calls counted so far (`tracemend_wasm_calls_total`): the guest
    /// called, or refused by an open circuit or a failed instantiation.
    pub fn call_count(&self) -> u64 {
        self.plugin.ctx.metrics.calls.get()
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

#[cfg(test)]
mod tests;
