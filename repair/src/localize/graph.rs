//! The symbol index of the service's repository at the incident's commit (built with the
//! `codeindex` crate: tree-sitter definitions, name-based call edges, each definition's
//! last change from `git blame`), and what localization reads from it: the callable
//! definition holding a line, the call-graph neighbourhood of the crash frames, and how
//! recently each definition changed.

use std::path::Path;

use symbols::{DefKind, Index};

/// A callable definition, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    /// Row in the index's definition table.
    pub index: u32,
    /// Path relative to the repository root.
    pub path: String,
    /// First line.
    pub start_line: u32,
    /// Last line.
    pub end_line: u32,
    /// Qualified name (`Cart.total`).
    pub qualified_name: String,
    /// The index's symbol id, printed.
    pub symbol_id: String,
    /// Commit time (Unix seconds) and sha of the last change, from blame.
    pub last_change: Option<(i64, String)>,
}

/// Builds the index bytes for `repo` at `commit` (blocking: run it off the async
/// runtime).
pub fn build_index(repo: &Path, commit: &str) -> Result<Vec<u8>, String> {
    let opts = codeindex::Options {
        repo: repo.to_path_buf(),
        commit: Some(commit.to_string()),
        blame: true,
        max_file_bytes: 1024 * 1024,
        jobs: 2,
    };
    codeindex::build(&opts)
        .map(|(bytes, _)| bytes)
        .map_err(|e| e.to_string())
}

fn own(d: &symbols::Definition<'_>) -> Def {
    Def {
        index: d.index,
        path: d.path.to_string(),
        start_line: d.start_line,
        end_line: d.end_line,
        qualified_name: d.qualified_name.to_string(),
        symbol_id: symbols::format_symbol_id(d.symbol_id),
        last_change: d.last_change.map(|c| (c.time, c.sha.to_string())),
    }
}

/// The innermost callable definition (function, method) holding `path:line`.
pub fn callable_at(index: &Index<'_>, path: &str, line: u32) -> Option<Def> {
    let mut d = index.definition_at(path, line).ok()??;
    for _ in 0..64 {
        if d.kind.is_callable() && d.kind != DefKind::Module {
            return Some(own(&d));
        }
        d = index.definition(d.parent?).ok()?;
    }
    None
}

/// Callable definitions within `radius` call edges of `def`, with their distance.
pub fn neighbourhood(index: &Index<'_>, def: &Def, radius: u32) -> Vec<(Def, u32)> {
    index
        .neighbourhood(def.index, radius, 200)
        .unwrap_or_default()
        .into_iter()
        .filter(|(d, _)| d.kind.is_callable() && d.kind != DefKind::Module && !is_test_file(d.path))
        .map(|(d, dist)| (own(&d), dist))
        .collect()
}

/// Whether `path` is a test file (`test_*.py`, `*_test.py`, `conftest.py`, under
/// `tests/`): the repository's tests are runs for the spectrum, never suspects.
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
        || path.starts_with("tests/")
        || path.contains("/tests/")
}

/// The callable definitions `def` may call (by name).
pub fn callees(index: &Index<'_>, def: &Def) -> Vec<Def> {
    index
        .callees(def.index)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.kind.is_callable() && !is_test_file(d.path))
        .map(|d| own(&d))
        .collect()
}

/// The index's commit time (the envelope's commit).
pub fn commit_time(index: &Index<'_>) -> Option<i64> {
    index.commit_time().ok()
}

/// Recency of a change `age_s` seconds before the commit: `0.5^(age / half_life)`.
pub fn recency(age_s: i64, half_life_s: f64) -> f64 {
    0.5f64.powf(age_s.max(0) as f64 / half_life_s.max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recency_halves_every_half_life() {
        assert!((recency(0, 100.0) - 1.0).abs() < 1e-12);
        assert!((recency(100, 100.0) - 0.5).abs() < 1e-12);
        assert!((recency(-5, 100.0) - 1.0).abs() < 1e-12);
        assert!(recency(1000, 100.0) < 0.001);
    }

    #[test]
    fn test_files_are_recognised() {
        for p in [
            "test_app.py",
            "tests/test_x.py",
            "pkg/tests/util.py",
            "conftest.py",
            "a/b_test.py",
        ] {
            assert!(is_test_file(p), "{p}");
        }
        for p in ["app.py", "invoice/totals.py", "contest.py", "testing.py"] {
            assert!(!is_test_file(p), "{p}");
        }
    }
}
