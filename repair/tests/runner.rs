//! The replay runner (`assets/replay.py`) on the host's own Python, without Docker: a
//! service that writes megabytes to stdout and stderr, answers an 8 MiB 500 page (larger than
//! loopback socket buffers, so the runner must read it all: closing early resets the
//! service's write, and that traceback would be taken for the failure) and
//! logs its traceback as a JSON line on stdout is still judged from one whole result
//! line; the image's `PYTHONPATH` is extended, not replaced; and the runner refuses to
//! start a service as root unless allowed.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use repair::config::{ReproduceConfig, ServiceConfig};
use repair::reproduce::{Verdict, evaluate, runner_env};
use repair::sandbox::RunOutput;
use serde_json::json;

/// The service: its handler imports `pricing` from a directory only on the PYTHONPATH
/// the "image" set, floods both streams, logs the traceback as JSON on stdout and
/// answers with an 8 MiB error page.
const APP_PY: &str = r#"import json
import logging
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer

import pricing


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {"level": record.levelname, "message": record.getMessage()}
        if record.exc_info:
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry)


handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(JsonFormatter())
log = logging.getLogger("app")
log.addHandler(handler)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        sys.stdout.write("debug " * 200_000 + "\n")
        sys.stderr.write("noise " * 100_000 + "\n")
        try:
            total = pricing.line_total(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        except Exception:
            log.exception("Exception on /quote [POST]")
            page = ("<pre>" + "x" * 8_388_608 + "</pre>").encode()
            self.send_response(500)
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(str(total).encode())


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

const PRICING_PY: &str = "def line_total(order):\n    return order[\"qty\"] * 2.5\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Runs the runner like the container would and returns what the engine would see.
fn run_runner(dir: &Path, port: u16, allow_root: bool) -> RunOutput {
    let mut envelope: serde_json::Value = serde_json::from_str(include_str!(
        "../../config/examples/envelopes/checkout-keyerror.json"
    ))
    .expect("example");
    envelope["inputs"]["body"] = json!({ "qty": "3" });
    let envelope = envelope::from_value(envelope).expect("valid envelope");
    let service: ServiceConfig = serde_yaml::from_str(&format!(
        "repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: {port}\nworkdir: {}\ntest_command: [python3, -m, unittest]\nenv: {{PORT: '{port}'}}\n",
        dir.display()
    ))
    .expect("service");
    let vars = runner_env(&envelope, &service, &ReproduceConfig::default(), allow_root)
        .expect("runner env");
    let started = Instant::now();
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/replay.py"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // What the image's Dockerfile set: the runner must keep it.
        .env("PYTHONPATH", dir.join("lib"))
        .envs(vars.iter().filter_map(|v| v.split_once('=')))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    RunOutput {
        exit_code: status.code().map(i64::from),
        timed_out: false,
        stdout,
        stderr,
        stdout_dropped: 0,
        stderr_dropped: 0,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

#[test]
fn a_flood_of_output_keeps_the_result_line_whole_and_json_tracebacks_are_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("lib")).expect("mkdir");
    std::fs::write(tmp.path().join("app.py"), APP_PY).expect("write app");
    std::fs::write(tmp.path().join("lib/pricing.py"), PRICING_PY).expect("write lib");
    let output = run_runner(tmp.path(), free_port(), true);
    assert_eq!(output.exit_code, Some(0), "{}", output.stderr);
    // The runner writes its result line and nothing else; it fits the 256 KiB the
    // engine keeps of a container's stdout, with room to spare.
    assert!(
        output.stdout.len() < 200 * 1024,
        "result line of {} bytes",
        output.stdout.len()
    );
    assert_eq!(output.stdout.lines().count(), 1);
    let expected = envelope::Exception {
        exception_type: "TypeError".into(),
        message_redacted: None,
        message_hash: None,
        frames: vec![envelope::Frame {
            file: Some("lib/pricing.py".into()),
            line: Some(2),
            function: "line_total".into(),
            module: None,
            in_app: true,
        }],
    };
    let dir = tmp.path().to_string_lossy().to_string();
    let record = evaluate(1, &expected, &output, &dir);
    assert_eq!(record.verdict, Verdict::Reproduced, "{record:#?}");
    assert_eq!(record.response_status, Some(500));
    let observed = record.observed.expect("observed");
    assert!(
        observed.message.contains("can't multiply sequence"),
        "{observed:?}"
    );
}

#[test]
fn the_runner_refuses_root_unless_allowed() {
    // Only meaningful where the test itself runs as root (as in CI containers).
    let uid = Command::new("id").arg("-u").output().expect("id");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("lib")).expect("mkdir");
    std::fs::write(tmp.path().join("app.py"), APP_PY).expect("write app");
    std::fs::write(tmp.path().join("lib/pricing.py"), PRICING_PY).expect("write lib");
    let output = run_runner(tmp.path(), free_port(), false);
    let expected = envelope::Exception {
        exception_type: "TypeError".into(),
        message_redacted: None,
        message_hash: None,
        frames: vec![],
    };
    let record = evaluate(1, &expected, &output, &tmp.path().to_string_lossy());
    assert_eq!(record.verdict, Verdict::SandboxError, "{record:#?}");
    let cause = record.cause.expect("cause");
    assert!(
        cause.contains("refusing to run the service as root") && cause.contains("allow_root"),
        "{cause}"
    );
    // Nothing was started: no port was ever opened, nothing waited.
    assert!(Duration::from_millis(output.duration_ms) < Duration::from_secs(10));
}
