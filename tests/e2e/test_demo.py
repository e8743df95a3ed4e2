"""scripts/demo end to end, as a person runs it: the checkout example service gets
traffic until its bug fires, the collector's full edge pipeline turns the failing trace
into an envelope, and the repair engine takes it through all five stages in Docker to a
fix branch. Here it runs on the debug binaries scripts/test built (--bin-dir) and the
test venv's Python (--python), and pushes to a bare repository of the test's, where the
branch is checked: on the envelope's commit, a test commit whose new test fails on the
original code, then a fix commit on which it and the service's own tests pass.

Needs Docker and the base image (repair/images/build-python-base.sh; the demo builds it
when missing). Also: Ctrl-C stops everything and removes what the demo made, the demo
refuses clearly without Docker, and bad arguments get specific errors.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, binary

DEMO = ROOT / "scripts" / "demo"
BASE_IMAGE = "tracemend/python-base:bookworm"


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def demo(*args, env=None, timeout=1500):
    env = dict(os.environ if env is None else env)
    # The guests compiled by the other end-to-end tests' collectors are reused.
    env.setdefault("XDG_CACHE_HOME", str(ROOT / "guest-crates" / "target" / "e2e-cache"))
    return subprocess.run([str(DEMO), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_the_demo_ends_with_a_verified_fix_branch(tmp_path):
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"{BASE_IMAGE} is missing: run repair/images/build-python-base.sh")
    bin_dir = pathlib.Path(binary()).parent
    remote = tmp_path / "remote.git"
    summary_path = tmp_path / "summary.json"
    run = demo("--bin-dir", str(bin_dir), "--python", sys.executable, "--no-stay",
               "--remote", str(remote), "--summary", str(summary_path))
    out = run.stdout + run.stderr
    print(out)
    assert run.returncode == 0, out
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "succeeded", summary
    print(f"demo: {summary['elapsed_s']} s from start to the fix branch")

    # Every stage ran and completed, in order; each was printed as it finished.
    assert [(s["name"], s["status"]) for s in summary["stages"]] == [
        (name, "completed") for name in ("reproduce", "minimize", "localize", "patch", "verify")], summary
    for name in ("reproduce", "minimize", "localize", "patch", "verify"):
        assert f"[{name}] completed" in out, name
    assert "verdict reproduced" in out
    # The shoppers' addresses reached the engine as pseudonyms only.
    envelope_body = next(line for line in out.splitlines() if "envelope body:" in line)
    assert "shopper.example.org" not in envelope_body, envelope_body
    assert re.search(r"u_[0-9a-f]{16}@example\.com", envelope_body), envelope_body
    # The edge's part: failing traces kept, the others dropped; the exception resolved
    # with the commit's symbol index; the envelope sent.
    edge = summary["edge"]
    assert edge["traces_decided"] > edge["traces_kept"] >= 1, edge
    assert edge["exceptions_symbolized"] >= 1 and edge["envelopes_sent"] >= 1, edge
    # The URLs a person follows.
    port = summary["incident_url"].split(":")[2].split("/")[0]
    assert f"incident    http://127.0.0.1:{port}/v1/incidents/{summary['incident']}" in out
    assert f"dashboard   http://127.0.0.1:{port}/ui/" in out

    # The branch: the test commit on the envelope's commit, then the fix.
    branch = summary["branch"]
    base = summary["base_commit"]
    assert branch["name"] == f"tracemend/incident-{summary['incident']}"
    assert git(remote, "rev-parse", branch["name"]) == branch["fix_commit"]
    assert git(remote, "rev-parse", f"{branch['fix_commit']}^") == branch["test_commit"]
    assert git(remote, "rev-parse", f"{branch['test_commit']}^") == base
    assert f"fix branch  {branch['name']} in {remote}" in out
    test_files = git(remote, "diff", "--name-only", base, branch["test_commit"]).split()
    assert len(test_files) == 1 and test_files[0].startswith("test"), test_files
    fixed_files = git(remote, "diff", "--name-only", branch["test_commit"], branch["fix_commit"]).split()
    assert fixed_files == ["app.py"], fixed_files

    # The new test fails on the original code and passes with the fix, as do the
    # service's own tests; run with the host's Python on checkouts of both commits.
    work = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    for rev, want_pass in ((branch["test_commit"], False), (branch["fix_commit"], True)):
        git(work, "checkout", "-q", rev)
        new_test = subprocess.run([sys.executable, "-m", "unittest", test_files[0]], cwd=work,
                                  capture_output=True, text=True, timeout=120)
        assert (new_test.returncode == 0) == want_pass, (rev, new_test.stdout + new_test.stderr)
        if want_pass:
            suite = subprocess.run([sys.executable, "-m", "unittest"], cwd=work, capture_output=True, text=True,
                                   timeout=120)
            assert suite.returncode == 0, suite.stdout + suite.stderr

    # Nothing left behind: processes stopped, the engine's containers and images removed.
    for kind in (["ps", "-aq"], ["image", "ls", "-q"]):
        left = subprocess.run(["docker", *kind, "--filter", f"label=org.tracemend.repair.owner={summary['engine_owner']}"],
                              capture_output=True, text=True, check=True).stdout.split()
        assert left == [], (kind, left)


def test_without_docker_the_demo_refuses_clearly(tmp_path):
    # A PATH with everything the demo needs except docker.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git", "python3", "cat", "sed", "dirname", "sha256sum"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    run = demo("--bin-dir", str(tmp_path), env=dict(os.environ, PATH=str(bin_dir)), timeout=60)
    assert run.returncode == 1
    assert "docker is not installed" in run.stderr, run.stderr

    run = demo("--bin-dir", str(tmp_path), env=dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock"),
               timeout=60)
    assert run.returncode == 1
    assert "the Docker engine does not answer" in run.stderr, run.stderr


def test_bad_arguments_get_specific_errors(tmp_path):
    run = demo("--bin-dir", str(tmp_path), "--python", sys.executable, "--no-stay", timeout=300)
    assert run.returncode == 1
    assert f"{tmp_path}/tracemend is missing or not executable" in run.stdout, run.stdout + run.stderr

    bin_dir = str(pathlib.Path(binary()).parent)
    run = demo("--bin-dir", bin_dir, "--python", str(tmp_path / "no-python"), timeout=300)
    assert run.returncode == 1
    assert f"--python {tmp_path}/no-python: no such executable" in run.stderr, run.stderr

    run = demo("--bin-dir", bin_dir, "--python", sys.executable, "--engine-port", "70000", timeout=300)
    assert run.returncode == 2
    assert "--engine-port must be a port number, got 70000" in run.stderr, run.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = demo("--bin-dir", bin_dir, "--python", sys.executable, "--no-stay", "--engine-port", str(port),
                   timeout=300)
    assert run.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in run.stdout, run.stdout + run.stderr

    not_bare = tmp_path / "not-bare"
    not_bare.mkdir()
    git(not_bare, "init", "-q")
    run = demo("--bin-dir", bin_dir, "--python", sys.executable, "--no-stay", "--remote", str(not_bare), timeout=300)
    assert run.returncode == 1
    assert f"--remote {not_bare} is not a bare git repository" in run.stdout, run.stdout + run.stderr


def test_ctrl_c_stops_everything_and_removes_what_the_demo_made(tmp_path):
    """Ctrl-C while the engine works on the incident: the demo stops its processes,
    removes the engine's containers and images and its work directory, and exits 130."""
    summary_path = tmp_path / "summary.json"
    env = dict(os.environ)
    env.setdefault("XDG_CACHE_HOME", str(ROOT / "guest-crates" / "target" / "e2e-cache"))
    proc = subprocess.Popen([str(DEMO), "--bin-dir", str(pathlib.Path(binary()).parent), "--python", sys.executable,
                             "--no-stay", "--summary", str(summary_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "[reproduce] running" in line:
                break
        else:
            pytest.fail("the demo ended before the reproduce stage ran:\n" + "".join(seen))
        # As a terminal's Ctrl-C reaches it (scripts/demo execs the driver: same pid).
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(seen) + rest
    assert proc.returncode == 130, out
    assert "stopping" in out, out
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "interrupted", summary
    work = summary["work_dir"]
    assert not os.path.exists(work), f"{work} left behind"
    # No process of the demo's left: every one ran with a path under the work directory
    # (configs, the service's checkout) on its command line or as its working directory.
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        assert work not in cmdline and not cwd.startswith(work), f"process {pid} left: {cmdline!r} in {cwd}"
    for kind in (["ps", "-aq"], ["image", "ls", "-q"]):
        left = subprocess.run(["docker", *kind, "--filter", f"label=org.tracemend.repair.owner={summary['engine_owner']}"],
                              capture_output=True, text=True, check=True).stdout.split()
        assert left == [], (kind, left)
