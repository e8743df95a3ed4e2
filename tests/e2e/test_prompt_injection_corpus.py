"""Prompt-injection defusal measured on public data, end to end through the real binary.

The corpus (tests/redaction/injection, sources in SOURCES.md: BIPIA's and garak's
attack texts, Loghub's log lines, exception messages from real Python, Java and Node
programs) is sent as log bodies over OTLP/JSON through `wasm/redact` (the guest built
by guest-crates/build.sh, default configuration: log bodies are defused) to the file
exporter. An attack counts as defused when its record carries
`redaction.prompt_injection` and its body was rewritten; a benign line counts as
touched when its record carries the flag. The same engine runs natively in
redact-core's `public_corpus_recall_and_false_positives`; this test holds the guest to
it. Thresholds (issue 28): at least 95% of the attacks that are addressed to a model
defused, per family reported, at most 1% of benign lines touched. BIPIA's task-request
family (ordinary questions, no sign of a model as the addressee) is reported and not
counted (docs/redaction.md).
"""

import json
import sys
from collections import Counter

import requests

from conftest import ROOT, logs_in, wait_for

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from test_redaction_quality import GUEST, start  # noqa: E402

CORPUS = ROOT / "tests" / "redaction" / "injection"
FLAG = "redaction.prompt_injection"
NOT_COUNTED = {"bipia_task_request"}
BATCH = 200


def read(name: str) -> list[dict]:
    with open(CORPUS / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def logs_request(records: list[tuple[int, str]]) -> dict:
    return {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "injection-corpus"}}]},
        "scopeLogs": [{"scope": {"name": "corpus"}, "logRecords": [
            {"timeUnixNano": "1700000000000000000", "severityNumber": 17,
             "body": {"stringValue": text},
             "attributes": [{"key": "eval.id", "value": {"intValue": str(i)}}]}
            for i, text in records]}],
    }]}


def outputs(path) -> dict[int, dict]:
    """eval.id -> (body, attributes) of each output record."""
    out = {}
    for r in logs_in(path):
        rec = r["log"]
        attrs = {a["key"]: a.get("value", {}) for a in rec.get("attributes", [])}
        if "eval.id" in attrs:
            out[int(attrs["eval.id"]["intValue"])] = {
                "body": rec.get("body", {}).get("stringValue"),
                "flag": attrs.get(FLAG, {}).get("stringValue"),
            }
    return out


def test_defusal_on_the_public_corpus(tmp_path, collectors, capsys):
    assert GUEST.exists(), f"{GUEST} is missing: run guest-crates/build.sh"
    attacks, benign = read("attacks.jsonl"), read("benign.jsonl")
    texts = [a["text"] for a in attacks] + [b["text"] for b in benign]
    out_path = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out_path)}},
        processors={"wasm/redact": {"module": str(GUEST), "config": {},
                                    "limits": {"call_timeout": "5s"}}},
        pipelines={"logs": {"receivers": ["otlp"], "processors": ["wasm/redact"], "exporters": ["file"]}},
    )
    start(c)
    records = list(enumerate(texts))
    for i in range(0, len(records), BATCH):
        r = requests.post(f"{c.http_endpoint}/v1/logs", json=logs_request(records[i:i + BATCH]), timeout=30)
        assert r.status_code == 200, r.text
    wait_for(lambda: len(outputs(out_path)) >= len(texts), timeout=120,
             what="every corpus line in the file exporter's output")
    assert c.metric("tracemend_wasm_faults_total", processor="wasm/redact") == 0, c.log()
    assert c.stop() == 0, c.log()
    out = outputs(out_path)

    hit, total = Counter(), Counter()
    for i, a in enumerate(attacks):
        o = out[i]
        total[a["family"]] += 1
        if o["flag"] and o["body"] != a["text"]:
            hit[a["family"]] += 1
    touched = [b["text"] for j, b in enumerate(benign) if out[len(attacks) + j]["flag"]]
    counted = [f for f in total if f not in NOT_COUNTED]
    recall = sum(hit[f] for f in counted) / sum(total[f] for f in counted)
    fp = len(touched) / len(benign)
    lines = [f"  {f:<24} {hit[f]:>4}/{total[f]:<4} {hit[f] / total[f]:6.1%}"
             + ("  (not counted)" if f in NOT_COUNTED else "") for f in sorted(total)]
    with capsys.disabled():
        print(f"\nprompt-injection defusal through the guest: recall {recall:.1%} "
              f"(of {sum(total[f] for f in counted)}), benign touched {len(touched)}/{len(benign)} ({fp:.2%})")
        print("\n".join(lines))
    assert recall >= 0.95, "\n".join(lines)
    assert fp <= 0.01, touched
    # Defused text stays readable: quoted and labelled, the families named.
    sample = next(out[i] for i, a in enumerate(attacks)
                  if a["family"] not in NOT_COUNTED and out[i]["flag"])
    assert "[quoted" in sample["body"], sample
    assert set(sample["flag"].split(",")) <= {
        "role_marker", "instruction_override", "tool_call", "model_directive", "exfiltration_link"}
