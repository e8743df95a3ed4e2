//! `tracemend repair ...` runs the `tracemend-repair` binary: the one next to the running
//! executable, else on `PATH`; arguments pass through and the exit status comes back.
//! A stand-in engine (a shell script) records what it was given.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// Held while a test writes an executable and while one is started. A child forked by
/// another test thread inherits the write descriptor until it execs, and executing a
/// file that some process still has open for writing fails with "Text file busy".
static EXEC_FILES: Mutex<()> = Mutex::new(());

fn exec_files() -> MutexGuard<'static, ()> {
    EXEC_FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A copy of the real `tracemend` in its own directory, so what sits beside it is ours.
fn tracemend_in(dir: &Path) -> PathBuf {
    let bin = dir.join("tracemend");
    let _writing = exec_files();
    std::fs::copy(env!("CARGO_BIN_EXE_tracemend"), &bin).expect("copy tracemend");
    bin
}

fn stand_in_engine(dir: &Path, exit: i32) {
    std::fs::create_dir_all(dir).expect("engine dir");
    let script = dir.join("tracemend-repair");
    let _writing = exec_files();
    std::fs::write(
        &script,
        format!("#!/bin/sh\nfor a in \"$@\"; do echo \"arg:$a\"; done\nexit {exit}\n"),
    )
    .expect("write engine");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn run(bin: &Path, path_env: &Path, args: &[&str]) -> Output {
    let child = {
        let _starting = exec_files();
        Command::new(bin)
            .args(args)
            .env("PATH", path_env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tracemend")
    };
    child.wait_with_output().expect("wait for tracemend")
}

#[test]
fn the_engine_next_to_the_binary_gets_the_arguments_and_gives_its_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tracemend_in(dir.path());
    stand_in_engine(dir.path(), 7);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("empty dir");
    let out = run(
        &bin,
        &empty,
        &["repair", "serve", "--config", "a b.yaml", "--help"],
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "arg:serve\narg:--config\narg:a b.yaml\narg:--help\n"
    );
}

#[test]
fn the_engine_on_path_is_used_when_none_is_next_to_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tracemend_in(dir.path());
    let on_path = dir.path().join("bin");
    stand_in_engine(&on_path, 0);
    let out = run(&bin, &on_path, &["repair", "schema"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "arg:schema\n");
}

#[test]
fn a_missing_engine_is_a_clear_error_naming_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tracemend_in(dir.path());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("empty dir");
    let out = run(&bin, &empty, &["repair", "schema"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`tracemend-repair` was not found next to")
            && stderr.contains("nor on PATH"),
        "{stderr}"
    );
}
