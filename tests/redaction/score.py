"""Scores a redactor's output against the labeled corpus of corpus.py.

Recall per class: a planted value counts as found only when it is fully gone
from the item's output: not present verbatim, and for values of 24+
characters no 16-character window of it survives either (a half-redacted
JWT or key block is a leak). Precision: a hard negative counts as untouched
when it is still present verbatim in the output of its item.
"""

from __future__ import annotations

import json

from .corpus import MUST_BE_COMPLETE, NEGATIVE_CLASSES, PII_CLASSES


def flatten(value) -> str:
    """Every key and string of an output value, joined (None: removed)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{k}\n{flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(flatten(v) for v in value)
    return json.dumps(value)


def leaked(value: str, output: str) -> bool:
    if value in output:
        return True
    if len(value) >= 24:
        return any(value[i:i + 16] in output for i in range(0, len(value) - 15, 4))
    return False


def score(items, outputs: dict) -> dict:
    """outputs: item id -> output value. Returns per-class counts."""
    res = {c: {"n": 0, "ok": 0, "misses": []} for c in PII_CLASSES + NEGATIVE_CLASSES}
    for it in items:
        it = it if isinstance(it, dict) else it.to_json()
        if it["id"] not in outputs:
            raise AssertionError(f"item {it['id']} is missing from the output")
        out = flatten(outputs[it["id"]])
        for cls, v in it["planted"]:
            r = res[cls]
            r["n"] += 1
            if leaked(v, out):
                r["misses"].append((it["id"], v, out[:300]))
            else:
                r["ok"] += 1
        for cls, v in it["negatives"]:
            r = res[cls]
            r["n"] += 1
            if v in out:
                r["ok"] += 1
            else:
                r["misses"].append((it["id"], v, out[:300]))
    return res


def totals(res: dict) -> tuple[int, int, int, int]:
    pn = sum(res[c]["n"] for c in PII_CLASSES)
    pok = sum(res[c]["ok"] for c in PII_CLASSES)
    nn = sum(res[c]["n"] for c in NEGATIVE_CLASSES)
    nok = sum(res[c]["ok"] for c in NEGATIVE_CLASSES)
    return pok, pn, nok, nn


def table(columns: dict[str, dict]) -> str:
    """A markdown table: one row per class, one column per redactor."""
    names = list(columns)
    lines = ["| class | kind | n | " + " | ".join(names) + " |",
             "|---|---|---:|" + "---:|" * len(names)]
    first = columns[names[0]]
    for c in PII_CLASSES + NEGATIVE_CLASSES:
        kind = "recall" if c in PII_CLASSES else "untouched"
        cells = []
        for n in names:
            r = columns[n][c]
            cells.append(f"{100.0 * r['ok'] / r['n']:.1f}%" if r["n"] else "-")
        lines.append(f"| {c} | {kind} | {first[c]['n']} | " + " | ".join(cells) + " |")
    cells_r, cells_p = [], []
    for n in names:
        pok, pn, nok, nn = totals(columns[n])
        cells_r.append(f"{100.0 * pok / pn:.1f}%")
        cells_p.append(f"{100.0 * nok / nn:.1f}%")
    pok, pn, nok, nn = totals(first)
    lines.append(f"| **all planted** | recall | {pn} | " + " | ".join(cells_r) + " |")
    lines.append(f"| **all hard negatives** | untouched | {nn} | " + " | ".join(cells_p) + " |")
    return "\n".join(lines)


def failures(res: dict) -> list[str]:
    """The issue's thresholds, as messages for every class that misses them."""
    out = []
    for c in PII_CLASSES:
        r = res[c]
        need = 1.0 if c in MUST_BE_COMPLETE else 0.98
        if r["n"] and r["ok"] / r["n"] < need:
            out.append(f"{c}: recall {r['ok']}/{r['n']} below {need:.0%}; first misses: {r['misses'][:3]}")
    _, _, nok, nn = totals(res)
    if nn and nok / nn < 0.995:
        bad = [(c, res[c]["misses"][:2]) for c in NEGATIVE_CLASSES if res[c]["misses"]]
        out.append(f"hard negatives untouched {nok}/{nn} below 99.5%; misses: {bad}")
    return out
