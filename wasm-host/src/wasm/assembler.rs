//! Host side of the `envelope-assembler` world: one error trace and its logs in,
//! an envelope's JSON out, with the same sandbox, limits, pool and fault handling as
//! [`WasmProcessor`](super::WasmProcessor).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::bindings::assembler::EnvelopeAssembler as AssemblerWorld;
use super::instance::{CallError, Plugin};
use super::processor::Fault;
use super::typed_guest::typed_guest;

/// A WASM envelope assembler.
pub struct WasmAssembler {
    plugin: Plugin<AssemblerWorld>,
}

typed_guest!(WasmAssembler, "envelope-assembler");

impl WasmAssembler {
    /// Builds the envelope JSON for one error trace and its logs, or `None`.
    pub fn assemble(
        &self,
        trace: &ExportTraceServiceRequest,
        logs: &ExportLogsServiceRequest,
    ) -> Result<Option<String>, Fault> {
        self.plugin.run(|inst| {
            inst.view.fill_traces(trace);
            inst.view2.fill_logs(logs);
            let t = inst.view.take_record();
            let l = inst.view2.take_record();
            let out =
                inst.world
                    .tracemend_plugin_assembler()
                    .call_assemble(&mut inst.store, &t, &l);
            inst.view.restore(t);
            inst.view2.restore(l);
            out?.map_err(CallError::Guest)
        })
    }

    /// [`WasmAssembler::assemble`] for the encoded trace and logs requests:
    /// the guest's views are built straight from the bytes, without a prost
    /// decode (unless the encoding is one the view builder leaves to prost).
    /// `Ok(Err(_))`: a request does not decode, and the guest was not called.
    pub fn assemble_encoded(
        &self,
        trace: &[u8],
        logs: &[u8],
    ) -> Result<Result<Option<String>, prost::DecodeError>, Fault> {
        self.plugin.run(|inst| {
            if inst.view.fill_traces_encoded(&[trace]).is_err() {
                match ExportTraceServiceRequest::decode(trace) {
                    Ok(t) => inst.view.fill_traces(&t),
                    Err(e) => return Ok(Err(e)),
                }
            } else {
                #[cfg(debug_assertions)]
                self_check(trace, &inst.view, true);
            }
            if inst.view2.fill_logs_encoded(&[logs]).is_err() {
                match ExportLogsServiceRequest::decode(logs) {
                    Ok(l) => inst.view2.fill_logs(&l),
                    Err(e) => return Ok(Err(e)),
                }
            } else {
                #[cfg(debug_assertions)]
                self_check(logs, &inst.view2, false);
            }
            let t = inst.view.take_record();
            let l = inst.view2.take_record();
            let out =
                inst.world
                    .tracemend_plugin_assembler()
                    .call_assemble(&mut inst.store, &t, &l);
            inst.view.restore(t);
            inst.view2.restore(l);
            out?.map(Ok).map_err(CallError::Guest)
        })
    }
}

/// Debug builds check the wire-built view against the one built from the
/// request decoded with prost (`traces`: a traces request, else logs).
#[cfg(debug_assertions)]
fn self_check(request: &[u8], view: &super::view::BatchView, traces: bool) {
    use super::view::BatchView;
    let other = if traces {
        match ExportTraceServiceRequest::decode(request) {
            Ok(t) => BatchView::from_traces(&t),
            Err(e) => panic!("the view builder accepted a request prost refuses: {e}"),
        }
    } else {
        match ExportLogsServiceRequest::decode(request) {
            Ok(l) => BatchView::from_logs(&l),
            Err(e) => panic!("the view builder accepted a request prost refuses: {e}"),
        }
    };
    assert!(
        view.packed() == other.packed(),
        "the wire-built and the decoded-built batch views differ"
    );
}
