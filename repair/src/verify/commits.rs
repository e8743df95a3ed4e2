//! Commits written with git plumbing (a temporary index; no work tree is touched, so a
//! bare mirror and a developer's checkout are both safe), the incident branch, and its
//! push.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// A git command that failed.
#[derive(Debug, thiserror::Error)]
#[error("git {args} failed: {stderr}")]
pub struct GitError {
    /// The arguments.
    pub args: String,
    /// Its error output.
    pub stderr: String,
}

/// Who the engine commits as.
const AUTHOR: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "tracemend"),
    ("GIT_AUTHOR_EMAIL", "tracemend@localhost"),
    ("GIT_COMMITTER_NAME", "tracemend"),
    ("GIT_COMMITTER_EMAIL", "tracemend@localhost"),
];

/// Writes commits into one repository.
pub struct Committer {
    dir: PathBuf,
    index: PathBuf,
}

impl Committer {
    /// A committer for the git directory `dir`; `scratch` holds its temporary index.
    pub fn new(dir: &Path, scratch: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            index: scratch.join("tracemend-verify.index"),
        }
    }

    async fn git(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, GitError> {
        let fail = |stderr: String| GitError {
            args: args.join(" "),
            stderr,
        };
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_INDEX_FILE", &self.index)
            .env("GIT_TERMINAL_PROMPT", "0")
            .envs(AUTHOR)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(fail(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    /// A commit on `parent` that writes `files` (path, content), with `message`.
    pub async fn commit(
        &self,
        parent: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> Result<String, GitError> {
        self.git(&["read-tree", parent], None).await?;
        for (path, content) in files {
            let blob = self
                .git(&["hash-object", "-w", "--stdin"], Some(content.as_bytes()))
                .await?;
            self.git(
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{blob},{path}"),
                ],
                None,
            )
            .await?;
        }
        let tree = self.git(&["write-tree"], None).await?;
        let _ = tokio::fs::remove_file(&self.index).await;
        self.git(
            &["commit-tree", &tree, "-p", parent, "-F", "-"],
            Some(message.as_bytes()),
        )
        .await
    }

    /// Points `refs/heads/<branch>` at `commit`.
    pub async fn set_branch(&self, branch: &str, commit: &str) -> Result<(), GitError> {
        self.git(
            &["update-ref", &format!("refs/heads/{branch}"), commit],
            None,
        )
        .await
        .map(|_| ())
    }

    /// Pushes `branch` to `remote` (a URL or path), replacing an earlier push of it.
    pub async fn push(&self, remote: &str, branch: &str) -> Result<(), GitError> {
        self.git(
            &[
                "push",
                "--quiet",
                remote,
                &format!("+refs/heads/{branch}:refs/heads/{branch}"),
            ],
            None,
        )
        .await
        .map(|_| ())
    }
}
