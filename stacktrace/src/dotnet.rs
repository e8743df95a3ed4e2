//! .NET `Exception.ToString()` text.
//!
//! The outer exception's header comes first; each ` ---> Type: message`
//! starts the inner exception (its cause). Frames (`   at Ns.Type.Method(args)
//! in /path/File.cs:line 12`) belong to the innermost exception until a
//! `--- End of inner exception stack trace ---` returns to the enclosing one.
//! Compiler-generated async and lambda names (`<Method>d__3.MoveNext`,
//! `<Main>b__0_0`) are reported as the method they were written in.

use crate::frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
use crate::scan::{digits, is_dotted_ident, push_message, type_and_message};

/// Parses a .NET exception text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed {
        runtime: Some(Runtime::DotNet),
        ..Parsed::default()
    };
    // Index of the exception frames currently belong to.
    let mut current: Option<usize> = None;
    let mut last_unread = false;
    for raw in text.lines() {
        let line = raw.trim_end();
        let body = line.trim_start();
        last_unread = false;
        if body.is_empty() || body == "--- End of stack trace from previous location ---" {
            continue;
        }
        if body == "--- End of inner exception stack trace ---" {
            current = current.and_then(|c| out.exceptions[c].parent);
            continue;
        }
        if let Some(rest) = body.strip_prefix("at ") {
            if let Some(frame) = parse_frame(rest)
                && let Some(c) = current
            {
                out.exceptions[c].frames.push(frame);
                continue;
            }
        } else if out.exceptions.is_empty() || body.starts_with("---> ") {
            let headers = body.split(" ---> ");
            let mut parsed_any = false;
            for (n, header) in headers.enumerate() {
                let header = header.strip_prefix("---> ").unwrap_or(header);
                let Some((ty, message)) = type_and_message(header, is_dotted_ident) else {
                    if n == 0 && !out.exceptions.is_empty() {
                        break;
                    }
                    continue;
                };
                let parent = out.exceptions.len().checked_sub(1);
                out.exceptions.push(Exception {
                    ty: Some(ty),
                    message,
                    relation: if parent.is_some() {
                        Relation::Cause
                    } else {
                        Relation::Failure
                    },
                    parent,
                    ..Exception::default()
                });
                current = Some(out.exceptions.len() - 1);
                parsed_any = true;
            }
            if parsed_any {
                continue;
            }
        } else if let Some(c) = current
            && out.exceptions[c].frames.is_empty()
            && c + 1 == out.exceptions.len()
        {
            push_message(&mut out.exceptions[c].message, body);
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
    // Frames are printed innermost first already; the failure is the outer
    // exception (index 0).
    out
}

/// `Ns.Type.Method(args) in /path/File.cs:line 12` or `Ns.Type.Method(args)`.
fn parse_frame(rest: &str) -> Option<Frame> {
    let (call, loc) = match rest.rsplit_once(" in ") {
        Some((c, l)) if l.contains(":line ") => (c, Some(l)),
        _ => (rest, None),
    };
    let open = call.find('(')?;
    if !call.ends_with(')') {
        return None;
    }
    let qualified = &call[..open];
    let (class, method) = split_method(qualified)?;
    let (file, line) = match loc {
        Some(l) => {
            let (path, n) = l.rsplit_once(":line ")?;
            (Some(path), Some(digits(n)?))
        }
        None => (None, None),
    };
    let origin = if ["System.", "Microsoft.", "Internal."]
        .iter()
        .any(|p| class.starts_with(p))
    {
        Origin::Runtime
    } else {
        Origin::Application
    };
    Some(Frame {
        function: Some(method),
        module: Some(class),
        file: file.map(str::to_owned),
        abs_path: file.map(str::to_owned),
        line,
        origin,
        ..Frame::default()
    })
}

/// `Ns.C.<Run>d__3.MoveNext` → (`Ns.C`, `Run`); `Ns.C.M` → (`Ns.C`, `M`).
fn split_method(qualified: &str) -> Option<(String, String)> {
    if let Some(open) = qualified.find(".<")
        && let Some(close) = qualified[open..].find('>')
    {
        let name = &qualified[open + 2..open + close];
        if !name.is_empty() {
            return Some((qualified[..open].to_owned(), name.to_owned()));
        }
    }
    let (class, method) = qualified.rsplit_once('.')?;
    (!class.is_empty() && !method.is_empty()).then(|| (class.to_owned(), method.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let f = parse_frame("Shop.Cart.Add(Int32 n) in /src/Shop/Cart.cs:line 12").expect("frame");
        assert_eq!(f.module.as_deref(), Some("Shop.Cart"));
        assert_eq!(f.function.as_deref(), Some("Add"));
        assert_eq!(
            (f.file.as_deref(), f.line),
            (Some("/src/Shop/Cart.cs"), Some(12))
        );
        let f = parse_frame("Shop.Api.<Checkout>d__4.MoveNext() in C:\\src\\Api.cs:line 40")
            .expect("frame");
        assert_eq!(f.function.as_deref(), Some("Checkout"));
        let f = parse_frame("System.Linq.Enumerable.First[TSource](IEnumerable`1 source)")
            .expect("frame");
        assert_eq!(f.origin, Origin::Runtime);
        assert!(parse_frame("Shop.Cart.Add(Int32 n) in /src/Cart.cs:line x").is_none());
    }

    // No .NET runtime is packaged in Debian; this is the documented
    // `Exception.ToString()` shape.
    #[test]
    fn inner_exceptions() {
        let text = "System.InvalidOperationException: checkout failed\n\
                    \x20---> System.FormatException: bad quantity\n\
                    \x20  at Shop.Cart.Parse(String raw) in /src/Shop/Cart.cs:line 12\n\
                    \x20  at Shop.Cart.Add(String raw) in /src/Shop/Cart.cs:line 20\n\
                    \x20  --- End of inner exception stack trace ---\n\
                    \x20  at Shop.Cart.Add(String raw) in /src/Shop/Cart.cs:line 24\n\
                    \x20  at Shop.Program.Main() in /src/Shop/Program.cs:line 5\n";
        let p = parse(text);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let outer = &p.exceptions[0];
        assert_eq!(
            outer.ty.as_deref(),
            Some("System.InvalidOperationException")
        );
        let lines: Vec<_> = outer.frames.iter().map(|f| f.line).collect();
        assert_eq!(lines, [Some(24), Some(5)]);
        let inner = &p.exceptions[1];
        assert_eq!((inner.relation, inner.parent), (Relation::Cause, Some(0)));
        assert_eq!(inner.message.as_deref(), Some("bad quantity"));
        let lines: Vec<_> = inner.frames.iter().map(|f| f.line).collect();
        assert_eq!(lines, [Some(12), Some(20)]);
    }
}
