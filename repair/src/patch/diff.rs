//! Unified diffs of a file change (`diffy`), with git-style headers.

/// The unified diff from `old` to `new` for `path` (`None`: a new file), with the
/// number of lines added and removed.
pub fn unified(path: &str, old: Option<&str>, new: &str) -> (String, u32, u32) {
    let patch = diffy::create_patch(old.unwrap_or(""), new);
    let body = patch.to_string();
    // diffy's headers name `original`/`modified`; git's name the path.
    let hunks = body
        .split_once("\n+++ ")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map_or("", |(_, h)| h);
    let from = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    let mut added = 0;
    let mut removed = 0;
    for line in hunks.lines() {
        if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            removed += 1;
        }
    }
    (format!("--- {from}\n+++ b/{path}\n{hunks}"), added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_headers() {
        let (d, a, r) = unified("app.py", Some("a\nb\n"), "a\nc\nd\n");
        assert!(d.starts_with("--- a/app.py\n+++ b/app.py\n@@"), "{d}");
        assert_eq!((a, r), (2, 1));
        let (d, a, r) = unified("t.py", None, "x\n");
        assert!(d.starts_with("--- /dev/null\n+++ b/t.py\n"), "{d}");
        assert_eq!((a, r), (1, 0));
    }
}
