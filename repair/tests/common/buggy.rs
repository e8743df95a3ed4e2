//! The buggy-service set (`tests/buggy-services/`) as the engine meets it: each service's
//! directory committed to its own git repository (without `truth.json`, with the host's
//! CA bundle as `pip-ca.crt` for services whose Dockerfile installs from PyPI), its
//! services-map entry from `truth.json`, and the envelope `make_envelope.py` would write.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::GitRepo;

/// `tests/buggy-services`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/buggy-services")
}

/// Every service with a `truth.json`, by name.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root())
        .expect("tests/buggy-services")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("truth.json").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

/// One service as a repository.
pub struct Buggy {
    pub name: String,
    pub truth: Value,
    pub repo: GitRepo,
    pub commit: String,
}

fn copy_tree(from: &Path, rel: &Path, files: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(from.join(rel)).expect("read service dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "truth.json" || name == "__pycache__" || name.starts_with('.') {
            continue;
        }
        let path = rel.join(&name);
        if entry.path().is_dir() {
            copy_tree(from, &path, files);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("service file is text");
            files.push((path.to_string_lossy().to_string(), text));
        }
    }
}

/// Commits service `name` into a repository under `dir`.
pub fn setup(dir: &Path, name: &str) -> Buggy {
    let src = root().join(name);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("truth.json")).expect("truth.json"))
            .expect("truth.json parses");
    let mut files = Vec::new();
    copy_tree(&src, Path::new(""), &mut files);
    if src.join("Dockerfile").is_file() {
        let ca = std::env::var("SSL_CERT_FILE")
            .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_string());
        if let Ok(text) = std::fs::read_to_string(ca) {
            files.push(("pip-ca.crt".into(), text));
        }
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

/// The services-map entry (YAML, indented under `services:`).
pub fn service_yaml(b: &Buggy) -> String {
    let mut c = b.truth["service_config"].clone();
    c["repository"] = json!(b.repo.dir.display().to_string());
    let yaml = serde_yaml::to_string(&json!({ b.name.clone(): c })).expect("yaml");
    yaml.lines().map(|l| format!("  {l}\n")).collect()
}

fn hex(parts: &[&str], len: usize) -> String {
    let digest = hex::encode(Sha256::digest(parts.join("\u{0}").as_bytes()));
    digest[..len].to_string()
}

/// The envelope `make_envelope.py` writes for the service at its commit.
pub fn envelope(b: &Buggy) -> Value {
    let t = &b.truth;
    let name = b.name.as_str();
    let commit = b.commit.as_str();
    let expected = &t["expected"];
    let frames: Vec<Value> = t["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| json!({"file": f["file"], "line": f["line"], "function": f["function"], "in_app": true}))
        .collect();
    let message = expected["message"].as_str().unwrap_or_default();
    let ty = expected["exception_type"].as_str().expect("exception_type");
    let top: Vec<String> = frames
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
    let mut fp_parts = vec![ty];
    fp_parts.extend(top.iter().map(String::as_str));
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
                "type": ty,
                "message_redacted": message,
                "message_hash": format!("sha256:{}", hex::encode(Sha256::digest(message.as_bytes()))),
                "frames": frames,
            },
            "fingerprint": hex(&fp_parts, 16),
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
