#!/usr/bin/env python3
"""Fits one localize weight on half of the buggy-service set and scores the other half.

Input: the JSON lines `buggy_bench`'s `buggy_set` writes with `BENCH_EVIDENCE=FILE`
(each service's localize result with every hypothesis and its evidence). The ranking is
recomputed as the engine computes it (repair/src/localize/score.rs: a logistic score
over the evidence values; ties to the shallower crash frame, then file and line) for
each candidate value of the weight, the others fixed at their configured values.

Two-fold cross-validation over a fixed split (services in name order, alternating): the
value that ranks the faults best on one half (most in the top 3, then most first, then
the smallest change from the current value) is scored on the other half, and the other
way round. The value fitted on all services is adopted only if each fold's fitted value
does at least as well as the current one on its held-out half.

usage: fit_weights.py EVIDENCE.jsonl [SIGNAL] [CURRENT]   (default: return_value, at its configured value)
"""

import json
import math
import sys

WEIGHTS = {"bias": -4.0, "crash_frame": 2.5, "spectrum": 4.0, "code_graph": 1.5,
           "return_value": 3.0, "recent_change": 0.5, "cross_service": 1.0}
GRID = [x / 2 for x in range(0, 17)]


def matches(function, fault):
    return function == fault or function.endswith("." + fault)


def depth(hyp):
    for e in hyp["evidence"]:
        if e["signal"] == "crash_frame" and e["value"] > 0:
            return round(-math.log2(e["value"]))
    return 1 << 30


def ranked(record, weights=WEIGHTS):
    """The record's hypotheses in the engine's order at `weights`."""
    def z(h):
        return weights["bias"] + sum(weights.get(e["signal"], 0.0) * min(max(e["value"], 0.0), 1.0)
                                     for e in h["evidence"])

    return sorted(record["localize"]["hypotheses"],
                  key=lambda h: (-z(h), depth(h), h["suspect"]["file"], h["suspect"]["start_line"]))


def rank(record, weights):
    for i, h in enumerate(ranked(record, weights)):
        if matches(h["suspect"]["function"], record["fault"]):
            return i + 1
    return None


def score(records, weights):
    ranks = [rank(r, weights) for r in records]
    top3 = sum(1 for r in ranks if r is not None and r <= 3)
    top1 = sum(1 for r in ranks if r == 1)
    return top3, top1, ranks


def best(records, signal, current):
    def key(v):
        t3, t1, _ = score(records, dict(WEIGHTS, **{signal: v}))
        return (t3, t1, -abs(v - current))
    return max(GRID, key=key)


def main():
    path = sys.argv[1]
    signal = sys.argv[2] if len(sys.argv) > 2 else "return_value"
    current = float(sys.argv[3]) if len(sys.argv) > 3 else WEIGHTS[signal]
    records = sorted((json.loads(l) for l in open(path) if l.strip()), key=lambda r: r["service"])
    halves = [records[0::2], records[1::2]]
    print(f"signal {signal}, current {current}; halves: "
          + " | ".join(", ".join(r["service"] for r in h) for h in halves))
    adopt = True
    for i, (train, test) in enumerate([(halves[0], halves[1]), (halves[1], halves[0])]):
        v = best(train, signal, current)
        fit = score(test, dict(WEIGHTS, **{signal: v}))
        cur = score(test, dict(WEIGHTS, **{signal: current}))
        print(f"fold {i + 1}: fitted {v} on {len(train)}; held-out top-3 {fit[0]}/{len(test)}, "
              f"top-1 {fit[1]}/{len(test)} (current {current}: top-3 {cur[0]}, top-1 {cur[1]})")
        adopt = adopt and (fit[0], fit[1]) >= (cur[0], cur[1])
    for v in sorted({current, *GRID}):
        t3, t1, ranks = score(records, dict(WEIGHTS, **{signal: v}))
        print(f"  {signal}={v:4}: all {len(records)}: top-3 {t3}, top-1 {t1}, ranks "
              + " ".join(f"{r['service']}={k}" for r, k in zip(records, ranks)))
    whole = best(records, signal, current)
    print(f"fitted on all {len(records)}: {whole}; "
          + ("the held-out halves do at least as well: adopt it" if adopt
             else "a held-out half does worse than the current value: keep it"))


if __name__ == "__main__":
    main()
