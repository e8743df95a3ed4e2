//! Failure signatures: find what a service printed when it failed (a Python traceback,
//! as text or inside a JSON log line, on stderr or stdout), and compare it with the
//! envelope's symptom. A failure reproduces when the exception
//! type is the same and the top in-app frame (innermost frame of the service's own code)
//! is the same function in the same file (and line, when both sides know it).

use serde::Serialize;
use serde_json::Value;

use envelope::{Exception, Frame};

/// An exception as observed in the sandbox.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Observed {
    pub exception_type: String,
    pub message: String,
    /// Innermost first; `file` relative to the repository root for in-app frames.
    pub frames: Vec<Frame>,
}

impl Observed {
    pub fn top_in_app_frame(&self) -> Option<&Frame> {
        self.frames.iter().find(|f| f.in_app)
    }
}

const TRACEBACK: &str = "Traceback (most recent call last):";

/// The failure a service reported: the last traceback on stderr, else the last one on
/// stdout (frameworks and JSON loggers often write there). In each stream, tracebacks
/// are read from plain text and from JSON log lines (any string field holding one, e.g.
/// `exc_info` of python-json-logger or `exception` of structlog), the latest one wins.
pub fn find_python_traceback(stderr: &str, stdout: &str, app_root: &str) -> Option<Observed> {
    last_traceback(stderr, app_root).or_else(|| last_traceback(stdout, app_root))
}

/// The latest traceback in one stream, plain or in a JSON log line.
fn last_traceback(text: &str, app_root: &str) -> Option<Observed> {
    if !text.contains(TRACEBACK) {
        return None;
    }
    // JSON lines are taken out of the text, so a traceback escaped inside one is never
    // misread as plain text; `plain_lines` maps the remaining lines back to their index.
    let mut plain = String::new();
    let mut plain_lines = Vec::new();
    let mut in_json: Option<(usize, Observed)> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some(embedded) = json_traceback(line) {
            if let Some(observed) = parse_python_traceback(&embedded, app_root) {
                in_json = Some((index, observed));
            }
            continue;
        }
        plain.push_str(line);
        plain.push('\n');
        plain_lines.push(index);
    }
    let in_text = plain.rfind(TRACEBACK).and_then(|at| {
        let line = plain[..at].matches('\n').count();
        parse_python_traceback(&plain[at..], app_root)
            .map(|o| (plain_lines.get(line).copied().unwrap_or(0), o))
    });
    match (in_text, in_json) {
        (Some(text), Some(json)) => Some(if json.0 > text.0 { json.1 } else { text.1 }),
        (text, json) => text.or(json).map(|(_, o)| o),
    }
}

/// The traceback held by a JSON log line, if the line is a JSON object with one.
fn json_traceback(line: &str) -> Option<String> {
    let line = line.trim();
    if !line.starts_with('{') || !line.contains(TRACEBACK) {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    find_string_with(&value, TRACEBACK).map(str::to_string)
}

fn find_string_with<'a>(value: &'a Value, needle: &str) -> Option<&'a str> {
    match value {
        Value::String(s) if s.contains(needle) => Some(s),
        Value::Object(map) => map.values().find_map(|v| find_string_with(v, needle)),
        Value::Array(items) => items.iter().find_map(|v| find_string_with(v, needle)),
        _ => None,
    }
}

/// Parses the last Python traceback in `text`. Frames under `app_root` (the repository
/// in the container) and outside `site-packages`/`dist-packages` are in-app.
pub fn parse_python_traceback(text: &str, app_root: &str) -> Option<Observed> {
    let start = text.rfind(TRACEBACK)?;
    let block = &text[start..];
    let root = format!("{}/", app_root.trim_end_matches('/'));
    let mut frames = Vec::new();
    let mut exception: Option<(String, String)> = None;
    for line in block.lines().skip(1) {
        if let Some(rest) = line.strip_prefix("  File \"") {
            frames.push(parse_frame(rest, &root));
            continue;
        }
        if line.starts_with(' ') || line.is_empty() {
            continue;
        }
        // First unindented line after the frames: `Type: message` or `Type`.
        let (ty, msg) = match line.split_once(": ") {
            Some((t, m)) => (t, m),
            None => (line.trim_end_matches(':'), ""),
        };
        if ty.is_empty() || ty.contains(' ') {
            break;
        }
        exception = Some((ty.to_string(), msg.to_string()));
        break;
    }
    let (exception_type, message) = exception?;
    frames.reverse();
    Some(Observed {
        exception_type,
        message,
        frames,
    })
}

/// `rest` is what follows `  File "` in `  File "/app/app.py", line 18, in quote`.
fn parse_frame(rest: &str, root: &str) -> Frame {
    let (path, tail) = rest.split_once('"').unwrap_or((rest, ""));
    let mut line = None;
    let mut function = String::from("<unknown>");
    for part in tail.split(", ") {
        if let Some(n) = part.trim().strip_prefix("line ") {
            line = n.trim().parse().ok();
        } else if let Some(f) = part.trim().strip_prefix("in ") {
            function = f.trim().to_string();
        }
    }
    let in_app = path.starts_with(root)
        && !path.contains("/site-packages/")
        && !path.contains("/dist-packages/");
    let file = if in_app {
        path[root.len()..].to_string()
    } else {
        path.to_string()
    };
    Frame {
        file: Some(file),
        line,
        function,
        module: None,
        in_app,
    }
}

fn normalize_path(p: &str) -> &str {
    p.trim_start_matches("./").trim_start_matches('/')
}

fn same_type(expected: &str, observed: &str) -> bool {
    expected == observed
        || observed.ends_with(&format!(".{expected}"))
        || expected.ends_with(&format!(".{observed}"))
}

fn describe(frame: Option<&Frame>) -> String {
    match frame {
        None => "none".to_string(),
        Some(f) => format!(
            "{} in {}{}",
            f.function,
            f.file.as_deref().unwrap_or("?"),
            f.line.map(|l| format!(":{l}")).unwrap_or_default()
        ),
    }
}

/// What differs between the envelope's exception and the observed one (empty: a match).
pub fn differences(expected: &Exception, observed: &Observed) -> Vec<String> {
    let mut diffs = Vec::new();
    if !same_type(&expected.exception_type, &observed.exception_type) {
        diffs.push(format!(
            "exception type: expected {}, observed {}",
            expected.exception_type, observed.exception_type
        ));
    }
    let want = expected.top_in_app_frame();
    let got = observed.top_in_app_frame();
    let frame_matches = match (want, got) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(g)) => {
            w.function == g.function
                && match (&w.file, &g.file) {
                    (Some(wf), Some(gf)) => {
                        let (wf, gf) = (normalize_path(wf), normalize_path(gf));
                        wf == gf
                            || wf.ends_with(&format!("/{gf}"))
                            || gf.ends_with(&format!("/{wf}"))
                    }
                    _ => true,
                }
                && match (w.line, g.line) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        }
    };
    if !frame_matches {
        diffs.push(format!(
            "top in-app frame: expected {}, observed {}",
            describe(want),
            describe(got)
        ));
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"----------------------------------------
Exception occurred during processing of request from ('127.0.0.1', 40000)
Traceback (most recent call last):
  File "/usr/lib/python3.11/socketserver.py", line 317, in _handle_request_noblock
    self.process_request(request, client_address)
  File "/app/app.py", line 31, in do_POST
    quote = shipping_quote(body)
            ^^^^^^^^^^^^^^^^^^^^
  File "/app/app.py", line 18, in shipping_quote
    return RATES[address["postcode"]]
                 ~~~~~~~^^^^^^^^^^^^
KeyError: 'postcode'
----------------------------------------
"#;

    fn expected(ty: &str, function: &str, line: u32) -> Exception {
        Exception {
            exception_type: ty.to_string(),
            message_redacted: None,
            message_hash: None,
            frames: vec![Frame {
                file: Some("app.py".into()),
                line: Some(line),
                function: function.into(),
                module: None,
                in_app: true,
            }],
        }
    }

    #[test]
    fn parses_innermost_first_with_in_app() {
        let o = parse_python_traceback(TRACE, "/app").expect("parsed");
        assert_eq!(o.exception_type, "KeyError");
        assert_eq!(o.message, "'postcode'");
        assert_eq!(o.frames.len(), 3);
        let top = o.top_in_app_frame().expect("top");
        assert_eq!(
            (top.function.as_str(), top.file.as_deref(), top.line),
            ("shipping_quote", Some("app.py"), Some(18))
        );
        assert!(!o.frames[2].in_app);
    }

    #[test]
    fn last_traceback_wins_and_bare_types_parse() {
        let text = format!(
            "{TRACE}\nTraceback (most recent call last):\n  File \"/app/x.py\", line 2, in f\n    g()\nStopIteration\n"
        );
        let o = parse_python_traceback(&text, "/app/").expect("parsed");
        assert_eq!(o.exception_type, "StopIteration");
        assert_eq!(o.frames[0].file.as_deref(), Some("x.py"));
    }

    #[test]
    fn no_traceback_is_none() {
        assert!(parse_python_traceback("all good\n", "/app").is_none());
    }

    #[test]
    fn match_and_mismatch() {
        let o = parse_python_traceback(TRACE, "/app").expect("parsed");
        assert!(differences(&expected("KeyError", "shipping_quote", 18), &o).is_empty());
        let d = differences(&expected("ValueError", "shipping_quote", 18), &o);
        assert_eq!(
            d,
            vec!["exception type: expected ValueError, observed KeyError"]
        );
        let d = differences(&expected("KeyError", "do_POST", 31), &o);
        assert!(
            d[0].starts_with("top in-app frame: expected do_POST in app.py:31"),
            "{d:?}"
        );
        let d = differences(&expected("KeyError", "shipping_quote", 19), &o);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn qualified_types_match_their_short_name() {
        assert!(same_type("JSONDecodeError", "json.decoder.JSONDecodeError"));
        assert!(!same_type("Error", "KeyError"));
    }

    #[test]
    fn tracebacks_are_found_on_stdout_and_in_json_log_lines() {
        // Plain text on stdout (a framework logging to stdout), nothing on stderr.
        let o = find_python_traceback("GET /quote 500\n", TRACE, "/app").expect("stdout");
        assert_eq!(o.exception_type, "KeyError");
        // stderr wins when both have one.
        let other = "Traceback (most recent call last):\n  File \"/app/x.py\", line 2, in f\n    g()\nValueError: v\n";
        let o = find_python_traceback(other, TRACE, "/app").expect("stderr");
        assert_eq!(o.exception_type, "ValueError");
        // A JSON log line (python-json-logger style) with the traceback in `exc_info`,
        // between ordinary JSON lines.
        let json_line = serde_json::json!({
            "levelname": "ERROR",
            "message": "Exception on /quote [POST]",
            "exc_info": TRACE.trim_start_matches(|c| c != 'T'),
        })
        .to_string();
        let stdout = format!(
            "{{\"levelname\": \"INFO\", \"message\": \"started\"}}\n{json_line}\n{{\"message\": \"GET /quote 500\"}}\n"
        );
        let o = find_python_traceback("", &stdout, "/app").expect("json line");
        assert_eq!(o.exception_type, "KeyError");
        assert_eq!(
            o.top_in_app_frame().map(|f| f.function.as_str()),
            Some("shipping_quote")
        );
        // Nested (structlog's `event` dict) and the latest of text and JSON wins.
        let nested = serde_json::json!({ "event": { "exception": other } }).to_string();
        let mixed = format!("{TRACE}{nested}\n");
        let o = find_python_traceback("", &mixed, "/app").expect("mixed");
        assert_eq!(o.exception_type, "ValueError");
        let mixed = format!("{nested}\n{TRACE}");
        let o = find_python_traceback("", &mixed, "/app").expect("mixed");
        assert_eq!(o.exception_type, "KeyError");
        // A JSON line mentioning tracebacks without one, and broken JSON, are not failures.
        let noise = "{\"message\": \"Traceback (most recent call last): none\"}\n{broken Traceback (most recent call last):\n";
        assert!(find_python_traceback(noise, "", "/app").is_none());
    }
}
