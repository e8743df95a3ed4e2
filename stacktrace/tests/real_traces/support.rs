//! Test support: temporary repositories, running the real runtimes, and
//! comparing parsed frames with the truth the test programs carry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use stacktrace::{Exception, Parsed, Parser};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "stacktrace-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel` (parents created) and returns the path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command; a missing program fails the test naming the Debian
/// package that provides it.
pub fn run(cmd: &mut Command, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{:?} is not installed: install the Debian package `{package}` \
             (apt-get install -y {package}); this test needs the real runtime",
            cmd.get_program()
        ),
        Err(e) => panic!("run {cmd:?}: {e}"),
    }
}

/// Runs a build step that must succeed.
pub fn build(cmd: &mut Command, package: &str) {
    let out = run(cmd, package);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a program expected to fail and returns its stderr.
pub fn crash_stderr(cmd: &mut Command, package: &str) -> String {
    let out = run(cmd, package);
    assert!(
        !out.status.success(),
        "{cmd:?} was expected to fail but exited 0"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The 1-based line of the line holding `@marker` in `source`.
pub fn line_of(source: &str, marker: &str) -> u32 {
    let tag = format!("@{marker}");
    let found = source.lines().position(|l| {
        l.find(&tag).is_some_and(|at| {
            !l[at + tag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    });
    match found {
        Some(i) => u32::try_from(i + 1).unwrap_or(u32::MAX),
        None => panic!("marker @{marker} not in the test program"),
    }
}

/// The repository's files (relative, `/`-separated), as the symbol index
/// would list them.
pub fn repo_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// The index's answer: a repository file is this path or ends with `/path`
/// (JVM traces print only the package path of a file).
pub fn in_repo(files: &[String], candidate: &str) -> bool {
    files
        .iter()
        .any(|f| f == candidate || f.ends_with(&format!("/{candidate}")))
}

/// Parses with the repository as the in-app predicate.
pub fn parse_in_repo(text: &str, files: &[String], hint: Option<&str>) -> Parsed {
    let pred = |p: &str| in_repo(files, p);
    Parser::new().in_app(&pred).parse(text, hint)
}

/// One expected in-app frame: (file, line, function).
pub type Truth<'a> = (&'a str, u32, &'a str);

/// The in-app frames of `e` as (file, line, function).
pub fn in_app(e: &Exception) -> Vec<(String, u32, String)> {
    e.frames
        .iter()
        .filter(|f| f.in_app)
        .map(|f| {
            (
                f.file.clone().unwrap_or_default(),
                f.line.unwrap_or(0),
                f.function.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Asserts the in-app frames of `e` are exactly `truth`, innermost first.
pub fn assert_in_app(e: &Exception, truth: &[Truth], text: &str) {
    let want: Vec<(String, u32, String)> = truth
        .iter()
        .map(|(f, l, func)| ((*f).to_owned(), *l, (*func).to_owned()))
        .collect();
    assert_eq!(
        in_app(e),
        want,
        "in-app frames of {:?} differ; the trace was:\n{text}",
        e.ty
    );
}
