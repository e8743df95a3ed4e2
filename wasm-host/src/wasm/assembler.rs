//! Host side of the `envelope-assembler` world: one error trace and its logs in,
//! an envelope's JSON out, with the same sandbox, limits, pool and fault handling as
//! [`WasmProcessor`](super::WasmProcessor).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::bindings::assembler::EnvelopeAssembler as AssemblerWorld;
use super::circuit::Health;
use super::config::WasmProcessorConfig;
use super::engine::WasmRuntime;
use super::instance::{CallError, Plugin};
use super::load::LoadError;
use super::processor::Fault;

/// A WASM envelope assembler.
pub struct WasmAssembler {
    plugin: Plugin<AssemblerWorld>,
}

impl WasmAssembler {
    /// Loads and configures a component of the `envelope-assembler` world.
    pub fn load(
        name: &str,
        config: &WasmProcessorConfig,
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        Ok(WasmAssembler {
            plugin: Plugin::load(name, config, None, runtime)?,
        })
    }

    /// As [`WasmAssembler::load`] with the component bytes given.
    pub fn load_bytes(
        name: &str,
        config: &WasmProcessorConfig,
        module: &[u8],
        runtime: &WasmRuntime,
    ) -> Result<Self, LoadError> {
        Ok(WasmAssembler {
            plugin: Plugin::load(name, config, Some(module), runtime)?,
        })
    }

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

    /// The plugin's health.
    pub fn health(&self) -> Health {
        self.plugin.circuit.health()
    }
}
