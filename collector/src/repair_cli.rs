//! `tracemend repair ...`: runs the repair engine's own binary, `tracemend-repair`.
//!
//! The edge collector and the repair engine are separate deployments, so `tracemend` does
//! not link the engine (SQLite, the Docker client); the subcommand stays for users and
//! hands its arguments to the engine's binary: the one next to the running executable
//! (both are built and installed together), else the one on `PATH`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The repair engine's executable name.
pub const REPAIR_BIN: &str = "tracemend-repair";

/// Why the repair engine could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RepairCliError {
    /// Neither next to `tracemend` nor on `PATH`.
    #[error(
        "the repair engine's binary `{bin}` was not found next to {exe} nor on PATH; \
         build it with `cargo build -p repair` or install it beside `tracemend`",
        bin = REPAIR_BIN,
        exe = .0.display()
    )]
    NotFound(PathBuf),
    /// It exists but could not be started or waited for.
    #[error("cannot run the repair engine's binary {}: {source}", path.display())]
    Spawn {
        /// The program that was started.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Runs `tracemend-repair` with `args`. On Unix the engine replaces this process (`exec`),
/// so signals such as a service manager's SIGTERM reach it and its exit status is ours;
/// elsewhere it runs as a child and its exit status is returned.
pub fn run<I, S>(args: I) -> Result<ExitCode, RepairCliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tracemend"));
    let program = locate(&exe);
    let mut command = Command::new(&program);
    command.args(args);
    let spawn_error = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            RepairCliError::NotFound(exe.clone())
        } else {
            RepairCliError::Spawn {
                path: program.clone(),
                source,
            }
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // `exec` returns only when it failed.
        Err(spawn_error(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(spawn_error)?;
        Ok(ExitCode::from(
            status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1),
        ))
    }
}

/// The engine next to `exe` when it is there, else the bare name for a `PATH` search.
fn locate(exe: &Path) -> PathBuf {
    let name = format!("{REPAIR_BIN}{}", std::env::consts::EXE_SUFFIX);
    exe.parent()
        .map(|dir| dir.join(&name))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}
