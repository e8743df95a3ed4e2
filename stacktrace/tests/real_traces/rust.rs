//! Rust: a panic with `RUST_BACKTRACE=1` (the current header with a thread
//! id, `std`/`core` frames, a closure, iterator adapters), and the same panic
//! without a backtrace.

use std::process::Command;
use std::sync::OnceLock;

use stacktrace::{Origin, Runtime};

use crate::Sample;
use crate::support::{
    TempDir, assert_in_app, build, crash_stderr, line_of, parse_in_repo, repo_files,
};

const CART: &str = r#"pub struct Cart {
    pub items: Vec<u32>,
}

impl Cart {
    pub fn item(&self, i: usize) -> u32 {
        self.items[i] // @index
    }

    pub fn total(&self, n: usize) -> u32 {
        (0..n).map(|i| self.item(i)).sum() // @closure
    }
}
"#;

const MAIN: &str = r#"mod cart;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("capture") {
        // What anyhow and error-reporting layers record: a captured backtrace.
        let trace = std::backtrace::Backtrace::force_capture(); // @capture
        eprintln!("{trace}");
        std::process::exit(1);
    }
    let cart = cart::Cart { items: vec![1, 2] };
    println!("{}", cart.total(3)); // @main
}
"#;

struct Traces {
    backtrace: Sample,
    plain: String,
    captured: String,
}

fn traces() -> &'static Traces {
    static S: OnceLock<Traces> = OnceLock::new();
    S.get_or_init(|| {
        let dir = TempDir::new("rust");
        let repo = dir.path().join("repo");
        dir.write("repo/src/cart.rs", CART);
        let main = dir.write("repo/src/main.rs", MAIN);
        let bin = dir.path().join("shop");
        // An absolute source path, as a CI build directory prints.
        build(
            Command::new("rustc")
                .args(["-g", "--edition", "2021", "--crate-name", "shop", "-o"])
                .arg(&bin)
                .arg(&main),
            "rustc",
        );
        let text = crash_stderr(Command::new(&bin).env("RUST_BACKTRACE", "1"), "rustc");
        let plain = crash_stderr(Command::new(&bin).env_remove("RUST_BACKTRACE"), "rustc");
        let captured = crash_stderr(Command::new(&bin).arg("capture"), "rustc");
        Traces {
            captured,
            backtrace: Sample {
                text,
                files: repo_files(&repo),
                hint: "rust",
            },
            plain,
        }
    })
}

pub fn sample() -> &'static Sample {
    &traces().backtrace
}

#[test]
fn frames_match_the_program() {
    let s = sample();
    let p = parse_in_repo(&s.text, &s.files, Some(s.hint));
    assert_eq!(p.runtime, Some(Runtime::Rust));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, s.text);
    let failure = &p.exceptions[0];
    assert_eq!(failure.ty.as_deref(), Some("panic"));
    assert_eq!(
        failure.message.as_deref(),
        Some("index out of bounds: the len is 2 but the index is 2")
    );
    assert_eq!(failure.thread.as_deref(), Some("main"));
    let c = |m| line_of(CART, m);
    assert_in_app(
        failure,
        &[
            ("src/cart.rs", c("index"), "item"),
            ("src/cart.rs", c("closure"), "total::{{closure}}"),
            ("src/cart.rs", c("closure"), "total"),
            ("src/main.rs", line_of(MAIN, "main"), "main"),
        ],
        &s.text,
    );
    let item = failure
        .frames
        .iter()
        .find(|f| f.in_app)
        .unwrap_or_else(|| panic!("no in-app frame"));
    assert_eq!(item.module.as_deref(), Some("shop::cart::Cart"));
    assert!(item.column.is_some());
    // The panic machinery and iterator adapters are std/core frames.
    assert!(failure.frames[0].origin == Origin::Runtime && !failure.frames[0].in_app);
    assert!(
        failure
            .frames
            .iter()
            .filter(|f| f.origin == Origin::Runtime)
            .count()
            >= 3
    );
    assert!(
        failure
            .frames
            .iter()
            .all(|f| !f.function.as_deref().unwrap_or("").contains("::h"))
    );
}

#[test]
fn without_a_backtrace_the_panic_location_is_the_frame() {
    let t = traces();
    assert!(!t.plain.contains("stack backtrace:"), "{}", t.plain);
    let p = parse_in_repo(&t.plain, &t.backtrace.files, None);
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, t.plain);
    assert_in_app(
        &p.exceptions[0],
        &[("src/cart.rs", line_of(CART, "index"), "")],
        &t.plain,
    );
}

#[test]
fn a_captured_backtrace_without_a_panic() {
    let t = traces();
    let p = parse_in_repo(&t.captured, &t.backtrace.files, None);
    assert_eq!(p.runtime, Some(Runtime::Rust));
    assert!(
        p.is_clean(),
        "problems {:?} in:\n{}",
        p.problems,
        t.captured
    );
    let e = &p.exceptions[0];
    assert_eq!(e.ty, None);
    assert_in_app(
        e,
        &[("src/main.rs", line_of(MAIN, "capture"), "main")],
        &t.captured,
    );
}
