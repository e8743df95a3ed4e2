//! Loading the sampler guest: a file, or a built-in guest of the sampler world.

use crate::wasm::builtin;
use crate::wasm::{WasmProcessorConfig, WasmRuntime, WasmSampler};

use super::{TailSamplingConfig, TailSamplingError};

/// The built-in sampler guest's name: `module` defaults to `builtin:tail_sampling`.
pub const BUILTIN_MODULE: &str = "tail_sampling";

/// Loads the sampler guest for `config`, with the policies as its config:
/// `module` if set (a path, or `builtin:<name>` for an embedded guest of the
/// sampler world), else `builtin` when given, else the embedded
/// [`BUILTIN_MODULE`].
pub fn load_sampler(
    name: &str,
    config: &TailSamplingConfig,
    runtime: &WasmRuntime,
    builtin: Option<&[u8]>,
) -> Result<WasmSampler, TailSamplingError> {
    config.validate().map_err(TailSamplingError::Config)?;
    let guest_config =
        serde_json::from_str(&config.guest_config_json()).unwrap_or(serde_json::Value::Null);
    let mut wasm = WasmProcessorConfig::for_module(
        config
            .module
            .clone()
            .unwrap_or_else(|| "builtin:tail_sampling".into()),
    );
    wasm.config = guest_config;
    wasm.limits = config.limits.clone();
    let embedded = match &config.module {
        None => match builtin {
            Some(bytes) => Some(bytes),
            None => Some(embedded_guest(BUILTIN_MODULE)?),
        },
        Some(path) => match path.to_str().and_then(|p| p.strip_prefix(builtin::PREFIX)) {
            Some(name) => Some(embedded_guest(name)?),
            None => None,
        },
    };
    let sampler = match embedded {
        Some(bytes) => WasmSampler::load_bytes(name, &wasm, bytes, runtime)?,
        None => WasmSampler::load(name, &wasm, runtime)?,
    };
    Ok(sampler)
}

/// The bytes of the embedded guest `name`, which must target the sampler world.
fn embedded_guest(name: &str) -> Result<&'static [u8], TailSamplingError> {
    let module = format!("{}{name}", builtin::PREFIX);
    match builtin::resolve(std::path::Path::new(&module)) {
        Ok(builtin::ModuleRef::Builtin(b)) if b.world == builtin::World::Sampler => Ok(b.bytes),
        Ok(builtin::ModuleRef::Builtin(b)) => Err(TailSamplingError::Module(format!(
            "`{module}` is a {} guest, not a sampler",
            b.world.as_str()
        ))),
        Ok(builtin::ModuleRef::File(_)) => Err(TailSamplingError::Module(format!(
            "`{module}` is not a built-in module"
        ))),
        Err(e) => Err(TailSamplingError::Module(e)),
    }
}
