//! The `tracemend-repair` command line: config and envelope validation, schema output.

use std::path::Path;
use std::process::Command;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracemend-repair"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run tracemend-repair");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_examples_validate() {
    let (ok, stdout, stderr) = run(&[
        "validate-envelope",
        "config/examples/envelopes/checkout-keyerror.json",
        "config/examples/envelopes/minimal.json",
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(stdout.matches(": ok").count(), 2, "{stdout}");
    let (ok, stdout, stderr) = run(&["validate-config", "--config", "config/repair.yaml"]);
    assert!(ok, "{stdout}{stderr}");
}

#[test]
fn invalid_envelope_names_every_path_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../config/examples/envelopes/minimal.json"))
            .expect("json");
    v["identity"]["span_id"] = serde_json::json!("xyz");
    v["inputs"]["method"] = serde_json::json!("FETCH");
    let file = dir.path().join("bad.json");
    std::fs::write(&file, v.to_string()).expect("write");
    let (ok, stdout, stderr) = run(&["validate-envelope", file.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(stdout.contains("/identity/span_id"), "{stdout}");
    assert!(stdout.contains("/inputs/method"), "{stdout}");
    assert!(
        stderr.contains("1 of 1 envelope(s) are invalid"),
        "{stderr}"
    );
}

#[test]
fn invalid_config_lists_every_error_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("repair.yaml");
    std::fs::write(&file, "auth: {}\nworkers: 0\n").expect("write");
    let (ok, _, stderr) = run(&["validate-config", "--config", file.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(
        stderr.contains("auth: set one of token_env, token_file"),
        "{stderr}"
    );
    assert!(stderr.contains("workers: must be at least 1"), "{stderr}");
}

#[test]
fn schema_command_prints_the_contract() {
    let (ok, stdout, _) = run(&["schema"]);
    assert!(ok);
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect("schema is JSON");
    assert_eq!(schema["properties"]["schema_version"]["const"], "1");
}
