#!/usr/bin/env python3
"""Cause-class accuracy of localize on the buggy-service set, from stored evidence.

Input: the JSON lines `buggy_bench`'s `buggy_set` writes with `BENCH_EVIDENCE=FILE` and
the services' `truth.json` (tests/buggy-services). The hypotheses are ranked as the
engine ranks them at its configured weights (fit_weights.py's `ranked`), and two questions
are scored against each service's `cause_class`:

- the top hypothesis: is its class the true one (what the patch stage acts on first)?
- the fault's own hypothesis (the one naming the truth's function): is its class right,
  whatever its rank (the classifier alone, without the ranking's misses)?

usage: cause_classes.py EVIDENCE.jsonl [BUGGY_SERVICES_DIR]
"""

import json
import pathlib
import sys

from fit_weights import matches, ranked

# truth.json's words -> the engine's CauseClass (repair/src/localize/hypothesis.rs).
CLASSES = {
    "missing guard": "missing_guard",
    "wrong assumption about input": "wrong_input_assumption",
    "type confusion": "type_confusion",
    "bad arithmetic": "bad_arithmetic",
    "config/flag drift": "config_flag_drift",
    "dependency behaviour": "dependency_behaviour",
    "timeout/resource": "timeout_resource",
}


def main():
    evidence = sys.argv[1]
    services = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else
                            pathlib.Path(__file__).resolve().parents[2] / "tests" / "buggy-services")
    truth = {}
    for path in sorted(services.glob("*/truth.json")):
        t = json.loads(path.read_text())
        truth[t["service"]] = CLASSES[t["cause_class"]]
    records = sorted((json.loads(l) for l in open(evidence) if l.strip()), key=lambda r: r["service"])
    top_right = fault_right = 0
    print(f"{'service':18} {'true class':24} {'top hypothesis':34} fault's hypothesis")
    for r in records:
        want = truth[r["service"]]
        hyps = ranked(r)
        top = hyps[0] if hyps else None
        fault = next(((i + 1, h) for i, h in enumerate(hyps)
                      if matches(h["suspect"]["function"], r["fault"])), None)
        top_ok = top is not None and top["cause_class"] == want
        fault_ok = fault is not None and fault[1]["cause_class"] == want
        top_right += top_ok
        fault_right += fault_ok
        top_s = f"{top['cause_class']} ({'right' if top_ok else 'wrong'})" if top else "none"
        fault_s = (f"rank {fault[0]}: {fault[1]['cause_class']} ({'right' if fault_ok else 'wrong'})"
                   if fault else "not ranked")
        print(f"{r['service']:18} {want:24} {top_s:34} {fault_s}")
    n = len(records)
    print(f"top hypothesis's class right: {top_right}/{n}; fault's own hypothesis's class right: {fault_right}/{n}")


if __name__ == "__main__":
    main()
