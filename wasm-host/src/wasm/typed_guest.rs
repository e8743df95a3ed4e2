//! What every typed host of a single-call world ([`WasmSampler`](super::WasmSampler),
//! [`WasmAssembler`](super::WasmAssembler)) does the same way: load a component
//! from `config.module` or from given bytes into a [`Plugin`](super::instance::Plugin)
//! of its world, and report the plugin's health. Each world's own call stays in
//! its file. A macro rather than a generic type, because the world trait and the
//! generated bindings are crate-private while these types are public.

/// Implements `load`, `load_bytes` and `health` for `$host`, a struct whose only
/// field is `plugin: Plugin<W>`; `$world` names the world in the docs.
macro_rules! typed_guest {
    ($host:ident, $world:literal) => {
        impl $host {
            #[doc = concat!("Loads `config.module` from disk, checks that it is a component of the `", $world, "` world, and configures one instance with `config.config`. `name` is the component id, used in metrics and logs.")]
            pub fn load(
                name: &str,
                config: &$crate::wasm::WasmProcessorConfig,
                runtime: &$crate::wasm::WasmRuntime,
            ) -> Result<Self, $crate::wasm::LoadError> {
                Ok($host {
                    plugin: $crate::wasm::instance::Plugin::load(name, config, None, runtime)?,
                })
            }

            #[doc = concat!("As [`", stringify!($host), "::load`] with the component bytes given (built-in guests embedded in the binary); `config.module` is only used in messages.")]
            pub fn load_bytes(
                name: &str,
                config: &$crate::wasm::WasmProcessorConfig,
                module: &[u8],
                runtime: &$crate::wasm::WasmRuntime,
            ) -> Result<Self, $crate::wasm::LoadError> {
                Ok($host {
                    plugin: $crate::wasm::instance::Plugin::load(
                        name,
                        config,
                        Some(module),
                        runtime,
                    )?,
                })
            }

            /// The plugin's health (its circuit breaker).
            pub fn health(&self) -> $crate::wasm::Health {
                self.plugin.circuit.health()
            }
        }
    };
}

pub(crate) use typed_guest;
