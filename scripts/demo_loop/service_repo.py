"""The example service as a deployed service has it: a git repository with one commit,
a bare repository the engine pushes fix branches to, and the symbol index of the commit
(as CI would build it with `tracemend-symbols`)."""

import pathlib
import shutil
import subprocess

from procs import DemoError

# The files of examples/checkout that make up the service's repository.
SERVICE_FILES = ("README.md", "app.py", "test_app.py", "serve.py", "traffic.py", "requirements.txt")
AUTHOR = ("-c", "user.name=Checkout Team", "-c", "user.email=checkout@example.com")


def git(cwd, *args) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise DemoError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def make_repository(example: pathlib.Path, work: pathlib.Path, remote=None) -> tuple:
    """(repository, commit, bare remote) from the example's files: the repository under
    `work`, the remote at `remote` (made when missing) or under `work`."""
    repo = work / "checkout"
    repo.mkdir()
    for name in SERVICE_FILES:
        src = example / name
        if not src.is_file():
            raise DemoError(f"{src} is missing: the example service is incomplete")
        shutil.copy2(src, repo / name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", *SERVICE_FILES)
    git(repo, *AUTHOR, "commit", "-q", "-m", "checkout: catalog and cart quotes")
    commit = git(repo, "rev-parse", "HEAD")
    remote = pathlib.Path(remote).resolve() if remote else work / "checkout-remote.git"
    if not remote.exists():
        git(work, "init", "-q", "--bare", str(remote))
        # The service's history, as a team's remote has it; a given remote keeps its own
        # (the fix branch brings the commit it starts from).
        git(repo, "push", "-q", str(remote), "main")
    elif git(remote, "rev-parse", "--is-bare-repository") != "true":
        raise DemoError(f"--remote {remote} is not a bare git repository")
    return repo, commit, remote


def build_symbol_index(symbols_bin: pathlib.Path, repo: pathlib.Path, commit: str, out: pathlib.Path) -> None:
    done = subprocess.run([str(symbols_bin), "index", "--repo", str(repo), "--commit", commit, "--out", str(out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise DemoError(f"tracemend-symbols index failed ({done.returncode}): {done.stderr.strip()}")
