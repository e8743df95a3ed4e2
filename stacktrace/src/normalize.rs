//! Path normalization and the in-app decision.
//!
//! A printed path becomes a repository-relative candidate in this order:
//!
//! 1. `file://` URLs lose their scheme and `%XX` escapes are decoded.
//! 2. Windows paths: `\` becomes `/` and a drive letter (`C:`) is dropped.
//! 3. `.` segments and empty segments are removed, `..` is resolved lexically.
//! 4. Everything up to the last package directory (default: `site-packages/`,
//!    `dist-packages/`, `node_modules/`) is cut: `/usr/lib/python3/site-packages/app/x.py`
//!    becomes `app/x.py`, the package's path inside the installed tree.
//! 5. The first matching strip prefix (default [`DEFAULT_STRIP_PREFIXES`], container
//!    working directories such as `/app/` and `/usr/src/app/`) is cut.
//!
//! With an in-app predicate, a frame of [`Origin::Application`] then tries the
//! normalized path and each shorter suffix of it (`home/ci/build/src/main.rs`,
//! `ci/build/src/main.rs`, …, `main.rs`), longest first; the first the
//! predicate accepts becomes the frame's `file` and makes it in-app. This is how
//! absolute build paths (`/home/runner/work/repo/repo/...`, `/build/...`) resolve
//! without configuration. A [`Origin::Dependency`] frame tries only its
//! normalized path (a vendored or installed copy of the repository's own
//! package); a [`Origin::Runtime`] frame is never in-app.

use crate::frame::{Frame, Origin};
use crate::scan::segments;

/// Container and platform working directories cut from the front of a path.
pub const DEFAULT_STRIP_PREFIXES: &[&str] = &[
    "/usr/src/app/",
    "/opt/app/",
    "/srv/app/",
    "/home/app/",
    "/app/",
    "/workspace/",
    "/code/",
    "/var/task/",
    "/home/site/wwwroot/",
];

/// Directories of installed packages; the path after the last one is kept.
pub const DEFAULT_PACKAGE_DIRS: &[&str] = &["site-packages", "dist-packages", "node_modules"];

/// Path normalization rules. `Normalizer::default()` uses
/// [`DEFAULT_STRIP_PREFIXES`] and [`DEFAULT_PACKAGE_DIRS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalizer {
    strip_prefixes: Vec<String>,
    package_dirs: Vec<String>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(
            DEFAULT_STRIP_PREFIXES.iter().copied(),
            DEFAULT_PACKAGE_DIRS.iter().copied(),
        )
    }
}

impl Normalizer {
    /// Rules with these strip prefixes (tried in order, the first match is
    /// cut; a missing trailing `/` is added) and package directory names.
    pub fn new<P, D>(strip_prefixes: P, package_dirs: D) -> Self
    where
        P: IntoIterator,
        P::Item: AsRef<str>,
        D: IntoIterator,
        D::Item: AsRef<str>,
    {
        let strip_prefixes = strip_prefixes
            .into_iter()
            .filter_map(|p| {
                let p = clean(p.as_ref());
                (!p.is_empty()).then(|| format!("{}/", p.trim_end_matches('/')))
            })
            .collect();
        let package_dirs = package_dirs
            .into_iter()
            .map(|d| d.as_ref().trim_matches('/').to_owned())
            .filter(|d| !d.is_empty())
            .collect();
        Normalizer {
            strip_prefixes,
            package_dirs,
        }
    }

    /// These rules plus one more strip prefix, tried before the others.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let p = clean(prefix);
        if !p.is_empty() {
            self.strip_prefixes
                .insert(0, format!("{}/", p.trim_end_matches('/')));
        }
        self
    }

    /// The normalized form of a printed path (steps 1–5 of the module docs).
    pub fn normalize(&self, path: &str) -> String {
        let path = clean(path);
        if let Some(rest) = self.after_package_dir(&path) {
            return rest.to_owned();
        }
        for prefix in &self.strip_prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return rest.to_owned();
            }
        }
        path
    }

    fn after_package_dir<'a>(&self, path: &'a str) -> Option<&'a str> {
        let mut best: Option<usize> = None;
        for (at, seg) in segments(path) {
            let end = at + seg.len();
            if end < path.len() && self.package_dirs.iter().any(|d| d == seg) {
                best = Some(end + 1);
            }
        }
        best.map(|at| &path[at..]).filter(|rest| !rest.is_empty())
    }
}

/// Syntax-only cleanup: URL scheme, escapes, Windows separators and drive,
/// `.`/`..`/empty segments. An absolute path keeps its leading `/`.
fn clean(path: &str) -> String {
    let path = path.trim();
    if is_clean(path) {
        return path.to_owned();
    }
    let (path, was_url) = match path.strip_prefix("file://") {
        Some(rest) => (rest, true),
        None => (path, false),
    };
    let decoded = if was_url {
        percent_decode(path)
    } else {
        path.to_owned()
    };
    let mut s = decoded.replace('\\', "/");
    let bytes = s.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        s = s[2..].to_owned();
    } else if was_url && bytes.len() >= 3 && bytes[0] == b'/' && bytes[2] == b':' {
        // file:///C:/dir/x.js
        s = s[3..].to_owned();
    }
    let absolute = s.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            _ => parts.push(seg),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Whether `clean` would return `path` unchanged (the common case).
fn is_clean(path: &str) -> bool {
    let b = path.as_bytes();
    let drive = b.len() >= 2 && b[1] == b':';
    let needs_work = path.is_empty()
        || path.starts_with("file:")
        || drive
        || b.contains(&b'\\')
        || b.ends_with(b"/");
    !needs_work
        && segments(path)
            .skip(usize::from(b[0] == b'/'))
            .all(|(_, s)| !s.is_empty() && s != "." && s != "..")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex_val(*b)),
                bytes.get(i + 2).and_then(|b| hex_val(*b)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The candidates a predicate is asked about for a normalized path: the path
/// without a leading `/`, then each shorter suffix at a `/`, longest first.
pub fn suffix_candidates(normalized: &str) -> impl Iterator<Item = &str> {
    let base = normalized.trim_start_matches('/');
    std::iter::once(base).chain(
        base.char_indices()
            .filter(|(_, c)| *c == '/')
            .map(move |(i, _)| &base[i + 1..])
            .filter(|s| !s.is_empty()),
    )
}

/// Whether a path is the repository's, as the caller's predicate answers.
pub type InAppPredicate<'a> = &'a dyn Fn(&str) -> bool;

/// Normalizes the frame's `file` and decides `in_app`.
pub(crate) fn resolve(
    frame: &mut Frame,
    normalizer: &Normalizer,
    predicate: Option<InAppPredicate>,
) {
    if let Some(file) = frame.file.take() {
        frame.file = Some(normalizer.normalize(&file));
    }
    frame.in_app = match (frame.origin, predicate) {
        (Origin::Runtime, _) => false,
        (origin, Some(pred)) => {
            let Some(file) = frame.file.as_deref() else {
                frame.in_app = false;
                return;
            };
            let found = if origin == Origin::Dependency {
                let base = file.trim_start_matches('/');
                pred(base).then(|| base.to_owned())
            } else {
                suffix_candidates(file).find(|c| pred(c)).map(str::to_owned)
            };
            match found {
                Some(path) => {
                    frame.file = Some(path);
                    true
                }
                None => false,
            }
        }
        (Origin::Dependency, None) => false,
        (Origin::Application, None) => frame.file.is_some() || frame.function.is_some(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules() {
        let n = Normalizer::default();
        assert_eq!(n.normalize("/app/svc/views.py"), "svc/views.py");
        assert_eq!(n.normalize("/usr/src/app/index.js"), "index.js");
        assert_eq!(
            n.normalize("/usr/lib/python3/dist-packages/requests/api.py"),
            "requests/api.py"
        );
        assert_eq!(
            n.normalize("/srv/node_modules/a/node_modules/b/lib/x.js"),
            "b/lib/x.js"
        );
        assert_eq!(n.normalize("file:///app/src/my%20x.mjs"), "src/my x.mjs");
        assert_eq!(
            n.normalize("C:\\Users\\me\\proj\\src\\a.js"),
            "/Users/me/proj/src/a.js"
        );
        assert_eq!(n.normalize("file:///C:/proj/a.js"), "/proj/a.js");
        assert_eq!(n.normalize("./src/./lib/../main.rs"), "src/main.rs");
        assert_eq!(
            n.normalize("/home/ci/build/src/main.rs"),
            "/home/ci/build/src/main.rs"
        );
        // A directory merely named like a package dir is not one.
        assert_eq!(
            n.normalize("/x/my-node_modules/a.js"),
            "/x/my-node_modules/a.js"
        );
    }

    #[test]
    fn configured_prefixes() {
        let n = Normalizer::new(["/build/project"], ["vendor"]);
        assert_eq!(n.normalize("/build/project/src/lib.rs"), "src/lib.rs");
        assert_eq!(n.normalize("/x/vendor/dep/a.go"), "dep/a.go");
        assert_eq!(n.normalize("/app/x.py"), "/app/x.py");
        let n = Normalizer::default().with_prefix("/opt/svc");
        assert_eq!(n.normalize("/opt/svc/a/b.py"), "a/b.py");
    }

    #[test]
    fn suffixes_longest_first() {
        let got: Vec<&str> = suffix_candidates("/home/ci/src/main.rs").collect();
        assert_eq!(
            got,
            [
                "home/ci/src/main.rs",
                "ci/src/main.rs",
                "src/main.rs",
                "main.rs"
            ]
        );
    }

    #[test]
    fn predicate_decides_after_normalization() {
        let n = Normalizer::default();
        let repo = |p: &str| p == "src/main.rs" || p == "mypkg/views.py";
        let mut f = Frame {
            file: Some("/home/runner/work/r/r/src/main.rs".into()),
            ..Frame::default()
        };
        resolve(&mut f, &n, Some(&repo));
        assert!(f.in_app);
        assert_eq!(f.file.as_deref(), Some("src/main.rs"));

        let mut f = Frame {
            file: Some("/usr/lib/python3/site-packages/mypkg/views.py".into()),
            origin: Origin::Dependency,
            ..Frame::default()
        };
        resolve(&mut f, &n, Some(&repo));
        assert!(
            f.in_app,
            "an installed copy of the repository's package is in-app"
        );

        let mut f = Frame {
            file: Some("/rustc/abc/library/std/src/main.rs".into()),
            origin: Origin::Runtime,
            ..Frame::default()
        };
        resolve(&mut f, &n, Some(&repo));
        assert!(!f.in_app);
    }
}
