"""Harness for end-to-end tests: starts the real `tracemend` binary on loopback ports.

The binary is `$TRACEMEND_BIN`, or `target/debug/tracemend` at the repository root
(built by `scripts/test`). Configs are written as JSON, which is valid YAML.
"""

import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]


def binary() -> str:
    path = os.environ.get("TRACEMEND_BIN") or str(ROOT / "target" / "debug" / "tracemend")
    if not os.path.exists(path):
        pytest.fail(f"{path} does not exist: run scripts/test (it builds the binaries first)")
    return path


# Ports are drawn below Linux's ephemeral range (32768-60999 by default), so neither an
# outgoing connection nor another `bind(0)` can take one between the test choosing it
# and the collector binding it; and none is handed out twice in a run, since two picks
# of the kernel's `bind(0)` can return the same port once the first socket is closed
# (that put a receiver and a health_check on one port in CI).
_PORT_RANGE = range(20000, 32000)
_handed_out: set[int] = set()
_rng = random.Random(os.getpid())


def free_port() -> int:
    for _ in range(1000):
        port = _rng.choice(_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise AssertionError("no free loopback port in 20000-31999")


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Collector:
    """One `tracemend` process with an OTLP receiver, health_check and metrics on free ports."""

    def __init__(self, tmp_path: pathlib.Path, name: str, exporters: dict, pipelines: dict,
                 processors: dict | None = None, extensions: dict | None = None,
                 receiver: dict | None = None):
        self.name = name
        self.dir = tmp_path / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.health_port = free_port()
        self.metrics_port = free_port()
        protocols = receiver or {
            "grpc": {"endpoint": f"127.0.0.1:{self.grpc_port}"},
            "http": {"endpoint": f"127.0.0.1:{self.http_port}"},
        }
        all_extensions = {"health_check": {"endpoint": f"127.0.0.1:{self.health_port}"}}
        all_extensions.update(extensions or {})
        self.config = {
            "receivers": {"otlp": {"protocols": protocols}},
            "processors": processors or {},
            "exporters": exporters,
            "extensions": all_extensions,
            "service": {
                "extensions": list(all_extensions),
                "telemetry": {"metrics": {"address": f"127.0.0.1:{self.metrics_port}"}},
                "pipelines": pipelines,
            },
        }
        self.config_path = self.dir / "config.yaml"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.log_path = self.dir / "collector.log"
        self.proc = None

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary(), "--config", str(self.config_path)],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.ready, what=f"{self.name} to become ready (log: {self.log_path})")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(f"http://127.0.0.1:{self.health_port}/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def metric(self, name: str, **labels) -> float:
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture
def collectors(tmp_path):
    """Factory for collectors; every one still running is stopped after the test."""
    started = []

    def make(name="c", **kwargs) -> Collector:
        c = Collector(tmp_path, name, **kwargs)
        started.append(c)
        return c

    yield make
    for c in started:
        if c.proc is not None:
            c.proc.kill()
            c.proc.wait()


def read_otlp_json_lines(path: pathlib.Path) -> list[dict]:
    """Every complete line of a file exporter's output. A test that polls the
    file while the collector writes it can read the last line half-written:
    only lines ended by a newline are complete, so the tail after the last
    one is left for the next poll."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def spans_in(path: pathlib.Path) -> list[dict]:
    """Every span in a file exporter's output, with its resource and scope attached."""
    out = []
    for req in read_otlp_json_lines(path):
        for rs in req.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    out.append({"span": span, "resource": rs.get("resource", {}), "scope": ss.get("scope", {})})
    return out


def logs_in(path: pathlib.Path) -> list[dict]:
    out = []
    for req in read_otlp_json_lines(path):
        for rl in req.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    out.append({"log": rec, "resource": rl.get("resource", {}), "scope": sl.get("scope", {})})
    return out


def attrs(kvs: list[dict]) -> dict:
    """OTLP/JSON attributes as a plain dict of their typed values."""
    out = {}
    for kv in kvs or []:
        v = kv.get("value", {})
        (kind, val), = v.items() if v else (("empty", None),)
        out[kv["key"]] = int(val) if kind == "intValue" else val
    return out
