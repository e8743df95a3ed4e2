//! The replay runner's probe mode (`assets/replay.py` with `probes`) on the host's own
//! Python, without Docker: one runner answers a batch of probes, judged by the strict
//! signature and message; the service is restarted before each probe unless it is
//! declared stateless; a traceback logged after the 500 was sent (as uvicorn does) is
//! still read; under coverage.py (vendored with the host's pip, as the engine does at
//! startup) each probe reports the lines it ran, and the repository's tests report
//! theirs per test.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use repair::config::{ReproduceConfig, ServiceConfig};
use repair::minimize::ProbeInput;
use repair::probe::{BatchOptions, Outcome, batch_spec, env_of, judge_batch, tests_spec};
use serde_json::{Value, json};

/// Counts requests (its state); `qty` as a string fails in `line_total` with a
/// TypeError whose traceback is logged 300 ms after the 500 went out.
const APP_PY: &str = r#"import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer

import pricing

SEEN = {"requests": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        SEEN["requests"] += 1
        order = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if order.get("slow"):
            time.sleep(60)
        try:
            total = pricing.line_total(order)
        except Exception:
            text = traceback.format_exc()
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"error")
            self.wfile.flush()
            time.sleep(0.3)
            sys.stderr.write(text)
            sys.stderr.flush()
            return
        self.send_response(200)
        self.end_headers()
        flags = os.environ.get("TRACEMEND_FEATURE_FLAGS")
        self.wfile.write(json.dumps({"total": total, "requests": SEEN["requests"], "flags": flags}).encode())


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

const PRICING_PY: &str = "def line_total(order):\n    return order[\"qty\"] * 2.5\n";

const TEST_PY: &str = "import unittest\n\nimport pricing\n\n\nclass T(unittest.TestCase):\n    def test_total(self):\n        self.assertEqual(pricing.line_total({\"qty\": 2}), 5.0)\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn envelope() -> envelope::Envelope {
    let mut v: Value = serde_json::from_str(include_str!(
        "../../config/examples/envelopes/checkout-keyerror.json"
    ))
    .expect("example");
    v["symptom"]["exception"] = json!({
        "type": "TypeError",
        "message_redacted": "can't multiply sequence by non-int of type 'float'",
        "frames": [{"file": "pricing.py", "line": 2, "function": "line_total", "in_app": true}]
    });
    v["inputs"]["body"] = json!({ "qty": "3" });
    envelope::from_value(v).expect("valid envelope")
}

fn service(dir: &Path, port: u16) -> ServiceConfig {
    serde_yaml::from_str(&format!(
        "repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: {port}\nworkdir: {}\ntest_command: [python3, -m, unittest]\nenv: {{PORT: '{port}'}}\n",
        dir.display()
    ))
    .expect("service")
}

fn probe(body: Value) -> ProbeInput {
    let mut p = repair::probe::envelope_input(&envelope());
    p.request.body = Some(body);
    p
}

/// Runs the runner with `spec` (its site directory pointed at the repository's assets)
/// and returns its stdout.
fn run(dir: &Path, mut spec: Value, vendor: Option<&Path>) -> String {
    spec["site_dir"] = json!(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"));
    spec["allow_root"] = json!(true);
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/replay.py"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env_of(&spec).iter().filter_map(|v| v.split_once('=')))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(v) = vendor {
        cmd.env("TRACEMEND_COVERAGE_PATH", v);
    }
    let mut child = cmd.spawn().expect("python3 runs");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child.wait().expect("wait");
    out
}

/// Runs the runner like [`run`] but kills it and everything it started after
/// `deadline`, as the engine kills a batch's container at its timeout; returns what it
/// printed until then.
fn run_until_killed(dir: &Path, mut spec: Value, deadline: Duration) -> String {
    use std::os::unix::process::CommandExt;

    spec["site_dir"] = json!(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"));
    spec["allow_root"] = json!(true);
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/replay.py"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env_of(&spec).iter().filter_map(|v| v.split_once('=')))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("python3 runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    std::thread::sleep(deadline);
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
    reader.join().expect("reader")
}

fn app_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("app.py"), APP_PY).expect("app");
    std::fs::write(tmp.path().join("pricing.py"), PRICING_PY).expect("pricing");
    std::fs::write(tmp.path().join("test_pricing.py"), TEST_PY).expect("test");
    tmp
}

/// The JSON body the service answered probe `index` with.
fn answer_body(stdout: &str, index: usize) -> Option<Value> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(repair::probe::PROBE_MARKER))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|a| a["index"] == index)
        .and_then(|a| serde_json::from_str(a["response"]["body"].as_str()?).ok())
}

fn flags_seen(stdout: &str, index: usize) -> Option<String> {
    answer_body(stdout, index)?["flags"]
        .as_str()
        .map(str::to_string)
}

fn requests_seen(stdout: &str, index: usize) -> Option<i64> {
    answer_body(stdout, index)?["requests"].as_i64()
}

#[test]
fn a_batch_is_answered_probe_by_probe_restarting_unless_stateless() {
    let tmp = app_dir();
    let env = envelope();
    let expected = &env.symptom.exception;
    let probes = [
        probe(json!({"qty": "3"})),
        probe(json!({"qty": 3})),
        probe(json!({"qty": 4})),
        probe(json!({"qty": "x"})),
    ];
    let dir = tmp.path().to_string_lossy().to_string();
    for stateless in [false, true] {
        let port = free_port();
        let spec = batch_spec(
            &env,
            &service(tmp.path(), port),
            &ReproduceConfig::default(),
            true,
            &probes,
            BatchOptions {
                coverage: false,
                stateless,
            },
            &[],
        )
        .expect("spec");
        let out = run(tmp.path(), spec, None);
        let message = expected.message_redacted.as_deref();
        let judged = judge_batch(expected, message, &out, probes.len(), &dir, false);
        let outcomes: Vec<&Outcome> = judged.iter().map(|j| &j.outcome).collect();
        assert_eq!(
            outcomes,
            [
                &Outcome::Failing,
                &Outcome::Passing,
                &Outcome::Passing,
                &Outcome::Failing
            ],
            "stateless={stateless}: {out}"
        );
        assert_eq!(judged[1].response_status, Some(200));
        // Restarted before each probe, the service has seen one request; kept running,
        // it counts them.
        let seen = requests_seen(&out, 2);
        assert_eq!(seen, Some(if stateless { 3 } else { 1 }), "{out}");
        // Restarting, each service process is forked from the fork server, which has
        // the service's imports done and reports them for the next container.
        let result = result_of(&out);
        assert_eq!(
            result["service_starts"],
            if stateless { 1 } else { 4 },
            "{out}"
        );
        if stateless {
            assert!(result.get("forkserver").is_none(), "{out}");
        } else {
            assert_eq!(result["forkserver"], true, "{out}");
            let preload = repair::probe::preload_of(&out);
            assert!(preload.iter().any(|m| m == "http.server"), "{preload:?}");
            assert!(
                !preload.iter().any(|m| m == "pricing"),
                "the service's own module: {preload:?}"
            );
        }
        // The message is part of the oracle when given: "x" * 2.5 fails the same way
        // with the same message, so it stays failing; a message the envelope did not
        // have would not.
        let strict = judge_batch(
            expected,
            Some("another message"),
            &out,
            probes.len(),
            &dir,
            false,
        );
        assert_eq!(strict[0].outcome, Outcome::Passing);
        assert_eq!(
            strict[0].other_failure.as_deref(),
            Some("TypeError: can't multiply sequence by non-int of type 'float'")
        );
    }
}

fn result_of(out: &str) -> Value {
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix("TRACEMEND_RESULT "))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result line: {out}"))
}

#[test]
fn forked_services_start_fresh_with_their_flags_and_as_without_a_fork_server() {
    let tmp = app_dir();
    let env = envelope();
    let expected = &env.symptom.exception;
    let mut plain = probe(json!({"qty": 1}));
    plain.feature_flags.clear();
    let mut flagged = probe(json!({"qty": 2}));
    flagged.feature_flags = [("tiered".to_string(), json!(true))].into();
    let probes = [plain, flagged, probe(json!({"qty": "3"}))];
    let dir = tmp.path().to_string_lossy().to_string();
    let mut outcomes = Vec::new();
    // The second run names the modules the first one's service imported, as the engine
    // hands them from one batch's container to the next.
    let mut preload: Vec<String> = Vec::new();
    for forkserver in [true, true, false] {
        let mut spec = batch_spec(
            &env,
            &service(tmp.path(), free_port()),
            &ReproduceConfig::default(),
            true,
            &probes,
            BatchOptions {
                coverage: false,
                stateless: false,
            },
            &preload,
        )
        .expect("spec");
        if !forkserver {
            spec["no_forkserver"] = json!(true);
        }
        let out = run(tmp.path(), spec, None);
        let result = result_of(&out);
        assert_eq!(
            result.get("forkserver") == Some(&json!(true)),
            forkserver,
            "{out}"
        );
        let judged = judge_batch(expected, None, &out, probes.len(), &dir, false);
        outcomes.push(judged.iter().map(|j| j.outcome.clone()).collect::<Vec<_>>());
        for i in 0..probes.len() {
            assert_eq!(requests_seen(&out, i).unwrap_or(1), 1, "probe {i}: {out}");
        }
        // Each process has its own flags: only the second probe's.
        let flags: Vec<Option<String>> = (0..2).map(|i| flags_seen(&out, i)).collect();
        assert_eq!(
            flags,
            [None, Some("{\"tiered\":true}".to_string())],
            "{out}"
        );
        if forkserver {
            preload = repair::probe::preload_of(&out);
            assert!(!preload.is_empty(), "{out}");
        }
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0], outcomes[2]);
    assert_eq!(outcomes[0][2], Outcome::Failing);
}

#[test]
fn a_batch_killed_at_its_timeout_keeps_the_answers_it_gave() {
    let tmp = app_dir();
    let env = envelope();
    let expected = &env.symptom.exception;
    let probes = [
        probe(json!({"qty": "3"})),
        probe(json!({"qty": 3})),
        probe(json!({"qty": 1, "slow": true})),
        probe(json!({"qty": 4})),
    ];
    let dir = tmp.path().to_string_lossy().to_string();
    let spec = batch_spec(
        &env,
        &service(tmp.path(), free_port()),
        &ReproduceConfig::default(),
        true,
        &probes,
        BatchOptions {
            coverage: false,
            stateless: true,
        },
        &[],
    )
    .expect("spec");
    // The slow probe sleeps a minute; the batch is killed well before that, once the
    // first two had time to answer (generously, on a loaded machine).
    let out = run_until_killed(tmp.path(), spec, Duration::from_secs(8));
    let judged = judge_batch(expected, None, &out, probes.len(), &dir, true);
    assert!(judged[0].is_failing(), "{out}");
    assert_eq!(judged[1].outcome, Outcome::Passing, "{out}");
    assert_eq!(judged[1].response_status, Some(200));
    for j in &judged[2..] {
        assert!(j.unanswered, "{j:?}");
        assert_eq!(
            j.outcome,
            Outcome::Error("the batch timed out before this probe was answered".into())
        );
    }
    assert!(!judged[0].unanswered && !judged[1].unanswered);
}

#[tokio::test]
async fn coverage_probes_and_tests_report_their_lines() {
    let vendor_root = tempfile::tempdir().expect("tempdir");
    let files = repair::vendor::vendor_coverage(
        vendor_root.path(),
        "coverage==7.6.1",
        Duration::from_secs(300),
    )
    .await
    .expect("pip installs coverage.py (PyPI or its proxy must be reachable)");
    assert!(files.iter().any(|(p, _)| p == "coverage/__init__.py"));
    assert!(files.iter().all(|(p, _)| p.ends_with(".py")));
    // The files as the image carries them under /opt/tracemend/vendor.
    let vendor = tempfile::tempdir().expect("tempdir");
    for (path, content) in &files {
        let p = vendor.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    let tmp = app_dir();
    let env = envelope();
    let expected = &env.symptom.exception;
    let probes = [probe(json!({"qty": "3"})), probe(json!({"qty": 3}))];
    let port = free_port();
    let svc = service(tmp.path(), port);
    let spec = batch_spec(
        &env,
        &svc,
        &ReproduceConfig::default(),
        true,
        &probes,
        BatchOptions {
            coverage: true,
            stateless: true,
        },
        &[],
    )
    .expect("spec");
    let out = run(tmp.path(), spec, Some(vendor.path()));
    let dir = tmp.path().to_string_lossy().to_string();
    let judged = judge_batch(expected, None, &out, probes.len(), &dir, false);
    assert!(judged[0].is_failing(), "{out}");
    for j in &judged {
        let cov = j
            .coverage
            .as_ref()
            .unwrap_or_else(|| panic!("no coverage: {out}"));
        assert_eq!(cov.lines.get("pricing.py"), Some(&vec![1, 2]), "{cov:?}");
        assert!(
            cov.lines.get("app.py").is_some_and(|l| l.contains(&21)),
            "{cov:?}"
        );
    }
    // The failing probe ran the except branch, the passing one the success path.
    let failing = &judged[0].coverage.as_ref().expect("coverage");
    let passing = &judged[1].coverage.as_ref().expect("coverage");
    assert!(
        failing.lines["app.py"].contains(&25) && !passing.lines["app.py"].contains(&25),
        "{failing:?} {passing:?}"
    );
    // What `line_total` returned: nothing when it raised, a positive float otherwise
    // (a raise is not a return of None).
    assert_eq!(failing.values.get("pricing.py"), None, "{failing:?}");
    assert_eq!(
        passing.values.get("pricing.py").and_then(|v| v.get(&2)),
        Some(&vec!["> 0".to_string(), "type=float".to_string()]),
        "{passing:?}"
    );

    let spec = tests_spec(
        &env,
        &svc,
        &ReproduceConfig::default(),
        true,
        Duration::from_secs(60),
    )
    .expect("spec");
    let out = run(tmp.path(), spec, Some(vendor.path()));
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("TRACEMEND_RESULT "))
        .unwrap_or_else(|| panic!("no result: {out}"));
    let result: Value = serde_json::from_str(line).expect("json");
    assert_eq!(result["tests_exit"], 0, "{result}");
    let per_test = &result["tests_coverage"]["test_pricing.T.test_total"];
    assert_eq!(per_test["pricing.py"], json!([2]), "{result}");
    // Return values per test too, under the same test names.
    assert_eq!(
        result["tests_values"]["test_pricing.T.test_total"]["pricing.py"]["2"],
        json!(["> 0", "type=float"]),
        "{result}"
    );
}
