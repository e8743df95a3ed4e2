//! Loading a plugin: read the module, check it is a component built for a
//! compatible `tracemend:plugin` version, compile it (through the cache),
//! link the sandbox, and read the granted data blobs. Every failure is a
//! [`LoadError`] that says what to fix, so `tracemend validate` can show it
//! before deployment.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, Linker};

use super::WIT_VERSION;
use super::bindings;
use super::cache::{self, CacheOutcome};
use super::config::{ConfigError, DataSource, Grants};
use super::engine::WasmRuntime;
use super::sandbox::HostState;

/// Why a WASM plugin cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The YAML breaks one or more rules.
    #[error("invalid configuration: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
    /// `module` cannot be read.
    #[error("module {path}: cannot read it: {source}")]
    ModuleUnreadable {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error("module {path}: not a WebAssembly file (no \\0asm header)")]
    NotWasm {
        /// The path.
        path: String,
    },
    /// A core module, not a component.
    #[error(
        "module {path}: a core WebAssembly module, not a component; build it for the \
         wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The path.
        path: String,
    },
    /// wasmtime could not compile it.
    #[error("module {path}: cannot compile: {message}")]
    Compile {
        /// The path.
        path: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// Built against another major (0.x: minor) version of the WIT package.
    #[error(
        "module {path}: built for WIT package tracemend:plugin@{found}, but this collector \
         implements tracemend:plugin@{supported}; rebuild it against the matching SDK"
    )]
    IncompatibleWit {
        /// The path.
        path: String,
        /// The version the component names.
        found: String,
        /// The version this host implements.
        supported: String,
    },
    /// A component of another world (or none of ours).
    #[error(
        "module {path}: does not export tracemend:plugin/{interface}@{supported}; is it built \
         for the `{world}` world?"
    )]
    WrongWorld {
        /// The path.
        path: String,
        /// The interface that is missing.
        interface: &'static str,
        /// The world it should target.
        world: &'static str,
        /// The version this host implements.
        supported: String,
    },
    /// Imports the host cannot satisfy, or instantiation failed.
    #[error("module {path}: cannot instantiate: {message}")]
    Instantiate {
        /// The path.
        path: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// A granted data blob cannot be read.
    #[error("grants.data.{name}: cannot read {path}: {source}")]
    Grant {
        /// The blob name.
        name: String,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A granted `env:VAR` blob names a variable that is not set.
    #[error(
        "grants.data.{name}: environment variable {var} is not set (granted as env:{var}); \
         set it in the collector's environment or grant a file instead"
    )]
    GrantEnv {
        /// The blob name.
        name: String,
        /// The variable.
        var: String,
    },
    /// The guest's `configure` refused the `config:` block.
    #[error("config: rejected by the module {path}: {message}")]
    Rejected {
        /// The path.
        path: String,
        /// The guest's own message.
        message: String,
    },
    /// The guest faulted in `configure`.
    #[error("module {path}: faulted while configuring: {message}")]
    ConfigureFault {
        /// The path.
        path: String,
        /// What happened.
        message: String,
    },
}

/// Reads the module file.
pub(crate) fn read_module(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::ModuleUnreadable {
        path: path.display().to_string(),
        source,
    })
}

/// Reads every granted blob once, at load: files from disk, `env:VAR`
/// sources from the collector's environment (a guest has none of its own).
pub(crate) fn read_grants(grants: &Grants) -> Result<BTreeMap<String, Arc<[u8]>>, LoadError> {
    let mut out = BTreeMap::new();
    for (name, source) in &grants.data {
        let bytes = match source {
            DataSource::File(path) => std::fs::read(path).map_err(|source| LoadError::Grant {
                name: name.clone(),
                path: path.display().to_string(),
                source,
            })?,
            // Unix environment values are bytes; pass them through as such.
            DataSource::Env(var) => std::env::var_os(var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| LoadError::GrantEnv {
                    name: name.clone(),
                    var: var.clone(),
                })?,
        };
        out.insert(name.clone(), Arc::from(bytes));
    }
    Ok(out)
}

/// Checks the header, compiles (through the cache) and checks the WIT
/// version and world.
pub(crate) fn compile(
    runtime: &WasmRuntime,
    path: &str,
    bytes: &[u8],
    interface: &'static str,
    world: &'static str,
) -> Result<(Component, CacheOutcome), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm {
            path: path.to_owned(),
        });
    }
    // Bytes 4..8: a core module has version 1 (`01 00 00 00`); a component
    // has version 0x0d with layer 1 (`0d 00 01 00`).
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(LoadError::CoreModule {
            path: path.to_owned(),
        });
    }
    let compiled = match runtime.cache() {
        Some(c) => c.load_or_compile(runtime.engine(), bytes),
        None => cache::compile(runtime.engine(), bytes),
    };
    let (component, outcome) = compiled.map_err(|e| LoadError::Compile {
        path: path.to_owned(),
        message: format!("{e:#}"),
    })?;
    check_version(runtime, &component, path, interface, world)?;
    Ok((component, outcome))
}

/// Is `found` (a `MAJOR.MINOR.PATCH` string) compatible with this host?
fn compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(found), parse(WIT_VERSION)) {
        (Some((fmaj, fmin)), Some((maj, min))) => fmaj == maj && (maj > 0 || fmin == min),
        _ => false,
    }
}

fn check_version(
    runtime: &WasmRuntime,
    component: &Component,
    path: &str,
    interface: &'static str,
    world: &'static str,
) -> Result<(), LoadError> {
    let ty = component.component_type();
    let engine = runtime.engine();
    let names: Vec<String> = ty
        .exports(engine)
        .map(|(n, _)| n.to_owned())
        .chain(ty.imports(engine).map(|(n, _)| n.to_owned()))
        .collect();
    let ours = |n: &String| n.strip_prefix("tracemend:plugin/").map(|r| r.to_owned());
    let mut found_export = false;
    for n in &names {
        let Some(rest) = ours(n) else { continue };
        let (iface, version) = rest.split_once('@').unwrap_or((rest.as_str(), ""));
        if !compatible(version) {
            return Err(LoadError::IncompatibleWit {
                path: path.to_owned(),
                found: if version.is_empty() {
                    "(unversioned)".into()
                } else {
                    version.to_owned()
                },
                supported: WIT_VERSION.to_owned(),
            });
        }
        if iface == interface {
            found_export = true;
        }
    }
    if !found_export {
        return Err(LoadError::WrongWorld {
            path: path.to_owned(),
            interface,
            world,
            supported: WIT_VERSION.to_owned(),
        });
    }
    Ok(())
}

/// The linker every plugin uses: the `host` interface plus an empty WASI.
pub(crate) fn linker(runtime: &WasmRuntime, path: &str) -> Result<Linker<HostState>, LoadError> {
    let mut linker = Linker::new(runtime.engine());
    let err = |e: wasmtime::Error| LoadError::Instantiate {
        path: path.to_owned(),
        message: format!("{e:#}"),
    };
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(err)?;
    bindings::host::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )
    .map_err(err)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compatibility() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible(""));
    }
}
