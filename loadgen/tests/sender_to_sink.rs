//! Runs the real `tracemend-loadgen` binary as sender against the real
//! `tracemend-loadgen sink` on loopback and checks the sink counted exactly what the
//! sender says was accepted, over gRPC and HTTP (protobuf and JSON, with gzip).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_tracemend-loadgen");

/// A running sink on free loopback ports; killed if the test fails early.
struct Sink {
    child: Child,
    grpc: String,
    http: String,
}

impl Sink {
    fn start(extra: &[&str]) -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(BIN)
            .args([
                "sink",
                "--grpc=127.0.0.1:0",
                "--http=127.0.0.1:0",
                "--report-interval=0s",
                "--json",
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("sink listening") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(20))?;
        let field = |name: &str| -> Result<String, String> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
                .ok_or(format!("{name} missing in {line:?}"))
        };
        Ok(Self {
            grpc: field("grpc=")?,
            http: field("http=")?,
            child,
        })
    }

    /// Waits for the sink to exit by itself and returns its totals.
    fn totals(mut self) -> Result<Value, Box<dyn std::error::Error>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                return Err("sink did not exit".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut out = String::new();
        std::io::Read::read_to_string(&mut self.child.stdout.take().ok_or("no stdout")?, &mut out)?;
        Ok(serde_json::from_str(out.trim())?)
    }

    /// Stops the sink with SIGTERM, as an operator would, and returns its totals.
    fn terminate(self) -> Result<Value, Box<dyn std::error::Error>> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        assert!(status.success());
        self.totals()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one sender with `--json` and returns its summary.
fn send(args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--json")
        .env("RUST_LOG", "warn")
        .output()?;
    assert!(
        out.status.success(),
        "sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(summary["requests_failed"], 0, "{summary}");
    Ok(summary)
}

fn items(summary: &Value) -> u64 {
    summary["items_sent"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn grpc_counts_match_and_sink_exits_when_done() -> TestResult {
    // 10,000 spans at 512 per request leave a 272-span remainder request; 777 log
    // records gzip-compressed by tonic. The sink stops by itself at the total.
    let sink = Sink::start(&["--expect=10777", "--exit-when-done"])?;
    let traces = send(&[
        "traces",
        "--endpoint",
        &sink.grpc,
        "--count=10000",
        "--workers=2",
        "--error-ratio=0.1",
    ])?;
    assert_eq!(items(&traces), 10_000);
    assert_eq!(traces["requests_sent"], 20);
    let logs = send(&[
        "logs",
        "--endpoint",
        &sink.grpc,
        "--compression=gzip",
        "--count=777",
        "--batch-size=100",
    ])?;
    assert_eq!(items(&logs), 777);
    assert!(logs["latency_us"]["p50"].as_u64().is_some_and(|p| p > 0));

    let totals = sink.totals()?;
    assert_eq!(totals["spans"], 10_000);
    assert_eq!(totals["log_records"], 777);
    assert_eq!(totals["requests"], 28);
    assert_eq!(totals["errors"], 0);
    assert_eq!(totals["stopped_by"], "expected");
    Ok(())
}

#[test]
fn http_proto_and_json_with_gzip_counts_match() -> TestResult {
    let sink = Sink::start(&[])?;
    let endpoint = format!("http://{}", sink.http);
    let proto_traces = send(&[
        "traces",
        "--protocol=http",
        "--endpoint",
        &endpoint,
        "--compression=gzip",
        "--count=3000",
        "--batch-size=256",
        "--workers=2",
    ])?;
    let json_traces = send(&[
        "traces",
        "--protocol=http",
        "--endpoint",
        &endpoint,
        "--encoding=json",
        "--compression=gzip",
        "--count=1001",
        "--batch-size=100",
    ])?;
    // Bounded by time rather than count: whatever the sender says was accepted must
    // be exactly what arrived.
    let json_logs = send(&[
        "logs",
        "--protocol=http",
        "--endpoint",
        &endpoint,
        "--encoding=json",
        "--duration=1s",
        "--rate=2000",
        "--batch-size=50",
        "--body-size=300",
    ])?;
    assert_eq!(items(&proto_traces), 3000);
    assert_eq!(items(&json_traces), 1001);
    let logs_sent = items(&json_logs);
    // 2,000 items/s for 1 s, in requests of 50: pacing caps the rate (the upper bound
    // allows the request in flight at the deadline; the lower one leaves room for a
    // loaded CI machine).
    assert!((1000..=2100).contains(&logs_sent), "{json_logs}");

    let totals = sink.terminate()?;
    assert_eq!(totals["spans"], 4001);
    assert_eq!(totals["log_records"], logs_sent);
    assert_eq!(totals["errors"], 0);
    assert_eq!(totals["stopped_by"], "signal");
    Ok(())
}

#[test]
fn unreachable_endpoint_fails_fast_with_a_message() -> TestResult {
    // Bind then drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let out = Command::new(BIN)
        .args([
            "traces",
            "--endpoint",
            &format!("127.0.0.1:{port}"),
            "--count=10",
        ])
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
    Ok(())
}

#[test]
fn refused_requests_are_counted_by_status() -> TestResult {
    let sink = Sink::start(&[])?;
    let out = Command::new(BIN)
        .args([
            "traces",
            "--protocol=http",
            "--endpoint",
            &format!("http://{}/v1/nowhere", sink.http),
            "--count=50",
            "--batch-size=10",
            "--json",
        ])
        .env("RUST_LOG", "warn")
        .output()?;
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(summary["requests_failed"], 5, "{summary}");
    assert_eq!(summary["items_failed"], 50);
    assert_eq!(summary["items_sent"], 0);
    assert_eq!(summary["failures"]["http 404"], 5);
    // 404 is not a status OTLP says to retry.
    assert_eq!(summary["requests_retryable"], 0);
    let totals = sink.terminate()?;
    assert_eq!(totals["spans"], 0);
    Ok(())
}

#[test]
fn a_slow_rate_still_stops_at_the_deadline() -> TestResult {
    let sink = Sink::start(&[])?;
    // One request of 10 items every 10 s: the first goes at once, the run ends at 500 ms.
    let summary = send(&[
        "traces",
        "--endpoint",
        &sink.grpc,
        "--rate=1",
        "--batch-size=10",
        "--duration=500ms",
    ])?;
    assert_eq!(items(&summary), 10);
    assert!(
        summary["elapsed_s"].as_f64().is_some_and(|s| s < 2.0),
        "{summary}"
    );
    assert_eq!(sink.terminate()?["spans"], 10);
    Ok(())
}

#[test]
fn progress_goes_to_stderr_and_the_summary_alone_to_stdout() -> TestResult {
    let sink = Sink::start(&[])?;
    let out = Command::new(BIN)
        .args([
            "logs",
            "--endpoint",
            &sink.grpc,
            "--duration=700ms",
            "--rate=1000",
            "--batch-size=100",
            "--report-interval=200ms",
            "--json",
        ])
        .env("RUST_LOG", "warn")
        .output()?;
    assert!(out.status.success());
    // stdout is exactly one JSON object, whatever else was printed.
    let summary: Value = serde_json::from_slice(&out.stdout)?;
    let stderr = String::from_utf8(out.stderr)?;
    let progress: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!progress.is_empty(), "{stderr}");
    assert!(progress.iter().all(|p| p["items_per_s"].is_number()));
    assert_eq!(sink.terminate()?["log_records"], summary["items_sent"]);
    Ok(())
}
