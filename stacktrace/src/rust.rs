//! Rust panics, with or without a `RUST_BACKTRACE` backtrace.
//!
//! Headers: `thread 'main' panicked at 'msg', src/main.rs:2:5` (before Rust
//! 1.73), `thread 'main' panicked at src/main.rs:2:5:` followed by the message
//! lines (1.73 on), and either with the thread id, `thread 'main' (1234)
//! panicked at ...`. Then `stack backtrace:` and numbered frames, innermost
//! first: `  3: r::inner` or `  3:     0x55d1 - r::inner::h0123456789abcdef`, each
//! followed by `at path:line:col` lines. Symbols lose their `::h<hash>` suffix
//! and `[hash]` crate disambiguators. Without a backtrace the panic location
//! is the single frame. A `std::backtrace::Backtrace` printed on its own (no
//! panic header) is read as the frames of an exception of unknown type.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{digits, split_line_col};

/// Parses a Rust panic text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::Rust),
        ..Parsed::default()
    };
    // The panic location of each exception, used when it has no backtrace.
    let mut locations: Vec<Option<Frame>> = Vec::new();
    let mut in_message = false;
    let mut in_old_message = false;
    let mut last_unread = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        let body = line.trim_start();
        last_unread = false;
        if let Some((thread, rest)) = panic_header(line) {
            let first = out.exceptions.is_empty();
            let mut e = Exception {
                ty: Some("panic".to_owned()),
                thread: Some(thread.to_owned()),
                relation: if first {
                    Relation::Failure
                } else {
                    Relation::OtherThread
                },
                parent: (!first).then_some(0),
                ..Exception::default()
            };
            let mut location = None;
            in_message = false;
            in_old_message = false;
            if let Some(old) = rest.strip_prefix('\'') {
                match split_old(old) {
                    Some((msg, loc)) => {
                        e.message = Some(msg.to_owned());
                        location = location_frame(loc);
                    }
                    None => {
                        e.message = Some(old.to_owned());
                        in_old_message = true;
                    }
                }
            } else {
                location = location_frame(rest.strip_suffix(':').unwrap_or(rest));
                in_message = true;
            }
            out.exceptions.push(e);
            locations.push(location);
            continue;
        }
        if out.exceptions.is_empty()
            && (body == "stack backtrace:" || parse_frame_line(body).is_some())
        {
            // `stack backtrace:` without its panic header: the text was cut.
            // Frames alone are a captured `std::backtrace::Backtrace` (what
            // `anyhow` and error-reporting layers record): no panic at all.
            let cut = body == "stack backtrace:";
            if cut {
                out.note(Problem::Truncated);
            }
            out.exceptions.push(Exception {
                ty: cut.then(|| "panic".to_owned()),
                ..Exception::default()
            });
            locations.push(None);
        }
        let Some(current) = out.exceptions.last_mut() else {
            continue;
        };
        if in_old_message {
            // A multi-line message of the old header ends with `', loc`.
            let msg = current.message.get_or_insert_with(String::new);
            msg.push('\n');
            match split_old(line) {
                Some((tail, loc)) => {
                    msg.push_str(tail);
                    if let Some(l) = locations.last_mut() {
                        *l = location_frame(loc);
                    }
                    in_old_message = false;
                }
                None => msg.push_str(line),
            }
            continue;
        }
        if body == "stack backtrace:" {
            in_message = false;
            continue;
        }
        if body.starts_with("note: ") {
            in_message = false;
            continue;
        }
        if in_message && line.starts_with(' ') && parse_frame_line(body).is_some() {
            // The `stack backtrace:` line is missing, the frames are not.
            in_message = false;
        }
        if in_message {
            match &mut current.message {
                Some(m) => {
                    m.push('\n');
                    m.push_str(line);
                }
                None => current.message = Some(line.to_owned()),
            }
            continue;
        }
        if let Some(loc) = body.strip_prefix("at ") {
            if let Some(frame) = current.frames.last_mut()
                && frame.file.is_none()
                && let Some((path, line_no, col)) = split_line_col(loc)
            {
                frame.file = Some(path.to_owned());
                frame.abs_path = Some(path.to_owned());
                frame.line = Some(line_no);
                frame.column = col;
                frame.origin = origin(
                    frame.module.as_deref(),
                    frame.function.as_deref(),
                    Some(path),
                );
                continue;
            }
        } else if let Some(frame) = parse_frame_line(body) {
            current.frames.push(frame);
            continue;
        } else if body.is_empty() {
            continue;
        }
        out.note(Problem::UnreadLines);
        last_unread = true;
    }
    if last_unread || in_old_message {
        out.note(Problem::Truncated);
    }
    for (e, location) in out.exceptions.iter_mut().zip(locations) {
        if e.frames.is_empty()
            && let Some(frame) = location
        {
            e.frames.push(frame);
        }
    }
    out
}

/// `thread 'name' [(id) ]panicked at rest` → (name, rest).
fn panic_header(line: &str) -> Option<(&str, &str)> {
    let at = line.find("thread '")?;
    let rest = &line[at + "thread '".len()..];
    let (name, rest) = rest.split_once('\'')?;
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix('(') {
        Some(r) => r.split_once(") ")?.1,
        None => rest,
    };
    Some((name, rest.strip_prefix("panicked at ")?))
}

/// `msg', src/main.rs:2:5` → (msg, location).
fn split_old(s: &str) -> Option<(&str, &str)> {
    let (msg, loc) = s.rsplit_once("', ")?;
    split_line_col(loc).map(|_| (msg, loc))
}

fn location_frame(loc: &str) -> Option<Frame> {
    let (path, line, column) = split_line_col(loc)?;
    Some(Frame {
        file: Some(path.to_owned()),
        abs_path: Some(path.to_owned()),
        line: Some(line),
        column,
        origin: origin(None, None, Some(path)),
        ..Frame::default()
    })
}

/// `12: symbol` or `12:     0x55d1 - symbol`.
fn parse_frame_line(body: &str) -> Option<Frame> {
    let (index, rest) = body.split_once(':')?;
    digits(index)?;
    let rest = rest.trim_start();
    let symbol = match rest.strip_prefix("0x") {
        Some(addr) => addr.split_once(" - ").map_or("<unknown>", |(_, s)| s),
        None => rest,
    };
    let symbol = clean_symbol(symbol);
    let (module, function) = split_symbol(&symbol);
    let origin = origin(module.as_deref(), Some(&function), None);
    Some(Frame {
        function: Some(function),
        module,
        origin,
        ..Frame::default()
    })
}

/// Drops `::h<16 hex>` suffixes and `[hex]` crate disambiguators.
fn clean_symbol(symbol: &str) -> String {
    let symbol = match symbol.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => symbol,
    };
    let mut out = String::with_capacity(symbol.len());
    let mut rest = symbol;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits at the last `::` outside `<...>`; a closure keeps its enclosing
/// function (`main::{{closure}}`).
fn split_symbol(symbol: &str) -> (Option<String>, String) {
    let bytes = symbol.as_bytes();
    let mut depth = 0i32;
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] != b'-' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                cuts.push(i);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    // A closure or generic-argument segment keeps the function it belongs
    // to: `main::{{closure}}`, `panic_display::<&str>`.
    let mut cut = cuts.pop();
    while let Some(c) = cut
        && symbol[c + 2..].starts_with(['{', '<'])
        && let Some(before) = cuts.pop()
    {
        cut = Some(before);
    }
    match cut {
        Some(c) => (Some(symbol[..c].to_owned()), symbol[c + 2..].to_owned()),
        None => (None, symbol.to_owned()),
    }
}

const RUNTIME_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "__rustc",
    "backtrace",
    "panic_unwind",
];

fn origin(module: Option<&str>, function: Option<&str>, path: Option<&str>) -> Origin {
    if let Some(path) = path {
        let unix = path.replace('\\', "/");
        if unix.starts_with("/rustc/")
            || unix.contains("/library/std/src/")
            || unix.contains("/library/core/src/")
            || unix.contains("/library/alloc/src/")
            || unix.ends_with(".c")
            || unix.ends_with(".S")
        {
            return Origin::Runtime;
        }
        if unix.contains("/.cargo/registry/")
            || unix.contains("/.cargo/git/")
            || unix.contains("/cargo/registry/")
        {
            return Origin::Dependency;
        }
        return Origin::Application;
    }
    let head = module.or(function).unwrap_or("");
    let head = head.trim_start_matches('<');
    let krate = head.split("::").next().unwrap_or(head);
    let function = function.unwrap_or("");
    if RUNTIME_CRATES.contains(&krate)
        || module.is_none()
            && (function.starts_with("__")
                || function.starts_with('_')
                || function == "<unknown>"
                || function == "clone"
                || function == "clone3"
                || function == "start_thread"
                || function == "rust_begin_unwind")
    {
        Origin::Runtime
    } else {
        Origin::Application
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            panic_header("thread 'main' panicked at src/main.rs:2:5:"),
            Some(("main", "src/main.rs:2:5:"))
        );
        assert_eq!(
            panic_header("thread 'main' (11590) panicked at r.rs:1:30:"),
            Some(("main", "r.rs:1:30:"))
        );
        assert_eq!(
            panic_header("thread 'main' panicked at 'boom', src/main.rs:2:5"),
            Some(("main", "'boom', src/main.rs:2:5"))
        );
        assert_eq!(
            split_old("boom', src/main.rs:2:5"),
            Some(("boom", "src/main.rs:2:5"))
        );
    }

    #[test]
    fn symbols() {
        assert_eq!(clean_symbol("r::inner::h0123456789abcdef"), "r::inner");
        assert_eq!(
            clean_symbol("std[e28293b1aa0f68bd]::sys::backtrace::_print_fmt"),
            "std::sys::backtrace::_print_fmt"
        );
        assert_eq!(clean_symbol("a[x]::b"), "a[x]::b");
        assert_eq!(
            split_symbol("r2::main::{{closure}}"),
            (Some("r2".into()), "main::{{closure}}".into())
        );
        assert_eq!(
            split_symbol("core::panicking::panic_display::<&str>"),
            (
                Some("core::panicking".into()),
                "panic_display::<&str>".into()
            )
        );
        assert_eq!(
            split_symbol("<T as core::fmt::Display>::fmt"),
            (Some("<T as core::fmt::Display>".into()), "fmt".into())
        );
        let f =
            parse_frame_line("3:     0x5624576637da - core::panicking::panic_fmt").expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        let f = parse_frame_line("4: r::main").expect("frame");
        assert_eq!(f.origin, Origin::Application);
        assert!(parse_frame_line("x: r::main").is_none());
    }

    // Forms the installed toolchain no longer prints (the test programs in
    // tests/ cover the current one).
    #[test]
    fn older_headers_and_full_backtraces() {
        let old = "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:4:37\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let p = parse(old);
        let e = &p.exceptions[0];
        assert_eq!(
            e.message.as_deref(),
            Some("called `Option::unwrap()` on a `None` value")
        );
        assert_eq!(
            (
                e.frames[0].file.as_deref(),
                e.frames[0].line,
                e.frames[0].column
            ),
            (Some("src/main.rs"), Some(4), Some(37))
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);

        let multi = "thread 'w' panicked at 'line one\nline two', src/lib.rs:10:9\n";
        let p = parse(multi);
        assert_eq!(
            p.exceptions[0].message.as_deref(),
            Some("line one\nline two")
        );
        assert_eq!(p.exceptions[0].frames[0].line, Some(10));

        let new = "thread 'main' panicked at src/main.rs:2:5:\nboom\nsecond line\nstack backtrace:\n\
                   \x20  0:     0x55d5c5e1f0b2 - std::panicking::begin_panic::h0123456789abcdef\n\
                   \x20                              at /rustc/abc/library/std/src/panicking.rs:616:12\n\
                   \x20  1:     0x55d5c5e1f0c0 - demo::inner::h5b1c2a9e0f3d4c7b\n\
                   \x20                              at /home/ci/build/src/main.rs:2:5\n\
                   \x20  2:     0x55d5c5e1f0d0 - <unknown>\n";
        let p = parse(new);
        let e = &p.exceptions[0];
        assert_eq!(e.message.as_deref(), Some("boom\nsecond line"));
        let names: Vec<_> = e
            .frames
            .iter()
            .map(|f| (f.module.as_deref(), f.function.as_deref(), f.origin))
            .collect();
        assert_eq!(
            names,
            [
                (Some("std::panicking"), Some("begin_panic"), Origin::Runtime),
                (Some("demo"), Some("inner"), Origin::Application),
                (None, Some("<unknown>"), Origin::Runtime),
            ]
        );
        assert_eq!(
            e.frames[1].file.as_deref(),
            Some("/home/ci/build/src/main.rs")
        );
    }
}
