"""The `envelope` exporter through the real binaries: the Python OpenTelemetry SDK sends
failing and passing requests (traces and logs) to `tracemend`, whose traces and logs
pipelines end in one `envelope` exporter; it assembles Failure Envelopes with the
built-in assembler guest and forwards them to a real `tracemend-repair serve`, which
validates them at intake and stores them in SQLite.

Covered: envelopes arrive and are schema-valid (the engine's own validation, and
`tracemend-repair validate-envelope` on what it stored); a failure seen only in an
exception log record; a trace across two services, each span row with its own service
and error mark; a failing trace without the commit attribute (counted, logged with
the attribute's name, nothing sent); dedupe carrying the suppressed count into the
engine's occurrence count; an engine outage across a collector restart with a persistent
queue; an engine answering 401 (health_check unhealthy) and 400 (counted, the engine's
error path logged); an assembler guest that returns what is not an envelope (counted,
nothing sent); a config the exporter refuses, every error with its YAML path.

The engine is configured without services, so incidents are stored and their jobs
rejected ("service not configured") without Docker.
"""

import http.server
import json
import logging
import os
import pathlib
import secrets
import sqlite3
import subprocess
import threading
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import ROOT, binary, free_port, wait_for

COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"
TOKEN = "e2e-envelope-token-" + secrets.token_hex(8)
GUESTS = ROOT / "guest-crates" / "target" / "wasm32-wasip2" / "release"


def engine_binary() -> str:
    path = pathlib.Path(binary()).with_name("tracemend-repair")
    if not path.exists():
        pytest.fail(f"{path} does not exist: cargo build --bins -p repair")
    return str(path)


class Engine:
    """One `tracemend-repair serve` on a fixed loopback port (so it can be stopped and
    started again at the same address), without services."""

    def __init__(self, tmp_path: pathlib.Path, port: int):
        self.port = port
        self.dir = tmp_path / "engine"
        self.dir.mkdir(exist_ok=True)
        self.db = self.dir / "repair.db"
        self.config = self.dir / "repair.yaml"
        self.config.write_text(json.dumps({
            "listen": f"127.0.0.1:{port}",
            "auth": {"token_env": "TRACEMEND_REPAIR_TOKEN"},
            "store": {"path": str(self.db)},
            "data_dir": str(self.dir / "data"),
            "workers": 1,
        }))
        self.log_path = self.dir / "engine.log"
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        env = dict(os.environ, TRACEMEND_REPAIR_TOKEN=TOKEN, RUST_LOG="info")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([engine_binary(), "serve", "--config", str(self.config)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        wait_for(self.ready, timeout=30, what=f"the repair engine (log: {self.log_path})")
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"engine exited: {self.log_path.read_text(errors='replace')}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def incidents(self) -> list[dict]:
        try:
            r = requests.get(f"{self.url}/v1/incidents", timeout=5,
                             headers={"Authorization": f"Bearer {TOKEN}"})
        except requests.RequestException:
            return []
        return r.json()["incidents"] if r.status_code == 200 else []

    def envelopes(self) -> list[dict]:
        if not self.db.exists():
            return []
        con = sqlite3.connect(self.db)
        try:
            return [json.loads(b) for (b,) in con.execute("SELECT body FROM envelopes ORDER BY envelope_id")]
        finally:
            con.close()


@pytest.fixture
def engine(tmp_path):
    e = Engine(tmp_path, free_port())
    yield e
    e.stop()


def envelope_exporter(endpoint: str, **extra) -> dict:
    cfg = {
        "endpoint": endpoint,
        "token_env": "E2E_ENGINE_TOKEN",
        "join_window": "500ms",
        "dedupe_window": "0s",
        "retry_on_failure": {"initial_interval": "100ms", "max_interval": "500ms", "max_elapsed_time": "0s"},
    }
    cfg.update(extra)
    return cfg


PIPELINES = {
    "traces": {"receivers": ["otlp"], "exporters": ["envelope"]},
    "logs": {"receivers": ["otlp"], "exporters": ["envelope"]},
}


def start_collector(collectors, name, exporter, extensions=None, token=TOKEN):
    os.environ["E2E_ENGINE_TOKEN"] = token
    return collectors(name, exporters={"envelope": exporter}, pipelines=PIPELINES,
                      extensions=extensions).start()


class Service:
    """A service's telemetry as the OpenTelemetry SDK sends it: server spans with the
    semantic-convention request attributes, `record_exception`, and logs."""

    def __init__(self, collector, name="orders", commit=COMMIT):
        attrs = {"service.name": name, "service.version": "1.4.2"}
        if commit:
            attrs["vcs.ref.head.revision"] = commit
        resource = Resource.create(attrs)
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector.http_endpoint}/v1/traces")))
        self.tracer = self.tracer_provider.get_tracer("e2e.service")
        self.log_provider = LoggerProvider(resource=resource)
        self.log_provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{collector.http_endpoint}/v1/logs")))
        self.logger = logging.getLogger(f"e2e.envelope.{name}.{id(self)}")
        self.logger.propagate = False
        self.logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=self.log_provider))
        self.logger.setLevel(logging.INFO)

    def request(self, method, route, path, fail=None, log_only=False) -> str:
        """One request; `fail` is an exception class raised in the handler. With
        `log_only` the exception is only logged (an exception log record), the span
        keeps status unset. Returns the trace id (hex)."""
        with self.tracer.start_as_current_span(
            f"{method} {route}", kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path, "http.route": route,
                        "http.response.status_code": 500 if fail else 200},
        ) as span:
            with self.tracer.start_as_current_span("load"):
                pass
            if fail:
                try:
                    handler(fail)
                except Exception as exc:  # noqa: BLE001 - the point is to record it
                    if log_only:
                        self.logger.exception("request failed")
                    else:
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            return format(span.get_span_context().trace_id, "032x")

    def close(self):
        self.tracer_provider.shutdown()
        self.log_provider.shutdown()


def handler(exc_type):
    lookup(exc_type)


def lookup(exc_type):
    raise exc_type("order 42 is missing")


def metric(c, name) -> float:
    return c.metric(f"tracemend_envelope_{name}_total", exporter="envelope")


def test_failing_traces_and_logs_become_valid_envelopes_at_the_engine(tmp_path, collectors, engine):
    engine.start()
    c = start_collector(collectors, "c", envelope_exporter(engine.url))
    svc = Service(c)
    svc.request("GET", "/orders/{id}", "/orders/7")  # passes: no envelope
    by_event = svc.request("GET", "/orders/{id}", "/orders/42", fail=KeyError)
    by_log = svc.request("POST", "/pay", "/pay", fail=ValueError, log_only=True)
    svc.close()
    no_commit = Service(c, name="legacy", commit=None)
    no_commit.request("GET", "/old", "/old", fail=RuntimeError)
    no_commit.close()

    wait_for(lambda: len(engine.envelopes()) == 2, timeout=60, what="two envelopes at the engine")
    wait_for(lambda: metric(c, "sent") == 2, timeout=20, what="sent == 2")
    envelopes = {e["identity"]["trace_id"]: e for e in engine.envelopes()}
    assert set(envelopes) == {by_event, by_log}, envelopes
    assert envelopes[by_event]["symptom"]["exception"]["type"] == "KeyError"
    assert envelopes[by_log]["symptom"]["exception"]["type"] == "ValueError"
    for e in envelopes.values():
        assert e["identity"]["commit"] == COMMIT
        assert e["identity"]["service"]["name"] == "orders"
    # What the engine stored validates with the engine's own CLI.
    for i, e in enumerate(envelopes.values()):
        f = tmp_path / f"stored-{i}.json"
        f.write_text(json.dumps(e))
        out = subprocess.run([engine_binary(), "validate-envelope", str(f)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
    assert len(engine.incidents()) == 2
    wait_for(lambda: metric(c, "traces_without_commit") == 1, what="the trace without a commit counted")
    assert "vcs.ref.head.revision" in c.log()
    assert metric(c, "assembled") == 2
    assert metric(c, "invalid") == metric(c, "refused") == metric(c, "failed") == 0
    assert c.stop() == 0, c.log()


def test_a_two_service_trace_gives_each_span_its_service_and_error(collectors, engine):
    """web calls orders, which raises; web's call ends in error and web records an
    exception of its own afterwards. The envelope is orders' (its exception came first)
    and every span row names its own service and whether it ended in error, as the
    engine stored it."""
    engine.start()
    c = start_collector(collectors, "c", envelope_exporter(engine.url))
    web, orders = Service(c, name="web"), Service(c, name="orders")
    with web.tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as entry:
        with web.tracer.start_as_current_span("GET orders", kind=SpanKind.CLIENT) as call:
            with orders.tracer.start_as_current_span(
                "GET /orders/{id}", kind=SpanKind.SERVER,
                attributes={"http.request.method": "GET", "url.path": "/orders/42",
                            "http.route": "/orders/{id}", "http.response.status_code": 500},
            ) as server:
                with orders.tracer.start_as_current_span("load"):
                    pass
                try:
                    handler(KeyError)
                except KeyError as exc:
                    server.record_exception(exc)
                    server.set_status(Status(StatusCode.ERROR, "KeyError"))
            call.set_status(Status(StatusCode.ERROR, "500"))
        with web.tracer.start_as_current_span("render"):
            pass
        try:
            raise RuntimeError("orders answered 500")
        except RuntimeError as exc:
            entry.record_exception(exc)
            entry.set_status(Status(StatusCode.ERROR, "RuntimeError"))
        trace_id = format(entry.get_span_context().trace_id, "032x")
    web.close()
    orders.close()

    wait_for(lambda: len(engine.envelopes()) == 1, timeout=60, what="the envelope at the engine")
    e = engine.envelopes()[0]
    assert e["identity"]["trace_id"] == trace_id
    assert e["identity"]["service"]["name"] == "orders"
    assert e["symptom"]["exception"]["type"] == "KeyError"
    rows = {s["name"]: (s.get("service"), s.get("error")) for s in e["timing"]["spans"]}
    assert rows == {
        "GET /checkout": ("web", True),
        "GET orders": ("web", True),
        "GET /orders/{id}": ("orders", True),
        "load": ("orders", False),
        "render": ("web", False),
    }, e["timing"]
    assert metric(c, "invalid") == metric(c, "refused") == metric(c, "failed") == 0
    assert c.stop() == 0, c.log()


def test_dedupe_carries_the_suppressed_count_into_the_engines_occurrences(collectors, engine):
    engine.start()
    window = 3.0
    c = start_collector(collectors, "c", envelope_exporter(engine.url, dedupe_window=f"{window}s"))
    svc = Service(c)
    for n in range(3):
        svc.request("GET", "/orders/{id}", f"/orders/{n}", fail=KeyError)
    wait_for(lambda: metric(c, "queued") == 1 and metric(c, "deduplicated") == 2,
             timeout=30, what="one envelope queued, two deduplicated")
    first_sent = time.monotonic()
    wait_for(lambda: len(engine.incidents()) == 1, timeout=30, what="the first envelope at the engine")
    assert engine.incidents()[0]["occurrences"] == 1
    # After the window, the next failure of this fingerprint carries the two suppressed.
    wait_for(lambda: time.monotonic() > first_sent + window + 0.5, timeout=window + 5, what="the window to pass")
    svc.request("GET", "/orders/{id}", "/orders/9", fail=KeyError)
    svc.close()
    wait_for(lambda: engine.incidents() and engine.incidents()[0]["occurrences"] == 4,
             timeout=30, what="occurrences == 4 at the engine")
    assert len(engine.incidents()) == 1
    assert [e.get("occurrences") for e in engine.envelopes()].count(3) == 1
    assert c.stop() == 0, c.log()


def test_envelopes_survive_an_engine_outage_and_a_collector_restart(tmp_path, collectors, engine):
    storage = tmp_path / "queue"
    storage.mkdir()
    extensions = {"file_storage": {"directory": str(storage)}}
    exporter = envelope_exporter(engine.url, sending_queue={"storage": "file_storage"})
    c1 = start_collector(collectors, "c1", exporter, extensions)
    svc = Service(c1)
    first = svc.request("GET", "/orders/{id}", "/orders/1", fail=KeyError)
    svc.close()
    wait_for(lambda: metric(c1, "queued") == 1, timeout=30, what="the first envelope queued")
    assert metric(c1, "sent") == 0
    assert c1.stop() == 0, c1.log()

    # The engine is still down; the second collector starts from the same storage.
    c2 = start_collector(collectors, "c2", exporter, extensions)
    svc = Service(c2)
    second = svc.request("POST", "/pay", "/pay", fail=ValueError)
    svc.close()
    wait_for(lambda: metric(c2, "queued") == 1, timeout=30, what="the second envelope queued")
    engine.start()
    wait_for(lambda: len(engine.envelopes()) == 2, timeout=60, what="both envelopes after the outage")
    assert {e["identity"]["trace_id"] for e in engine.envelopes()} == {first, second}
    wait_for(lambda: metric(c2, "sent") == 2, timeout=20, what="sent == 2 on the restarted collector")
    assert c2.stop() == 0, c2.log()


class Refusing(http.server.BaseHTTPRequestHandler):
    """An intake that answers every envelope with one status and body (set per test)."""

    status = 401
    body = b'{"error":"unauthorized","message":"missing bearer token"}'
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("content-length", 0))
        Refusing.seen.append((self.path, self.headers.get("authorization"), self.rfile.read(length)))
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Refusing)
    Refusing.seen = []
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()


def health(c) -> tuple[int, dict]:
    r = requests.get(f"http://127.0.0.1:{c.health_port}/", timeout=5)
    return r.status_code, r.json()


def test_an_engine_refusing_the_token_makes_the_exporter_unhealthy(collectors, refusing):
    Refusing.status, Refusing.body = 401, b'{"error":"unauthorized","message":"missing bearer token"}'
    url = f"http://127.0.0.1:{refusing.server_address[1]}"
    c = start_collector(collectors, "c", envelope_exporter(url))
    assert health(c)[0] == 200
    svc = Service(c)
    svc.request("GET", "/orders/{id}", "/orders/1", fail=KeyError)
    svc.close()
    wait_for(lambda: health(c)[0] == 503, timeout=30, what="health_check to report the exporter")
    code, body = health(c)
    assert "envelope" in body["unhealthy_components"], body
    assert "401" in body["unhealthy_components"]["envelope"]
    path, auth, _ = Refusing.seen[0]
    assert path == "/v1/envelopes" and auth == f"Bearer {TOKEN}"
    assert "refuses the exporter's bearer token" in c.log()
    # 401 is retried (the token may be fixed at the engine); nothing is counted failed yet.
    wait_for(lambda: len(Refusing.seen) >= 2, timeout=20, what="a retry after 401")
    assert metric(c, "failed") == 0
    assert c.stop() == 0, c.log()


def test_an_envelope_the_engine_refuses_is_counted_with_its_path(collectors, refusing):
    Refusing.status = 400
    Refusing.body = b'{"error":"schema_violation","message":"bad","path":"/inputs/path"}'
    url = f"http://127.0.0.1:{refusing.server_address[1]}"
    c = start_collector(collectors, "c", envelope_exporter(url))
    svc = Service(c)
    svc.request("GET", "/orders/{id}", "/orders/1", fail=KeyError)
    svc.close()
    wait_for(lambda: metric(c, "failed") == 1, timeout=30, what="the refused envelope counted")
    assert len(Refusing.seen) == 1, "a 400 is not retried"
    assert "/inputs/path" in c.log()
    assert health(c)[0] == 200
    assert c.stop() == 0, c.log()


def test_an_assembler_that_returns_no_envelope_is_counted_and_nothing_is_sent(collectors, engine):
    engine.start()
    # The test assembler answers JSON that is not an envelope: every one is invalid.
    test_guest = GUESTS / "test_assembler.wasm"
    if not test_guest.exists():
        pytest.fail(f"{test_guest} is missing: run guest-crates/build.sh")
    c = start_collector(collectors, "bad", envelope_exporter(engine.url, assembler={"module": str(test_guest)}))
    svc = Service(c)
    for n in range(3):
        svc.request("GET", "/orders/{id}", f"/orders/{n}", fail=KeyError)
    svc.close()
    wait_for(lambda: metric(c, "invalid") == 3, timeout=30, what="three invalid envelopes counted")
    assert metric(c, "queued") == 0 and engine.envelopes() == []
    log = c.log()
    # The contract dropped the guest's unknown fields; the schema names what is missing.
    assert "breaks the schema" in log and "schema_version" in log, log
    assert c.stop() == 0, log



def test_a_config_without_endpoint_or_with_a_sampler_guest_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "exporters": {"envelope": {"assembler": {"module": "builtin:tail_sampling"},
                                   "contract": {"fields": {"inputs": "public"}}}},
        "service": {"pipelines": PIPELINES},
    }))
    out = subprocess.run([binary(), "validate", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "exporters.envelope.endpoint" in text, text
    assert "exporters.envelope.assembler.module" in text and "not an envelope assembler" in text, text
    assert "exporters.envelope.contract.fields" in text, text
