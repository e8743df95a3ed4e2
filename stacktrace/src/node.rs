//! V8 `Error.stack` text as Node.js prints it.
//!
//! A header (`TypeError: message`, possibly several lines) and `    at` lines,
//! innermost first: `at fn (path:line:col)`, `at path:line:col`,
//! `at async fn (...)`, `at new Ctor (...)`, `at obj.fn [as alias] (...)`,
//! `at fn (<anonymous>)`, `at eval (eval at outer (path:l:c), <anonymous>:1:1)`.
//! `node:` URLs and `internal/` paths are Node's own code, `node_modules`
//! dependencies.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{open_paren_of_last, push_message, split_line_col, type_and_message};

/// Parses a Node.js stack text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::Node),
        ..Parsed::default()
    };
    let mut last_unread = false;
    // A blank line before the first frame ends the source excerpt Node prints
    // above an uncaught error (`file.js:2`, the line, a caret): the header
    // comes after it.
    let mut header_ended = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        let body = line.trim_start();
        last_unread = false;
        if body.is_empty() {
            header_ended = out.exceptions.last().is_some_and(|e| e.frames.is_empty());
            continue;
        }
        if header_ended {
            header_ended = false;
            if line == body
                && let Some((ty, message)) = type_and_message(strip_uncaught(body), is_error_type)
                && let Some(e) = out.exceptions.last_mut()
            {
                e.ty = Some(ty);
                e.message = message;
                continue;
            }
        }
        if let Some(rest) = body.strip_prefix("[cause]: ")
            && let Some(parent) = out.exceptions.len().checked_sub(1)
        {
            // `util.inspect` (uncaught errors) prints `error.cause` inside
            // the error's property block, its frames indented further.
            let (ty, message) = match type_and_message(rest, is_error_type) {
                Some((ty, message)) => (Some(ty), message),
                None => (None, Some(rest.to_owned())),
            };
            out.exceptions.push(Exception {
                ty,
                message,
                relation: Relation::Cause,
                parent: Some(parent),
                ..Exception::default()
            });
            continue;
        }
        if body.starts_with("... ") && body.ends_with(" lines matching cause stack trace ...") {
            // Frames shared with the cause, printed once there.
            continue;
        }
        if out.exceptions.last().is_some_and(|e| !e.frames.is_empty()) && is_epilogue(line) {
            continue;
        }
        if let Some(rest) = body.strip_prefix("at ") {
            // Node appends ` {` when it dumps the error's own properties.
            let rest = rest.strip_suffix(" {").unwrap_or(rest);
            if let Some(frame) = parse_frame(rest) {
                if out.exceptions.is_empty() {
                    // Frames without a header: the header was cut off.
                    out.note(Problem::Truncated);
                    out.exceptions.push(Exception::default());
                }
                if let Some(e) = out.exceptions.last_mut() {
                    e.frames.push(frame);
                }
                continue;
            }
        } else if let Some(e) = out.exceptions.last_mut()
            && e.frames.is_empty()
        {
            push_message(&mut e.message, line);
            continue;
        } else if line == body
            && let Some((ty, message)) = type_and_message(strip_uncaught(body), is_error_type)
        {
            let first = out.exceptions.is_empty();
            out.exceptions.push(Exception {
                ty: Some(ty),
                message,
                relation: if first {
                    Relation::Failure
                } else {
                    Relation::OtherThread
                },
                parent: (!first).then_some(0),
                ..Exception::default()
            });
            continue;
        }
        if !out.exceptions.is_empty() {
            out.note(Problem::UnreadLines);
            last_unread = true;
        }
    }
    if last_unread {
        out.note(Problem::Truncated);
    }
    out
}

/// What Node prints after an uncaught error's frames: its own properties
/// (`  code: 'ERR_X'`, `}`) and the version line.
fn is_epilogue(line: &str) -> bool {
    if line == "}" || line.starts_with("Node.js v") {
        return true;
    }
    line.strip_prefix("  ")
        .and_then(|l| l.split_once(": "))
        .is_some_and(|(key, _)| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'[' || b == b']')
        })
}

fn strip_uncaught(s: &str) -> &str {
    s.strip_prefix("Uncaught ").unwrap_or(s)
}

/// `TypeError`, `Error [ERR_X]`, `AbortError`, `MyError`: an identifier,
/// optionally followed by a bracketed code.
fn is_error_type(s: &str) -> bool {
    let name = s.split(" [").next().unwrap_or(s);
    if name == "file" || name == "node" || name == "http" || name == "https" {
        // `file:///x.mjs:2`, the location line above an uncaught error.
        return false;
    }
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.')
}

fn parse_frame(rest: &str) -> Option<Frame> {
    let (rest, is_async) = match rest.strip_prefix("async ") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (function, loc) = match open_paren_of_last(rest) {
        Some(open) if open > 0 => (
            Some(rest[..open].trim_end()),
            &rest[open + 1..rest.len() - 1],
        ),
        _ => (None, rest),
    };
    let mut frame = Frame {
        is_async,
        ..Frame::default()
    };
    if let Some(function) = function {
        let function = function.strip_prefix("new ").unwrap_or(function);
        let function = match function.find(" [as ") {
            Some(at) => &function[..at],
            None => function,
        };
        match function.split_once('.') {
            Some((module, f))
                if !module.is_empty() && !module.starts_with('<') && !f.is_empty() =>
            {
                frame.module = Some(module.to_owned());
                frame.function = Some(f.to_owned());
            }
            _ => frame.function = Some(function.to_owned()),
        }
    }
    let loc = eval_origin(loc);
    if loc == "native" || loc == "<anonymous>" || loc.starts_with("index ") {
        frame.origin = Origin::Runtime;
        return frame.function.is_some().then_some(frame);
    }
    let (path, line, column) = split_line_col(loc)?;
    // V8 always prints a column; a path with `(` is a cut-off `fn (path`.
    if column.is_none() || path.contains(" (") || path.starts_with('(') {
        return None;
    }
    frame.line = Some(line);
    frame.column = column;
    frame.abs_path = Some(path.to_owned());
    frame.origin = origin(path);
    if frame.origin != Origin::Runtime || path.contains('/') {
        frame.file = Some(path.to_owned());
    }
    Some(frame)
}

/// `eval at outer (path:l:c), <anonymous>:1:1` → `path:l:c`: the place the
/// eval was called from is the only location in the repository.
fn eval_origin(loc: &str) -> &str {
    let Some(rest) = loc.strip_prefix("eval at ") else {
        return loc;
    };
    let end = rest.find("), ").map_or(rest.len(), |e| e + 1);
    let inner = &rest[..end];
    match open_paren_of_last(inner) {
        Some(open) => &inner[open + 1..inner.len() - 1],
        None => inner,
    }
}

fn origin(path: &str) -> Origin {
    let unix = path.replace('\\', "/");
    if unix.starts_with("node:")
        || unix.starts_with("internal/")
        || unix.starts_with("evalmachine.")
    {
        Origin::Runtime
    } else if unix.contains("/node_modules/") || unix.starts_with("node_modules/") {
        Origin::Dependency
    } else {
        Origin::Application
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let f = parse_frame("C.m (/tmp/n.js:2:16)").expect("frame");
        assert_eq!(
            (f.module.as_deref(), f.function.as_deref()),
            (Some("C"), Some("m"))
        );
        assert_eq!((f.line, f.column), (Some(2), Some(16)));
        let f = parse_frame("async b (/tmp/n.js:4:21)").expect("frame");
        assert!(f.is_async);
        let f = parse_frame("Module._extensions..js (node:internal/modules/cjs/loader:1623:10)")
            .expect("frame");
        assert_eq!(f.function.as_deref(), Some("_extensions..js"));
        assert_eq!(f.origin, Origin::Runtime);
        let f = parse_frame("node:internal/main/run_main_module:28:49").expect("frame");
        assert!(f.function.is_none());
        let f = parse_frame("JSON.parse (<anonymous>)").expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        let f =
            parse_frame("Function.executeUserEntryPoint [as runMain] (x.js:1:2)").expect("frame");
        assert_eq!(f.function.as_deref(), Some("executeUserEntryPoint"));
        let f = parse_frame("file:///srv/a%20b.mjs:3:9").expect("frame");
        assert_eq!(f.file.as_deref(), Some("file:///srv/a%20b.mjs"));
        let f = parse_frame("eval (eval at run (/srv/x.js:5:3), <anonymous>:1:1)").expect("frame");
        assert_eq!((f.file.as_deref(), f.line), (Some("/srv/x.js"), Some(5)));
        let f = parse_frame("h (/srv/node_modules/express/lib/router.js:1:1)").expect("frame");
        assert_eq!(f.origin, Origin::Dependency);
        assert!(parse_frame("garbage here").is_none());
        assert!(parse_frame("f (/x.js:1:2").is_none());
        assert!(parse_frame("/x.js:12").is_none());
    }
}
