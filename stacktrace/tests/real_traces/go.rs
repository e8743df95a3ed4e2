//! Go: an index-out-of-range panic in a method of another package, inlined
//! frames (`(...)`), `+0x` offsets, a goroutine and its `created by` frame.

use std::process::Command;
use std::sync::OnceLock;

use stacktrace::{Relation, Runtime};

use crate::Sample;
use crate::support::{
    TempDir, Truth, assert_in_app, build, crash_stderr, line_of, parse_in_repo, repo_files,
};

const ORDERS: &str = r#"package orders

type Cart struct{ items []int }

func (c *Cart) At(i int) int {
	return c.items[i] // @at
}

//go:noinline
func Process(items []int) int {
	c := &Cart{items: items}
	total := 0
	for i := 0; i <= len(items); i++ {
		total += c.At(i) // @process
	}
	return total
}
"#;

const MAIN: &str = r#"package main

import (
	"os"
	"runtime/debug"

	"example.com/shop/orders"
)

func main() {
	if len(os.Args) > 1 {
		// What OpenTelemetry Go records with trace.WithStackTrace(true).
		os.Stderr.Write(debug.Stack()) // @stack
		os.Exit(1)
	}
	done := make(chan struct{})
	go func() { // @go
		// Not deferred: a deferred close runs during the panic and lets
		// main return (exit 0) before the panic is printed.
		orders.Process([]int{1, 2}) // @call
		close(done)
	}()
	<-done
}
"#;

struct Traces {
    plain: Sample,
    /// Built with `-trimpath` (module paths, no build directory) and run
    /// with `GOTRACEBACK=all` (every goroutine).
    trimmed_all: String,
    /// `runtime/debug.Stack()`: a goroutine dump without a panic.
    stack: String,
}

pub fn sample() -> &'static Sample {
    &traces().plain
}

fn traces() -> &'static Traces {
    static S: OnceLock<Traces> = OnceLock::new();
    S.get_or_init(|| {
        let dir = TempDir::new("go");
        let repo = dir.path().join("repo");
        dir.write("repo/go.mod", "module example.com/shop\n\ngo 1.19\n");
        dir.write("repo/orders/orders.go", ORDERS);
        dir.write("repo/main.go", MAIN);
        let go_build = |flags: &[&str], bin: &std::path::Path| {
            let mut cmd = Command::new("go");
            cmd.arg("build")
                .args(flags)
                .arg("-o")
                .arg(bin)
                .arg(".")
                .current_dir(&repo)
                .env("GOTOOLCHAIN", "local")
                .env("GOFLAGS", "-mod=mod");
            // The user's build cache keeps the standard library compiled
            // between runs; without a home for it, a cache in the tempdir.
            if std::env::var_os("GOCACHE").is_none()
                && std::env::var_os("HOME").is_none()
                && std::env::var_os("XDG_CACHE_HOME").is_none()
            {
                cmd.env("GOCACHE", dir.path().join("gocache"));
            }
            build(&mut cmd, "golang-go");
        };
        let bin = dir.path().join("shop");
        go_build(&[], &bin);
        let text = crash_stderr(&mut Command::new(&bin), "golang-go");
        let trimmed = dir.path().join("shop-trimmed");
        go_build(&["-trimpath"], &trimmed);
        let trimmed_all = crash_stderr(
            Command::new(&trimmed).env("GOTRACEBACK", "all"),
            "golang-go",
        );
        let stack = crash_stderr(Command::new(&bin).arg("stack"), "golang-go");
        Traces {
            stack,
            plain: Sample {
                text,
                files: repo_files(&repo),
                hint: "go",
            },
            trimmed_all,
        }
    })
}

fn truth() -> Vec<Truth<'static>> {
    let o = |m| line_of(ORDERS, m);
    let m = |m| line_of(MAIN, m);
    vec![
        ("orders/orders.go", o("at"), "(*Cart).At"),
        ("orders/orders.go", o("process"), "Process"),
        ("main.go", m("call"), "main.func1"),
        ("main.go", m("go"), "main"),
    ]
}

#[test]
fn trimmed_paths_and_all_goroutines() {
    let t = traces();
    let p = parse_in_repo(&t.trimmed_all, &t.plain.files, None);
    assert!(
        p.is_clean(),
        "problems {:?} in:\n{}",
        p.problems,
        t.trimmed_all
    );
    assert_in_app(&p.exceptions[0], &truth(), &t.trimmed_all);
    assert_eq!(
        p.exceptions[0].frames[0].abs_path.as_deref(),
        Some("example.com/shop/orders/orders.go")
    );
    // The main goroutine, blocked on the channel, is another thread.
    let main = p
        .exceptions
        .iter()
        .find(|e| {
            e.relation == Relation::OtherThread
                && e.frames
                    .iter()
                    .any(|f| f.function.as_deref() == Some("main"))
        })
        .unwrap_or_else(|| panic!("no main goroutine in:\n{}", t.trimmed_all));
    assert_eq!(main.parent, Some(0));
}

#[test]
fn frames_match_the_program() {
    let s = sample();
    let p = parse_in_repo(&s.text, &s.files, Some(s.hint));
    assert_eq!(p.runtime, Some(Runtime::Go));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, s.text);
    let failure = &p.exceptions[0];
    assert_eq!(failure.ty.as_deref(), Some("panic"));
    assert_eq!(
        failure.message.as_deref(),
        Some("runtime error: index out of range [2] with length 2")
    );
    assert!(
        failure
            .thread
            .as_deref()
            .is_some_and(|t| t.starts_with("goroutine "))
    );
    assert_in_app(failure, &truth(), &s.text);
    let at = &failure.frames[0];
    assert_eq!(at.module.as_deref(), Some("example.com/shop/orders"));
    assert_eq!(at.offset, None, "an inlined frame has no offset");
    assert!(
        failure.frames[1].offset.is_some(),
        "a real call has its +0x offset"
    );
}

#[test]
fn a_debug_stack_without_a_panic() {
    let t = traces();
    let p = parse_in_repo(&t.stack, &t.plain.files, Some("go"));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, t.stack);
    let e = &p.exceptions[0];
    assert_eq!(e.ty, None);
    assert_in_app(e, &[("main.go", line_of(MAIN, "stack"), "main")], &t.stack);
    let first = &e.frames[0];
    assert_eq!(
        (
            first.module.as_deref(),
            first.function.as_deref(),
            first.origin
        ),
        (
            Some("runtime/debug"),
            Some("Stack"),
            stacktrace::Origin::Runtime
        )
    );
}
