//! Python packages vendored into the sandbox image beside the replay runner: coverage.py,
//! which the localize stage's probes run under. Installed once per requirement with the
//! engine host's pip (`pip install --target`) into `data_dir/vendor/`, then carried into
//! each service image as source files (compiled extensions are left out: the image's
//! Python may differ from the host's, and coverage.py falls back to its Python tracer).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::reproduce::Vendor;

/// Why coverage.py could not be vendored.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// pip failed or could not be started.
    #[error("pip install --target {dir} {requirement}: {detail}")]
    Pip {
        /// The requirement.
        requirement: String,
        /// Where it was to go.
        dir: String,
        /// pip's error output or why it did not run.
        detail: String,
    },
    /// Reading the installed files failed.
    #[error("reading vendored files in {dir}: {source}")]
    Read {
        /// The directory.
        dir: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The requirement's files, installing them under `root` first when missing.
pub async fn vendor_coverage(
    root: &Path,
    requirement: &str,
    timeout: Duration,
) -> Result<Vendor, VendorError> {
    let safe: String = requirement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = root.join(&safe);
    if !dir.join("coverage").join("__init__.py").is_file() {
        install(root, &dir, requirement, timeout).await?;
    }
    let mut files = Vec::new();
    collect(&dir, &dir.join("coverage"), &mut files).map_err(|source| VendorError::Read {
        dir: dir.display().to_string(),
        source,
    })?;
    files.sort();
    Ok(files)
}

async fn install(
    root: &Path,
    dir: &Path,
    requirement: &str,
    timeout: Duration,
) -> Result<(), VendorError> {
    let err = |detail: String| VendorError::Pip {
        requirement: requirement.to_string(),
        dir: dir.display().to_string(),
        detail,
    };
    // Into a temporary directory first, so an interrupted install never looks complete.
    let tmp = root.join(format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| err(e.to_string()))?;
    let run = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(&tmp)
        .arg(requirement)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| err(format!("did not finish in {timeout:?}")))?
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| err(e.to_string()))
}

/// Source files under `from`, as paths relative to `base`.
fn collect(base: &Path, from: &Path, out: &mut Vendor) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let path: PathBuf = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                collect(base, &path, out)?;
            }
            continue;
        }
        if path.extension().is_some_and(|e| e == "py") {
            let rel = path
                .strip_prefix(base)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}
