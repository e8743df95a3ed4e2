"""The `redact` guest on the taxonomy corpus (tests/redaction/taxonomy.py), end to end.

Categories from published taxonomies (Sentry Relay's built-in PII rules, Presidio's
pattern entities, gitleaks' secret types), phones of 30 locales and IBANs of 25
countries, and a hard-negative class for every rule they added. Sent as OTLP/JSON
through the real collector and the default-config guest (built by guest-crates/build.sh) to the file exporter; per
category recall >= 99%, hard negatives untouched >= 99.5%. The table is printed.
"""

import sys

import requests

from conftest import ROOT, logs_in, spans_in, wait_for
from test_redaction_quality import GUEST, start

sys.path.insert(0, str(ROOT / "tests"))
from redaction import otlp, taxonomy  # noqa: E402

SEED = 11
COUNT = 4000


def test_redaction_recall_per_taxonomy_category(tmp_path, collectors, capsys):
    assert GUEST.exists(), f"{GUEST} is missing: run guest-crates/build.sh"
    items = [it.to_json() for it in taxonomy.generate(SEED, COUNT)]
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"wasm/redact": {"module": str(GUEST), "limits": {"call_timeout": "5s"}}},
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
    wait_for(lambda: len(otlp.outputs_from(spans_in(out), logs_in(out))) >= len(items), timeout=120,
             what="every item in the file exporter's output")
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/redact") == 0, c.log()
    assert c.stop() == 0, c.log()

    res = taxonomy.score(items, otlp.outputs_from(spans_in(out), logs_in(out)))
    table = taxonomy.table(res)
    with capsys.disabled():
        print(f"\nredaction by taxonomy category, seed {SEED}, {len(items)} items:\n{table}")
    assert not taxonomy.failures(res), "\n".join(taxonomy.failures(res))
