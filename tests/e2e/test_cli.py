"""The command line: validate, components, config sources, --set, the default config,
and draining on SIGTERM."""

import json
import os
import signal
import subprocess
import time

import requests

from conftest import binary, free_port, spans_in, wait_for


def run(*args, env=None):
    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_components_lists_every_type():
    r = run("components")
    assert r.returncode == 0
    for name in ["otlp", "batch", "memory_limiter", "otlphttp", "debug", "nop", "file",
                 "health_check", "file_storage", "wasm", "tail_sampling", "loadbalancing"]:
        assert f"  {name}" in r.stdout, r.stdout


def test_validate_reports_every_error_with_file_and_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "receivers:\n"
        "  otlp:\n"
        "    protocols:\n"
        "      grpc:\n"
        "        endpointt: 127.0.0.1:4317\n"
        "exporters:\n"
        "  debugg:\n"
        "service:\n"
        "  pipelines:\n"
        "    traces:\n"
        "      receivers: [otlp]\n"
        "      exporters: [nop]\n"
    )
    r = run("validate", "--config", str(cfg))
    assert r.returncode != 0
    err = r.stderr
    assert f"{cfg}:5: receivers.otlp.protocols.grpc.endpointt: unknown field `endpointt`" in err, err
    assert f"{cfg}:7: exporters.debugg: unknown exporter type `debugg`" in err, err
    assert "references exporter `nop` which is not configured" in err, err


def test_validate_accepts_merged_sources_env_and_set(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: ${env:TM_HTTP:-127.0.0.1:4318}\n"
        "exporters:\n  nop:\n"
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [nop]\n"
    )
    overlay = "processors:\n  batch:\n    timeout: 1s\n"
    r = run("validate", "--config", str(base), "--config", "env:TM_OVERLAY",
            "--config", "yaml:service::pipelines::traces::processors: [batch]",
            "--set", "processors.batch.send_batch_size=10",
            env={"TM_OVERLAY": overlay, "TM_HTTP": "127.0.0.1:9999"})
    assert r.returncode == 0, r.stderr
    r = run("validate", "--config", str(base), "--set", "processors.batch.send_batch_max_size=1",
            "--set", "processors.batch.send_batch_size=10",
            "--config", "yaml:service::pipelines::traces::processors: [batch]")
    assert r.returncode != 0
    assert "processors.batch.send_batch_max_size: must be 0 or at least send_batch_size" in r.stderr


def test_default_config_runs_and_drains_on_sigterm():
    # The built-in config listens on the standard ports (4317, 4318, 13133, 8888).
    proc = subprocess.Popen([binary()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _ok("http://127.0.0.1:13133/"), what="the default config to start")
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "hello"}]}]}]}
        r = requests.post("http://127.0.0.1:4318/v1/traces", json=body, timeout=5)
        assert r.status_code == 200 and r.json() == {}
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "items=1" in out, out
    assert "Shutdown complete" in out, out


def test_sigterm_flushes_buffered_batches(tmp_path):
    out = tmp_path / "out.jsonl"
    http_port, health_port, metrics_port = free_port(), free_port(), free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "processors": {"batch": {"timeout": "1h", "send_batch_size": 100000}},
        "exporters": {"file": {"path": str(out)}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": {"extensions": ["health_check"],
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics_port}"}},
                    "pipelines": {"logs": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["file"]}}},
    }))
    proc = subprocess.Popen([binary(), "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{health_port}/"), what="start")
        for i in range(5):
            body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": f"line {i}"}}]}]}]}
            assert requests.post(f"http://127.0.0.1:{http_port}/v1/logs", json=body, timeout=5).status_code == 200
        assert not out.exists() or out.read_text() == "", "held by the batch processor"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    bodies = [r["body"]["stringValue"] for req in lines for rl in req["resourceLogs"]
              for sl in rl["scopeLogs"] for r in sl["logRecords"]]
    assert sorted(bodies) == [f"line {i}" for i in range(5)]


def _ok(url):
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_repair_engine_is_part_of_the_cli(tmp_path):
    import pathlib
    r = run("repair", "schema")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["$id"].startswith("urn:tracemend:schema:failure-envelope")
    examples = sorted(pathlib.Path(__file__).resolve().parents[2].glob("config/examples/envelopes/*.json"))
    assert examples
    r = run("repair", "validate-envelope", *map(str, examples))
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": "1", "surprise": True}))
    r = run("repair", "validate-envelope", str(bad))
    assert r.returncode != 0
