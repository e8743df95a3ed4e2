"""The buggy services as the repair engine runs them: built into images on the real Docker
engine, run by the engine's own replay runner (repair/assets/replay.py) in a container
without network, as an unprivileged user.

For each service: its git repository's tree (as `git archive` gives it) is built with the
service's own Dockerfile, or copied onto the base image for `base_image` services; its
`test_command` passes inside the image (the verify stage needs the test framework in the
image); and the replay runner, fed the spec the engine would give it (command, workdir,
port, request, the flags/fixtures environment), gets a 5xx for the failing request with
the promised exception and in-app frames (as /app paths) in the service's stderr.

Needs the base image (repair/images/build-python-base.sh). Builds reach PyPI; when the
host trusts a proxy's CA (SSL_CERT_FILE or PIP_CERT), it goes into the repository as
pip-ca.crt, which the Dockerfiles hand to pip only.
"""

import io
import json
import os
import pathlib
import re
import subprocess
import tarfile

import pytest

from test_buggy_services import SERVICES, frame_pattern, load_truth, make_repo, service_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPLAY = ROOT / "repair" / "assets" / "replay.py"
BASE_IMAGE = "tracemend/python-base:bookworm"
# Containers and images carry this label so a failed run's leftovers can be found.
LABEL = "org.tracemend.test=buggy-services"


def docker(*args, **kwargs):
    return subprocess.run(["docker", *args], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def base_image():
    if docker("image", "inspect", BASE_IMAGE).returncode != 0:
        pytest.fail(f"{BASE_IMAGE} is missing: run repair/images/build-python-base.sh")
    return BASE_IMAGE


def host_ca():
    for var in ("PIP_CERT", "SSL_CERT_FILE"):
        path = os.environ.get(var)
        if path and os.path.isfile(path):
            return pathlib.Path(path).read_bytes()
    return None


def build_context(repo, commit, config, into):
    """The commit's tree (as `git archive` gives it) in `into`, and the Dockerfile to build
    it with: the service's own, or one copying the tree onto its base image."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=repo, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    if "dockerfile" in config:
        return config["dockerfile"]
    dockerfile = into / ".tracemend-test.Dockerfile"
    dockerfile.write_text(f"FROM {config['base_image']}\nCOPY . {config.get('workdir', '/app')}\n")
    return dockerfile.name


@pytest.mark.parametrize("name", SERVICES)
def test_service_reproduces_in_its_image(name, base_image, tmp_path):
    truth = load_truth(name)
    config = truth["service_config"]
    extra = {}
    ca = host_ca()
    if ca and "dockerfile" in config:
        extra["pip-ca.crt"] = ca
    repo, commit = make_repo(name, tmp_path, extra_files=extra)
    context = tmp_path / "context"
    dockerfile = build_context(repo, commit, config, context)
    tag = f"tracemend-buggy/{name}:test"
    built = docker("build", "-q", "--label", LABEL, "-f", str(context / dockerfile), "-t", tag, str(context), timeout=900)
    assert built.returncode == 0, f"{name}: image build failed:\n{built.stderr}"

    sandbox = [
        "run", "--rm", "--label", LABEL, "--network", "none", "--user", "65534:65534",
        "--memory", "512m", "--pids-limit", "256", "--read-only", "--tmpfs", "/tmp:size=64m",
        "-e", "HOME=/tmp", "-e", "PYTHONDONTWRITEBYTECODE=1", "-w", config.get("workdir", "/app"),
    ]
    suite = docker(*sandbox, tag, *config["test_command"], timeout=300)
    assert suite.returncode == 0, f"{name}: tests fail in the image:\n{suite.stdout}\n{suite.stderr}"

    failing = truth["failing_request"]
    spec = {
        "command": config["command"],
        "workdir": config.get("workdir", "/app"),
        # Where the engine mounts its sitecustomize; prepended to the image's PYTHONPATH.
        "site_dir": "/opt/tracemend/site",
        "port": config["port"],
        "ready_timeout_s": 60,
        "request_timeout_s": 30,
        "request": {k: failing[k] for k in ("method", "path", "query", "headers", "body") if k in failing},
        "service_env": {"PYTHONUNBUFFERED": "1", "HOME": "/tmp", **service_env(truth)},
    }
    replay = docker(
        *sandbox, "-v", f"{REPLAY}:/opt/tracemend/replay.py:ro",
        "-e", "TRACEMEND_REPRO_SPEC_CHUNKS=1", "-e", "TRACEMEND_REPRO_SPEC_0=" + json.dumps(spec),
        tag, "python3", "/opt/tracemend/replay.py",
        timeout=300,
    )
    lines = [line for line in replay.stdout.splitlines() if line.startswith("TRACEMEND_RESULT ")]
    assert lines, f"{name}: no result line from the replay runner:\n{replay.stdout}\n{replay.stderr}"
    result = json.loads(lines[-1].removeprefix("TRACEMEND_RESULT "))
    assert result["ready"], result
    assert result["response"]["status"] == truth["expected"]["status"], result
    output = result["service_stdout"] + result["service_stderr"]
    expected = truth["expected"]
    message = ": " + re.escape(expected["message"]) if expected["message"] else ""
    assert re.search(r"^" + re.escape(expected["exception_type"]) + message + "$", output, re.M), output
    for frame in truth["frames"]:
        assert frame_pattern(frame).search(output), f"{name}: {frame} not in the container's traceback:\n{output}"
