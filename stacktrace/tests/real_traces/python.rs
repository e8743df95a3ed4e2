//! CPython: a chained failure (`raise from`, then a failure while handling),
//! through the standard library and an installed package.

use std::process::Command;
use std::sync::OnceLock;

use stacktrace::{Origin, Relation, Runtime};

use crate::Sample;
use crate::support::{TempDir, assert_in_app, crash_stderr, line_of, parse_in_repo, repo_files};

const ORDERS: &str = r#"import json

import fakelib


def parse_order(raw):
    return json.loads(raw)  # @parse


def total(raw):
    order = parse_order(raw)  # @total
    return order["qty"] * order["price"]


class Checkout:
    def run(self, raw):
        try:
            return total(raw)  # @run_try
        except ValueError as exc:
            raise LookupError("order 17 unreadable") from exc  # @run_raise

    def handle(self, raw):
        try:
            self.run(raw)  # @handle_try
        except LookupError:
            fakelib.fail("checkout failed for 17")  # @handle_raise
"#;

const MAIN: &str = r#"from shop.orders import Checkout

Checkout().handle("{")  # @main
"#;

const FAKELIB: &str = "def fail(message):\n    raise RuntimeError(message)  # @lib\n";

/// Runs the program (optionally with `pad` blank lines moving the code down)
/// and returns its traceback and the repository's files.
fn generate(pad: usize) -> (String, Vec<String>, String) {
    let dir = TempDir::new("python");
    let repo = dir.path().join("repo");
    let orders = format!("{}{ORDERS}", "\n".repeat(pad));
    dir.write("repo/shop/__init__.py", "");
    dir.write("repo/shop/orders.py", &orders);
    dir.write("repo/main.py", MAIN);
    let site = "venv/lib/python3/site-packages";
    dir.write(&format!("{site}/fakelib/__init__.py"), FAKELIB);
    let text = crash_stderr(
        Command::new("python3")
            .arg("main.py")
            .current_dir(&repo)
            .env("PYTHONPATH", dir.path().join(site))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        "python3",
    );
    (text, repo_files(&repo), orders)
}

pub fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let (text, files, _) = generate(0);
        Sample {
            text,
            files,
            hint: "python",
        }
    })
}

#[test]
fn chain_and_frames_match_the_program() {
    let s = sample();
    let p = parse_in_repo(&s.text, &s.files, Some(s.hint));
    assert_eq!(p.runtime, Some(Runtime::Python));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, s.text);
    let o = |m| line_of(ORDERS, m);
    assert_eq!(p.exceptions.len(), 3, "{}", s.text);

    let failure = &p.exceptions[0];
    assert_eq!(failure.ty.as_deref(), Some("RuntimeError"));
    assert_eq!(failure.message.as_deref(), Some("checkout failed for 17"));
    assert_eq!(failure.relation, Relation::Failure);
    let lib = &failure.frames[0];
    assert_eq!(
        (lib.function.as_deref(), lib.line),
        (Some("fail"), Some(line_of(FAKELIB, "lib")))
    );
    assert_eq!(lib.origin, Origin::Dependency);
    assert_eq!(lib.file.as_deref(), Some("fakelib/__init__.py"));
    assert_eq!(lib.module.as_deref(), Some("fakelib"));
    assert!(!lib.in_app);
    assert_in_app(
        failure,
        &[
            ("shop/orders.py", o("handle_raise"), "handle"),
            ("main.py", line_of(MAIN, "main"), "<module>"),
        ],
        &s.text,
    );
    assert_eq!(failure.frames[1].module.as_deref(), Some("shop.orders"));

    let context = &p.exceptions[1];
    assert_eq!(context.ty.as_deref(), Some("LookupError"));
    assert_eq!(
        (context.relation, context.parent),
        (Relation::Context, Some(0))
    );
    assert_in_app(
        context,
        &[
            ("shop/orders.py", o("run_raise"), "run"),
            ("shop/orders.py", o("handle_try"), "handle"),
        ],
        &s.text,
    );

    let cause = &p.exceptions[2];
    assert_eq!(cause.ty.as_deref(), Some("json.decoder.JSONDecodeError"));
    assert_eq!((cause.relation, cause.parent), (Relation::Cause, Some(1)));
    assert_in_app(
        cause,
        &[
            ("shop/orders.py", o("parse"), "parse_order"),
            ("shop/orders.py", o("total"), "total"),
            ("shop/orders.py", o("run_try"), "run"),
        ],
        &s.text,
    );
    // The innermost frames are the standard library's json decoder.
    let std = &cause.frames[0];
    assert_eq!(std.origin, Origin::Runtime);
    assert_eq!(std.module.as_deref(), Some("json.decoder"));
    assert!(!std.in_app);
}

#[test]
fn without_a_predicate_conventions_decide() {
    let s = sample();
    let p = stacktrace::parse(&s.text);
    let failure = &p.exceptions[0];
    let flags: Vec<(Origin, bool)> = failure
        .frames
        .iter()
        .map(|f| (f.origin, f.in_app))
        .collect();
    assert_eq!(
        flags,
        [
            (Origin::Dependency, false),
            (Origin::Application, true),
            (Origin::Application, true)
        ]
    );
    assert!(
        p.exceptions[2]
            .frames
            .iter()
            .any(|f| f.origin == Origin::Runtime && !f.in_app)
    );
}

#[test]
fn fingerprint_survives_moved_lines_only() {
    let s = sample();
    let (moved, files, _) = generate(7);
    let a = parse_in_repo(&s.text, &s.files, None);
    let b = parse_in_repo(&moved, &files, None);
    assert_ne!(
        a.exceptions[0].frames[1].line,
        b.exceptions[0].frames[1].line
    );
    assert_eq!(
        stacktrace::fingerprint(&a.exceptions[0], &["POST /checkout"]),
        stacktrace::fingerprint(&b.exceptions[0], &["POST /checkout"])
    );
    assert_ne!(
        stacktrace::fingerprint(&a.exceptions[0], &[]),
        stacktrace::fingerprint(&a.exceptions[1], &[])
    );
}

const GROUP: &str = r#"def check(i):
    if i == 0:
        raise ValueError("bad item 0")  # @value
    try:
        {}["sku"]  # @key
    except KeyError as e:
        raise LookupError("no sku for item 1") from e  # @lookup


def main():
    errs = []
    for i in range(2):
        try:
            check(i)  # @check
        except Exception as e:
            errs.append(e)
    raise ExceptionGroup("order batch failed", errs)  # @group


main()  # @main
"#;

/// An exception group whose members carry their own chain.
pub fn group_sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let dir = TempDir::new("python-group");
        dir.write("repo/batch.py", GROUP);
        let repo = dir.path().join("repo");
        let text = crash_stderr(
            Command::new("python3").arg("batch.py").current_dir(&repo),
            "python3",
        );
        assert!(
            text.contains("Exception Group Traceback"),
            "python3 is older than 3.11 (no exception groups):\n{text}"
        );
        Sample {
            text,
            files: repo_files(&repo),
            hint: "python",
        }
    })
}

#[test]
fn exception_groups_keep_their_members_and_their_chains() {
    let s = group_sample();
    let text = &s.text;
    let p = parse_in_repo(text, &s.files, Some(s.hint));
    assert!(p.is_clean(), "problems {:?} in:\n{text}", p.problems);
    let l = |m| line_of(GROUP, m);
    let got: Vec<(Relation, Option<usize>, Option<&str>)> = p
        .exceptions
        .iter()
        .map(|e| (e.relation, e.parent, e.ty.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Relation::Failure, None, Some("ExceptionGroup")),
            (Relation::Group, Some(0), Some("ValueError")),
            (Relation::Group, Some(0), Some("LookupError")),
            (Relation::Cause, Some(2), Some("KeyError")),
        ],
        "{text}"
    );
    assert_in_app(
        &p.exceptions[0],
        &[
            ("batch.py", l("group"), "main"),
            ("batch.py", l("main"), "<module>"),
        ],
        text,
    );
    assert_in_app(
        &p.exceptions[1],
        &[
            ("batch.py", l("value"), "check"),
            ("batch.py", l("check"), "main"),
        ],
        text,
    );
    assert_in_app(&p.exceptions[3], &[("batch.py", l("key"), "check")], text);
}
