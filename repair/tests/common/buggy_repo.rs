//! The project's buggy services (tests/buggy-services) as test repositories: each
//! service's tree (minus its answer key, `truth.json`) committed to a fresh git
//! repository, its services-map entry, and the envelope the collector would send for its
//! failing request (as tests/buggy-services/make_envelope.py builds it).

use std::path::{Path, PathBuf};

use repair::config::ServiceConfig;
use serde_json::{Value, json};

use super::GitRepo;

pub fn services_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/buggy-services")
}

pub fn truth(name: &str) -> Value {
    let text =
        std::fs::read_to_string(services_dir().join(name).join("truth.json")).expect("truth.json");
    serde_json::from_str(&text).expect("truth is JSON")
}

pub fn host_ca() -> Option<String> {
    for var in ["PIP_CERT", "SSL_CERT_FILE"] {
        if let Ok(path) = std::env::var(var)
            && let Ok(text) = std::fs::read_to_string(path)
        {
            return Some(text);
        }
    }
    None
}

fn files_of(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if name == "truth.json" || name == "__pycache__" || name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        if path.is_dir() {
            files_of(&path, &format!("{rel}/"), out);
        } else {
            out.push((rel, std::fs::read_to_string(&path).expect("text file")));
        }
    }
}

/// The service's repository (its tree minus the answer key), committed.
pub fn make_repo(name: &str, dir: &Path) -> (GitRepo, String) {
    let mut files = Vec::new();
    files_of(&services_dir().join(name), "", &mut files);
    if truth(name)["service_config"].get("dockerfile").is_some()
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
    (repo, commit)
}

pub fn service_config(name: &str, repo: &Path, push_to: Option<&Path>) -> ServiceConfig {
    let mut config = truth(name)["service_config"].clone();
    config["repository"] = json!(repo.display().to_string());
    if let Some(remote) = push_to {
        config["push"] = json!(true);
        config["remote"] = json!(remote.display().to_string());
    }
    serde_json::from_value(config).expect("service config")
}

pub fn fingerprint(name: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(name.as_bytes())[..8])
}

/// The envelope the collector would send (as tests/buggy-services/make_envelope.py).
pub fn envelope_of(name: &str, commit: &str) -> envelope::Envelope {
    envelope::parse(envelope_json(name, commit).to_string().as_bytes()).expect("a valid envelope")
}

/// The envelope as JSON.
pub fn envelope_json(name: &str, commit: &str) -> Value {
    let t = truth(name);
    let frames: Vec<Value> = t["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| json!({"file": f["file"], "line": f["line"], "function": f["function"], "in_app": true}))
        .collect();
    let req = &t["failing_request"];
    let mut inputs = json!({"protocol": "http", "method": req["method"], "route": req["route"], "path": req["path"]});
    for key in ["headers", "query"] {
        if req
            .get(key)
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            inputs[key] = req[key].clone();
        }
    }
    if let Some(body) = req.get("body") {
        inputs["body"] = body.clone();
    }
    let mut environment =
        json!({"timezone": "UTC", "runtime": {"name": "cpython", "version": "3.11"}});
    if let Some(env) = t.get("environment").and_then(Value::as_object) {
        for (k, v) in env {
            environment[k] = v.clone();
        }
    }
    let mut e = json!({
        "schema_version": "1",
        "envelope_id": format!("bugsvc-{name}-{}", &commit[..12]),
        "identity": {
            "trace_id": format!("{:0>32}", &commit[..24]),
            "span_id": format!("{:0>16}", &commit[..12]),
            "service": {"name": name, "version": &commit[..12]},
            "commit": commit,
            "timestamp": "2026-11-30T10:00:00Z",
        },
        "symptom": {
            "exception": {"type": t["expected"]["exception_type"], "message_redacted": t["expected"]["message"], "frames": frames},
            "fingerprint": fingerprint(name),
            "status_code": 500,
        },
        "inputs": inputs,
        "environment": environment,
    });
    if let Some(state) = t.get("state") {
        e["state"] = state.clone();
    }
    e
}
