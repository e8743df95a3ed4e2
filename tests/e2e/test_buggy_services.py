"""Holds the buggy-service set (tests/buggy-services/) honest, without the repair engine.

For each service: its directory becomes a fresh git repository; its own test suite passes
(the bug is missed); the app runs under a real server (werkzeug, uvicorn, wsgiref) on a
loopback port; the passing requests from truth.json answer 2xx; the failing request
answers 5xx and the server's output holds the traceback truth.json promises (exception
type and message, every in-app frame as file:line in function, innermost last); a
failure that needs a feature flag or a fixture passes without it; and make_envelope.py
turns the truth into a schema-valid envelope for the repository's commit.

The frameworks come from one venv for the whole set, tests/buggy-services/.venv, created
from the pinned tests/buggy-services/requirements.txt on first use (and again when that
file changes).
"""

import ast
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import requests

from conftest import free_port, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
SET_DIR = ROOT / "tests" / "buggy-services"
VENV = SET_DIR / ".venv"
REQUIREMENTS = SET_DIR / "requirements.txt"
SERVICES = sorted(p.parent.name for p in SET_DIR.glob("*/truth.json"))

CAUSE_CLASSES = {
    "missing guard",
    "wrong assumption about input",
    "type confusion",
    "bad arithmetic",
    "config/flag drift",
    "dependency behaviour",
    "timeout/resource",
}


def venv_python():
    return VENV / "bin" / "python"


@pytest.fixture(scope="session")
def python():
    """The set's venv, created once (and recreated when the pinned requirements change)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if not (venv_python().exists() and stamp.exists() and stamp.read_text() == digest):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            capture_output=True,
            text=True,
        )
        assert pip.returncode == 0, f"pip install -r {REQUIREMENTS} failed:\n{pip.stdout}\n{pip.stderr}"
        stamp.write_text(digest)
    return str(venv_python())


def load_truth(name):
    return json.loads((SET_DIR / name / "truth.json").read_text())


def leaves(value):
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values()) or 1
    if isinstance(value, list):
        return sum(leaves(v) for v in value) or 1
    return 1


def clean_env():
    """The caller's environment without anything that would change the services' behaviour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEMEND_") and k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def service_env(truth):
    """The service environment the repair sandbox derives from the envelope."""
    env = {}
    flags = truth.get("environment", {}).get("feature_flags")
    if flags is not None:
        env["TRACEMEND_FEATURE_FLAGS"] = json.dumps(flags)
    fixtures = truth.get("state", {}).get("fixtures")
    if fixtures is not None:
        env["TRACEMEND_FIXTURES"] = json.dumps(fixtures)
    return env


def git(repo, *args):
    env = {
        **clean_env(),
        "GIT_AUTHOR_NAME": "buggy",
        "GIT_AUTHOR_EMAIL": "buggy@example.invalid",
        "GIT_COMMITTER_NAME": "buggy",
        "GIT_COMMITTER_EMAIL": "buggy@example.invalid",
    }
    out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()


def make_repo(name, tmp_path):
    repo = tmp_path / name
    shutil.copytree(SET_DIR / name, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{name}: the service as deployed")
    return repo, git(repo, "rev-parse", "HEAD")


def argv(command, python):
    return [python if command[0] == "python3" else command[0], *command[1:]]


class Server:
    """The service's own start command on a loopback port, its output in files."""

    def __init__(self, repo, truth, python, extra_env, tmp_path, label):
        self.port = free_port()
        self.out_path = tmp_path / f"{label}.stdout"
        self.err_path = tmp_path / f"{label}.stderr"
        env = {**clean_env(), **extra_env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv(truth["service_config"]["command"], python),
                cwd=repo,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self.url = f"http://127.0.0.1:{self.port}"

        def ready():
            assert self.proc.poll() is None, f"{label} exited early:\n{self.output()}"
            try:
                return requests.get(self.url + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, timeout=60, what=f"{label} to answer /healthz")

    def send(self, req):
        kwargs = {"params": req.get("query") or None, "headers": req.get("headers") or None, "timeout": 30}
        if "body" in req:
            kwargs["json"] = req["body"]
        return requests.request(req["method"], self.url + req["path"], **kwargs)

    def output(self):
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def frame_pattern(frame):
    return re.compile(
        r'File "[^"]*/' + re.escape(frame["file"]) + r'", line ' + str(frame["line"]) + r", in "
        + re.escape(frame["function"]) + r"\n"
    )


def function_span(repo, file, function):
    """(first, last) line of every def named `function` in `file`."""
    tree = ast.parse((repo / file).read_text())
    return [
        (node.lineno, node.end_lineno)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
    ]


@pytest.mark.parametrize("name", SERVICES)
def test_service_behaves_as_its_truth_says(name, python, tmp_path):
    truth = load_truth(name)
    assert truth["service"] == name
    repo, commit = make_repo(name, tmp_path)

    # The truth points at real code: the crash line and the fault lines are inside the
    # named functions.
    crash, fault = truth["crash_frame"], truth["fault"]
    assert crash == truth["frames"][0], "crash_frame must be the innermost in-app frame"
    assert any(a <= crash["line"] <= b for a, b in function_span(repo, crash["file"], crash["function"]))
    first, last = fault["lines"]
    assert any(a <= first <= last <= b for a, b in function_span(repo, fault["file"], fault["function"])), fault

    # Its own test suite passes: it misses the bug.
    suite = subprocess.run(
        argv(truth["service_config"]["test_command"], python),
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert suite.returncode == 0, f"{name}'s tests fail:\n{suite.stdout}\n{suite.stderr}"

    server = Server(repo, truth, python, service_env(truth), tmp_path, name)
    try:
        for req in truth["passing_requests"]:
            resp = server.send(req)
            assert resp.status_code == req["status"], (req, resp.status_code, resp.text[:500])
            assert 200 <= resp.status_code < 300
        failing = truth["failing_request"]
        resp = server.send(failing)
        assert resp.status_code == truth["expected"]["status"] >= 500, (resp.status_code, resp.text[:500])
        exc_line = re.compile(r"^" + re.escape(truth["expected"]["exception_type"]) + r": (.*)$", re.M)
        wait_for(lambda: exc_line.search(server.output()), timeout=20, what=f"{name}'s traceback")
        output = server.output()
    finally:
        server.stop()

    messages = [m.group(1) for m in exc_line.finditer(output)]
    assert any(re.search(truth["expected"]["message_pattern"], m) for m in messages), (messages, output)
    assert any(m == truth["expected"]["message"] for m in messages), (messages, truth["expected"]["message"])
    # Every in-app frame, outermost first as Python prints them.
    positions = []
    for frame in truth["frames"]:
        match = frame_pattern(frame).search(output)
        assert match, f"{name}: frame {frame} not in the traceback:\n{output}"
        positions.append(match.start())
    assert positions == sorted(positions, reverse=True), f"{name}: frames out of order:\n{output}"

    if truth.get("fails_only_with_environment"):
        plain = Server(repo, truth, python, {}, tmp_path, f"{name}-without-env")
        try:
            resp = plain.send(failing)
        finally:
            plain.stop()
        assert 200 <= resp.status_code < 300, f"{name} fails without its flags/fixtures: {resp.status_code}"

    made = subprocess.run(
        [python, str(SET_DIR / "make_envelope.py"), str(repo), "--commit", commit],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    envelope = json.loads(made.stdout)
    assert envelope["identity"]["commit"] == commit
    assert envelope["identity"]["service"]["name"] == name
    assert envelope["symptom"]["exception"]["type"] == truth["expected"]["exception_type"]
    assert envelope["inputs"].get("body") == failing.get("body")


def test_make_envelope_rejects_what_the_schema_does(python, tmp_path):
    truth = load_truth(SERVICES[0])
    truth["failing_request"]["headers"] = {"authorization": "Bearer x"}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    made = subprocess.run(
        [python, str(SET_DIR / "make_envelope.py"), str(tmp_path), "--commit", "0" * 40],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 1
    assert "/inputs/headers" in made.stderr and "authorization" in made.stderr, made.stderr
    bad_commit = subprocess.run(
        [python, str(SET_DIR / "make_envelope.py"), str(SET_DIR / SERVICES[0]), "--commit", "HEAD"],
        capture_output=True,
        text=True,
    )
    assert bad_commit.returncode == 1 and "7-40 lowercase hex" in bad_commit.stderr


def test_the_set_has_the_variety_it_promises():
    truths = [load_truth(name) for name in SERVICES]
    assert len(truths) >= 10
    frameworks = [t["framework"] for t in truths]
    assert frameworks.count("flask") >= 3 and frameworks.count("fastapi") >= 3 and frameworks.count("wsgi") >= 2
    moved = [t for t in truths if (t["crash_frame"]["file"], t["crash_frame"]["function"])
             != (t["fault"]["file"], t["fault"]["function"])]
    assert len(moved) >= 2, "at least two services crash away from their fault"
    assert any("/" in t["fault"]["file"] or any("/" in f["file"] for f in t["frames"]) for t in truths)
    assert any(t.get("fails_only_with_environment") and t.get("environment", {}).get("feature_flags") for t in truths)
    assert any(t.get("fails_only_with_environment") and t.get("state", {}).get("fixtures") for t in truths)
    types = {t["expected"]["exception_type"] for t in truths}
    assert {"KeyError", "AttributeError", "TypeError", "IndexError", "ZeroDivisionError", "ValueError"} <= types
    assert all(t["cause_class"] in CAUSE_CLASSES for t in truths)
    big = [t for t in truths if 20 <= leaves(t["failing_request"].get("body")) <= 50]
    assert len(big) >= 3, "bodies with 20-50 leaves for minimization"
    for t in truths:
        if "leaves_min" in t.get("minimization", {}):
            assert leaves(t["failing_request"]["body"]) >= t["minimization"]["leaves_min"], t["service"]
    readme = (SET_DIR / "README.md").read_text()
    for name in SERVICES:
        assert f"`{name}`" in readme, f"README.md's table lacks {name}"


def test_service_requirements_are_pinned_and_in_the_shared_venv():
    shared = {line.lower() for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")}
    for name in SERVICES:
        config = load_truth(name)["service_config"]
        assert ("dockerfile" in config) != ("base_image" in config), name
        req = SET_DIR / name / "requirements.txt"
        if "dockerfile" in config:
            dockerfile = (SET_DIR / name / config["dockerfile"]).read_text()
            assert "requirements.txt" in dockerfile and "pip install" in dockerfile, name
            assert req.exists(), name
        if req.exists():
            pins = [line for line in req.read_text().splitlines() if line and not line.startswith("#")]
            for pin in pins:
                assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", pin), f"{name}: unpinned {pin!r}"
                assert pin.lower() in shared, f"{name}: {pin} is not in {REQUIREMENTS}"


def test_the_sets_venv_is_gitignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", str(VENV / "bin" / "python")], cwd=ROOT)
    assert ignored.returncode == 0, f"{VENV} must be gitignored"
