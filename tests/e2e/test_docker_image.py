"""The root Dockerfile, built and run with the real Docker engine.

No image registry is reachable here, so the image is built the way docs/container.md
describes for such machines: the runtime base comes from scripts/make-base-images.sh
(debootstrap + `docker import`, cached across runs) and the binaries are the ones this
test run already built (`target/debug/`, stripped into `target/docker-prebuilt/`), put in
by the Dockerfile's `prebuilt` target instead of compiling Rust inside the image.

The container then runs with its ports published on loopback: the image's own config
(health check, Docker's HEALTHCHECK, the debug exporter in `docker logs`, metrics) and a
mounted config whose file exporter shows the Python SDK's spans passing through.
"""

import fcntl
import json
import os
import pathlib
import re
import subprocess
import uuid

import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import ROOT, binary, free_port, spans_in, wait_for

BASE_TAG = os.environ.get("TRACEMEND_RUNTIME_BASE", "tracemend/debian-slim:bookworm")
BINARIES = ["tracemend", "tracemend-repair", "tracemend-symbols"]
STAGED = ROOT / "target" / "docker-prebuilt"
# Runs of this test on one machine share target/docker-prebuilt/.
LOCK = pathlib.Path("/tmp/tracemend-docker-image-test.lock")
RUNTIME_UID = "10001"
# The debug exporter's line per batch: `... exporter=debug signal=traces items=N spans`.
DEBUG_ITEMS = re.compile(r"exporter=debug\b.*?items=(\d+)")


def docker(*args, check=True, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited with {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def stage_binaries():
    """Stripped copies of the binaries this run built (debug info is most of their size)."""
    bin_dir = pathlib.Path(binary()).parent
    STAGED.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        src = bin_dir / name
        if not src.exists():
            pytest.fail(f"{src} does not exist: build with `cargo build --workspace --bins` first")
        tmp = STAGED / f".{name}.tmp"
        subprocess.run(["objcopy", "--strip-debug", str(src), str(tmp)], check=True)
        tmp.rename(STAGED / name)


@pytest.fixture(scope="module")
def image():
    """The image from the Dockerfile's `prebuilt` target; removed after the module."""
    base = subprocess.run([str(ROOT / "scripts" / "make-base-images.sh"), BASE_TAG],
                          capture_output=True, text=True, timeout=1800)
    if base.returncode != 0:
        pytest.fail(f"scripts/make-base-images.sh failed ({base.returncode}):\n{base.stdout}\n{base.stderr}")
    tag = f"tracemend/tracemend:test-{uuid.uuid4().hex[:12]}"
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stage_binaries()
        docker("build", "--target", "prebuilt", "--build-arg", f"RUNTIME_IMAGE={BASE_TAG}",
               "--label", "org.tracemend.test=docker-image", "-t", tag, str(ROOT), timeout=1800)
    yield tag
    docker("rmi", "-f", tag, check=False)


class Container:
    """One container of the image with its ports published on 127.0.0.1."""

    def __init__(self, image: str, args: list[str], volumes: dict[str, str] | None = None):
        self.name = f"tracemend-test-{uuid.uuid4().hex[:12]}"
        self.ports = {p: free_port() for p in (4317, 4318, 13133, 8888)}
        cmd = ["run", "-d", "--name", self.name]
        for inside, outside in self.ports.items():
            cmd += ["-p", f"127.0.0.1:{outside}:{inside}"]
        for host, inside in (volumes or {}).items():
            cmd += ["-v", f"{host}:{inside}"]
        docker(*cmd, image, *args)

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    def logs(self) -> str:
        proc = docker("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def running(self) -> bool:
        state = docker("inspect", "-f", "{{.State.Status}}", self.name).stdout.strip()
        if state != "running":
            raise AssertionError(f"container {self.name} is {state}:\n{self.logs()}")
        return True

    def healthy(self) -> bool:
        self.running()
        try:
            return requests.get(self.url(13133, "/"), timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def remove(self):
        docker("rm", "-f", self.name, check=False)


@pytest.fixture
def containers():
    started = []

    def make(image, args, volumes=None) -> Container:
        c = Container(image, args, volumes)
        started.append(c)
        return c

    yield make
    for c in started:
        c.remove()


def send_spans(c: Container, names: list[str]) -> set[str]:
    """Half the spans over gRPC, half over HTTP, to the published ports; their span ids."""
    ids = set()
    resource = Resource.create({"service.name": "container-test"})
    for i, exporter in enumerate([
        GrpcSpanExporter(endpoint=f"127.0.0.1:{c.ports[4317]}", insecure=True),
        HttpSpanExporter(endpoint=c.url(4318, "/v1/traces")),
    ]):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("container.test")
        for name in names[i::2]:
            with tracer.start_as_current_span(name) as span:
                ids.add(format(span.get_span_context().span_id, "016x"))
        provider.shutdown()
    return ids


def test_image_defaults_run_as_non_root_and_answer_health(image, containers):
    config = docker("image", "inspect", "-f", "{{json .Config}}", image).stdout
    config = json.loads(config)
    assert config["Entrypoint"] == ["tracemend"], config["Entrypoint"]
    assert config["User"] == f"{RUNTIME_UID}:{RUNTIME_UID}", config["User"]
    for port in ("4317/tcp", "4318/tcp", "13133/tcp", "8888/tcp", "8787/tcp"):
        assert port in config["ExposedPorts"], f"{port} not exposed: {config['ExposedPorts']}"
    assert config["Healthcheck"]["Test"][0] == "CMD", config["Healthcheck"]

    c = containers(image, [])
    wait_for(c.healthy, timeout=60, interval=0.5, what=f"health_check of {c.name}")

    # The image's own HEALTHCHECK (bash's /dev/tcp, no curl) reports healthy.
    def docker_health():
        c.running()
        return docker("inspect", "-f", "{{.State.Health.Status}}", c.name).stdout.strip() == "healthy"
    wait_for(docker_health, timeout=90, interval=1, what=f"Docker's HEALTHCHECK of {c.name} to pass")

    uid = docker("exec", c.name, "id", "-u").stdout.strip()
    assert uid == RUNTIME_UID, f"processes run as uid {uid}"
    # PID 1 is the collector itself, as that user (not a shell around it).
    status = docker("exec", c.name, "cat", "/proc/1/status").stdout
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [RUNTIME_UID] * 4, uid_line
    assert "tracemend" in docker("exec", c.name, "cat", "/proc/1/comm").stdout

    # The other binaries are in the image and run on its libraries.
    for name in ("tracemend-repair", "tracemend-symbols"):
        proc = docker("exec", c.name, name, "--help", check=False)
        assert proc.returncode == 0, f"{name} --help in the image: {proc.stdout}{proc.stderr}"

    # The default config's debug exporter logs what arrives through the published ports.
    send_spans(c, [f"default-{i}" for i in range(4)])

    def logged_spans():
        c.running()
        return sum(int(n) for n in DEBUG_ITEMS.findall(c.logs())) >= 4
    wait_for(logged_spans, timeout=30, interval=0.5,
             what=f"the debug exporter to log 4 spans in `docker logs {c.name}`")

    # Own metrics answer on the published port and counted the spans.
    def accepted():
        text = requests.get(c.url(8888, "/metrics"), timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("otelcol_receiver_accepted_spans")) >= 4
    wait_for(accepted, timeout=30, interval=0.5, what="otelcol_receiver_accepted_spans >= 4 on :8888")


def test_mounted_config_spans_pass_through(image, containers, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # The container's user owns nothing on the host: the mounted directory must let it write.
    out_dir.chmod(0o777)
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    config = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"},
                                             "http": {"endpoint": "0.0.0.0:4318"}}}},
        "processors": {"batch": {"timeout": "100ms"}},
        "exporters": {"file": {"path": "/out/spans.jsonl"}},
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["file"]}},
        },
    }
    (conf_dir / "config.yaml").write_text(json.dumps(config, indent=2))
    conf_dir.chmod(0o755)
    (conf_dir / "config.yaml").chmod(0o644)

    c = containers(image, ["--config", "/etc/tracemend/custom/config.yaml"],
                   volumes={str(conf_dir): "/etc/tracemend/custom:ro", str(out_dir): "/out"})
    wait_for(c.healthy, timeout=60, interval=0.5, what=f"health_check of {c.name}")

    names = [f"span-{i}" for i in range(10)]
    sent = send_spans(c, names)
    out = out_dir / "spans.jsonl"

    def arrived():
        c.running()
        return {s["span"]["spanId"] for s in spans_in(out)} >= sent
    wait_for(arrived, timeout=30, interval=0.5, what=f"{len(sent)} spans in {out}")

    spans = spans_in(out)
    assert sorted(s["span"]["name"] for s in spans) == sorted(names)
    assert len(spans) == len(names), f"duplicates: {[s['span']['name'] for s in spans]}"
    # Written by the container's user, not root.
    assert out.stat().st_uid == int(RUNTIME_UID), f"owned by uid {out.stat().st_uid}"


def test_staged_binaries_are_stripped(image):
    """The image gets the binaries without their debug information."""
    for name in BINARIES:
        sections = docker("run", "--rm", "--entrypoint", "bash", image, "-c",
                          f"wc -c < /usr/local/bin/{name}").stdout.strip()
        staged = STAGED / name
        assert int(sections) == staged.stat().st_size, f"{name} in the image is not the staged one"
        headers = subprocess.run(["objdump", "-h", str(staged)], capture_output=True,
                                 text=True, check=True).stdout
        assert ".debug_info" not in headers, f"{name} still has .debug_info"
