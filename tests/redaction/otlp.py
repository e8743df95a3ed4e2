"""Carries corpus items through OTLP/JSON and back: each item becomes one span
(attribute, exception event, status message, or resource attribute) or one
log record (body, structured body, or attribute), tagged so its output can be
found again (span name `item-<id>`, log attribute `eval.id`)."""

from __future__ import annotations


def any_value(v) -> dict:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": any_value(x)} for k, x in v.items()]}}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    raise TypeError(type(v))


def kv(key: str, v) -> dict:
    return {"key": key, "value": any_value(v)}


SPAN_CARRIERS = {"span_attr", "event_exception", "status", "resource_attr"}


def traces_request(items: list[dict]) -> dict:
    """One OTLP/JSON traces request for the span-carried items."""
    shared, own = [], []
    for it in items:
        span = {
            "traceId": f"{it['id'] + 1:032x}",
            "spanId": f"{it['id'] + 1:016x}",
            "name": f"item-{it['id']}",
            "kind": 2,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000100000000",
            "attributes": [],
        }
        if it["carrier"] == "span_attr":
            span["attributes"].append(kv(it["key"], it["value"]))
        elif it["carrier"] == "event_exception":
            span["events"] = [{"timeUnixNano": "1700000000050000000", "name": "exception",
                               "attributes": [kv("exception.type", "Error"), kv("exception.message", it["value"])]}]
        elif it["carrier"] == "status":
            span["status"] = {"code": 2, "message": it["value"]}
        if it["carrier"] == "resource_attr":
            own.append({"resource": {"attributes": [kv("service.name", "eval"), kv(it["key"], it["value"])]},
                        "scopeSpans": [{"scope": {"name": "eval"}, "spans": [span]}]})
        else:
            shared.append(span)
    rs = [{"resource": {"attributes": [kv("service.name", "eval")]},
           "scopeSpans": [{"scope": {"name": "eval"}, "spans": shared}]}] if shared else []
    return {"resourceSpans": rs + own}


def logs_request(items: list[dict]) -> dict:
    records = []
    for it in items:
        rec = {"timeUnixNano": "1700000000000000000", "severityNumber": 17,
               "attributes": [kv("eval.id", it["id"])]}
        if it["carrier"] in ("log_body", "log_struct"):
            rec["body"] = any_value(it["value"])
        else:
            rec["body"] = any_value("request finished")
            rec["attributes"].append(kv(it["key"], it["value"]))
        records.append(rec)
    return {"resourceLogs": [{"resource": {"attributes": [kv("service.name", "eval")]},
                              "scopeLogs": [{"scope": {"name": "eval"}, "logRecords": records}]}]}


def outputs_from(spans: list[dict], logs: list[dict]) -> dict:
    """Item id -> the whole output record (span with its resource, or log
    record): a planted value anywhere in it is a leak."""
    out = {}
    for s in spans:
        name = s["span"].get("name", "")
        if name.startswith("item-"):
            out[int(name[5:])] = {"span": s["span"], "resource": s["resource"]}
    for r in logs:
        for a in r["log"].get("attributes", []):
            if a["key"] == "eval.id":
                out[int(a["value"]["intValue"])] = {"log": r["log"]}
    return out
