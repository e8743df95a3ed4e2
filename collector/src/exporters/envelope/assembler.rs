//! Loading the assembler guest: an embedded guest of the `envelope-assembler`
//! world (`builtin:NAME`) or a component file, on a WebAssembly runtime of the
//! exporter's own (exporters are built before the processors' shared runtime).

use std::path::Path;

use ::wasm_host::wasm::builtin::{self, ModuleRef, World};
use ::wasm_host::wasm::{WasmAssembler, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

use super::EnvelopeExporterConfig;

/// Checks `assembler:` without loading it: a built-in must exist and be an assembler.
pub fn check(assembler: &str) -> Result<(), String> {
    match builtin::resolve(Path::new(assembler))? {
        ModuleRef::Builtin(b) if b.world != World::Assembler => Err(format!(
            "`builtin:{}` is a {} guest, not an envelope assembler",
            b.name,
            b.world.as_str()
        )),
        ModuleRef::Builtin(_) => Ok(()),
        ModuleRef::File(p) if p.as_os_str().is_empty() => {
            Err("is empty: `builtin:envelope` or a component file".into())
        }
        ModuleRef::File(_) => Ok(()),
    }
}

/// Compiles, instantiates and configures the guest.
pub fn load(id: &str, cfg: &EnvelopeExporterConfig) -> anyhow::Result<WasmAssembler> {
    let runtime = WasmRuntime::without_registry(WasmRuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e:#}"))?;
    let a = &cfg.assembler;
    let mut wasm = WasmProcessorConfig::for_module(&a.module);
    wasm.config = match &a.config {
        serde_json::Value::Null => serde_json::json!({}),
        v => v.clone(),
    };
    wasm.limits = a.limits.clone();
    let loaded = match builtin::resolve(Path::new(&a.module)).map_err(anyhow::Error::msg)? {
        ModuleRef::Builtin(b) => WasmAssembler::load_bytes(id, &wasm, b.bytes, &runtime),
        ModuleRef::File(_) => WasmAssembler::load(id, &wasm, &runtime),
    };
    loaded.map_err(|e| anyhow::anyhow!("assembler.module {}: {e}", a.module))
}
