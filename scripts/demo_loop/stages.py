"""One line or a few per stage of an incident: what it found, in the words of its result."""

import json

TERMINAL = {"succeeded", "rejected", "failed"}


def _compact(value, limit: int = 160) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reproduce(r: dict) -> list:
    runs = r.get("runs") or []
    expected = r.get("expected") or {}
    lines = [f"verdict {r.get('verdict')} in {len(runs)} run(s), expected {expected.get('exception_type', '?')}"]
    if r.get("differences"):
        lines.append("differences: " + "; ".join(r["differences"]))
    return lines


def _minimize(r: dict) -> list:
    red = r.get("reduction") or {}
    probes = r.get("probes") or {}
    original = ((r.get("original") or {}).get("request") or {}).get("body")
    body = ((r.get("minimized") or {}).get("request") or {}).get("body")
    lines = [f"{r.get('verdict')}: {red.get('leaves_before')} -> {red.get('leaves_after')} leaves, "
             f"{red.get('bytes_before')} -> {red.get('bytes_after')} bytes; {probes.get('executed')} probes "
             f"in {probes.get('containers')} container(s)"]
    if original is not None:
        # As the envelope carried it: personal data already pseudonymized at the edge.
        lines.append(f"envelope body:  {_compact(original, 240)}")
    if body is not None:
        lines.append(f"minimized body: {_compact(body)}")
    return lines


def _localize(r: dict) -> list:
    lines = []
    for h in (r.get("hypotheses") or [])[:3]:
        s = h.get("suspect") or {}
        lines.append(f"#{h.get('rank')} {s.get('file')}:{s.get('start_line')}-{s.get('end_line')} "
                     f"{s.get('function')} (score {h.get('score', 0):.2f}, {h.get('cause_class')})")
    return lines or ["no hypotheses"]


def _patch(r: dict) -> list:
    out = []
    for c in r.get("candidates") or []:
        allowed = (c.get("policy") or {}).get("allowed")
        out.append(f"candidate {c.get('id')}: {c.get('template')} on {(c.get('fix') or {}).get('path')}"
                   f"{'' if allowed else ' (refused by policy)'}: {c.get('description')}")
    return out or ["no candidates"]


def _verify(r: dict) -> list:
    lines = [f"verdict {r.get('verdict')}"]
    placebo = r.get("placebo")
    if placebo:
        lines.append(f"placebo: the new test {'fails' if placebo.get('passed') else 'does not fail'} on the original commit")
    d = r.get("differential")
    if d:
        lines.append(f"differential: {d.get('inputs')} inputs, {d.get('fixed')} fixed, "
                     f"{d.get('new_failures')} new failures, {d.get('changed')} changed answers")
    risk = r.get("risk")
    if risk:
        lines.append(f"risk {risk.get('score', 0):.2f}")
    branch = r.get("branch")
    if branch:
        lines.append(f"branch {branch.get('name')} pushed to {branch.get('pushed_to') or '(not pushed)'}")
    return lines


SUMMARIES = {"reproduce": _reproduce, "minimize": _minimize, "localize": _localize,
             "patch": _patch, "verify": _verify}


def describe(stage: dict) -> list:
    """The lines printed when a stage has finished."""
    result = stage.get("result")
    if not isinstance(result, dict):
        return []
    try:
        return SUMMARIES.get(stage.get("name"), lambda _: [])(result)
    except (TypeError, ValueError, AttributeError) as e:
        # A result of a shape this script does not know is shown, not fatal.
        return [f"(result not summarized: {e}) {_compact(result)}"]
