//! The JVM: `Caused by:`, `Suppressed:` (try-with-resources), `... N more`,
//! a lambda, and JDK frames in the `java.base` module.

use std::process::Command;
use std::sync::OnceLock;

use stacktrace::{Origin, Relation, Runtime};

use crate::Sample;
use crate::support::{
    TempDir, assert_in_app, build, crash_stderr, in_app, line_of, parse_in_repo, repo_files,
};

const CHECKOUT: &str = r#"package shop;

public class Checkout {
    static class Conn implements AutoCloseable {
        public void close() {
            java.io.IOException io = new java.io.IOException("socket closed"); // @io
            throw new IllegalStateException("close failed", io); // @close
        }
    }

    static int parse(String raw) {
        return Integer.parseInt(raw); // @parse
    }

    static int total(String raw) {
        try {
            return parse(raw) * 2; // @total_try
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad order " + raw, e); // @total_raise
        }
    }

    public static void handle(String raw) {
        try (Conn c = new Conn()) {
            total(raw); // @handle
        }
    }
}
"#;

const MAIN: &str = r#"package shop;

public class Main {
    public static void main(String[] args) {
        Runnable r = () -> Checkout.handle("x17"); // @lambda
        r.run(); // @main
    }
}
"#;

pub fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let dir = TempDir::new("java");
        let repo = dir.path().join("repo");
        let src = "repo/src/main/java/shop";
        let a = dir.write(&format!("{src}/Checkout.java"), CHECKOUT);
        let b = dir.write(&format!("{src}/Main.java"), MAIN);
        let classes = dir.path().join("classes");
        build(
            Command::new("javac")
                .arg("-d")
                .arg(&classes)
                .arg(&a)
                .arg(&b),
            "openjdk-17-jdk-headless",
        );
        let text = crash_stderr(
            Command::new("java")
                .arg("-cp")
                .arg(&classes)
                .arg("shop.Main"),
            "openjdk-17-jre-headless",
        );
        Sample {
            text,
            files: repo_files(&repo),
            hint: "java",
        }
    })
}

#[test]
fn chain_and_frames_match_the_program() {
    let s = sample();
    let p = parse_in_repo(&s.text, &s.files, Some(s.hint));
    assert_eq!(p.runtime, Some(Runtime::Java));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, s.text);
    let c = |m| line_of(CHECKOUT, m);
    let m = |m| line_of(MAIN, m);
    let outer = [
        ("shop/Checkout.java", c("handle"), "handle"),
        ("shop/Main.java", m("lambda"), "lambda$main$0"),
        ("shop/Main.java", m("main"), "main"),
    ];

    let failure = &p.exceptions[0];
    assert_eq!(
        failure.ty.as_deref(),
        Some("java.lang.IllegalArgumentException")
    );
    assert_eq!(failure.message.as_deref(), Some("bad order x17"));
    assert_eq!(failure.thread.as_deref(), Some("main"));
    let mut want = vec![("shop/Checkout.java", c("total_raise"), "total")];
    want.extend(outer);
    assert_in_app(failure, &want, &s.text);
    assert_eq!(failure.frames[0].module.as_deref(), Some("shop.Checkout"));

    let suppressed = p
        .exceptions
        .iter()
        .find(|e| e.relation == Relation::Suppressed)
        .unwrap_or_else(|| panic!("no suppressed exception in:\n{}", s.text));
    assert_eq!(
        suppressed.ty.as_deref(),
        Some("java.lang.IllegalStateException")
    );
    assert_eq!(suppressed.parent, Some(0));
    let frames = in_app(suppressed);
    assert_eq!(
        frames[0],
        ("shop/Checkout.java".into(), c("close"), "close".into())
    );
    assert_eq!(
        suppressed.frames[0].module.as_deref(),
        Some("shop.Checkout$Conn")
    );
    // The suppressed exception's own cause, printed one tab in.
    let io = p
        .exceptions
        .iter()
        .find(|e| e.ty.as_deref() == Some("java.io.IOException"))
        .unwrap_or_else(|| panic!("no IOException in:\n{}", s.text));
    assert_eq!(io.relation, Relation::Cause);
    assert_eq!(io.parent.map(|i| &p.exceptions[i]), Some(suppressed));
    assert_eq!(
        in_app(io)[0],
        ("shop/Checkout.java".into(), c("io"), "close".into())
    );
    assert_eq!(in_app(io).len(), in_app(suppressed).len());
    // `... N more` was expanded from the failure's own frames.
    assert_eq!(
        frames[frames.len() - 2..],
        in_app(failure)[in_app(failure).len() - 2..]
    );

    let cause = p
        .exceptions
        .iter()
        .find(|e| e.relation == Relation::Cause && e.parent == Some(0))
        .unwrap_or_else(|| panic!("no cause in:\n{}", s.text));
    assert_eq!(cause.ty.as_deref(), Some("java.lang.NumberFormatException"));
    assert_eq!(cause.parent, Some(0));
    let mut want = vec![
        ("shop/Checkout.java", c("parse"), "parse"),
        ("shop/Checkout.java", c("total_try"), "total"),
    ];
    want.extend(outer);
    assert_in_app(cause, &want, &s.text);
    let jdk = &cause.frames[0];
    assert_eq!(jdk.origin, Origin::Runtime);
    assert!(
        jdk.module
            .as_deref()
            .is_some_and(|m| m.starts_with("java.lang."))
    );
    assert!(!jdk.in_app);
}
