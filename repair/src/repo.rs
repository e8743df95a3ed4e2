//! Git access: find a service's repository (a local path, or a git URL mirrored into the
//! data directory), resolve the envelope's commit, and export the tree at that commit as
//! a tar build context (with extra generated files added).
//!
//! Remotes fail for a while (a network blip, a restarting git server): a clone or fetch
//! is retried with exponential backoff ([`FetchPolicy`]), and if it still fails the error
//! is [`RepoError::Remote`], on which the job waits and is retried later rather than
//! failing. One clone or fetch per mirror runs at a time in this process: concurrent
//! jobs for the same repository wait for it and then find the commit already fetched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::process::Command;
use tracing::{info, warn};

/// How a clone or fetch is retried before the job is told to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// Delay after the first failure; doubles after each further one.
    pub initial: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial: Duration::from_secs(1),
        }
    }
}

/// The lock of one mirror directory: held while it is cloned or fetched.
fn mirror_lock(dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    let mut locks = locks.lock().unwrap_or_else(|e| e.into_inner());
    locks.entry(dir.to_path_buf()).or_default().clone()
}

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
    /// Cloning or fetching the remote failed on every try: the job waits and retries.
    #[error("git {action} of {repository} failed {attempts} times; last error: {last}")]
    Remote {
        action: &'static str,
        repository: String,
        attempts: u32,
        last: String,
    },
}

/// A repository available on local disk.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
    source: String,
    remote: bool,
    policy: FetchPolicy,
}

/// Runs `attempt` until it succeeds or `policy.attempts` tries failed, sleeping with
/// exponential backoff between tries.
async fn with_retries<F, Fut>(
    policy: FetchPolicy,
    action: &'static str,
    repository: &str,
    mut attempt: F,
) -> Result<(), RepoError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), RepoError>>,
{
    let attempts = policy.attempts.max(1);
    let mut delay = policy.initial;
    let mut last = String::new();
    for n in 1..=attempts {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                if n < attempts {
                    warn!(repository, action, attempt = n, retry_in = ?delay, error = %last, "Git remote failed; retrying.");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }
    Err(RepoError::Remote {
        action,
        repository: repository.to_string(),
        attempts,
        last,
    })
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

/// Clones `source` (bare) to `dir` through a temporary directory, so a failed or
/// interrupted clone never leaves a half mirror where the next job looks.
async fn clone_into(source: &str, dir: &Path) -> Result<(), RepoError> {
    let tmp = dir.with_extension(format!("git.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let tmp_s = tmp.to_string_lossy().to_string();
    let cloned = git(None, &["clone", "--quiet", "--bare", source, &tmp_s]).await;
    if let Err(e) = cloned {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dir)?;
    Ok(())
}

impl Repo {
    /// Opens `source`: an existing local directory is used in place; anything else is a
    /// git URL, mirrored (bare) under `cache_dir` and fetched when a commit is missing.
    pub async fn open(source: &str, cache_dir: &Path) -> Result<Self, RepoError> {
        Self::open_with(source, cache_dir, FetchPolicy::default()).await
    }

    /// [`Repo::open`] with a chosen retry policy for the remote.
    pub async fn open_with(
        source: &str,
        cache_dir: &Path,
        policy: FetchPolicy,
    ) -> Result<Self, RepoError> {
        let local = Path::new(source);
        if local.is_dir() {
            return Ok(Self {
                dir: local.to_path_buf(),
                source: source.to_string(),
                remote: false,
                policy,
            });
        }
        let name = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(source.as_bytes())[..8]);
        let dir = cache_dir.join(format!("{name}.git"));
        if !dir.join("HEAD").is_file() {
            let lock = mirror_lock(&dir);
            let _held = lock.lock().await;
            // Another job may have cloned it while this one waited.
            if !dir.join("HEAD").is_file() {
                std::fs::create_dir_all(cache_dir)?;
                info!(repository = %source, "Cloning repository.");
                with_retries(policy, "clone", source, || clone_into(source, &dir)).await?;
            }
        }
        Ok(Self {
            dir,
            source: source.to_string(),
            remote: true,
            policy,
        })
    }

    async fn rev_parse(&self, commit: &str) -> Option<String> {
        let spec = format!("{commit}^{{commit}}");
        let args = ["rev-parse", "--verify", "--quiet", spec.as_str()];
        git(Some(&self.dir), &args)
            .await
            .ok()
            .map(|out| String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The full SHA of `commit`, fetching once from a remote when it is not known yet.
    pub async fn resolve_commit(&self, commit: &str) -> Result<String, RepoError> {
        if let Some(sha) = self.rev_parse(commit).await {
            return Ok(sha);
        }
        if self.remote {
            let lock = mirror_lock(&self.dir);
            let _held = lock.lock().await;
            // A fetch by another job while this one waited may have brought it.
            if let Some(sha) = self.rev_parse(commit).await {
                return Ok(sha);
            }
            info!(repository = %self.source, commit, "Fetching repository.");
            with_retries(self.policy, "fetch", &self.source, || async {
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
                .await
                .map(drop)
            })
            .await?;
            if let Some(sha) = self.rev_parse(commit).await {
                return Ok(sha);
            }
        }
        Err(RepoError::UnknownCommit {
            commit: commit.to_string(),
            repository: self.source.clone(),
        })
    }

    /// The repository's git directory (the mirror of a remote, or the local repository).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Paths of every file in the tree at `commit`.
    pub async fn files(&self, commit: &str) -> Result<Vec<String>, RepoError> {
        let out = git(
            Some(&self.dir),
            &["ls-tree", "-r", "--name-only", "-z", commit],
        )
        .await?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
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

    fn commit(dir: &Path, file: &str, content: &str) {
        std::fs::write(dir.join(file), content).expect("write");
        run(dir, &["add", "."]);
        run(
            dir,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                file,
            ],
        );
    }

    fn head(dir: &Path) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    const QUICK: FetchPolicy = FetchPolicy {
        attempts: 6,
        initial: Duration::from_millis(200),
    };

    #[tokio::test]
    async fn a_failing_clone_is_retried_then_reported_as_remote() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("later");
        let url = format!("file://{}", src.display());
        // The remote appears only after the first tries failed.
        let make = {
            let src = src.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                std::fs::create_dir_all(&src).expect("mkdir");
                run(&src, &["init", "-q", "-b", "main"]);
                commit(&src, "a.txt", "a\n");
            })
        };
        let repo = Repo::open_with(&url, &tmp.path().join("cache"), QUICK)
            .await
            .expect("cloned on a later try");
        make.await.expect("remote created");
        assert_eq!(repo.resolve_commit("HEAD").await.expect("head"), head(&src));
        // A remote that never answers is a `Remote` error naming the tries.
        let gone = format!("file://{}", tmp.path().join("never").display());
        let policy = FetchPolicy {
            attempts: 2,
            initial: Duration::from_millis(10),
        };
        match Repo::open_with(&gone, &tmp.path().join("cache"), policy).await {
            Err(RepoError::Remote {
                action: "clone",
                attempts: 2,
                ..
            }) => {}
            other => panic!("expected a remote error, got {other:?}"),
        }
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("cache"))
            .expect("cache dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "half clones left: {leftovers:?}");
    }

    #[tokio::test]
    async fn concurrent_jobs_fetch_a_mirror_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        run(&src, &["init", "-q", "-b", "main"]);
        commit(&src, "a.txt", "a\n");
        let url = format!("file://{}", src.display());
        let cache = tmp.path().join("cache");
        let repo = Repo::open_with(&url, &cache, QUICK).await.expect("clone");
        // Every fetch from now on goes through a wrapper that logs it and is slow, so
        // fetches that were not serialized would overlap and be counted.
        let log = tmp.path().join("fetches.log");
        let wrapper = tmp.path().join("upload-pack.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho start >> {log}\nsleep 0.3\nexec git-upload-pack \"$@\"\n",
                log = log.display()
            ),
        )
        .expect("wrapper");
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&wrapper)
            .status()
            .expect("chmod");
        let mirror = repo.dir.clone();
        run(
            &mirror,
            &[
                "config",
                "remote.origin.uploadpack",
                &wrapper.to_string_lossy(),
            ],
        );
        commit(&src, "b.txt", "b\n");
        let new = head(&src);
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let (url, cache, new) = (url.clone(), cache.clone(), new.clone());
                tokio::spawn(async move {
                    let repo = Repo::open_with(&url, &cache, QUICK).await?;
                    repo.resolve_commit(&new).await
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.await.expect("join").expect("resolved"), new);
        }
        let fetches = std::fs::read_to_string(&log).expect("fetch log");
        assert_eq!(fetches.lines().count(), 1, "one fetch for four jobs");
    }
}
