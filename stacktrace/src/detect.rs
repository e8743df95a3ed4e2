//! Runtime detection from the text and an optional hint.

use crate::frame::Runtime;

/// The runtime a `telemetry.sdk.language` value (or a similar hint such as
/// `python`, `kotlin`, `node`, `golang`, `csharp`) names, if this crate parses
/// it. Case-insensitive.
pub fn runtime_from_hint(hint: &str) -> Option<Runtime> {
    match hint.trim().to_ascii_lowercase().as_str() {
        "python" | "py" | "cpython" => Some(Runtime::Python),
        "java" | "kotlin" | "scala" | "jvm" => Some(Runtime::Java),
        "go" | "golang" => Some(Runtime::Go),
        "nodejs" | "node" | "node.js" | "javascript" | "js" | "typescript" | "webjs" => {
            Some(Runtime::Node)
        }
        "rust" => Some(Runtime::Rust),
        "dotnet" | ".net" | "csharp" | "c#" | "fsharp" => Some(Runtime::DotNet),
        _ => None,
    }
}

/// The runtime whose format the text is in, from the first line that only
/// one runtime prints; `None` when no line is decisive.
pub fn detect(text: &str) -> Option<Runtime> {
    text.lines().find_map(classify_line)
}

fn classify_line(line: &str) -> Option<Runtime> {
    let body = line.trim();
    if body.ends_with("Traceback (most recent call last):")
        || (body.starts_with("File \"") && body.contains("\", line "))
    {
        return Some(Runtime::Python);
    }
    // The quote test first: it is a byte scan, the others build searchers.
    if body.as_bytes().contains(&b'\'')
        && body.contains("thread '")
        && body.contains("panicked at ")
    {
        return Some(Runtime::Rust);
    }
    if body == "stack backtrace:" {
        return Some(Runtime::Rust);
    }
    if body.starts_with("goroutine ") && body.ends_with("]:") {
        return Some(Runtime::Go);
    }
    if let Some(rest) = body.strip_prefix("at ") {
        return classify_at(rest);
    }
    None
}

/// An `at` line: JVM `(File.java:12)`, V8 `path:line:col`, .NET `in path:line N`.
fn classify_at(rest: &str) -> Option<Runtime> {
    if rest.contains(") in ") && rest.contains(":line ") {
        return Some(Runtime::DotNet);
    }
    if rest.ends_with("(Native Method)") || rest.ends_with("(Unknown Source)") {
        return Some(Runtime::Java);
    }
    // .NET without line information: `at Ns.Type.Method(String raw, Int32 n)`
    // (typed parameters; JVM and V8 frames never hold a space there).
    if let Some(open) = rest.find('(')
        && rest.ends_with(')')
    {
        let (name, params) = (&rest[..open], &rest[open + 1..rest.len() - 1]);
        if name.contains('.')
            && !name.contains(' ')
            && params.contains(' ')
            && !params.contains(':')
        {
            return Some(Runtime::DotNet);
        }
    }
    let loc = match rest.rfind('(') {
        Some(open) if rest.ends_with(')') => &rest[open + 1..rest.len() - 1],
        _ => rest,
    };
    let loc = loc.split(' ').next().unwrap_or(loc);
    if rest == loc && loc.contains(".rs:") {
        // Rust's `at src/main.rs:2:5` under a numbered frame.
        return Some(Runtime::Rust);
    }
    let mut parts = loc.rsplitn(3, ':');
    let last = parts.next()?;
    let middle = parts.next();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(last), middle.map(numeric)) {
        (true, Some(true)) => Some(Runtime::Node),
        (true, Some(false))
            if loc.contains(".java:") || loc.contains(".kt:") || loc.contains(".scala:") =>
        {
            Some(Runtime::Java)
        }
        _ if loc.starts_with("node:") || loc == "<anonymous>" => Some(Runtime::Node),
        _ => None,
    }
}

/// Whether the text holds a Go panic header (checked after the decisive
/// lines, since `panic:` alone is ordinary English).
pub(crate) fn looks_like_go(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("panic: ") || l.starts_with("fatal error: "))
        && text
            .lines()
            .any(|l| l.starts_with('\t') && l.contains(".go:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(runtime_from_hint("Python"), Some(Runtime::Python));
        assert_eq!(runtime_from_hint("nodejs"), Some(Runtime::Node));
        assert_eq!(runtime_from_hint("ruby"), None);
    }

    #[test]
    fn lines() {
        assert_eq!(
            detect("x\n\tat demo.M.mid(M.java:5)\n"),
            Some(Runtime::Java)
        );
        assert_eq!(detect("E\n    at f (/a.js:1:2)"), Some(Runtime::Node));
        assert_eq!(
            detect("   at A.B.C() in /src/x.cs:line 4"),
            Some(Runtime::DotNet)
        );
        assert_eq!(
            detect("thread 'main' (7) panicked at a.rs:1:1:"),
            Some(Runtime::Rust)
        );
        assert_eq!(detect("goroutine 1 [running]:"), Some(Runtime::Go));
        assert_eq!(detect("hello\nworld"), None);
        assert_eq!(
            detect("   at Shop.Cart.Add(String raw, Int32 n)"),
            Some(Runtime::DotNet)
        );
        assert_eq!(
            detect("    at Promise.all (index 0)\n    at f (/a.js:1:2)"),
            Some(Runtime::Node)
        );
        assert_eq!(detect("\tat a.B.c(Native Method)"), Some(Runtime::Java));
    }
}
