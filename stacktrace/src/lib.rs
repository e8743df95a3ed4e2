//! Stack-trace parsing shared by the edge guests (envelope assembly,
//! symbolize) and the repair engine.
//!
//! [`parse`] turns an `exception.stacktrace` text into a [`Parsed`]: the
//! runtime it was read as, the exceptions of the failure's chain, and the
//! [`Problem`]s met on the way. It never panics and never fails: an unknown
//! format yields no exception and [`Problem::UnknownFormat`]; truncated,
//! interleaved or garbled text yields what could be read plus
//! [`Problem::Truncated`] or [`Problem::UnreadLines`]. The crate is `std`-only
//! with no dependencies, so it builds for `wasm32-wasip2`.
//!
//! # The frame model
//!
//! `Parsed::exceptions[0]` is the failure, the exception that escaped: the
//! last block of a Python chain, the first header of a JVM trace, the
//! panicking goroutine or thread. The others carry a [`Relation`] to a parent
//! index (the cause, the context a Python exception was raised while handling,
//! a Java suppressed exception, a member of a Python exception group, another
//! goroutine or thread). Every
//! exception's [`Frame`]s are innermost first, whatever order the runtime
//! prints them in; Java's `... N more` is expanded from the enclosing trace.
//! A frame has a function, a module (Python module, JVM class, Go package, V8
//! receiver, Rust path), the normalized file, the printed path, a line, a
//! column when the runtime prints one (Node, Rust), Go's `+0x` offset, V8's
//! `async` mark, an [`Origin`] and the in-app flag.
//!
//! # Runtimes
//!
//! Python, Java/Kotlin/Scala, Go, Node.js (V8), Rust and .NET, one module
//! each. The runtime is taken from a hint when the caller has one
//! ([`runtime_from_hint`] accepts `telemetry.sdk.language` values) and the
//! hinted parser finds frames; otherwise from the text ([`detect`]); a hint the
//! text contradicts is reported as [`Problem::HintMismatch`].
//!
//! # In-app
//!
//! Each parser sets the frame's [`Origin`] by its runtime's conventions: the
//! standard library (`lib/pythonX.Y`, `java.*`/`jdk.*`/`kotlin.*`, `GOROOT`,
//! `node:`/`internal/`, Rust's `std`/`core`/`alloc` and `/rustc/` paths,
//! native code) is [`Origin::Runtime`]; installed packages (`site-packages`,
//! `dist-packages`, `node_modules`, the Go module cache and `vendor/`, the
//! cargo registry) are [`Origin::Dependency`]. The path is then normalized
//! ([`Normalizer`], configurable prefixes) and:
//!
//! - with a caller-supplied predicate ([`Parser::in_app`], the symbol index
//!   answering "is this file in the repository at that commit"), a frame is
//!   in-app when the predicate accepts its normalized path or, for
//!   application frames, a suffix of it; the accepted path becomes `file`.
//!   Runtime frames are never in-app.
//! - without one, application frames that name a file or function are
//!   in-app, dependency and runtime frames are not.
//!
//! # Use
//!
//! ```
//! let text = "Traceback (most recent call last):\n  \
//!             File \"/app/shop/views.py\", line 3, in checkout\n    total()\n\
//!             ZeroDivisionError: division by zero\n";
//! // The symbol index answers whether the repository holds a path.
//! let in_repo = |path: &str| path == "shop/views.py";
//! let parsed = stacktrace::Parser::new()
//!     .in_app(&in_repo)
//!     .parse(text, Some("python"));
//! let top = parsed.failure().and_then(|e| e.top_in_app());
//! assert_eq!(top.and_then(|f| f.file.as_deref()), Some("shop/views.py"));
//! assert_eq!(top.and_then(|f| f.line), Some(3));
//! let group = parsed.failure().map(|e| stacktrace::fingerprint(e, &["POST /checkout"]));
//! assert!(group.is_some());
//! ```
//!
//! # Fingerprints
//!
//! [`fingerprint()`] groups failures the way error trackers do: exception type
//! plus in-app frames (function and file, no line numbers), so a deploy that
//! only moves lines keeps the group. See the [`fingerprint`](mod@fingerprint)
//! module for the exact recipe.

mod detect;
mod dotnet;
pub mod fingerprint;
mod frame;
mod go;
mod java;
mod node;
mod normalize;
mod python;
mod rust;
mod scan;

pub use detect::{detect, runtime_from_hint};
pub use fingerprint::{Fingerprint, fingerprint, fingerprint_input};
pub use frame::{Exception, Frame, Origin, Parsed, Problem, Relation, Runtime};
pub use normalize::{
    DEFAULT_PACKAGE_DIRS, DEFAULT_STRIP_PREFIXES, InAppPredicate, Normalizer, suffix_candidates,
};

/// Texts longer than this are parsed up to this many bytes and reported as
/// [`Problem::TooLong`]. Parsing is linear in the text, so this bounds the
/// work per exception (in a guest, within its fuel).
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// Parses with the default normalization and the runtimes' own in-app
/// conventions, detecting the runtime from the text.
pub fn parse(text: &str) -> Parsed {
    Parser::default().parse(text, None)
}

/// A configured parser: normalization rules and an optional in-app predicate.
#[derive(Default)]
pub struct Parser<'a> {
    normalizer: Normalizer,
    in_app: Option<InAppPredicate<'a>>,
}

impl<'a> Parser<'a> {
    /// A parser with the default rules and no predicate.
    pub fn new() -> Self {
        Parser::default()
    }

    /// Uses these normalization rules.
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Decides in-app with this predicate over normalized, repository-relative
    /// candidate paths (see the crate docs).
    pub fn in_app(mut self, predicate: InAppPredicate<'a>) -> Self {
        self.in_app = Some(predicate);
        self
    }

    /// Parses `text`; `hint` is a runtime name such as the
    /// `telemetry.sdk.language` resource attribute.
    pub fn parse(&self, text: &str, hint: Option<&str>) -> Parsed {
        let limited = text.len() > MAX_INPUT_BYTES;
        let text = if limited {
            let mut end = MAX_INPUT_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        } else {
            text
        };
        let mut parsed = self.parse_text(text, hint);
        if limited {
            parsed.note(Problem::TooLong);
        }
        parsed
    }

    fn parse_text(&self, text: &str, hint: Option<&str>) -> Parsed {
        if text.trim().is_empty() {
            return Parsed {
                problems: vec![Problem::Empty],
                ..Parsed::default()
            };
        }
        let hinted = hint.and_then(runtime_from_hint);
        let mut parsed = None;
        if let Some(runtime) = hinted {
            let p = parse_as(runtime, text);
            if has_frames(&p) {
                parsed = Some(p);
            }
        }
        if parsed.is_none() {
            let detected =
                detect(text).or_else(|| detect::looks_like_go(text).then_some(Runtime::Go));
            if let Some(runtime) = detected.filter(|r| Some(*r) != hinted) {
                let mut p = parse_as(runtime, text);
                if hinted.is_some() && has_frames(&p) {
                    p.note(Problem::HintMismatch);
                }
                parsed = Some(p);
            } else if let Some(runtime) = hinted.or(detected) {
                parsed = Some(parse_as(runtime, text));
            }
        }
        let Some(mut parsed) = parsed.filter(|p| !p.exceptions.is_empty()) else {
            return Parsed {
                problems: vec![Problem::UnknownFormat],
                ..Parsed::default()
            };
        };
        if parsed.frames().is_empty() {
            parsed.note(Problem::NoFrames);
        }
        self.finish(&mut parsed);
        parsed
    }

    fn finish(&self, parsed: &mut Parsed) {
        let predicate = self.in_app;
        for e in &mut parsed.exceptions {
            for f in &mut e.frames {
                normalize::resolve(f, &self.normalizer, predicate);
                if parsed.runtime == Some(Runtime::Python) {
                    python::set_module(f);
                }
            }
        }
    }
}

fn has_frames(p: &Parsed) -> bool {
    p.exceptions.iter().any(|e| !e.frames.is_empty())
}

fn parse_as(runtime: Runtime, text: &str) -> Parsed {
    match runtime {
        Runtime::Python => python::parse(text),
        Runtime::Java => java::parse(text),
        Runtime::Go => go::parse(text),
        Runtime::Node => node::parse(text),
        Runtime::Rust => rust::parse(text),
        Runtime::DotNet => dotnet::parse(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_text_is_cut_and_reported() {
        let mut text = String::from("Traceback (most recent call last):\n");
        while text.len() <= MAX_INPUT_BYTES {
            text.push_str("  File \"/app/x.py\", line 1, in f\n    f()\n");
        }
        text.push_str("RecursionError: too deep\n");
        let p = parse(&text);
        assert_eq!(p.runtime, Some(Runtime::Python));
        assert!(p.problems.contains(&Problem::TooLong));
        assert!(p.problems.contains(&Problem::Truncated));
        assert!(!p.frames().is_empty());
    }

    #[test]
    fn empty_and_unknown() {
        assert_eq!(parse(" \n").problems, [Problem::Empty]);
        let p = parse("nothing to see");
        assert_eq!(
            (p.runtime, p.problems.as_slice()),
            (None, &[Problem::UnknownFormat][..])
        );
    }
}
