//! Go panics and goroutine dumps.
//!
//! `panic: msg` (or `fatal error: msg`), then `goroutine N [state]:` blocks of
//! two-line frames: the call (`pkg.(*T).Method(args...)`) and its location
//! (`\t/path/file.go:12 +0x1d`). `created by pkg.f` ends a goroutine's stack
//! with the place it was started. The first goroutine is the one that failed;
//! the others (`GOTRACEBACK=all`) are kept as other threads.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{open_paren_of_last, push_message, split_line};

/// Parses a Go panic text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::Go),
        ..Parsed::default()
    };
    let mut ty: Option<String> = None;
    let mut message: Option<String> = None;
    let mut pending: Option<Frame> = None;
    let mut in_header = false;
    let mut last_unread = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        last_unread = false;
        if let Some(loc) = line.strip_prefix('\t')
            && let Some(mut frame) = pending.take()
        {
            if let Some((path, line_no, offset)) = parse_location(loc) {
                frame.file = Some(path.to_owned());
                frame.abs_path = Some(path.to_owned());
                frame.line = Some(line_no);
                frame.offset = offset;
                frame.origin = origin(frame.module.as_deref(), path);
                if let Some(e) = out.exceptions.last_mut() {
                    e.frames.push(frame);
                }
                continue;
            }
            out.note(Problem::UnreadLines);
            last_unread = true;
            continue;
        }
        let body = line.trim_start();
        if let Some(rest) = body.strip_prefix("panic: ") {
            // A re-panic (`[recovered]`) prints the later value indented;
            // the last one is what killed the program.
            ty = Some("panic".to_owned());
            message = Some(rest.trim_end_matches(" [recovered]").to_owned());
            in_header = true;
            continue;
        }
        if let Some(rest) = body.strip_prefix("fatal error: ") {
            ty = Some("fatal error".to_owned());
            message = Some(rest.to_owned());
            in_header = true;
            continue;
        }
        if let Some(thread) = goroutine_header(line) {
            let first = out.exceptions.is_empty();
            out.exceptions.push(Exception {
                ty: if first { ty.take() } else { None },
                message: if first { message.take() } else { None },
                thread: Some(thread),
                frames: Vec::new(),
                relation: if first {
                    Relation::Failure
                } else {
                    Relation::OtherThread
                },
                parent: (!first).then_some(0),
            });
            in_header = false;
            continue;
        }
        if line.is_empty() {
            in_header = false;
            continue;
        }
        if in_header {
            if line.starts_with("[signal ") {
                continue;
            }
            push_message(&mut message, line);
            continue;
        }
        if out.exceptions.is_empty() {
            continue;
        }
        if line == "...additional frames elided..." || line.starts_with("exit status ") {
            continue;
        }
        if let Some(frame) = parse_call(line) {
            if pending.replace(frame).is_some() {
                // A call line without its location line.
                out.note(Problem::UnreadLines);
            }
            continue;
        }
        // An interleaved line: a pending call still waits for its location.
        out.note(Problem::UnreadLines);
        last_unread = true;
    }
    if pending.is_some() || last_unread {
        out.note(Problem::Truncated);
    }
    if out.exceptions.is_empty() && ty.is_some() {
        // A panic header whose goroutine dump was cut off.
        out.exceptions.push(Exception {
            ty,
            message,
            ..Exception::default()
        });
        out.note(Problem::Truncated);
    }
    out
}

/// `goroutine 18 [running]:` → `goroutine 18`.
fn goroutine_header(line: &str) -> Option<String> {
    let rest = line.strip_prefix("goroutine ")?;
    let (id, state) = rest.split_once(' ')?;
    if !id.bytes().all(|b| b.is_ascii_digit()) || !state.starts_with('[') || !line.ends_with("]:") {
        return None;
    }
    Some(format!("goroutine {id}"))
}

/// `/path/file.go:12 +0x1d`.
fn parse_location(loc: &str) -> Option<(&str, u32, Option<u64>)> {
    let (where_, offset) = match loc.rsplit_once(" +0x") {
        Some((w, hex)) => (w, Some(u64::from_str_radix(hex, 16).ok()?)),
        None => (loc, None),
    };
    let (path, line) = split_line(where_)?;
    Some((path, line, offset))
}

/// `pkg/path.(*T).Method(0x1, ...)`, `created by pkg.f in goroutine 1`,
/// `panic({0x45ec60, 0xc00008a000})`.
fn parse_call(line: &str) -> Option<Frame> {
    let name = if let Some(rest) = line.strip_prefix("created by ") {
        rest.split(" in goroutine ").next().unwrap_or(rest)
    } else {
        &line[..open_paren_of_last(line)?]
    };
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (module, function) = match name[slash..].find('.') {
        Some(dot) => (Some(&name[..slash + dot]), &name[slash + dot + 1..]),
        None => (None, name),
    };
    Some(Frame {
        function: Some(function.to_owned()),
        module: module.map(str::to_owned),
        ..Frame::default()
    })
}

fn origin(package: Option<&str>, path: &str) -> Origin {
    let path = path.replace('\\', "/");
    if path.contains("/pkg/mod/") || path.contains("/vendor/") {
        return Origin::Dependency;
    }
    // Standard-library packages have no dot in their first element and live
    // under GOROOT's src/.
    let std_like =
        package.is_none_or(|p| p != "main" && !p.split('/').next().unwrap_or(p).contains('.'));
    let under_goroot = match package {
        Some(p) => path.contains(&format!("/src/{p}/")),
        None => path.contains("/src/runtime/"),
    };
    if std_like && under_goroot {
        Origin::Runtime
    } else {
        Origin::Application
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_locations() {
        let f = parse_call("main.(*T).At(...)").expect("call");
        assert_eq!(f.module.as_deref(), Some("main"));
        assert_eq!(f.function.as_deref(), Some("(*T).At"));
        let f = parse_call("github.com/a/b/pkg.Run.func1({0x1, 0x2})").expect("call");
        assert_eq!(f.module.as_deref(), Some("github.com/a/b/pkg"));
        assert_eq!(f.function.as_deref(), Some("Run.func1"));
        let f = parse_call("created by main.main in goroutine 1").expect("call");
        assert_eq!(f.function.as_deref(), Some("main"));
        assert_eq!(
            parse_location("/x/g.go:13 +0x30"),
            Some(("/x/g.go", 13, Some(0x30)))
        );
        assert_eq!(parse_location("/x/g.go:7"), Some(("/x/g.go", 7, None)));
        assert_eq!(parse_location("/x/g.go:7 +0xZZ"), None);
        assert_eq!(
            origin(None, "/usr/lib/go-1.19/src/runtime/panic.go"),
            Origin::Runtime
        );
        assert_eq!(
            origin(Some("net/http"), "/usr/local/go/src/net/http/server.go"),
            Origin::Runtime
        );
        assert_eq!(origin(Some("main"), "/src/main/x.go"), Origin::Application);
        assert_eq!(
            origin(Some("github.com/x/y"), "/go/pkg/mod/github.com/x/y@v1/a.go"),
            Origin::Dependency
        );
    }

    // Go 1.21 and later name the creating goroutine; GOTRACEBACK=all adds
    // the other goroutines.
    #[test]
    fn newer_created_by_and_other_goroutines() {
        let text = "panic: boom\n\ngoroutine 7 [running]:\nmain.work()\n\t/src/main.go:9 +0x25\n\
                    created by main.main in goroutine 1\n\t/src/main.go:14 +0x1f\n\n\
                    goroutine 1 [chan receive]:\nmain.main()\n\t/src/main.go:15 +0x3a\n";
        let p = parse(text);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let e = &p.exceptions[0];
        assert_eq!(e.thread.as_deref(), Some("goroutine 7"));
        let lines: Vec<_> = e
            .frames
            .iter()
            .map(|f| (f.function.as_deref(), f.line))
            .collect();
        assert_eq!(lines, [(Some("work"), Some(9)), (Some("main"), Some(14))]);
        let other = &p.exceptions[1];
        assert_eq!(
            (other.relation, other.thread.as_deref()),
            (Relation::OtherThread, Some("goroutine 1"))
        );
        assert_eq!(other.frames.len(), 1);
    }
}
