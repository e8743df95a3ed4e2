//! Whole-trace tests: realistic traces (stack traces printed by really
//! running a buggy service with `python3`, a Java program with `java`, a
//! Node program with `node`) assembled into envelopes that the `envelope`
//! crate (the repair engine's own schema check) validates.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::assemble::assemble;
use crate::config::Config;
use crate::model::{Attr, Attrs, Event, KIND_SERVER, Log, Span, Trace};
use crate::outcome::{Note, Outcome, Skip};

const COMMIT: &str = "4F2A9C0B11D4E5F60718293A4B5C6D7E8F901234";
const TRACE_ID: [u8; 16] = [0xab; 16];
/// 2026-12-07T04:00:00Z.
const T0: u64 = 1_796_616_000_000_000_000;
const MS: u64 = 1_000_000;

/// A `'static` copy of `s` (tests build many small traces; the leak is the
/// test process's).
fn leak(s: impl Into<String>) -> &'static str {
    Box::leak(s.into().into_boxed_str())
}

fn id(n: u8) -> &'static [u8] {
    Box::leak(vec![n; 8].into_boxed_slice())
}

fn attrs(pairs: &[(&str, Attr<'static>)]) -> Attrs<'static> {
    pairs.iter().map(|(k, v)| (leak(*k), v.clone())).collect()
}

fn strs(values: &[&str]) -> Attr<'static> {
    Attr::List(values.iter().map(|v| Attr::Str(leak(*v))).collect())
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("envelope-guest-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The failing request of `tests/buggy-services/wsgi-shipping` (its
/// `truth.json`).
fn shipping_truth() -> Value {
    let path = repo_root().join("tests/buggy-services/wsgi-shipping/truth.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the real wsgi-shipping service's WSGI app under wsgiref's handler
/// (as its server does) with the failing request, the module installed at
/// `<tmp>/srv/app/app.py` with `pad` blank lines on top (a deploy that only
/// moves lines), and returns the traceback wsgiref logs.
fn shipping_traceback(tag: &str, pad: usize) -> (TempDir, String) {
    let tmp = TempDir::new(tag);
    let src = repo_root().join("tests/buggy-services/wsgi-shipping/app.py");
    let app = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let dir = tmp.0.join("srv/app");
    write(&dir.join("app.py"), &format!("{}{app}", "\n".repeat(pad)));
    let body = shipping_truth()["failing_request"]["body"].to_string();
    let runner = r#"
import io, os, sys
sys.path.insert(0, os.getcwd())
from wsgiref.handlers import SimpleHandler
import app
body = sys.stdin.buffer.read()
env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/shipments/quote", "CONTENT_LENGTH": str(len(body)),
       "CONTENT_TYPE": "application/json", "SERVER_NAME": "localhost", "SERVER_PORT": "8080",
       "SERVER_PROTOCOL": "HTTP/1.1"}
out = io.BytesIO()
SimpleHandler(io.BytesIO(body), out, sys.stderr, env).run(app.application)
assert b" 500 " in out.getvalue().split(b"\r\n")[0], out.getvalue()
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(runner)
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is needed for these tests: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(body.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "runner failed: {stderr}");
    // wsgiref logs the traceback, then its own line about the request.
    let start = stderr
        .find("Traceback (most recent call last):")
        .unwrap_or_else(|| panic!("no traceback: {stderr}"));
    let text = &stderr[start..];
    let end = text
        .find("ZeroDivisionError: float division by zero")
        .map(|i| i + 41)
        .unwrap_or_else(|| panic!("{text}"));
    let traceback = text[..end].to_owned() + "\n";
    (tmp, traceback)
}

/// The resource of an instrumented Python service.
fn python_resource(service: &str) -> Attrs<'static> {
    attrs(&[
        ("service.name", Attr::Str(leak(service))),
        ("service.version", Attr::Str("1.9.0")),
        ("service.namespace", Attr::Str("logistics")),
        ("vcs.ref.head.revision", Attr::Str(COMMIT)),
        ("telemetry.sdk.language", Attr::Str("python")),
        ("process.runtime.name", Attr::Str("cpython")),
        ("process.runtime.version", Attr::Str("3.12.3")),
        ("tracemend.locale", Attr::Str("de_DE.UTF-8")),
        ("tracemend.timezone", Attr::Str("Europe/Berlin")),
    ])
}

fn exception_event(ty: &str, message: &str, stacktrace: &str, time: u64) -> Event<'static> {
    Event {
        name: "exception",
        time,
        attrs: attrs(&[
            ("exception.type", Attr::Str(leak(ty))),
            ("exception.message", Attr::Str(leak(message))),
            ("exception.stacktrace", Attr::Str(leak(stacktrace))),
            ("exception.escaped", Attr::Str("True")),
        ]),
    }
}

/// The trace the capture package and the OpenTelemetry WSGI instrumentation
/// produce for the shipping service's failing request: a server span with
/// the request, the exception recorded twice (instrumentation and capture),
/// a flag evaluation, a child span for the quote computation and an
/// outgoing call, and an error log record.
fn shipping_trace(traceback: &str) -> Trace<'static> {
    let truth = shipping_truth();
    let req = &truth["failing_request"];
    let body = leak(req["body"].to_string());
    let server = Span {
        trace_id: &TRACE_ID,
        span_id: id(1),
        parent_span_id: &[],
        name: "POST /shipments/quote",
        kind: KIND_SERVER,
        start: T0,
        end: T0 + 40 * MS,
        error: true,
        attrs: attrs(&[
            ("http.request.method", Attr::Str("POST")),
            ("url.path", Attr::Str("/shipments/quote")),
            ("url.query", Attr::Str("dry_run=1&carrier=dhl&carrier=ups")),
            ("url.scheme", Attr::Str("http")),
            ("http.route", Attr::Str("/shipments/quote")),
            ("http.response.status_code", Attr::Int(500)),
            (
                "http.request.header.content-type",
                strs(&["application/json"]),
            ),
            ("http.request.header.x-request-id", strs(&["req-5b5b11"])),
            (
                "http.request.header.user-agent",
                strs(&["warehouse-scanner/1.9"]),
            ),
            (
                "http.request.header.authorization",
                strs(&["Bearer tok_v1_00ff00ff00ff00ff"]),
            ),
            ("tracemend.http.request.body", Attr::Str(body)),
            ("tracemend.http.request.body.truncated", Attr::Bool(false)),
            ("http.request.body.size", Attr::Int(body.len() as i64)),
            ("error.type", Attr::Str("ZeroDivisionError")),
        ]),
        events: vec![
            Event {
                name: "feature_flag.evaluation",
                time: T0 + MS,
                attrs: attrs(&[
                    ("feature_flag.key", Attr::Str("tiered_pricing")),
                    ("feature_flag.result.value", Attr::Bool(true)),
                ]),
            },
            exception_event(
                "ZeroDivisionError",
                "float division by zero",
                traceback,
                T0 + 31 * MS,
            ),
            exception_event(
                "ZeroDivisionError",
                "float division by zero",
                traceback,
                T0 + 32 * MS,
            ),
        ],
        resource: 0,
    };
    let plan = Span {
        trace_id: &TRACE_ID,
        span_id: id(2),
        parent_span_id: id(1),
        name: "plan_shipment",
        kind: 1,
        start: T0 + 2 * MS,
        end: T0 + 10 * MS,
        ..Span::default()
    };
    let rates = Span {
        trace_id: &TRACE_ID,
        span_id: id(3),
        parent_span_id: id(1),
        name: "GET rates",
        kind: 3,
        start: T0 + 10 * MS,
        end: T0 + 30 * MS,
        ..Span::default()
    };
    let log = Log {
        span_id: id(1),
        time: T0 + 33 * MS,
        attrs: attrs(&[("code.function.name", Attr::Str("handle_error"))]),
        ..Log::default()
    };
    Trace {
        resources: vec![python_resource("wsgi-shipping")],
        spans: vec![server, plan, rates],
        logs: vec![log],
    }
}

/// The envelope of `trace`, checked against the schema by the repair
/// engine's own validator.
fn envelope_of(trace: &Trace<'_>, config: &Config) -> (Value, Vec<Note>) {
    match assemble(trace, config) {
        Ok(Outcome::Envelope { json, notes }) => {
            let bytes = serde_json::to_vec(&json).unwrap_or_else(|e| panic!("{e}"));
            if let Err(e) = envelope::parse(&bytes) {
                panic!("envelope fails the schema: {e:?}\n{json:#}");
            }
            (json, notes.into_iter().collect())
        }
        other => panic!("expected an envelope, got {other:?}"),
    }
}

fn skipped(trace: &Trace<'_>) -> (Skip, String) {
    match assemble(trace, &Config::default()) {
        Ok(Outcome::Skipped { reason, detail }) => (reason, detail),
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn config(json: Value) -> Config {
    Config::parse(&json.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn shipping_config(tmp: &TempDir) -> Config {
    // The module's deploy directory, as `/app/` is in the service's image.
    config(json!({"strip_prefixes": [format!("{}/srv/app/", tmp.0.display())]}))
}

#[test]
fn python_service_with_the_capture_package() {
    let (tmp, traceback) = shipping_traceback("py", 0);
    let trace = shipping_trace(&traceback);
    let (env, notes) = envelope_of(&trace, &shipping_config(&tmp));
    assert!(notes.is_empty(), "{notes:?}");
    let truth = shipping_truth();

    let trace_hex = "ab".repeat(16);
    assert_eq!(
        env["envelope_id"],
        format!("env-{trace_hex}-{}", "01".repeat(8))
    );
    assert_eq!(
        env["identity"],
        json!({
            "trace_id": trace_hex, "span_id": "0101010101010101",
            "service": {"name": "wsgi-shipping", "version": "1.9.0", "namespace": "logistics"},
            "commit": COMMIT.to_ascii_lowercase(),
            "timestamp": "2026-12-07T04:00:00.031000000Z",
        })
    );

    let ex = &env["symptom"]["exception"];
    assert_eq!(ex["type"], "ZeroDivisionError");
    assert_eq!(ex["message_redacted"], "float division by zero");
    assert_eq!(
        ex["message_hash"],
        crate::message::hash("float division by zero")
    );
    // The in-app frames are the service's, innermost first, as truth.json
    // lists them; wsgiref's frame is the standard library's.
    let frames = ex["frames"].as_array().cloned().unwrap_or_default();
    let in_app: Vec<Value> = frames
        .iter()
        .filter(|f| f["in_app"] == true)
        .map(|f| json!({"file": f["file"], "function": f["function"], "line": f["line"]}))
        .collect();
    assert_eq!(Value::Array(in_app), truth["frames"]);
    let outer = frames.last().unwrap_or_else(|| panic!("frames"));
    assert_eq!(
        (outer["function"].as_str(), outer["in_app"].as_bool()),
        (Some("run"), Some(false))
    );
    assert_eq!(frames[0]["module"], "app");
    assert_eq!(env["symptom"]["status_code"], 500);

    let req = &truth["failing_request"];
    assert_eq!(
        env["inputs"],
        json!({
            "protocol": "http", "method": "POST", "route": "/shipments/quote",
            "path": "/shipments/quote",
            "query": {"dry_run": "1", "carrier": ["dhl", "ups"]},
            "headers": {
                "content-type": "application/json",
                "x-request-id": req["headers"]["x-request-id"],
                "user-agent": req["headers"]["user-agent"],
            },
            "body": req["body"],
        })
    );
    assert_eq!(
        env["environment"],
        json!({
            "runtime": {"name": "cpython", "version": "3.12.3"},
            "locale": "de_DE.UTF-8", "timezone": "Europe/Berlin",
            "feature_flags": {"tiered_pricing": true},
        })
    );
    assert!(env.get("state").is_none());
    let timing = &env["timing"];
    assert_eq!(timing["start_time"], "2026-12-07T04:00:00.000000000Z");
    assert_eq!(timing["duration_ms"], 40.0);
    let spans = timing["spans"].as_array().cloned().unwrap_or_default();
    let marks: Vec<(&str, bool)> = spans
        .iter()
        .map(|s| (s["name"].as_str().unwrap_or(""), s["critical_path"] == true))
        .collect();
    // plan (2..10 ms) then rates (10..30 ms) run one after the other: both
    // are on the path to the server span's end.
    assert_eq!(
        marks,
        [
            ("POST /shipments/quote", true),
            ("plan_shipment", true),
            ("GET rates", true)
        ]
    );
    assert_eq!(spans[1]["parent_span_id"], "0101010101010101");
    assert_eq!(spans[2]["duration_ms"], 20.0);
    for s in &spans {
        assert_eq!(s["service"], "wsgi-shipping", "{s}");
    }
    let errors: Vec<bool> = spans.iter().map(|s| s["error"] == true).collect();
    assert_eq!(errors, [true, false, false]);
}

/// The shipping trace with its rates call answered by a second service,
/// `rates`, whose server span and cache span end with status `ERROR` (a 503,
/// no exception): the envelope is still the shipping service's (its
/// exception is the trace's), and each span row names its own service and
/// error mark.
#[test]
fn a_two_service_trace_names_each_spans_service_and_error() {
    let (tmp, traceback) = shipping_traceback("two-services", 0);
    let mut trace = shipping_trace(&traceback);
    trace.resources.push(python_resource("rates"));
    trace.spans.push(Span {
        trace_id: &TRACE_ID,
        span_id: id(4),
        parent_span_id: id(3),
        name: "GET /rates",
        kind: KIND_SERVER,
        start: T0 + 11 * MS,
        end: T0 + 29 * MS,
        error: true,
        attrs: attrs(&[("http.response.status_code", Attr::Int(503))]),
        resource: 1,
        ..Span::default()
    });
    trace.spans.push(Span {
        trace_id: &TRACE_ID,
        span_id: id(5),
        parent_span_id: id(4),
        name: "cache get",
        start: T0 + 12 * MS,
        end: T0 + 28 * MS,
        error: true,
        resource: 1,
        ..Span::default()
    });
    let (env, _) = envelope_of(&trace, &shipping_config(&tmp));
    assert_eq!(env["identity"]["service"]["name"], "wsgi-shipping");
    let rows: Vec<(String, String, bool, bool)> = env["timing"]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_owned(),
                s["service"].as_str().unwrap_or("").to_owned(),
                s["error"] == true,
                s["critical_path"] == true,
            )
        })
        .collect();
    let row = |name: &str, service: &str, error: bool, critical: bool| {
        (name.to_owned(), service.to_owned(), error, critical)
    };
    assert_eq!(
        rows,
        [
            row("POST /shipments/quote", "wsgi-shipping", true, true),
            row("plan_shipment", "wsgi-shipping", false, true),
            row("GET rates", "wsgi-shipping", false, true),
            row("GET /rates", "rates", true, true),
            row("cache get", "rates", true, true),
        ]
    );
}

#[test]
fn fingerprint_survives_moved_lines_and_splits_routes_and_types() {
    let fp = |env: &Value| {
        env["symptom"]["fingerprint"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let (tmp, tb) = shipping_traceback("fp-a", 0);
    let (a, _) = envelope_of(&shipping_trace(&tb), &shipping_config(&tmp));
    let (tmp_b, moved) = shipping_traceback("fp-b", 7);
    assert_ne!(
        tb.replace(&tmp.0.display().to_string(), ""),
        moved.replace(&tmp_b.0.display().to_string(), "")
    );
    let (b, _) = envelope_of(&shipping_trace(&moved), &shipping_config(&tmp_b));
    assert_eq!(
        b["symptom"]["exception"]["frames"][0]["line"], 33,
        "the lines moved"
    );
    assert_eq!(fp(&a), fp(&b));
    assert_eq!(fp(&a).len(), 32);

    let mut other_route = shipping_trace(&tb);
    other_route.spans[0]
        .attrs
        .retain(|(k, _)| *k != "http.route");
    other_route.spans[0]
        .attrs
        .push(("http.route", Attr::Str("/v2/shipments/quote")));
    let (c, _) = envelope_of(&other_route, &shipping_config(&tmp));
    assert_ne!(fp(&a), fp(&c));

    let mut other_type = shipping_trace(&tb);
    other_type.spans[0].events[1] =
        exception_event("ValueError", "float division by zero", &tb, T0 + 31 * MS);
    let (d, _) = envelope_of(&other_type, &shipping_config(&tmp));
    assert_ne!(fp(&a), fp(&d));
}

/// A service with no package of ours: only the semantic conventions'
/// HTTP server attributes and `record_exception`; old attribute names.
#[test]
fn plain_semantic_conventions_yield_a_reproducible_envelope() {
    let (tmp, tb) = shipping_traceback("plain", 0);
    let trace = Trace {
        resources: vec![attrs(&[
            ("service.name", Attr::Str("wsgi-metrics")),
            ("vcs.ref.head.revision", Attr::Str("9c0d7b1")),
            ("telemetry.sdk.language", Attr::Str("python")),
        ])],
        spans: vec![Span {
            trace_id: &TRACE_ID,
            span_id: id(7),
            name: "GET /metrics/window",
            kind: KIND_SERVER,
            start: T0,
            end: T0 + 5 * MS,
            error: true,
            attrs: attrs(&[
                ("http.method", Attr::Str("GET")),
                (
                    "http.target",
                    Attr::Str("/metrics/window?window=15m&tag=a%2Fb"),
                ),
                ("http.status_code", Attr::Int(500)),
                ("http.request.header.accept_language", strs(&["de-DE"])),
            ]),
            events: vec![exception_event(
                "ZeroDivisionError",
                "float division by zero",
                &tb,
                T0 + 4 * MS,
            )],
            ..Span::default()
        }],
        logs: vec![],
    };
    let (env, notes) = envelope_of(&trace, &shipping_config(&tmp));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        env["inputs"],
        json!({
            "protocol": "http", "method": "GET", "route": "/metrics/window",
            "path": "/metrics/window", "query": {"window": "15m", "tag": "a/b"},
            "headers": {"accept-language": "de-DE"},
        })
    );
    assert_eq!(env["identity"]["commit"], "9c0d7b1");
    assert_eq!(env["environment"], json!({"runtime": {"name": "python"}}));
}

/// A JVM service: the trace `java` prints for a real exception with a
/// cause, read with the JVM parser (hinted by `telemetry.sdk.language`).
#[test]
fn java_trace() {
    let tmp = TempDir::new("java");
    let src = tmp.0.join("Checkout.java");
    write(
        &src,
        "package shop;\n\npublic class Checkout {\n    static int parse(String raw) {\n        return Integer.parseInt(raw);\n    }\n\n    static int total(String raw) {\n        try {\n            return parse(raw) * 2;\n        } catch (NumberFormatException e) {\n            throw new IllegalArgumentException(\"bad order \" + raw + \" of user 4711\", e);\n        }\n    }\n\n    public static void main(String[] args) {\n        try {\n            total(\"x17\");\n        } catch (RuntimeException e) {\n            e.printStackTrace();\n        }\n    }\n}\n",
    );
    let out = Command::new("java")
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("java is needed for this test: {e}"));
    let stack = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stack.starts_with("java.lang.IllegalArgumentException: bad order x17"),
        "{stack}"
    );
    let trace = Trace {
        resources: vec![attrs(&[
            ("service.name", Attr::Str("checkout-jvm")),
            ("vcs.ref.head.revision", Attr::Str(COMMIT)),
            ("telemetry.sdk.language", Attr::Str("java")),
            (
                "process.runtime.name",
                Attr::Str("OpenJDK Runtime Environment"),
            ),
            ("process.runtime.version", Attr::Str("21.0.5+11")),
        ])],
        spans: vec![Span {
            trace_id: &TRACE_ID,
            span_id: id(9),
            name: "POST /orders",
            kind: KIND_SERVER,
            start: T0,
            end: T0 + MS,
            error: true,
            attrs: attrs(&[
                ("http.request.method", Attr::Str("POST")),
                ("url.path", Attr::Str("/orders")),
                ("http.route", Attr::Str("/orders")),
            ]),
            events: vec![exception_event(
                "java.lang.IllegalArgumentException",
                "bad order x17 of user 4711",
                &stack,
                T0 + MS / 2,
            )],
            ..Span::default()
        }],
        logs: vec![],
    };
    let (env, notes) = envelope_of(&trace, &config(json!({"in_app_prefixes": ["shop/"]})));
    assert!(notes.is_empty(), "{notes:?}\n{stack}");
    let ex = &env["symptom"]["exception"];
    assert_eq!(ex["type"], "java.lang.IllegalArgumentException");
    assert_eq!(ex["message_redacted"], "bad order x17 of user <num>");
    let frames = ex["frames"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        (
            frames[0]["function"].as_str(),
            frames[0]["file"].as_str(),
            frames[0]["line"].as_u64()
        ),
        (Some("total"), Some("shop/Checkout.java"), Some(12))
    );
    assert_eq!(frames[0]["module"], "shop.Checkout");
    assert_eq!(frames[0]["in_app"], true);
    assert_eq!(
        env["environment"]["runtime"]["name"],
        "OpenJDK Runtime Environment"
    );
}

/// A Node service: `err.stack` of a real TypeError, with a dependency frame
/// under `node_modules` and Node's own frames.
#[test]
fn node_trace() {
    let tmp = TempDir::new("node");
    write(
        &tmp.0.join("app/node_modules/fakelib/index.js"),
        "exports.sum = function sum(xs, f) {\n  return xs.reduce((a, x) => a + f(x), 0);\n};\n",
    );
    write(
        &tmp.0.join("app/src/cart.js"),
        "'use strict';\nconst lib = require('fakelib');\n\nfunction price(item) {\n  return item.price.amount;\n}\n\nexports.checkout = function checkout(items) {\n  return lib.sum(items, price);\n};\n",
    );
    write(
        &tmp.0.join("app/index.js"),
        "const { checkout } = require('./src/cart');\ntry {\n  checkout([{ price: null }]);\n} catch (e) {\n  console.log(e.stack);\n}\n",
    );
    let out = Command::new("node")
        .arg(tmp.0.join("app/index.js"))
        .output()
        .unwrap_or_else(|e| panic!("node is needed for this test: {e}"));
    let stack = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stack.starts_with("TypeError: Cannot read properties of null"),
        "{stack}"
    );
    let trace = Trace {
        resources: vec![attrs(&[
            ("service.name", Attr::Str("cart-node")),
            ("vcs.ref.head.revision", Attr::Str(COMMIT)),
            ("telemetry.sdk.language", Attr::Str("nodejs")),
            ("process.runtime.name", Attr::Str("nodejs")),
        ])],
        spans: vec![Span {
            trace_id: &TRACE_ID,
            span_id: id(4),
            name: "POST /cart/checkout",
            kind: KIND_SERVER,
            start: T0,
            end: T0 + MS,
            error: true,
            attrs: attrs(&[
                ("http.request.method", Attr::Str("POST")),
                ("url.path", Attr::Str("/cart/checkout")),
            ]),
            events: vec![exception_event(
                "TypeError",
                "Cannot read properties of null (reading 'amount')",
                &stack,
                T0 + MS / 2,
            )],
            ..Span::default()
        }],
        logs: vec![],
    };
    let strip = format!("{}/app/", tmp.0.display());
    let (env, _) = envelope_of(&trace, &config(json!({"strip_prefixes": [strip]})));
    let frames = env["symptom"]["exception"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let summary: Vec<(String, bool)> = frames
        .iter()
        .take(4)
        .map(|f| {
            (
                format!(
                    "{}:{}",
                    f["file"].as_str().unwrap_or(""),
                    f["function"].as_str().unwrap_or("")
                ),
                f["in_app"] == true,
            )
        })
        .collect();
    assert_eq!(
        summary[0],
        ("src/cart.js:price".to_owned(), true),
        "{summary:?}"
    );
    assert!(!summary[1].1, "the dependency's frame: {summary:?}");
    assert!(summary[1].0.starts_with("fakelib/index.js"), "{summary:?}");
    assert!(
        frames
            .iter()
            .any(|f| f["function"] == "checkout" && f["in_app"] == true),
        "{frames:?}"
    );
    // No route: the path stands in.
    assert_eq!(env["inputs"]["route"], "/cart/checkout");
}

fn with_stacktrace(stack: &str) -> Trace<'static> {
    let mut trace = shipping_trace("placeholder");
    trace.spans[0].events = vec![exception_event("RuntimeError", "boom 17", stack, T0 + MS)];
    trace
}

#[test]
fn bad_stack_traces_give_what_could_be_read() {
    let (tmp, tb) = shipping_traceback("bad", 0);
    let cfg = shipping_config(&tmp);
    // Truncated in the middle of a frame.
    let cut = &tb[..tb.find("in quote").unwrap_or(tb.len() / 2) + 8];
    let (env, notes) = envelope_of(&with_stacktrace(cut), &cfg);
    assert!(notes.contains(&Note::StacktracePartial), "{notes:?}");
    let frames = env["symptom"]["exception"]["frames"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(frames >= 1, "{env:#}");
    // Garbled: frames interleaved with other output.
    let garbled = tb.replace(
        "    return round",
        "[worker 3] INFO something else\n    return round",
    );
    let (_, notes) = envelope_of(&with_stacktrace(&garbled), &cfg);
    assert!(notes.contains(&Note::StacktracePartial), "{notes:?}");
    // An unknown runtime, binary junk: no frames, an envelope all the same.
    for junk in [
        "#0 0x00007f in ?? () from /lib/libc.so.6\n#1 main",
        "\u{1}\u{2}\u{fffd}\u{fffd}",
    ] {
        let (env, notes) = envelope_of(&with_stacktrace(junk), &cfg);
        assert_eq!(env["symptom"]["exception"]["frames"], json!([]), "{junk:?}");
        assert!(
            notes.contains(&Note::StacktraceUnparsed),
            "{junk:?}: {notes:?}"
        );
        assert_eq!(
            env["symptom"]["exception"]["message_redacted"],
            "boom <num>"
        );
    }
    // Blank: as good as none.
    let (_, notes) = envelope_of(&with_stacktrace(" \n "), &cfg);
    assert!(notes.contains(&Note::NoStacktrace), "{notes:?}");
    // No stack trace attribute at all.
    let mut trace = shipping_trace("x");
    trace.spans[0].events = vec![Event {
        name: "exception",
        time: T0,
        attrs: attrs(&[("exception.type", Attr::Str("KeyError"))]),
    }];
    let (env, notes) = envelope_of(&trace, &cfg);
    assert!(notes.contains(&Note::NoStacktrace));
    assert!(env["symptom"]["exception"].get("message_hash").is_none());
}

#[test]
fn frames_are_capped_innermost_first() {
    let mut tb = String::from("Traceback (most recent call last):\n");
    for i in 0..400 {
        tb.push_str(&format!(
            "  File \"/app/shop/deep.py\", line {}, in f{i}\n    f()\n",
            i + 1
        ));
    }
    tb.push_str("RecursionError: maximum recursion depth exceeded\n");
    let (env, notes) = envelope_of(&with_stacktrace(&tb), &config(json!({"max_frames": 256})));
    let frames = env["symptom"]["exception"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(frames.len(), 256);
    assert_eq!(frames[0]["function"], "f399");
    assert!(notes.contains(&Note::FramesCapped));
}

#[test]
fn a_trace_without_a_commit_says_which_attribute_to_set() {
    let mut trace = shipping_trace("x");
    trace.resources[0].retain(|(k, _)| *k != "vcs.ref.head.revision");
    let (reason, detail) = skipped(&trace);
    assert_eq!(reason, Skip::NoCommit);
    assert!(detail.contains("`vcs.ref.head.revision`"), "{detail}");
    assert!(detail.contains("wsgi-shipping"), "{detail}");
    // A configured fallback attribute is read.
    trace.resources[0].push(("git.commit.sha", Attr::Str("ABCDEF0")));
    let cfg = config(json!({"commit_attributes": ["vcs.ref.head.revision", "git.commit.sha"]}));
    match assemble(&trace, &cfg) {
        Ok(Outcome::Envelope { json, .. }) => assert_eq!(json["identity"]["commit"], "abcdef0"),
        other => panic!("{other:?}"),
    }
    trace.resources[0].push(("vcs.ref.head.revision", Attr::Str("main")));
    let (reason, detail) = skipped(&trace);
    assert_eq!(reason, Skip::InvalidCommit);
    assert!(detail.contains("\"main\""), "{detail}");
}

#[test]
fn traces_without_an_error_or_a_request_yield_nothing() {
    let mut trace = shipping_trace("x");
    for s in &mut trace.spans {
        s.error = false;
        s.events.retain(|e| e.name != "exception");
    }
    assert_eq!(skipped(&trace).0, Skip::NoError);

    // The failure is in a consumer span: no server span above it.
    let mut trace = shipping_trace("x");
    trace.spans[0].kind = 5;
    assert_eq!(skipped(&trace).0, Skip::NoServerSpan);

    let mut trace = shipping_trace("x");
    trace.resources[0].retain(|(k, _)| *k != "service.name");
    assert_eq!(skipped(&trace).0, Skip::NoService);
    trace.resources[0].push(("service.name", Attr::Str("my service")));
    assert_eq!(skipped(&trace).0, Skip::NoService);

    let mut trace = shipping_trace("x");
    trace.spans[0]
        .attrs
        .retain(|(k, _)| *k != "http.request.method");
    trace.spans[0]
        .attrs
        .push(("http.request.method", Attr::Str("CONNECT")));
    assert_eq!(skipped(&trace).0, Skip::NoMethod);

    // Status ERROR and nothing naming the failure.
    let mut trace = shipping_trace("x");
    trace.spans[0].events.clear();
    trace.spans[0].attrs.retain(|(k, _)| *k != "error.type");
    assert_eq!(skipped(&trace).0, Skip::NoExceptionType);
}

#[test]
fn garbage_ids_are_a_clear_error() {
    let mut trace = shipping_trace("x");
    trace.spans[0].trace_id = &[1, 2, 3];
    match assemble(&trace, &Config::default()) {
        Err(e) => assert!(e.contains("trace id is 3 bytes (010203)"), "{e}"),
        other => panic!("{other:?}"),
    }
    let mut trace = shipping_trace("x");
    trace.spans[0].span_id = &[0; 8];
    match assemble(&trace, &Config::default()) {
        Err(e) => assert!(e.contains("span id"), "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A status-only failure (a 5xx without an exception, as the capture
/// package records it) and an exception recorded as a log record.
#[test]
fn status_only_and_log_record_exceptions() {
    let mut trace = shipping_trace("x");
    trace.spans[0].events.retain(|e| e.name != "exception");
    trace.spans[0].attrs.retain(|(k, _)| *k != "error.type");
    trace.spans[0].attrs.push(("error.type", Attr::Str("503")));
    let (env, _) = envelope_of(&trace, &Config::default());
    assert_eq!(env["symptom"]["exception"]["type"], "503");
    assert_eq!(env["symptom"]["exception"]["frames"], json!([]));
    assert_eq!(
        env["identity"]["timestamp"],
        "2026-12-07T04:00:00.040000000Z"
    );

    let (tmp, tb) = shipping_traceback("log", 0);
    let mut trace = shipping_trace(&tb);
    trace.spans[0].events.retain(|e| e.name != "exception");
    trace.logs.push(Log {
        span_id: id(2),
        time: T0 + 9 * MS,
        attrs: attrs(&[
            ("exception.type", Attr::Str("ZeroDivisionError")),
            ("exception.message", Attr::Str("float division by zero")),
            ("exception.stacktrace", Attr::Str(leak(tb.clone()))),
        ]),
        ..Log::default()
    });
    let (env, _) = envelope_of(&trace, &shipping_config(&tmp));
    // The failing span is the child that logged it; the request is its
    // server parent.
    assert_eq!(env["identity"]["span_id"], "0202020202020202");
    assert_eq!(env["inputs"]["path"], "/shipments/quote");
    assert_eq!(
        env["symptom"]["exception"]["frames"][0]["function"],
        "cost_per_parcel"
    );
}

#[test]
fn fixtures_bodies_and_pii_free_headers() {
    let mut trace = shipping_trace("x");
    let s = &mut trace.spans[0];
    s.attrs.push((
        "tracemend.fixture.db_rows",
        Attr::Str(r#"[{"sku":"LAMP-07","reorder_level":null}]"#),
    ));
    s.attrs
        .push(("http.request.header.cookie", strs(&["sid=tok_v1_aa"])));
    s.attrs
        .push(("http.request.header.x-api-key", strs(&["k"])));
    s.attrs.push((
        "http.request.header.proxy_authorization",
        strs(&["Basic x"]),
    ));
    let (env, _) = envelope_of(&trace, &Config::default());
    assert_eq!(env["state"]["fixtures"]["db_rows"][0]["sku"], "LAMP-07");
    let headers = env["inputs"]["headers"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for denied in [
        "authorization",
        "cookie",
        "x-api-key",
        "proxy-authorization",
    ] {
        assert!(!headers.contains_key(denied), "{denied}");
    }
    // A binary body, as the capture package records it (base64), stays text.
    let mut trace = shipping_trace("x");
    let s = &mut trace.spans[0];
    s.attrs
        .retain(|(k, _)| !k.starts_with("tracemend.http.request.body"));
    s.attrs
        .push(("tracemend.http.request.body", Attr::Str("iVBORw0KGgo=")));
    s.attrs
        .push(("tracemend.http.request.body.encoding", Attr::Str("base64")));
    let (env, notes) = envelope_of(&trace, &Config::default());
    assert_eq!(env["inputs"]["body"], "iVBORw0KGgo=");
    assert!(notes.contains(&Note::BodyText));
}
