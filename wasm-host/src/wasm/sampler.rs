//! Host side of the `sampler` world: thin typed calls with the same sandbox,
//! limits, pool and fault handling as [`WasmProcessor`](super::WasmProcessor).
//! The tail-sampling buffer that feeds it is its own processor
//! ([`tail_sampling`](crate::tail_sampling)).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use prost::Message;

use super::bindings::sampler::Sampler as SamplerWorld;
use super::instance::{CallError, Instance, Plugin};
use super::processor::Fault;
pub use super::sandbox::SampleContext;
use super::typed_guest::typed_guest;
#[cfg(debug_assertions)]
use super::view::BatchView;

/// A sampler's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Keep the trace.
    pub keep: bool,
    /// Why (e.g. `error`, `slow`).
    pub reason: String,
}

/// A WASM tail sampler. `on_error` and `limits.max_edits` do not apply: the
/// caller decides what a fault means for the trace.
pub struct WasmSampler {
    plugin: Plugin<SamplerWorld>,
}

typed_guest!(WasmSampler, "sampler");

impl WasmSampler {
    /// Decides one complete trace (all spans of one trace id), now: the
    /// `sampler-context` import answers the wall clock and the trace's
    /// encoded size.
    pub fn sample(&self, trace: &ExportTraceServiceRequest) -> Result<Decision, Fault> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let size = prost::Message::encoded_len(trace) as u64;
        self.sample_with(
            trace,
            SampleContext {
                decision_time_unix_nano: now,
                trace_size_bytes: size,
                ottl_holding: Vec::new(),
            },
        )
    }

    /// As [`WasmSampler::sample`], with the decision time and trace size
    /// given (the tail-sampling buffer knows the size already; tests replay
    /// chosen times).
    pub fn sample_with(
        &self,
        trace: &ExportTraceServiceRequest,
        context: SampleContext,
    ) -> Result<Decision, Fault> {
        self.plugin.run(|inst| {
            inst.store.data_mut().sample = context.clone();
            inst.view.fill_traces(trace);
            call_sample(inst)
        })
    }

    /// As [`WasmSampler::sample_with`], for the trace as an encoded
    /// `ExportTraceServiceRequest`: the guest's view is built straight from
    /// the bytes, without a prost decode (unless the encoding is one the
    /// view builder leaves to prost).
    pub fn sample_encoded(
        &self,
        request: &[u8],
        context: SampleContext,
    ) -> Result<Decision, SampleError> {
        let decision = self.plugin.run(|inst| {
            inst.store.data_mut().sample = context.clone();
            if inst.view.fill_traces_encoded(&[request]).is_err() {
                // Malformed bytes never reach the guest. The call counts as
                // made (it is no guest fault), and the caller is told why.
                match ExportTraceServiceRequest::decode(request) {
                    Ok(trace) => inst.view.fill_traces(&trace),
                    Err(e) => return Ok(Err(e)),
                }
            } else {
                #[cfg(debug_assertions)]
                self_check(request, &inst.view);
            }
            call_sample(inst).map(Ok)
        })?;
        decision.map_err(SampleError::Malformed)
    }
}

/// Calls the guest on the view already built in `inst`.
fn call_sample(inst: &mut Instance<SamplerWorld>) -> Result<Decision, CallError> {
    let record = inst.view.take_record();
    let out = inst
        .world
        .tracemend_plugin_trace_sampler()
        .call_sample(&mut inst.store, &record);
    inst.view.restore(record);
    let d = out?.map_err(CallError::Guest)?;
    Ok(Decision {
        keep: d.keep,
        reason: d.reason,
    })
}

/// Debug builds check a wire-built view against the decoded path (as
/// [`WasmProcessor`](super::WasmProcessor) does).
#[cfg(debug_assertions)]
fn self_check(request: &[u8], view: &BatchView) {
    let trace = match ExportTraceServiceRequest::decode(request) {
        Ok(t) => t,
        Err(e) => panic!("the view builder accepted a request prost refuses: {e}"),
    };
    assert!(
        view.packed() == BatchView::from_traces(&trace).packed(),
        "the wire-built and the decoded-built batch views differ"
    );
}

/// Why [`WasmSampler::sample_encoded`] gave no decision.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The trace does not decode; the guest was not called.
    #[error("malformed trace request: {0}")]
    Malformed(#[source] prost::DecodeError),
    /// The guest faulted.
    #[error(transparent)]
    Fault(#[from] Fault),
}
