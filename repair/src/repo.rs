//! Git access: find a service's repository (a local path, or a git URL mirrored into the
//! data directory), resolve the envelope's commit, and export the tree at that commit as
//! a tar build context (with extra generated files added).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tracing::info;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("commit {commit} is not in repository {repository}")]
    UnknownCommit { commit: String, repository: String },
    #[error("file {path} is not in commit {commit}")]
    MissingFile { path: String, commit: String },
    #[error("git {args} failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("cannot run git: {0}")]
    Spawn(#[from] std::io::Error),
}

/// A repository available on local disk.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
    source: String,
    remote: bool,
}

async fn git(dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, RepoError> {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = cmd.output().await?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(RepoError::Git {
            args: args
                .iter()
                .map(|a| if a.len() > 80 { "…" } else { a })
                .collect::<Vec<_>>()
                .join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

impl Repo {
    /// Opens `source`: an existing local directory is used in place; anything else is a
    /// git URL, mirrored (bare) under `cache_dir` and fetched when a commit is missing.
    pub async fn open(source: &str, cache_dir: &Path) -> Result<Self, RepoError> {
        let local = Path::new(source);
        if local.is_dir() {
            return Ok(Self {
                dir: local.to_path_buf(),
                source: source.to_string(),
                remote: false,
            });
        }
        let name = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(source.as_bytes())[..8]);
        let dir = cache_dir.join(format!("{name}.git"));
        if !dir.join("HEAD").is_file() {
            std::fs::create_dir_all(cache_dir)?;
            info!(repository = %source, "Cloning repository.");
            let dir_s = dir.to_string_lossy().to_string();
            git(None, &["clone", "--quiet", "--bare", source, &dir_s]).await?;
        }
        Ok(Self {
            dir,
            source: source.to_string(),
            remote: true,
        })
    }

    /// The full SHA of `commit`, fetching once from a remote when it is not known yet.
    pub async fn resolve_commit(&self, commit: &str) -> Result<String, RepoError> {
        let spec = format!("{commit}^{{commit}}");
        let args = ["rev-parse", "--verify", "--quiet", spec.as_str()];
        if let Ok(out) = git(Some(&self.dir), &args).await {
            return Ok(String::from_utf8_lossy(&out).trim().to_string());
        }
        if self.remote {
            git(
                Some(&self.dir),
                &[
                    "fetch",
                    "--quiet",
                    "origin",
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
            )
            .await?;
            if let Ok(out) = git(Some(&self.dir), &args).await {
                return Ok(String::from_utf8_lossy(&out).trim().to_string());
            }
        }
        Err(RepoError::UnknownCommit {
            commit: commit.to_string(),
            repository: self.source.clone(),
        })
    }

    /// A file's content at a commit.
    pub async fn show(&self, commit: &str, path: &str) -> Result<Vec<u8>, RepoError> {
        git(Some(&self.dir), &["show", &format!("{commit}:{path}")])
            .await
            .map_err(|_| RepoError::MissingFile {
                path: path.to_string(),
                commit: commit.to_string(),
            })
    }

    /// The tree at `commit` as a tar, under `prefix` (e.g. `src/`, or empty), plus `extra`
    /// generated files (path, content) at the top level.
    pub async fn archive(
        &self,
        commit: &str,
        prefix: &str,
        extra: &[(String, String)],
    ) -> Result<Vec<u8>, RepoError> {
        let mut args: Vec<String> = vec!["archive".into(), "--format=tar".into()];
        for (path, content) in extra {
            args.push(format!("--add-virtual-file={path}:{content}"));
        }
        if !prefix.is_empty() {
            args.push(format!("--prefix={prefix}"));
        }
        args.push(commit.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        git(Some(&self.dir), &args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .expect("git runs")
            .success();
        assert!(ok, "git {args:?}");
    }

    #[tokio::test]
    async fn archive_and_resolve_local_and_cloned() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        run(&src, &["init", "-q", "-b", "main"]);
        std::fs::write(src.join("app.py"), "print('hi')\n").expect("write");
        run(&src, &["add", "."]);
        run(
            &src,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "one",
            ],
        );
        let local = Repo::open(src.to_str().expect("utf8"), &tmp.path().join("cache"))
            .await
            .expect("open");
        let head = local.resolve_commit("HEAD").await.expect("head");
        assert_eq!(head.len(), 40);
        let short = local.resolve_commit(&head[..7]).await.expect("short sha");
        assert_eq!(short, head);
        assert!(matches!(
            local.resolve_commit("deadbeef").await,
            Err(RepoError::UnknownCommit { .. })
        ));
        let tar = local
            .archive(&head, "src/", &[("extra/x.txt".into(), "hello".into())])
            .await
            .expect("archive");
        let text = String::from_utf8_lossy(&tar);
        assert!(text.contains("src/app.py") && text.contains("extra/x.txt"));
        assert_eq!(
            local.show(&head, "app.py").await.expect("show"),
            b"print('hi')\n"
        );

        let url = format!("file://{}", src.display());
        let remote = Repo::open(&url, &tmp.path().join("cache"))
            .await
            .expect("clone");
        assert_eq!(remote.resolve_commit(&head).await.expect("resolve"), head);
    }
}
