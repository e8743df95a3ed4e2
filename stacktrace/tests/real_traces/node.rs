//! Node.js: a callback through an installed package, a class method, an
//! async caller (`err.stack`, what `recordException` stores), and an
//! uncaught ES-module error as Node prints it (source excerpt, `file://`
//! URLs, `node:internal` frames).

use std::process::Command;
use std::sync::OnceLock;

use stacktrace::{Origin, Relation, Runtime};

use crate::Sample;
use crate::support::{TempDir, assert_in_app, crash_stderr, line_of, parse_in_repo, repo_files};

const CART: &str = r#"'use strict';
const lib = require('fakelib');

class Cart {
  constructor(items) {
    this.items = items;
  }

  total() {
    return lib.sum(this.items, (item) => { // @total
      if (item.price < 0) throw new RangeError(`negative price ${item.price}`); // @throw
      return item.price;
    });
  }
}

async function checkout(items) {
  await null;
  return new Cart(items).total(); // @checkout
}

module.exports = { checkout };
"#;

const INDEX: &str = r#"const { checkout } = require('./src/cart');

async function main() {
  await checkout([{ price: 3 }, { price: -1 }]); // @main
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
"#;

const FAKELIB: &str = r#"exports.sum = function sum(xs, f) {
  return xs.reduce((acc, x) => acc + f(x), 0); // @lib
};
"#;

const ESM: &str = r#"export function explode(n) {
  throw new Error(`esm failure ${n}`); // @esm
}
explode(3); // @esm_call
"#;

const CAUSE: &str = r#"function inner() {
  throw new TypeError('inner bad'); // @inner
}
function outer() {
  try {
    inner(); // @call_inner
  } catch (e) {
    throw new Error('outer failed', { cause: e }); // @outer
  }
}
outer(); // @top
"#;

struct Traces {
    cjs: Sample,
    esm: String,
    cause: Sample,
}

fn traces() -> &'static Traces {
    static S: OnceLock<Traces> = OnceLock::new();
    S.get_or_init(|| {
        let dir = TempDir::new("node");
        let repo = dir.path().join("repo");
        dir.write("repo/src/cart.js", CART);
        dir.write("repo/index.js", INDEX);
        dir.write("repo/esm.mjs", ESM);
        dir.write("repo/cause.js", CAUSE);
        // Outside the repository, as an installed (git-ignored) package is.
        dir.write("node_modules/fakelib/index.js", FAKELIB);
        let text = crash_stderr(
            Command::new("node").arg("index.js").current_dir(&repo),
            "nodejs",
        );
        let esm = crash_stderr(
            Command::new("node").arg("esm.mjs").current_dir(&repo),
            "nodejs",
        );
        let cause = crash_stderr(
            Command::new("node").arg("cause.js").current_dir(&repo),
            "nodejs",
        );
        Traces {
            cause: Sample {
                text: cause,
                files: repo_files(&repo),
                hint: "nodejs",
            },
            cjs: Sample {
                text,
                files: repo_files(&repo),
                hint: "nodejs",
            },
            esm,
        }
    })
}

pub fn sample() -> &'static Sample {
    &traces().cjs
}

/// An uncaught error with a `cause`, as Node prints it.
pub fn cause_sample() -> &'static Sample {
    &traces().cause
}

#[test]
fn frames_match_the_program() {
    let s = sample();
    let p = parse_in_repo(&s.text, &s.files, Some(s.hint));
    assert_eq!(p.runtime, Some(Runtime::Node));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, s.text);
    let failure = &p.exceptions[0];
    assert_eq!(failure.ty.as_deref(), Some("RangeError"));
    assert_eq!(failure.message.as_deref(), Some("negative price -1"));
    let c = |m| line_of(CART, m);
    assert_in_app(
        failure,
        &[
            ("src/cart.js", c("throw"), ""),
            ("src/cart.js", c("total"), "total"),
            ("src/cart.js", c("checkout"), "checkout"),
            ("index.js", line_of(INDEX, "main"), "main"),
        ],
        &s.text,
    );
    let by_function = |name: &str| {
        failure
            .frames
            .iter()
            .find(|f| f.function.as_deref() == Some(name))
    };
    let total = by_function("total").unwrap_or_else(|| panic!("no total frame in:\n{}", s.text));
    assert_eq!(total.module.as_deref(), Some("Cart"));
    assert!(total.column.is_some());
    let sum = by_function("sum").unwrap_or_else(|| panic!("no sum frame in:\n{}", s.text));
    assert_eq!((sum.origin, sum.in_app), (Origin::Dependency, false));
    assert_eq!(sum.file.as_deref(), Some("fakelib/index.js"));
    assert_eq!(sum.line, Some(line_of(FAKELIB, "lib")));
    let main = failure.frames.last().unwrap_or_else(|| panic!("no frames"));
    assert!(main.is_async, "`at async main` is an async frame");
}

#[test]
fn uncaught_esm_error_as_node_prints_it() {
    let t = traces();
    let p = parse_in_repo(&t.esm, &t.cjs.files, None);
    assert_eq!(p.runtime, Some(Runtime::Node));
    assert!(p.is_clean(), "problems {:?} in:\n{}", p.problems, t.esm);
    let failure = &p.exceptions[0];
    assert_eq!(failure.ty.as_deref(), Some("Error"));
    assert_eq!(failure.message.as_deref(), Some("esm failure 3"));
    assert_in_app(
        failure,
        &[
            ("esm.mjs", line_of(ESM, "esm"), "explode"),
            ("esm.mjs", line_of(ESM, "esm_call"), ""),
        ],
        &t.esm,
    );
    assert!(
        failure.frames.iter().any(|f| f.origin == Origin::Runtime
            && f.file
                .as_deref()
                .is_some_and(|p| p.starts_with("node:internal"))),
        "node:internal frames are kept, not in-app:\n{}",
        t.esm
    );
}

#[test]
fn uncaught_error_with_a_cause() {
    let t = traces();
    let p = parse_in_repo(&t.cause.text, &t.cause.files, Some("nodejs"));
    assert!(
        p.is_clean(),
        "problems {:?} in:\n{}",
        p.problems,
        t.cause.text
    );
    let l = |m| line_of(CAUSE, m);
    let failure = &p.exceptions[0];
    assert_eq!(failure.message.as_deref(), Some("outer failed"));
    assert_in_app(
        failure,
        &[
            ("cause.js", l("outer"), "outer"),
            ("cause.js", l("top"), "<anonymous>"),
        ],
        &t.cause.text,
    );
    let cause = &p.exceptions[1];
    assert_eq!((cause.relation, cause.parent), (Relation::Cause, Some(0)));
    assert_eq!(cause.ty.as_deref(), Some("TypeError"));
    assert_in_app(
        cause,
        &[
            ("cause.js", l("inner"), "inner"),
            ("cause.js", l("call_inner"), "outer"),
            ("cause.js", l("top"), "<anonymous>"),
        ],
        &t.cause.text,
    );
}
