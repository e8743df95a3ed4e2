//! First-party guests embedded in the binary (built by `wasm-host/build.rs`
//! from `guest-crates/`), selected in YAML with `module: builtin:<name>`.

use std::path::Path;

/// The WIT world a guest targets, which decides how the host loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// A span/log processor ([`super::WasmProcessor`]).
    Processor,
    /// A trace sampler ([`super::WasmSampler`]).
    Sampler,
    /// An envelope assembler ([`super::WasmAssembler`]).
    Assembler,
}

impl World {
    /// The WIT world's name.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Processor => "processor",
            World::Sampler => "sampler",
            World::Assembler => "assembler",
        }
    }
}

/// One embedded guest.
#[derive(Debug, PartialEq, Eq)]
pub struct Builtin {
    /// The name after `builtin:`.
    pub name: &'static str,
    /// The world it targets.
    pub world: World,
    /// One line for `tracemend components`.
    pub about: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The prefix of a built-in module in YAML.
pub const PREFIX: &str = "builtin:";

/// Every embedded guest.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

/// What a `module:` value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleRef<'a> {
    /// A file on disk.
    File(&'a Path),
    /// An embedded guest.
    Builtin(&'static Builtin),
}

/// Resolves a `module:` value: `builtin:<name>` is an embedded guest, anything
/// else a file path. An unknown built-in name is an error that lists the
/// known ones.
pub fn resolve(module: &Path) -> Result<ModuleRef<'_>, String> {
    let Some(name) = module.to_str().and_then(|s| s.strip_prefix(PREFIX)) else {
        return Ok(ModuleRef::File(module));
    };
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .map(ModuleRef::Builtin)
        .ok_or_else(|| {
            let known: Vec<String> = BUILTINS
                .iter()
                .map(|b| format!("{PREFIX}{}", b.name))
                .collect();
            format!(
                "unknown built-in module `{name}`, expected one of: {}",
                known.join(", ")
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_files_and_builtins() {
        assert_eq!(
            resolve(Path::new("./x.wasm")),
            Ok(ModuleRef::File(Path::new("./x.wasm")))
        );
        let Ok(ModuleRef::Builtin(b)) = resolve(Path::new("builtin:noop")) else {
            panic!("builtin:noop must resolve");
        };
        assert_eq!(b.world, World::Processor);
        assert!(b.bytes.starts_with(b"\0asm"));
        let err = resolve(Path::new("builtin:nope")).unwrap_err();
        assert!(err.contains("unknown built-in module `nope`"), "{err}");
        assert!(err.contains("builtin:noop"), "{err}");
    }
}
