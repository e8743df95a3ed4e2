"""Measured quality of the `redact` guest, end to end through the real binary.

A labeled corpus (tests/redaction/corpus.py, deterministic from the seed, never
committed) is sent as OTLP/JSON to the collector's HTTP receiver, through
`wasm/redact`, to the file exporter. Per class: recall (planted values fully
gone) and hard negatives untouched, against the issue's thresholds. The
per-class table is printed; the reference tools' numbers on the same corpus
are in tests/redaction/RESULTS.md.
"""

import os
import subprocess
import sys

import requests

from conftest import ROOT, binary, logs_in, spans_in, wait_for

sys.path.insert(0, str(ROOT / "tests"))
from redaction import corpus, otlp, score  # noqa: E402

SEED = 7
COUNT = 6000
GUEST = ROOT / "guest-crates" / "target" / "wasm32-wasip2" / "release" / "redact.wasm"


def start(c, timeout=600):
    # The first start compiles the 1 MiB guest (slow in a debug build); the
    # compiled artifact is cached under XDG_CACHE_HOME for later runs.
    env = {**os.environ, "XDG_CACHE_HOME": str(ROOT / "guest-crates" / "target" / "e2e-cache")}
    log = open(c.log_path, "ab")
    c.proc = subprocess.Popen([binary(), "--config", str(c.config_path)], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    log.close()
    wait_for(c.ready, timeout=timeout, what=f"{c.name} to become ready (log: {c.log_path})")


def guest_counter(c, name: str) -> float:
    # Collector.metric() takes labels as keyword arguments, and this label is
    # called `name`: read the exposition directly.
    text = requests.get(f"http://127.0.0.1:{c.metrics_port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("tracemend_wasm_guest_counter_total{") and 'processor="wasm/redact"' in line
                and f'name="{name}"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_redaction_quality_on_the_labeled_corpus(tmp_path, collectors, capsys):
    items = [it.to_json() for it in corpus.generate(SEED, COUNT)]
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        # The guest embedded in the binary; the keyed test below loads the same guest
        # from its file.
        processors={"wasm/redact": {"module": "builtin:redact", "config": {"summary": True},
                                    "limits": {"call_timeout": "5s"}}},
        pipelines={
            "traces": {"receivers": ["otlp"], "processors": ["wasm/redact"], "exporters": ["file"]},
            "logs": {"receivers": ["otlp"], "processors": ["wasm/redact"], "exporters": ["file"]},
        },
    )
    start(c)
    span_items = [it for it in items if it["carrier"] in otlp.SPAN_CARRIERS]
    log_items = [it for it in items if it["carrier"] not in otlp.SPAN_CARRIERS]
    for i in range(0, len(span_items), 250):
        r = requests.post(f"{c.http_endpoint}/v1/traces", json=otlp.traces_request(span_items[i:i + 250]), timeout=30)
        assert r.status_code == 200, r.text
    for i in range(0, len(log_items), 250):
        r = requests.post(f"{c.http_endpoint}/v1/logs", json=otlp.logs_request(log_items[i:i + 250]), timeout=30)
        assert r.status_code == 200, r.text
    wait_for(lambda: len(otlp.outputs_from(spans_in(out), logs_in(out))) >= len(items), timeout=60,
             what="every item in the file exporter's output")
    # The per-rule counters surface as collector metrics.
    assert guest_counter(c, "redacted.email") > 0
    assert guest_counter(c, "redacted.card") > 0
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/redact") == 0, c.log()
    assert c.stop() == 0, c.log()

    outputs = otlp.outputs_from(spans_in(out), logs_in(out))
    res = score.score(items, outputs)
    table = score.table({"redact (guest)": res})
    (tmp_path / "table.md").write_text(table)
    with capsys.disabled():
        print(f"\nredaction quality, seed {SEED}, {len(items)} items:\n{table}")
    assert not score.failures(res), "\n".join(score.failures(res))


def test_hash_key_from_the_environment_and_a_missing_one(tmp_path, collectors):
    """`grants.data.<name>: env:VAR` brings the HMAC key from the collector's
    environment; equal values give equal tokens; a missing variable stops the
    start with its name."""
    assert GUEST.exists(), f"{GUEST} is missing: run guest-crates/build.sh"
    out = tmp_path / "out.jsonl"
    processors = {"wasm/redact": {
        "module": str(GUEST),
        "config": {"hash": {"current": "v2", "keys": {"v2": "hmac_key_v2"}}, "default_action": "hash"},
        "grants": {"data": {"hmac_key_v2": "env:TRACEMEND_E2E_REDACT_KEY"}},
    }}
    pipelines = {"traces": {"receivers": ["otlp"], "processors": ["wasm/redact"], "exporters": ["file"]}}
    c = collectors(name="keyed", exporters={"file": {"path": str(out)}}, processors=processors, pipelines=pipelines)
    os.environ["TRACEMEND_E2E_REDACT_KEY"] = "an-e2e-key-of-at-least-16-bytes"
    try:
        start(c)
    finally:
        del os.environ["TRACEMEND_E2E_REDACT_KEY"]
    items = [{"id": i, "carrier": "span_attr", "key": "app.note", "value": "mail carol@example.org now"}
             for i in range(2)]
    r = requests.post(f"{c.http_endpoint}/v1/traces", json=otlp.traces_request(items), timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(spans_in(out)) >= 2, what="two spans exported")
    assert c.stop() == 0, c.log()
    notes = [a["value"]["stringValue"] for s in spans_in(out) for a in s["span"]["attributes"]
             if a["key"] == "app.note"]
    assert len(notes) == 2 and notes[0] == notes[1], notes
    assert notes[0].startswith("mail tok_v2_") and "carol" not in notes[0], notes

    missing = collectors(name="unkeyed", exporters={"file": {"path": str(out)}}, processors=processors,
                         pipelines=pipelines)
    env = {k: v for k, v in os.environ.items() if k != "TRACEMEND_E2E_REDACT_KEY"}
    proc = subprocess.run([binary(), "--config", str(missing.config_path)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode != 0
    assert "TRACEMEND_E2E_REDACT_KEY" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
