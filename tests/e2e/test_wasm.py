"""WASM processors loaded from YAML by the real binary: a Rust guest from a file, a
built-in guest, the Python guest, a guest that faults, and every load error that
`tracemend validate` must show before deployment.

The guests are built by guest-crates/build.sh (scripts/test runs it first).
"""

import json
import os
import subprocess
import time

import requests

from conftest import ROOT, attrs, binary, logs_in, spans_in, wait_for

GUESTS = ROOT / "guest-crates" / "target" / "wasm32-wasip2" / "release"
PY_GUEST = ROOT / "guest-crates" / "target" / "python" / "py_processor.wasm"


def guest(name: str) -> str:
    path = GUESTS / f"{name}.wasm"
    assert path.exists(), f"{path} is missing: run guest-crates/build.sh"
    return str(path)


def env_with_cache(tmp_path) -> dict:
    # A cache of our own: the tests see a cold cache first, and nothing leaks between runs.
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def traces_json(*names, trace_byte=1, attributes=None):
    spans = [
        {
            "traceId": f"{trace_byte:02x}" * 16,
            "spanId": f"{i + 1:016x}",
            "name": name,
            "kind": 2,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000100000000",
            "attributes": attributes or [],
        }
        for i, name in enumerate(names)
    ]
    return {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
            "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}],
        }]
    }


def logs_json(*bodies):
    return {
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
            "scopeLogs": [{"scope": {"name": "e2e"}, "logRecords": [
                {"timeUnixNano": "1700000000000000000", "severityNumber": 17, "body": {"stringValue": b}}
                for b in bodies
            ]}],
        }]
    }


def post(c, signal, body):
    r = requests.post(f"{c.http_endpoint}/v1/{signal}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r


def start_slow(c, env, timeout=300):
    """Starts a collector whose first start may compile a large guest."""
    log = open(c.log_path, "ab")
    c.proc = subprocess.Popen([binary(), "--config", str(c.config_path)], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    log.close()
    wait_for(c.ready, timeout=timeout, what=f"{c.name} to become ready (log: {c.log_path})")
    return c


def test_file_and_builtin_modules_process_spans_and_logs(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={
            "wasm/team": {"module": guest("add_attribute"),
                          "config": {"key": "team", "value": "payments"}},
            "wasm/noop": {"module": "builtin:noop"},
        },
        pipelines={
            "traces": {"receivers": ["otlp"], "processors": ["wasm/noop", "wasm/team"], "exporters": ["file"]},
            "logs": {"receivers": ["otlp"], "processors": ["wasm/team"], "exporters": ["file"]},
        },
    )
    start_slow(c, env_with_cache(tmp_path))
    post(c, "traces", traces_json("GET /cart", "SELECT cart"))
    post(c, "logs", logs_json("cart loaded"))
    assert c.metric("tracemend_wasm_calls_total", processor="wasm/noop") == 1
    assert c.metric("tracemend_wasm_edits_applied_total", processor="wasm/team") == 3
    assert c.stop() == 0, c.log()

    spans = spans_in(out)
    assert sorted(s["span"]["name"] for s in spans) == ["GET /cart", "SELECT cart"]
    for s in spans:
        assert attrs(s["span"]["attributes"])["team"] == "payments", s
    logs = logs_in(out)
    assert len(logs) == 1
    assert attrs(logs[0]["log"]["attributes"])["team"] == "payments"
    assert logs[0]["log"]["body"] == {"stringValue": "cart loaded"}


def test_python_guest_from_yaml_and_the_second_start_uses_the_cache(tmp_path, collectors):
    assert PY_GUEST.exists(), f"{PY_GUEST} is missing: run guest-crates/build.sh"
    env = env_with_cache(tmp_path)
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"wasm/py": {"module": str(PY_GUEST), "config": {"prefix": "py:"}}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["wasm/py"], "exporters": ["file"]}},
    )
    # `validate` loads the module, so it compiles it into the cache (tens of seconds for
    # an 18 MiB componentize-py guest); the collector's start then loads it precompiled.
    r = subprocess.run([binary(), "validate", "--config", str(c.config_path)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "cache" / "tracemend" / "wasm").iterdir()), "nothing was cached"
    started = time.monotonic()
    start_slow(c, env, timeout=60)
    assert time.monotonic() - started < 30, "the cached module should load in well under 30 s"

    attributes = [{"key": "http.route", "value": {"stringValue": "/cart/{id}"}}]
    post(c, "traces", traces_json("GET", "healthz", attributes=attributes))
    assert c.stop() == 0, c.log()
    spans = spans_in(out)
    assert [s["span"]["name"] for s in spans] == ["py:/cart/{id}"], spans
    assert attrs(spans[0]["span"]["attributes"])["lang"] == "python"


def test_a_faulting_guest_loses_nothing_and_opens_its_circuit(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"wasm/loop": {
            "module": guest("hostile_infinite_loop"),
            "limits": {"call_timeout": "20ms"},
            "on_error": "pass",
            "circuit_breaker": {"consecutive_faults": 2, "open_for": "10m"},
        }},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["wasm/loop"], "exporters": ["file"]}},
    )
    start_slow(c, env_with_cache(tmp_path))
    for i in range(3):
        post(c, "traces", traces_json(f"span-{i}", trace_byte=i + 1))

    health = requests.get(f"http://127.0.0.1:{c.health_port}/", timeout=5)
    assert health.status_code == 503, health.text
    problems = health.json()["unhealthy_components"]
    assert "circuit open" in problems["wasm/loop"], problems
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/loop", kind="timeout") == 2
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/loop", kind="circuit_open") == 1
    assert c.stop() == 0, c.log()
    assert sorted(s["span"]["name"] for s in spans_in(out)) == ["span-0", "span-1", "span-2"]
    assert "wasm/loop" in c.log()


def test_on_error_drop_drops_and_counts(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"wasm/trap": {"module": guest("hostile_trap_first_call"), "on_error": "drop"}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["wasm/trap"], "exporters": ["file"]}},
    )
    start_slow(c, env_with_cache(tmp_path))
    post(c, "traces", traces_json("a", "b"))
    assert c.metric("tracemend_wasm_spans_dropped_total", processor="wasm/trap", reason="on_error") == 2
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/trap", kind="trap") == 1
    assert c.stop() == 0, c.log()
    assert spans_in(out) == []


def validate(tmp_path, processors, pipelines=None):
    cfg = tmp_path / "config.yaml"
    config = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "processors": processors,
        "exporters": {"nop": None},
        "service": {"pipelines": pipelines or {
            "traces": {"receivers": ["otlp"], "processors": list(processors), "exporters": ["nop"]},
        }},
    }
    # One key per line, so errors have distinct line numbers.
    cfg.write_text(json.dumps(config, indent=2))
    r = subprocess.run([binary(), "validate", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=120, env=env_with_cache(tmp_path))
    return cfg, r


def test_validate_shows_every_module_problem(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not wasm")
    core = tmp_path / "core.wasm"
    core.write_bytes(b"\0asm\x01\x00\x00\x00")  # an empty core module
    cfg, r = validate(tmp_path, {
        "wasm/missing": {"module": str(tmp_path / "nope.wasm")},
        "wasm/text": {"module": str(text)},
        "wasm/core": {"module": str(core)},
        "wasm/rejects": {"module": guest("add_attribute"), "config": {"key": "k", "colour": "red"}},
    })
    assert r.returncode != 0
    err = r.stderr
    assert "invalid configuration (4 errors)" in err, err
    assert f"{cfg}:" in err, err
    assert "processors.wasm/missing: module " in err and "cannot read it" in err, err
    assert "processors.wasm/text: module " in err and "not a WebAssembly file" in err, err
    assert "processors.wasm/core: module " in err and "not a component" in err, err
    assert "processors.wasm/rejects: config: rejected by the module" in err, err
    assert "config.colour: unknown key" in err, err


def test_validate_refuses_bad_wasm_config_before_loading(tmp_path):
    cfg, r = validate(tmp_path, {
        "wasm/a": None,
        "wasm/b": {"module": "builtin:nope"},
        "wasm/c": {"module": "builtin:noop", "limits": {"memory_mib": 0}, "on_eror": "drop"},
    })
    assert r.returncode != 0
    err = r.stderr
    assert "processors.wasm/a.module: is required" in err, err
    assert "processors.wasm/b.module: unknown built-in module `nope`, expected one of: builtin:noop" in err, err
    assert "processors.wasm/c.on_eror: unknown field `on_eror`" in err, err


def test_wasm_is_refused_in_a_metrics_pipeline(tmp_path):
    cfg, r = validate(
        tmp_path,
        {"wasm/noop": {"module": "builtin:noop"}},
        pipelines={"metrics": {"receivers": ["otlp"], "processors": ["wasm/noop"], "exporters": ["nop"]}},
    )
    assert r.returncode != 0
    assert ("service.pipelines.metrics.processors[0]: processor `wasm/noop` does not support metrics"
            in r.stderr), r.stderr


def test_a_module_that_cannot_load_stops_startup(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(json.dumps({
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}},
        "processors": {"wasm/x": {"module": str(tmp_path / "gone.wasm")}},
        "exporters": {"nop": None},
        "service": {"pipelines": {"logs": {"receivers": ["otlp"], "processors": ["wasm/x"],
                                           "exporters": ["nop"]}}},
    }, indent=2))
    r = subprocess.run([binary(), "--config", str(cfg)], capture_output=True, text=True, timeout=60,
                       env=env_with_cache(tmp_path))
    assert r.returncode != 0
    assert "processors.wasm/x: module" in r.stderr and "cannot read it" in r.stderr, r.stderr


def test_components_lists_wasm_and_the_builtin_modules():
    r = subprocess.run([binary(), "components"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "  wasm " in r.stdout and "[traces, logs]" in r.stdout, r.stdout
    assert "  noop" in r.stdout and "[processor world]" in r.stdout, r.stdout
