//! CODEOWNERS with GitHub's rules: the file is the first of `.github/CODEOWNERS`,
//! `CODEOWNERS`, `docs/CODEOWNERS`; the last matching pattern wins; a matching
//! pattern without owners leaves the path unowned. Patterns are gitignore's, without
//! what GitHub does not support (`!` negation, `[ ]` ranges, `\#` escapes):
//!
//! - `*` matches within one path segment, `?` one character of a segment;
//! - `**` as a whole segment matches zero or more segments;
//! - a pattern with a `/` at its start or middle is anchored at the root, any
//!   other matches at any depth;
//! - a pattern matching a directory owns everything below it; a trailing `/` matches
//!   directories only;
//! - a last segment of just `*` (`docs/*`) matches only the files directly in the
//!   directory, as GitHub documents, not the contents of its subdirectories.

/// The standard locations, in the order GitHub searches them.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// One rule: a pattern and its owners.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    segments: Vec<String>,
    dir_only: bool,
    files_only: bool,
    owners: Vec<String>,
}

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
}

/// A line skipped while parsing, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: &'static str,
}

impl CodeOwners {
    /// Parses the text of a CODEOWNERS file. Lines with syntax GitHub rejects are
    /// skipped and returned (GitHub would ignore the whole file; skipping the line
    /// keeps the rest of the ownership, and the caller warns).
    pub fn parse(text: &str) -> (CodeOwners, Vec<Skipped>) {
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut tokens = line.split_whitespace();
            let Some(pattern) = tokens.next() else {
                continue;
            };
            let skip = |reason| Skipped {
                line: i + 1,
                reason,
            };
            if pattern.starts_with('!') {
                skipped.push(skip("negated patterns (!) are not supported by GitHub"));
                continue;
            }
            if pattern.contains('[') || pattern.contains(']') {
                skipped.push(skip("character ranges ([ ]) are not supported by GitHub"));
                continue;
            }
            let mut owners = Vec::new();
            let mut bad_owner = false;
            for t in tokens {
                if t.starts_with('#') {
                    break; // an inline comment
                }
                if t.contains('@') {
                    owners.push(t.to_owned());
                } else {
                    bad_owner = true;
                }
            }
            if bad_owner {
                skipped.push(skip("an owner is not @user, @org/team or an email address"));
                continue;
            }
            rules.push(Rule::new(pattern, owners));
        }
        (CodeOwners { rules }, skipped)
    }

    /// The owners of `path` (relative to the root, `/`-separated): those of the last
    /// rule that matches it; empty when none does or that rule lists no owners.
    pub fn owners(&self, path: &str) -> &[String] {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(&segments))
            .map(|r| r.owners.as_slice())
            .unwrap_or(&[])
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Rule {
    fn new(pattern: &str, owners: Vec<String>) -> Rule {
        let dir_only = pattern.ends_with('/');
        let trimmed = pattern.trim_end_matches('/');
        let anchored = trimmed.contains('/');
        let trimmed = trimmed.trim_start_matches('/');
        let mut segments: Vec<String> = Vec::new();
        if !anchored {
            segments.push("**".to_owned());
        }
        segments.extend(
            trimmed
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let files_only =
            segments.len() > 1 && segments.last().is_some_and(|s| s == "*") && anchored;
        Rule {
            segments,
            dir_only,
            files_only,
            owners,
        }
    }

    /// Whether the pattern matches the file itself or one of its directories.
    fn matches(&self, path: &[&str]) -> bool {
        let n = path.len();
        if n == 0 {
            return false;
        }
        if !self.dir_only && match_segments(&self.segments, path) {
            return true;
        }
        if self.files_only {
            return false;
        }
        (1..n).any(|k| match_segments(&self.segments, &path[..k]))
    }
}

/// Whether pattern segments match path segments exactly (`**` spans zero or more).
fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((seg, path_rest)) => {
                glob(first.as_bytes(), seg.as_bytes()) && match_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment.
fn glob(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file of GitHub's "About code owners" page (its rules, in its
    /// order), with what the page says each rule owns.
    const GITHUB_EXAMPLE: &str = "\
# This is a comment.
# Each line is a file pattern followed by one or more owners.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/* docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
";

    fn owners<'a>(co: &'a CodeOwners, path: &str) -> Vec<&'a str> {
        co.owners(path).iter().map(String::as_str).collect()
    }

    #[test]
    fn github_documented_example() {
        let (co, skipped) = CodeOwners::parse(GITHUB_EXAMPLE);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(co.len(), 12);
        // The default owners for everything unless a later match takes precedence.
        assert_eq!(
            owners(&co, "README.md"),
            ["@global-owner1", "@global-owner2"]
        );
        // Last match wins: JS files only the JS owner; the inline comment is not an owner.
        assert_eq!(owners(&co, "src/app.js"), ["@js-owner"]);
        assert_eq!(owners(&co, "main.go"), ["docs@example.com"]);
        assert_eq!(owners(&co, "notes/a.txt"), ["@octo-org/octocats"]);
        // /build/logs/ at the root and its subdirectories (the later **/logs also
        // matches them, and wins).
        assert_eq!(owners(&co, "build/logs/x.md"), ["@octocat"]);
        // docs/* matches files directly in docs/, not nested ones; /docs/ (later)
        // matches both, so test docs/* where /docs/ does not reach.
        assert_eq!(owners(&co, "docs/getting-started.md"), ["@doctocat"]);
        // apps/ matches an apps directory anywhere.
        assert_eq!(owners(&co, "lib/apps/x.rb"), ["@octocat"]);
        assert_eq!(owners(&co, "scripts/deploy.sh"), ["@doctocat", "@octocat"]);
        // **/logs: a logs directory anywhere.
        assert_eq!(owners(&co, "deeply/nested/logs/e.md"), ["@octocat"]);
        assert_eq!(owners(&co, "scripts/logs/e.md"), ["@octocat"]);
        // /apps/ but not /apps/github, whose owners are left empty.
        assert_eq!(owners(&co, "apps/web/x.rb"), ["@octocat"]);
        assert!(owners(&co, "apps/github/x.rb").is_empty());
    }

    #[test]
    fn docs_star_is_not_recursive() {
        let (co, _) = CodeOwners::parse("docs/* docs@example.com\n");
        assert_eq!(owners(&co, "docs/getting-started.md"), ["docs@example.com"]);
        assert!(owners(&co, "docs/build-app/troubleshooting.md").is_empty());
        // Anchored: not a docs directory elsewhere.
        assert!(owners(&co, "x/docs/a.md").is_empty());
    }

    #[test]
    fn anchoring_and_directories() {
        let (co, _) = CodeOwners::parse("/build/logs/ @a\napps/ @b\n/scripts/ @c\n");
        assert_eq!(owners(&co, "build/logs/deep/x"), ["@a"]);
        assert!(
            owners(&co, "x/build/logs/y").is_empty(),
            "anchored at the root"
        );
        assert_eq!(owners(&co, "apps/x"), ["@b"]);
        assert_eq!(owners(&co, "a/b/apps/c/d"), ["@b"]);
        assert!(
            owners(&co, "a/apps").is_empty(),
            "a file named apps is not a directory"
        );
        assert!(owners(&co, "x/scripts/y").is_empty());
        let (co, _) = CodeOwners::parse("**/logs @o\nsrc/**/test_*.py @t\n/a/**/b @ab\n");
        assert_eq!(owners(&co, "logs/x"), ["@o"]);
        assert_eq!(owners(&co, "src/test_a.py"), ["@t"]);
        assert_eq!(owners(&co, "src/x/y/test_a.py"), ["@t"]);
        assert!(owners(&co, "src/x/a_test.py").is_empty());
        assert_eq!(owners(&co, "a/b"), ["@ab"]);
        assert_eq!(owners(&co, "a/x/y/b/z"), ["@ab"]);
    }

    #[test]
    fn wildcards() {
        assert!(glob(b"*.js", b"app.js"));
        assert!(!glob(b"*.js", b"app.jsx"));
        assert!(glob(b"te?t*", b"test_file"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(!glob(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn unsupported_syntax_is_skipped_with_a_reason() {
        let (co, skipped) =
            CodeOwners::parse("* @all\n!x.js @no\n[ab].py @no\nfoo.py owner-without-at\n");
        assert_eq!(co.len(), 1);
        assert_eq!(
            skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(owners(&co, "x.js"), ["@all"]);
    }
}
