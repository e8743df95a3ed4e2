//! Host side of the `envelope-assembler` world: one error trace and its logs in,
//! an envelope's JSON out, with the same sandbox, limits, pool and fault handling as
//! [`WasmProcessor`](super::WasmProcessor).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

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
}
