//! The buggy-service set (`tests/buggy-services/`) as the engine meets it: each service's
//! directory committed to its own git repository (without its answer key, `truth.json`,
//! and with the host's CA bundle as `pip-ca.crt` for services whose Dockerfile installs
//! from PyPI), its services-map entry from `truth.json` (as YAML or as a
//! `ServiceConfig`), and the envelope `make_envelope.py` would write for its failing
//! request.

use std::path::{Path, PathBuf};

use repair::config::ServiceConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::GitRepo;

/// `tests/buggy-services`.
pub fn services_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/buggy-services")
}

/// Every service with a `truth.json`, by name.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(services_dir())
        .expect("tests/buggy-services")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("truth.json").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

/// The service's answer key.
pub fn truth(name: &str) -> Value {
    let text =
        std::fs::read_to_string(services_dir().join(name).join("truth.json")).expect("truth.json");
    serde_json::from_str(&text).expect("truth.json parses")
}

/// The CA bundle pip needs behind a TLS proxy: `PIP_CERT`, `SSL_CERT_FILE`, else the
/// system's bundle.
pub fn host_ca() -> Option<String> {
    ["PIP_CERT", "SSL_CERT_FILE"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .chain(["/etc/ssl/certs/ca-certificates.crt".to_string()])
        .find_map(|path| std::fs::read_to_string(path).ok())
}

/// One service as a repository.
pub struct Buggy {
    pub name: String,
    pub truth: Value,
    pub repo: GitRepo,
    pub commit: String,
}

fn files_of(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read service dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "truth.json" || name == "__pycache__" || name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        if entry.path().is_dir() {
            files_of(&entry.path(), &format!("{rel}/"), out);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("service file is text");
            out.push((rel, text));
        }
    }
}

/// Commits service `name` into a repository under `dir`.
pub fn setup(dir: &Path, name: &str) -> Buggy {
    let truth = truth(name);
    let mut files = Vec::new();
    files_of(&services_dir().join(name), "", &mut files);
    if truth["service_config"].get("dockerfile").is_some()
        && let Some(ca) = host_ca()
    {
        files.push(("pip-ca.crt".into(), ca));
    }
    let repo = GitRepo::new(dir.join(name));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let commit = repo.commit(&refs, &format!("{name}: the service"));
    Buggy {
        name: name.to_string(),
        truth,
        repo,
        commit,
    }
}

/// The service's repository (its tree minus the answer key), committed, and the commit.
pub fn make_repo(name: &str, dir: &Path) -> (GitRepo, String) {
    let b = setup(dir, name);
    (b.repo, b.commit)
}

fn service_value(name: &str, repo: &Path, push_to: Option<&Path>) -> Value {
    let mut config = truth(name)["service_config"].clone();
    config["repository"] = json!(repo.display().to_string());
    if let Some(remote) = push_to {
        config["push"] = json!(true);
        config["remote"] = json!(remote.display().to_string());
    }
    config
}

/// The services-map entry (YAML, indented under `services:`).
pub fn service_yaml(b: &Buggy) -> String {
    let config = service_value(&b.name, &b.repo.dir, None);
    let yaml = serde_yaml::to_string(&json!({ b.name.clone(): config })).expect("yaml");
    yaml.lines().map(|l| format!("  {l}\n")).collect()
}

/// The services-map entry as the engine's type, pushing to `push_to` when given.
pub fn service_config(name: &str, repo: &Path, push_to: Option<&Path>) -> ServiceConfig {
    serde_json::from_value(service_value(name, repo, push_to)).expect("service config")
}

fn hex(parts: &[&str], len: usize) -> String {
    let digest = hex::encode(Sha256::digest(parts.join("\u{0}").as_bytes()));
    digest[..len].to_string()
}

/// The envelope's fingerprint for service `name`: the exception type and the first three
/// in-app frames (file and function), as `make_envelope.py` computes it.
pub fn fingerprint(name: &str) -> String {
    let t = truth(name);
    let ty = t["expected"]["exception_type"]
        .as_str()
        .expect("exception_type");
    let top: Vec<String> = t["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .take(3)
        .map(|f| {
            format!(
                "{}:{}",
                f["file"].as_str().unwrap_or(""),
                f["function"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut parts = vec![ty];
    parts.extend(top.iter().map(String::as_str));
    hex(&parts, 16)
}

/// The envelope `make_envelope.py` writes for service `name` at `commit`, as JSON.
pub fn envelope_json(name: &str, commit: &str) -> Value {
    let t = truth(name);
    let expected = &t["expected"];
    let frames: Vec<Value> = t["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| json!({"file": f["file"], "line": f["line"], "function": f["function"], "in_app": true}))
        .collect();
    let message = expected["message"].as_str().unwrap_or_default();
    let request = &t["failing_request"];
    let mut inputs = json!({"protocol": "http", "method": request["method"], "route": request["route"], "path": request["path"]});
    for key in ["headers", "query"] {
        if request[key].as_object().is_some_and(|m| !m.is_empty()) {
            inputs[key] = request[key].clone();
        }
    }
    if request.get("body").is_some() {
        inputs["body"] = request["body"].clone();
    }
    let mut environment =
        json!({"timezone": "UTC", "runtime": {"name": "cpython", "version": "3.11"}});
    if let Some(env) = t.get("environment").and_then(Value::as_object) {
        for (k, v) in env {
            environment[k] = v.clone();
        }
    }
    let mut envelope = json!({
        "schema_version": "1",
        "envelope_id": format!("bugsvc-{name}-{}", &commit[..12]),
        "identity": {
            "trace_id": hex(&[name, commit, "trace"], 32),
            "span_id": hex(&[name, commit, "span"], 16),
            "service": {"name": name, "version": &commit[..12]},
            "commit": commit,
            "timestamp": "2026-12-01T09:30:00Z",
        },
        "symptom": {
            "exception": {
                "type": expected["exception_type"],
                "message_redacted": message,
                "message_hash": format!("sha256:{}", hex::encode(Sha256::digest(message.as_bytes()))),
                "frames": frames,
            },
            "fingerprint": fingerprint(name),
            "status_code": expected.get("status").cloned().unwrap_or(json!(500)),
        },
        "inputs": inputs,
        "environment": environment,
    });
    if let Some(state) = t.get("state") {
        envelope["state"] = state.clone();
    }
    envelope
}

/// The envelope for a set-up service.
pub fn envelope(b: &Buggy) -> Value {
    envelope_json(&b.name, &b.commit)
}

/// The envelope, parsed into the engine's type.
pub fn envelope_of(name: &str, commit: &str) -> envelope::Envelope {
    envelope::parse(envelope_json(name, commit).to_string().as_bytes()).expect("a valid envelope")
}
