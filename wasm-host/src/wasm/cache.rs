//! On-disk cache of precompiled components, keyed by the component's
//! SHA-256 and by the engine's compatibility hash (wasmtime version, target,
//! compiler settings), so a second start loads a component in milliseconds
//! instead of compiling it again (an 18 MiB componentize-py guest takes about
//! a minute to compile).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where the cached artifacts live.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a precompiled artifact.
    Hit,
    /// Compiled, and stored the artifact for next time.
    Miss,
    /// Compiled; there is no cache.
    Disabled,
}

impl ComponentCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ComponentCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The artifact path of `bytes` for `engine`.
    pub fn path_for(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let content = hex::encode(Sha256::digest(bytes));
        // `DefaultHasher::new()` has fixed keys, so this is stable for one
        // build of the collector; a new build that hashes differently just
        // misses the cache once.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        "tracemend-component-cache-v1".hash(&mut h);
        self.dir
            .join(format!("{content}-{:016x}.cwasm", h.finish()))
    }

    /// Loads the precompiled artifact for `bytes`, or compiles and stores it.
    /// Cache I/O problems are logged and fall back to compiling: a cache must
    /// never stop the collector.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.path_for(engine, bytes);
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "Discarding unusable cached component.");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(artifact) => {
                if let Err(e) = store(&self.dir, &path, &artifact) {
                    warn!(path = %path.display(), error = %e, "Cannot write the component cache.");
                } else {
                    debug!(path = %path.display(), "Cached precompiled component.");
                }
            }
            Err(e) => warn!(error = %e, "Cannot serialize the compiled component."),
        }
        Ok((component, CacheOutcome::Miss))
    }
}

/// Compiles without a cache.
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
) -> wasmtime::Result<(Component, CacheOutcome)> {
    Ok((Component::new(engine, bytes)?, CacheOutcome::Disabled))
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // Read into memory rather than `deserialize_file`, which maps the file:
    // anyone truncating a mapped artifact in place would crash the process
    // with SIGBUS. A copy of a few MiB is cheap next to compiling.
    let bytes = std::fs::read(path)?;
    // SAFETY: `deserialize` trusts the bytes to be an artifact this engine
    // produced. Only this module writes into the cache directory, which it
    // creates owner-only (0700), under a name derived from the source's
    // SHA-256 and the engine's compatibility hash; wasmtime itself checks the
    // header and rejects artifacts of another version or configuration.
    // Whoever can write there can already replace the collector's binary.
    unsafe { Component::deserialize(engine, &bytes) }
}

fn store(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    // Write to a temporary name and rename, so a concurrent reader or a crash
    // never sees half an artifact.
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), rand_suffix()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(artifact)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}
