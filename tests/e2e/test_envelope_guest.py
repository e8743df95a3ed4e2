"""The `envelope` exporter's assembler guest through the real binaries: the Python
OpenTelemetry SDK sends to `tracemend`, whose traces and logs pipelines end in one
`envelope` exporter forwarding to a real `tracemend-repair serve`.

Covered: a hostile assembler guest (`guest-crates/guests/test-hostile-assembler`) that
traps, loops past its deadline, runs out of memory, returns a guest error, returns text
that is not JSON, or returns one valid and one broken envelope: each fault is counted by
kind and logged, and every other trace's envelope (and the valid half of the mixed
output) still reaches the engine. And the guest's `commit_attributes` setting is the one
list of commit attributes: a service that names its commit only under another attribute
gets envelopes when the guest is told that name, and is counted as without a commit when
it is not; a malformed list is refused with its YAML path before anything starts.
"""

import json
import subprocess

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import binary, wait_for
from test_envelope_exporter import (  # noqa: F401 - `engine` is a fixture
    COMMIT, GUESTS, PIPELINES, Service, engine, envelope_exporter, metric, start_collector,
)

HOSTILE = GUESTS / "test_hostile_assembler.wasm"


def fault_count(c, kind: str) -> float:
    return c.metric("tracemend_envelope_assembler_faults_total", exporter="envelope", kind=kind)


def fail_as(svc: Service, name: str) -> str:
    """One failing server span named `name` (the hostile guest's instruction); returns
    the trace id."""
    with svc.tracer.start_as_current_span(
        name, kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "url.path": "/hostile", "http.route": "/hostile"},
    ) as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
        return format(span.get_span_context().trace_id, "032x")


def test_a_hostile_assembler_costs_only_the_traces_it_faults_on(collectors, engine):
    if not HOSTILE.exists():
        pytest.fail(f"{HOSTILE} is missing: run guest-crates/build.sh")
    engine.start()
    c = start_collector(collectors, "hostile", envelope_exporter(engine.url, assembler={
        "module": str(HOSTILE),
        # The loop meets the deadline; the hoard meets the memory limit first.
        "limits": {"call_timeout": "2s", "memory_mib": 16},
    }))
    svc = Service(c)
    hostile = ["hostile.trap", "hostile.loop", "hostile.memory", "hostile.error",
               "hostile.garbage", "hostile.mixed"]
    expected = []
    # An ordinary trace after each hostile one: none may be lost to its neighbour's fault.
    for name in hostile:
        tid = fail_as(svc, name)
        if name == "hostile.mixed":
            expected.append(tid)
        expected.append(fail_as(svc, "ordinary"))
    svc.close()

    wait_for(lambda: len(engine.envelopes()) == len(expected), timeout=90,
             what=f"{len(expected)} envelopes at the engine")
    got = sorted(e["identity"]["trace_id"] for e in engine.envelopes())
    assert got == sorted(expected)
    for kind in ["trap", "timeout", "memory", "guest_error"]:
        assert fault_count(c, kind) == 1, (kind, c.log())
    assert fault_count(c, "circuit_open") == 0
    # The garbage and the broken half of the mixed output: counted, never sent.
    wait_for(lambda: metric(c, "invalid") == 2, what="two invalid outputs counted")
    wait_for(lambda: metric(c, "sent") == len(expected), what="every valid envelope sent")
    log = c.log()
    faulted = [line for line in log.splitlines() if "The envelope assembler faulted" in line]
    assert len(faulted) == 4, log
    for kind in ["trap", "timeout", "memory", "guest_error"]:
        assert any(kind in line for line in faulted), (kind, faulted)
    assert "not JSON" in log and "breaks the schema" in log, log
    assert c.stop() == 0, log


def test_the_guests_commit_attributes_name_the_commit_for_the_exporter(collectors, engine, monkeypatch):
    engine.start()
    c = start_collector(collectors, "git", envelope_exporter(engine.url, assembler={
        "config": {"commit_attributes": ["git.commit.sha"]},
    }))
    # The service names its commit only under `git.commit.sha` (the SDK's resource
    # reads OTEL_RESOURCE_ATTRIBUTES).
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"git.commit.sha={COMMIT}")
    svc = Service(c, name="orders", commit=None)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES")
    tid = svc.request("GET", "/orders/{id}", "/orders/42", fail=KeyError)
    svc.close()
    # One that names it only the conventional way is now without a commit.
    conventional = Service(c, name="legacy")
    conventional.request("GET", "/old", "/old", fail=RuntimeError)
    conventional.close()

    wait_for(lambda: len(engine.envelopes()) == 1, timeout=60, what="one envelope at the engine")
    (env,) = engine.envelopes()
    assert (env["identity"]["trace_id"], env["identity"]["commit"]) == (tid, COMMIT)
    wait_for(lambda: metric(c, "traces_without_commit") == 1, what="the conventional trace counted")
    assert "`git.commit.sha`" in c.log()
    assert c.stop() == 0, c.log()


def test_a_malformed_commit_attributes_list_is_refused_with_its_path(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "exporters": {"envelope": {"endpoint": "http://127.0.0.1:9",
                                   "assembler": {"config": {"commit_attributes": "git.commit.sha"}}}},
        "service": {"pipelines": PIPELINES},
    }))
    out = subprocess.run([binary(), "validate", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "exporters.envelope.assembler.config.commit_attributes" in text, text
    assert "list of resource attribute names" in text, text
