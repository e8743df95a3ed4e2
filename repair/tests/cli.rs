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

/// `serve` with `config` (and the given environment): must fail with exit code 1, one
/// clear message on stderr, and no panic.
fn serve_fails(config: &Path, env: &[(&str, &str)], token_set: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracemend-repair"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .env_remove("TRACEMEND_REPAIR_TOKEN")
        .envs(env.iter().copied());
    if token_set {
        cmd.env("TRACEMEND_REPAIR_TOKEN", "test-token-0123456789abcdef");
    }
    let out = cmd.output().expect("run tracemend-repair");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("error: "), "{stderr}");
    stderr
}

#[test]
fn broken_configs_fail_at_startup_with_a_specific_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    };
    let base = format!(
        "listen: 127.0.0.1:0\nauth: {{token_env: TRACEMEND_REPAIR_TOKEN}}\nstore: {{path: {}}}\ndocker: {{host: 'unix:///nonexistent/docker.sock'}}\n",
        dir.path().join("s/repair.db").display()
    );

    let missing = dir.path().join("absent.yaml");
    let e = serve_fails(&missing, &[], true);
    assert!(
        e.contains("cannot read config file") && e.contains("absent.yaml"),
        "{e}"
    );

    let e = serve_fails(&write("syntax.yaml", "auth: [token_env\n"), &[], true);
    assert!(e.contains("syntax.yaml") && e.contains("line"), "{e}");

    let e = serve_fails(
        &write("type.yaml", &format!("{base}workers: many\n")),
        &[],
        true,
    );
    assert!(e.contains("workers"), "{e}");

    let e = serve_fails(
        &write("unknown.yaml", &format!("{base}wokers: 2\n")),
        &[],
        true,
    );
    assert!(e.contains("unknown field `wokers`"), "{e}");

    let no_test = format!(
        "{base}services:\n  web:\n    repository: /r\n    base_image: b\n    command: [python3, app.py]\n    port: 8080\n"
    );
    let e = serve_fails(&write("no-test.yaml", &no_test), &[], true);
    assert!(e.contains("missing field `test_command`"), "{e}");

    let e = serve_fails(&write("ok.yaml", &base), &[], false);
    assert!(
        e.contains("environment variable TRACEMEND_REPAIR_TOKEN is not set"),
        "{e}"
    );
    let e = serve_fails(
        &write(
            "tokfile.yaml",
            &base.replace(
                "token_env: TRACEMEND_REPAIR_TOKEN",
                &format!("token_file: {}", dir.path().join("no-token").display()),
            ),
        ),
        &[],
        true,
    );
    assert!(
        e.contains("cannot read the intake token") && e.contains("no-token"),
        "{e}"
    );

    // The store path is a directory: the store cannot be opened, and says which.
    std::fs::create_dir_all(dir.path().join("s/repair.db")).expect("mkdir");
    let e = serve_fails(&write("store.yaml", &base), &[], true);
    assert!(
        e.contains("cannot open the store") && e.contains("repair.db"),
        "{e}"
    );
    std::fs::remove_dir(dir.path().join("s/repair.db")).expect("rmdir");

    // The listen address is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let e = serve_fails(
        &write("taken.yaml", &base.replace("127.0.0.1:0", &addr)),
        &[],
        true,
    );
    assert!(e.contains(&format!("cannot listen on {addr}")), "{e}");
}
