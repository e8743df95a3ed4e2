//! Shared test harness: starts the real `tracemend-repair` binary on a loopback port with
//! a config in a temp dir, talks real HTTP to it, creates real git repositories, and
//! checks the real Docker engine for leftover containers.
#![allow(dead_code)]

pub mod buggy;
pub mod sample;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const BASE_IMAGE: &str = "tracemend/python-base:bookworm";

/// Builds the Python base image once when it is missing (debootstrap + docker import).
pub fn ensure_base_image() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/build-python-base.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(BASE_IMAGE)
        .status()
        .expect("run build-python-base.sh");
    assert!(status.success(), "building the base image failed");
    *done = true;
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=tracemend-test",
            "-c",
            "user.email=test@tracemend.invalid",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git repository created by the test.
pub struct GitRepo {
    pub dir: PathBuf,
}

impl GitRepo {
    pub fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("mkdir repo");
        git(&dir, &["init", "-q", "-b", "main"]);
        Self { dir }
    }

    /// Writes files and commits them; returns the commit SHA.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let p = self.dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(p, content).expect("write file");
        }
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-qm", message]);
        git(&self.dir, &["rev-parse", "HEAD"])
    }
}

/// A running engine; SIGTERM on drop.
pub struct Engine {
    pub child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub store_path: PathBuf,
    pub client: reqwest::Client,
}

/// Writes a config for an engine whose state lives in `dir`. Unless `extra_yaml` names
/// its `stages:`, the pipeline ends after localize when it configures `minimize:` or
/// `localize:`, and after reproduce otherwise (the reproduce stage's tests end there).
pub fn write_config(dir: &Path, extra_yaml: &str) -> PathBuf {
    let stages = if extra_yaml.contains("stages:") {
        ""
    } else if extra_yaml.contains("minimize:") || extra_yaml.contains("localize:") {
        "stages: [reproduce, minimize, localize]\n"
    } else {
        "stages: [reproduce]\n"
    };
    let extra_yaml = format!("{extra_yaml}\n{stages}");
    let config = format!(
        "listen: 127.0.0.1:0\nauth:\n  token_env: TRACEMEND_REPAIR_TOKEN\nstore:\n  path: {}\ndata_dir: {}\n{extra_yaml}",
        dir.join("repair.db").display(),
        dir.join("data").display(),
    );
    let path = dir.join("repair.yaml");
    std::fs::write(&path, config).expect("write config");
    path
}

impl Engine {
    /// Starts the binary with the config at `dir/repair.yaml`.
    pub async fn start(dir: &Path) -> Engine {
        Self::start_with_env(dir, &[]).await
    }

    /// Starts the binary with extra environment variables (e.g. `DOCKER_HOST`).
    pub async fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Engine {
        let config_path = dir.join("repair.yaml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("engine.log"))
            .expect("open engine.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemend-repair"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("TRACEMEND_REPAIR_TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tracemend-repair");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            line
        })
        .await
        .expect("read stdout");
        let addr = line
            .trim()
            .strip_prefix("tracemend-repair listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the engine: {line:?}"))
            .to_string();
        Engine {
            child: Some(child),
            base: format!("http://{addr}"),
            dir: dir.to_path_buf(),
            config_path,
            store_path: dir.join("repair.db"),
            client: reqwest::Client::new(),
        }
    }

    pub fn owner(&self) -> String {
        repair::serve::owner_id(&self.store_path)
    }

    pub async fn post_raw(&self, body: Vec<u8>, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/v1/envelopes", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("POST");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn post(&self, envelope: &Value) -> (u16, Value) {
        self.post_raw(envelope.to_string().into_bytes(), Some(TOKEN))
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// Logs into the dashboard with the engine's token; the `name=value` of its session
    /// cookie.
    pub async fn ui_login(&self) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = client
            .post(format!("{}/ui/login", self.base))
            .header("origin", &self.base)
            .form(&[("token", TOKEN)])
            .send()
            .await
            .expect("POST /ui/login");
        assert_eq!(resp.status().as_u16(), 303);
        let set = resp.headers()["set-cookie"].to_str().expect("ascii");
        set.split(';').next().expect("cookie").to_string()
    }

    /// A dashboard page with a session cookie: status and HTML.
    pub async fn ui_get(&self, path: &str, cookie: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// Polls an incident until `done` holds or `timeout` passes.
    pub async fn wait_incident(
        &self,
        id: i64,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.get(&format!("/v1/incidents/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                start.elapsed() < timeout,
                "incident {id} did not get there in {timeout:?}: {body:#}\nengine log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts an envelope, checks it was accepted (202) and waits for the incident's
    /// terminal status.
    pub async fn run(&self, envelope: &Value, timeout: Duration) -> Value {
        let (status, body) = self.post(envelope).await;
        assert_eq!(status, 202, "{body}");
        let id = body["incident_id"]
            .as_i64()
            .expect("incident_id in the answer");
        self.wait_done(id, timeout).await
    }

    /// Waits for a terminal status.
    pub async fn wait_done(&self, id: i64, timeout: Duration) -> Value {
        self.wait_incident(id, timeout, |b| {
            matches!(
                b["status"].as_str(),
                Some("succeeded" | "rejected" | "failed")
            )
        })
        .await
    }

    /// The last lines of the engine's log (stderr).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("engine.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the engine hard (no cleanup), like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Containers carrying this owner's label, running or not.
pub fn containers_of(owner: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("label={}={owner}", repair::sandbox::LABEL_OWNER))
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Force-removes this owner's containers (cleanup after a failed assertion).
pub fn remove_containers_of(owner: &str) {
    let ids = containers_of(owner);
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .output();
    }
}

/// Removes the sandbox images built for `commit` (tests make fresh commits every run).
pub fn remove_images_of(commit: &str) {
    let out = Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label=org.tracemend.repair.commit={commit}"))
        .output()
        .expect("docker images");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rmi", "-f"])
            .args(&ids)
            .output();
    }
}

/// Removes this test's containers and images when dropped, even after a failed
/// assertion. Create it before the [`Engine`] so the engine stops first.
pub struct Cleanup {
    pub owner: String,
    pub commits: Vec<String>,
}

impl Cleanup {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            owner: repair::serve::owner_id(&state_dir.join("repair.db")),
            commits: Vec::new(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_containers_of(&self.owner);
        for commit in &self.commits {
            remove_images_of(commit);
        }
    }
}

/// An envelope built from the shipped example with the given parts replaced.
pub fn envelope(
    id: &str,
    service: &str,
    commit: &str,
    fingerprint: &str,
    exception: Value,
    inputs: Value,
) -> Value {
    let mut v: Value = serde_json::from_str(include_str!(
        "../../../config/examples/envelopes/checkout-keyerror.json"
    ))
    .expect("example JSON");
    v["envelope_id"] = json!(id);
    v["identity"]["service"]["name"] = json!(service);
    v["identity"]["commit"] = json!(commit);
    v["symptom"]["fingerprint"] = json!(fingerprint);
    v["symptom"]["exception"] = exception;
    v["inputs"] = inputs;
    v
}

/// `{type, frames: [in-app frame]}`.
pub fn exception(ty: &str, file: &str, line: usize, function: &str) -> Value {
    json!({
        "type": ty,
        "message_redacted": "redacted",
        "frames": [ { "file": file, "line": line, "function": function, "in_app": true } ]
    })
}

/// 1-based line number of the first line containing `needle`.
pub fn line_of(source: &str, needle: &str) -> usize {
    source
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in source"))
        + 1
}
