"""Reference points: Microsoft Presidio's pattern recognizers and Yelp's
detect-secrets on the same labeled corpus as the `redact` guest. Not part of
CI (neither is pinned in the test requirements); the numbers and the command
are recorded in tests/redaction/RESULTS.md.

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install presidio-analyzer==2.2.366 detect-secrets==1.5.0 Faker==40.63.0
    cd tests && /tmp/refvenv/bin/python -m redaction.references --redact-bin PATH

Presidio runs with a blank spaCy English model (its default model cannot be
downloaded here), so only its pattern recognizers fire; every finding is
redacted whatever its score. detect-secrets runs with its default plugins,
line by line, and each reported secret value is redacted. Both see the value
strings only (they have no notion of attribute keys); `--redact-bin` adds
the same engine as the guest (guest-crates/redact-core's `redact_jsonl`
example, native) as a column, keys included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time

from . import corpus, score


def map_strings(value, fn):
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]
    return value


def cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for s, e in sorted(spans):
        if s < at:
            s = at
        if e <= s:
            continue
        out.append(text[at:s])
        out.append("<REDACTED>")
        at = e
    out.append(text[at:])
    return "".join(out)


def presidio(items) -> dict:
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model_dir = tempfile.mkdtemp(prefix="blank-en-")
    spacy.blank("en").to_disk(model_dir)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_dir}],
    }).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])

    def redact(text: str) -> str:
        return cut(text, [(r.start, r.end) for r in analyzer.analyze(text=text, language="en")])

    return {it["id"]: map_strings(it["value"], redact) for it in items}


def detect_secrets(items) -> dict:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def redact(text: str) -> str:
        lines = []
        for line in text.split("\n"):
            for secret in scan_line(line):
                if secret.secret_value:
                    line = line.replace(secret.secret_value, "<REDACTED>")
            lines.append(line)
        return "\n".join(lines)

    with default_settings():
        return {it["id"]: map_strings(it["value"], redact) for it in items}


def redact_native(items, binary: str) -> dict:
    lines = "".join(json.dumps(it) + "\n" for it in items)
    out = subprocess.run([binary, "{}"], input=lines, capture_output=True, text=True, check=True).stdout
    return {o["id"]: o["value"] for o in map(json.loads, out.splitlines())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=6000)
    ap.add_argument("--redact-bin", help="path of the redact_jsonl example binary")
    a = ap.parse_args()
    items = [it.to_json() for it in corpus.generate(a.seed, a.count)]
    columns = {}
    runners = []
    if a.redact_bin:
        runners.append(("redact (native engine)", lambda: redact_native(items, a.redact_bin)))
    runners += [("presidio patterns", lambda: presidio(items)), ("detect-secrets", lambda: detect_secrets(items))]
    for name, run in runners:
        t = time.monotonic()
        columns[name] = score.score(items, run())
        print(f"{name}: {time.monotonic() - t:.1f}s", flush=True)
    print(score.table(columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
