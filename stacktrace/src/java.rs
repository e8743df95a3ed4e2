//! JVM stack traces as `Throwable.printStackTrace` writes them (Java, Kotlin,
//! Scala).
//!
//! The first header is the failure; its frames are innermost first. `Caused by:`
//! starts the cause of the nearest exception printed at the same indentation,
//! `Suppressed:` (one tab deeper) an exception suppressed in it, and `... N more`
//! stands for the last N frames of the enclosing trace, which are copied in so
//! every exception carries its whole stack.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{digits, is_dotted_ident, push_message, split_line, type_and_message};

/// Parses a JVM stack-trace text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::Java),
        ..Parsed::default()
    };
    // The exceptions a later header can attach to: (header indentation,
    // index), indentation strictly increasing. A header pops every entry at
    // its indentation or deeper, so each lookup is paid for by a pop.
    let mut open: Vec<(usize, usize)> = Vec::new();
    // Frames copied for `... N more`, bounded so nested causes cannot make a
    // small text expand without limit.
    let mut copied = 0usize;
    let mut last_unread = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        let body = line.trim_start();
        let width = line.len() - body.len();
        last_unread = false;
        if body.is_empty() {
            continue;
        }
        if let Some(rest) = body.strip_prefix("at ") {
            if let Some(frame) = parse_frame(rest)
                && let Some(e) = out.exceptions.last_mut()
            {
                e.frames.push(frame);
                continue;
            }
        } else if let Some(n) = more_count(body) {
            if let Some(current) = out.exceptions.len().checked_sub(1) {
                copy_common(&mut out, current, n, &mut copied);
                continue;
            }
        } else if let Some(rest) = body.strip_prefix("Caused by: ") {
            // The cause of the latest exception printed at this indentation.
            let parent = open
                .iter()
                .rev()
                .find(|(w, _)| *w == width)
                .or(open.last())
                .map(|(_, i)| *i);
            if let Some(parent) = parent {
                push_exception(
                    &mut out,
                    &mut open,
                    rest,
                    width,
                    Relation::Cause,
                    Some(parent),
                );
                continue;
            }
        } else if let Some(rest) = body.strip_prefix("Suppressed: ") {
            let parent = open
                .iter()
                .rev()
                .find(|(w, _)| *w < width)
                .or(open.last())
                .map(|(_, i)| *i);
            if let Some(parent) = parent {
                push_exception(
                    &mut out,
                    &mut open,
                    rest,
                    width,
                    Relation::Suppressed,
                    Some(parent),
                );
                continue;
            }
        } else if is_header(body) {
            let relation = if out.exceptions.is_empty() {
                Relation::Failure
            } else {
                Relation::OtherThread
            };
            let parent = (!out.exceptions.is_empty()).then_some(0);
            push_exception(&mut out, &mut open, body, width, relation, parent);
            continue;
        } else if let Some(e) = out.exceptions.last_mut()
            && e.frames.is_empty()
        {
            // A multi-line message continues until the first frame.
            push_message(&mut e.message, body);
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

fn push_exception(
    out: &mut Parsed,
    open: &mut Vec<(usize, usize)>,
    header: &str,
    width: usize,
    relation: Relation,
    parent: Option<usize>,
) {
    let (thread, rest) = split_thread(header);
    let (ty, message) = match type_and_message(rest, |t| !t.is_empty() && !t.contains(' ')) {
        Some((ty, message)) => (Some(ty), message),
        None => (None, Some(rest.to_owned())),
    };
    out.exceptions.push(Exception {
        ty,
        message,
        thread,
        frames: Vec::new(),
        relation,
        parent,
    });
    while open.last().is_some_and(|(w, _)| *w >= width) {
        open.pop();
    }
    open.push((width, out.exceptions.len() - 1));
}

/// `Exception in thread "name" rest`.
fn split_thread(header: &str) -> (Option<String>, &str) {
    if let Some(rest) = header.strip_prefix("Exception in thread \"")
        && let Some((name, rest)) = rest.split_once("\" ")
    {
        return (Some(name.to_owned()), rest);
    }
    (None, header)
}

fn is_header(body: &str) -> bool {
    let (_, rest) = split_thread(body);
    let ty = rest.split_once(':').map_or(rest, |(t, _)| t);
    is_dotted_ident(ty) && ty.contains('.')
}

/// `... 3 more` (the JDK) or `... 3 common frames omitted` (logback).
fn more_count(body: &str) -> Option<usize> {
    let rest = body.strip_prefix("... ")?;
    let (n, tail) = rest.split_once(' ')?;
    if tail == "more" || tail == "common frames omitted" {
        digits(n).map(|n| n as usize)
    } else {
        None
    }
}

/// At most this many frames are copied for `... N more` lines in one text.
const MAX_COPIED_FRAMES: usize = 16_384;

/// Copies the enclosing trace's last `n` frames onto exception `current`.
fn copy_common(out: &mut Parsed, current: usize, n: usize, copied: &mut usize) {
    let parent = out.exceptions[current].parent;
    let common: Option<Vec<Frame>> = parent.and_then(|p| {
        let frames = &out.exceptions[p].frames;
        frames
            .len()
            .checked_sub(n)
            .map(|from| frames[from..].to_vec())
    });
    match common {
        Some(_) if *copied + n > MAX_COPIED_FRAMES => out.note(Problem::TooLong),
        Some(frames) => {
            *copied += n;
            out.exceptions[current].frames.extend(frames);
        }
        None => out.note(Problem::MissingCommonFrames),
    }
}

/// `[loader/][module[@version]/]pkg.Class.method(File.java:12)[ ~[jar]]`.
fn parse_frame(rest: &str) -> Option<Frame> {
    let open = rest.find('(')?;
    let close = open + rest[open..].find(')')?;
    let qualified = &rest[..open];
    // Class-loader and module names come before the last '/'.
    let qualified = qualified.rsplit('/').next().unwrap_or(qualified);
    let module_prefix = rest[..open].rsplit_once('/').map(|(m, _)| m);
    let (class, method) = qualified.rsplit_once('.')?;
    if class.is_empty() || method.is_empty() {
        return None;
    }
    let loc = &rest[open + 1..close];
    let (file, line) = match split_line(loc) {
        Some((f, l)) => (Some(f), Some(l)),
        None if loc.contains('.') && !loc.contains(' ') => (Some(loc), None),
        None => (None, None),
    };
    let package = class.rsplit_once('.').map(|(p, _)| p);
    let path = file.map(|f| match package {
        Some(p) => format!("{}/{f}", p.replace('.', "/")),
        None => f.to_owned(),
    });
    Some(Frame {
        function: Some(method.to_owned()),
        module: Some(class.to_owned()),
        file: path,
        abs_path: file.map(str::to_owned),
        line,
        origin: origin(class, module_prefix),
        ..Frame::default()
    })
}

const RUNTIME_PACKAGES: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "scala.",
    "groovy.lang.",
];

fn origin(class: &str, module_prefix: Option<&str>) -> Origin {
    // JDK modules print as `java.base/`; `app//` is the application loader.
    let jdk_module = module_prefix.is_some_and(|m| {
        let name = m.split('@').next().unwrap_or(m);
        name.starts_with("java.") || name.starts_with("jdk.")
    });
    if jdk_module || RUNTIME_PACKAGES.iter().any(|p| class.starts_with(p)) {
        Origin::Runtime
    } else {
        Origin::Application
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let f = parse_frame("demo.M$Res.close(M.java:3)").expect("frame");
        assert_eq!(f.module.as_deref(), Some("demo.M$Res"));
        assert_eq!(f.function.as_deref(), Some("close"));
        assert_eq!(f.file.as_deref(), Some("demo/M.java"));
        assert_eq!(f.line, Some(3));
        let f = parse_frame("java.base/java.lang.Thread.run(Thread.java:833)").expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        let f = parse_frame("app//com.x.Y.z(Unknown Source) ~[app.jar:?]").expect("frame");
        assert_eq!(f.origin, Origin::Application);
        assert!(f.file.is_none());
        let f = parse_frame("jdk.internal.reflect.X.invoke0(Native Method)").expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        assert!(parse_frame("demo.M.mid(M.ja").is_none());
    }

    #[test]
    fn more_lines() {
        assert_eq!(more_count("... 2 more"), Some(2));
        assert_eq!(more_count("... 12 common frames omitted"), Some(12));
        assert_eq!(more_count("... lots more"), None);
    }

    #[test]
    fn nested_causes_cannot_expand_without_limit() {
        let mut text = String::from("a.B: x\n");
        for i in 0..1000 {
            text.push_str(&format!("\tat a.B.f{i}(B.java:{i})\n"));
        }
        for _ in 0..1000 {
            text.push_str("Caused by: a.C: y\n\tat a.C.g(C.java:1)\n\t... 1000 more\n");
        }
        let p = parse(&text);
        assert_eq!(p.exceptions.len(), 1001);
        assert!(p.problems.contains(&Problem::TooLong));
        let total: usize = p.exceptions.iter().map(|e| e.frames.len()).sum();
        assert!(total <= 1000 + 1000 + MAX_COPIED_FRAMES, "{total}");
    }
}
