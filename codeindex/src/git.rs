//! Reads a tree at a commit through the `git` command line: the commit, its file
//! list (`git ls-tree`), file contents (one `git cat-file --batch`) and per-line
//! last changes (`git blame --porcelain`). Nothing is read from the work tree.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A failure talking to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// The path is not inside a git repository.
    #[error("{path} is not a git repository: {stderr}")]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// The revision does not name a commit of the repository.
    #[error("unknown commit {rev} in {path}: {stderr}")]
    UnknownCommit {
        /// The revision given.
        rev: String,
        /// The repository.
        path: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// A git command failed.
    #[error("git {args} failed: {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// What git said.
        stderr: String,
    },
    /// git printed something this reader does not understand.
    #[error("unexpected output from git {args}: {detail}")]
    Output {
        /// The arguments.
        args: String,
        /// What was wrong.
        detail: String,
    },
}

/// A regular file of the tree.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Path from the repository root.
    pub path: String,
    /// The blob's object id.
    pub oid: String,
    /// Size in bytes.
    pub size: u64,
}

/// One line's last change, from blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlameCommit {
    /// Full sha.
    pub sha: String,
    /// `Name <mail>`.
    pub author: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
}

/// A repository opened at one commit.
#[derive(Debug)]
pub struct Repo {
    root: PathBuf,
    /// The commit's full sha.
    pub commit: String,
    /// The commit's committer time.
    pub commit_time: i64,
}

fn run(dir: &Path, args: &[&str]) -> Result<std::process::Output, GitError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

fn stdout_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Repo {
    /// Opens the repository at `path` at revision `rev` (`HEAD` when `None`).
    pub fn open(path: &Path, rev: Option<&str>) -> Result<Repo, GitError> {
        let top = run(path, &["rev-parse", "--show-toplevel"])?;
        let root = if top.status.success() {
            PathBuf::from(stdout_line(&top))
        } else {
            // A bare repository (a CI mirror) has no top level but is read the same.
            let bare = run(path, &["rev-parse", "--is-bare-repository"])?;
            if !(bare.status.success() && stdout_line(&bare) == "true") {
                return Err(GitError::NotARepository {
                    path: path.to_owned(),
                    stderr: stderr_of(&top),
                });
            }
            path.to_owned()
        };
        let rev = rev.unwrap_or("HEAD");
        let spec = format!("{rev}^{{commit}}");
        let out = run(
            &root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )?;
        if !out.status.success() {
            return Err(GitError::UnknownCommit {
                rev: rev.to_owned(),
                path: path.to_owned(),
                stderr: "no such commit".to_owned(),
            });
        }
        let commit = stdout_line(&out);
        let out = run(&root, &["show", "-s", "--format=%ct", &commit])?;
        let time_text = stdout_line(&out);
        let commit_time = time_text.parse().map_err(|_| GitError::Output {
            args: "show -s --format=%ct".into(),
            detail: format!("not a time: {time_text:?}"),
        })?;
        Ok(Repo {
            root,
            commit,
            commit_time,
        })
    }

    /// Every regular file of the commit's tree (symlinks and submodules skipped).
    pub fn files(&self) -> Result<Vec<TreeFile>, GitError> {
        let args = [
            "ls-tree",
            "-r",
            "-z",
            "--long",
            "--full-tree",
            self.commit.as_str(),
        ];
        let out = run(&self.root, &args)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: stderr_of(&out),
            });
        }
        let mut files = Vec::new();
        for entry in out.stdout.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            // "<mode> SP <type> SP <oid> SP+ <size> TAB <path>"
            let bad = || GitError::Output {
                args: "ls-tree".into(),
                detail: format!("entry {entry:?}"),
            };
            let (meta, path) = entry.split_once('\t').ok_or_else(bad)?;
            let mut parts = meta.split_whitespace();
            let (Some(mode), Some(kind), Some(oid), Some(size)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            if kind != "blob" || mode == "120000" {
                continue;
            }
            files.push(TreeFile {
                path: path.to_owned(),
                oid: oid.to_owned(),
                size: size.parse().map_err(|_| bad())?,
            });
        }
        Ok(files)
    }

    /// Reads `oids` in order through one `git cat-file --batch`, handing each to
    /// `each` as it arrives (one blob in memory at a time). Blobs larger than
    /// `max_bytes` are not kept: their lines are counted as they stream past.
    pub fn read_blobs(
        &self,
        oids: &[&str],
        max_bytes: u64,
        mut each: impl FnMut(usize, Blob),
    ) -> Result<(), GitError> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(GitError::Output {
                args: "cat-file --batch".into(),
                detail: "no pipes".into(),
            });
        };
        let request: String = oids.iter().map(|o| format!("{o}\n")).collect();
        // Written from a thread: git answers while we still write, and both pipes
        // would fill up if one side waited for the other.
        let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
        let mut reader = BufReader::new(stdout);
        let result = read_batch(&mut reader, oids, max_bytes, &mut each);
        drop(reader);
        let _ = writer.join();
        let _ = child.wait();
        result
    }

    /// The last change of every line of `path` at the commit, line 1 first.
    pub fn blame(&self, path: &str) -> Result<Vec<BlameCommit>, GitError> {
        let args = ["blame", "--porcelain", self.commit.as_str(), "--", path];
        let out = run(&self.root, &args)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: stderr_of(&out),
            });
        }
        parse_porcelain(&out.stdout).map_err(|detail| GitError::Output {
            args: format!("blame --porcelain -- {path}"),
            detail,
        })
    }
}

/// A blob read from git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blob {
    /// Its contents.
    Data(Vec<u8>),
    /// A blob over the size limit: its size and number of lines only.
    Large {
        /// Bytes.
        size: u64,
        /// Lines (a last line without a newline counts).
        lines: u32,
    },
}

/// The answers of `git cat-file --batch` for `oids`: per object a header
/// `<oid> blob <size>`, the contents and a newline.
fn read_batch(
    reader: &mut impl BufRead,
    oids: &[&str],
    max_bytes: u64,
    each: &mut impl FnMut(usize, Blob),
) -> Result<(), GitError> {
    let io_err = |e: std::io::Error| GitError::Output {
        args: "cat-file --batch".into(),
        detail: e.to_string(),
    };
    for (i, oid) in oids.iter().enumerate() {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(io_err)?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size = match fields.as_slice() {
            [_, "blob", size] => size.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| GitError::Output {
            args: "cat-file --batch".into(),
            detail: format!("for {oid}: {:?}", header.trim()),
        })?;
        if size <= max_bytes {
            let len = usize::try_from(size).map_err(|_| GitError::Output {
                args: "cat-file --batch".into(),
                detail: format!("{oid} is {size} bytes"),
            })?;
            let mut data = vec![0u8; len + 1]; // the contents and the newline after them
            reader.read_exact(&mut data).map_err(io_err)?;
            data.truncate(len);
            each(i, Blob::Data(data));
        } else {
            let mut left = size;
            let mut newlines: u64 = 0;
            let mut last = b'\n';
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                reader.read_exact(&mut buf[..n]).map_err(io_err)?;
                newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                last = buf[n - 1];
                left -= n as u64;
            }
            reader.read_exact(&mut buf[..1]).map_err(io_err)?;
            let lines = newlines + u64::from(last != b'\n');
            each(
                i,
                Blob::Large {
                    size,
                    lines: u32::try_from(lines).unwrap_or(u32::MAX),
                },
            );
        }
    }
    Ok(())
}

/// Parses `git blame --porcelain`: a header `<sha> <orig> <final> [<count>]` per
/// line, the commit's fields the first time a sha appears, then the line after a tab.
fn parse_porcelain(out: &[u8]) -> Result<Vec<BlameCommit>, String> {
    #[derive(Default, Clone)]
    struct Fields {
        author: String,
        mail: String,
        time: i64,
    }
    let mut known: HashMap<String, Fields> = HashMap::new();
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for raw in out.split(|&b| b == b'\n') {
        if raw.first() == Some(&b'\t') {
            if let Some((sha, line)) = current.take() {
                lines.push((line, sha));
            }
            continue;
        }
        let text = String::from_utf8_lossy(raw);
        let Some((key, value)) = text.split_once(' ') else {
            continue;
        };
        match (&current, key) {
            (None, sha) if sha.len() >= 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let final_line = value
                    .split(' ')
                    .nth(1)
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| format!("bad header {text:?}"))?;
                known.entry(sha.to_owned()).or_default();
                current = Some((sha.to_owned(), final_line));
            }
            (Some((sha, _)), "author") => {
                if let Some(f) = known.get_mut(sha) {
                    f.author = value.to_owned();
                }
            }
            (Some((sha, _)), "author-mail") => {
                if let Some(f) = known.get_mut(sha) {
                    f.mail = value.to_owned();
                }
            }
            (Some((sha, _)), "committer-time") => {
                if let Some(f) = known.get_mut(sha) {
                    f.time = value.parse().map_err(|_| format!("bad time {value:?}"))?;
                }
            }
            _ => {}
        }
    }
    lines.sort_by_key(|(line, _)| *line);
    let mut result = Vec::with_capacity(lines.len());
    for (i, (line, sha)) in lines.into_iter().enumerate() {
        if line != i + 1 {
            return Err(format!("line {} missing", i + 1));
        }
        let f = known.get(&sha).cloned().unwrap_or_default();
        result.push(BlameCommit {
            author: format!("{} {}", f.author, f.mail).trim().to_owned(),
            sha,
            time: f.time,
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_with_repeated_commits() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let text = format!(
            "{a} 1 1 2\nauthor Ann\nauthor-mail <ann@x>\ncommitter-time 100\nfilename f.py\n\tl1\n\
             {a} 2 2\n\tl2\n{b} 3 3 1\nauthor Bob\nauthor-mail <bob@x>\ncommitter-time 200\n\
             filename f.py\n\tl3\n"
        );
        let got = parse_porcelain(text.as_bytes()).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].author, "Ann <ann@x>");
        assert_eq!(got[1].sha, a);
        assert_eq!((got[2].sha.as_str(), got[2].time), (b.as_str(), 200));
    }

    #[test]
    fn batch_keeps_small_blobs_and_counts_lines_of_large_ones() {
        let text = b"a1 blob 3\nab\n\nb2 blob 5\nx\ny\nz\nc3 blob 4\nl1\nl\n";
        let mut got = Vec::new();
        read_batch(&mut &text[..], &["a1", "b2", "c3"], 3, &mut |i, b| {
            got.push((i, b))
        })
        .expect("parses");
        assert_eq!(
            got,
            [
                (0, Blob::Data(b"ab\n".to_vec())),
                (1, Blob::Large { size: 5, lines: 3 }),
                (2, Blob::Large { size: 4, lines: 2 }),
            ]
        );
        let missing = b"a1 missing\n";
        assert!(read_batch(&mut &missing[..], &["a1"], 9, &mut |_, _| {}).is_err());
    }

    #[test]
    fn porcelain_with_a_gap_is_an_error() {
        let a = "a".repeat(40);
        let text = format!("{a} 1 2 1\nauthor A\ncommitter-time 1\n\tx\n");
        assert!(parse_porcelain(text.as_bytes()).is_err());
    }
}
