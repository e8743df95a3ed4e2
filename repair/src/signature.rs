//! Failure signatures: parse what a service printed when it failed (a Python traceback),
//! and compare it with the envelope's symptom. A failure reproduces when the exception
//! type is the same and the top in-app frame (innermost frame of the service's own code)
//! is the same function in the same file (and line, when both sides know it).

use serde::Serialize;

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

/// Parses the last Python traceback in `text`. Frames under `app_root` (the repository
/// in the container) and outside `site-packages`/`dist-packages` are in-app.
pub fn parse_python_traceback(text: &str, app_root: &str) -> Option<Observed> {
    let start = text.rfind("Traceback (most recent call last):")?;
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
}
