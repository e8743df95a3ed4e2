//! The frame model every runtime parser produces.

/// The runtime whose stack-trace format a text was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// CPython tracebacks (`Traceback (most recent call last):`).
    Python,
    /// JVM `Throwable.printStackTrace` output: Java, Kotlin, Scala.
    Java,
    /// Go panics and goroutine dumps.
    Go,
    /// V8 `Error.stack` as printed by Node.js (and Chromium).
    Node,
    /// Rust panics and `std::backtrace::Backtrace` output.
    Rust,
    /// .NET `Exception.ToString()` output.
    DotNet,
}

impl Runtime {
    /// A short lower-case name, usable as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::Java => "java",
            Runtime::Go => "go",
            Runtime::Node => "nodejs",
            Runtime::Rust => "rust",
            Runtime::DotNet => "dotnet",
        }
    }
}

/// Where a frame's code comes from, by the runtime's own conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Origin {
    /// The runtime or its standard library (Python's stdlib, `java.*`, Go's
    /// `GOROOT`, `node:internal`, Rust's `std`/`core`/`alloc`, native code).
    /// Never in-app.
    Runtime,
    /// A third-party package (`site-packages`, `node_modules`, the Go module
    /// cache, the cargo registry). In-app only when the caller's predicate
    /// finds its normalized path in the repository.
    Dependency,
    /// Anything else: the application's own code unless the predicate says
    /// otherwise.
    #[default]
    Application,
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The function or method name without its module or class, e.g. `inner`,
    /// `<module>`, `{{closure}}`, `(*T).At` (Go keeps the receiver, as `go tool`
    /// prints it).
    pub function: Option<String>,
    /// The module, package or class the function belongs to: Python's dotted
    /// module, the JVM class, the Go package path, the V8 receiver type, the Rust
    /// path before the function.
    pub module: Option<String>,
    /// The normalized path (see [`crate::Normalizer`]): repository-relative when
    /// the prefix rules or the in-app predicate could tell, otherwise the
    /// printed path with only URL and Windows syntax removed. JVM traces
    /// print only a file name; the package directory is put in front of it
    /// (`shop/Checkout.java`), a suffix of the file's path in the repository.
    pub file: Option<String>,
    /// The path exactly as the runtime printed it.
    pub abs_path: Option<String>,
    /// 1-based line number.
    pub line: Option<u32>,
    /// 1-based column number, when the runtime prints one (Node, Rust).
    pub column: Option<u32>,
    /// Go's `+0x..` program-counter offset within the function.
    pub offset: Option<u64>,
    /// V8's `at async f (...)` frames: an await point, not a synchronous caller.
    pub is_async: bool,
    /// Whose code this is by the runtime's conventions.
    pub origin: Origin,
    /// Whether the frame is the application's own code (see the crate docs).
    pub in_app: bool,
}

/// How an exception in [`Parsed::exceptions`] relates to its `parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Relation {
    /// The failure: the exception that escaped (index 0, no parent).
    #[default]
    Failure,
    /// The parent was raised because of this one (Python `raise .. from`,
    /// Java `Caused by:`, .NET inner exceptions).
    Cause,
    /// The parent was raised while this one was being handled (Python's
    /// "During handling of the above exception").
    Context,
    /// Suppressed in the parent (Java `Suppressed:`, try-with-resources).
    Suppressed,
    /// A member of the parent exception group (Python `ExceptionGroup`).
    Group,
    /// Another thread's or goroutine's stack printed with the failure (Go
    /// `GOTRACEBACK=all`, a second Rust panic).
    OtherThread,
}

/// One exception of a chain, with its frames innermost first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exception {
    /// The exception's type as printed: `ValueError`, `java.lang.IllegalStateException`,
    /// `TypeError`; `panic` for Rust and Go panics, `fatal error` for Go runtime
    /// aborts.
    pub ty: Option<String>,
    /// The message, lines joined with `\n`.
    pub message: Option<String>,
    /// The thread or goroutine it was raised on, when printed.
    pub thread: Option<String>,
    /// Frames, innermost (where it was raised) first.
    pub frames: Vec<Frame>,
    /// How this exception relates to `parent`.
    pub relation: Relation,
    /// Index in [`Parsed::exceptions`] of the exception this one relates to.
    pub parent: Option<usize>,
}

impl Exception {
    /// The innermost in-app frame: where the application's code failed.
    pub fn top_in_app(&self) -> Option<&Frame> {
        self.frames.iter().find(|f| f.in_app)
    }
}

/// Why a text yielded less than a complete trace. Each is a label a caller can
/// count; several may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    /// The text is empty or only whitespace.
    Empty,
    /// No known runtime's format was recognized: no frames.
    UnknownFormat,
    /// A header (exception type or panic) was read but no frame.
    NoFrames,
    /// The text ends in the middle of a trace (the last line is cut, the
    /// exception line or a frame's location is missing).
    Truncated,
    /// Lines inside the trace were neither frames nor headers (interleaved
    /// output, garbled text) and were skipped.
    UnreadLines,
    /// The runtime hint named a runtime whose parser found nothing, and the
    /// text was read as another runtime's.
    HintMismatch,
    /// Java's `... N more` refers to more frames than the enclosing trace has.
    MissingCommonFrames,
    /// The text was longer than [`crate::MAX_INPUT_BYTES`] (only its start was
    /// read) or expanded past a frame limit.
    TooLong,
}

impl Problem {
    /// A short snake_case name, usable as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Empty => "empty",
            Problem::UnknownFormat => "unknown_format",
            Problem::NoFrames => "no_frames",
            Problem::Truncated => "truncated",
            Problem::UnreadLines => "unread_lines",
            Problem::HintMismatch => "hint_mismatch",
            Problem::MissingCommonFrames => "missing_common_frames",
            Problem::TooLong => "too_long",
        }
    }
}

/// The result of parsing one `exception.stacktrace` text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The runtime the text was read as; `None` when none was recognized.
    pub runtime: Option<Runtime>,
    /// The exceptions, the failure first (index 0), then the rest of its chain
    /// (causes, contexts, suppressed, other threads) each pointing at its parent.
    pub exceptions: Vec<Exception>,
    /// What was incomplete, sorted, without duplicates. Empty for a clean parse.
    pub problems: Vec<Problem>,
}

impl Parsed {
    /// The failure: the exception that escaped.
    pub fn failure(&self) -> Option<&Exception> {
        self.exceptions.first()
    }

    /// The failure's frames, innermost first (empty when nothing was read).
    pub fn frames(&self) -> &[Frame] {
        self.failure().map_or(&[], |e| &e.frames)
    }

    /// Whether the parse met no problem.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn note(&mut self, problem: Problem) {
        if let Err(at) = self.problems.binary_search(&problem) {
            self.problems.insert(at, problem);
        }
    }
}
