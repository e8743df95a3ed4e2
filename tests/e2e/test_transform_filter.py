"""`transform` and `filter` (OTTL) in the real binary: the Python OpenTelemetry SDK
sends traces and logs over OTLP, the `file` exporter's output shows what the
statements changed and what the conditions dropped; bad statements stop startup
and `tracemend validate` with the column of the problem."""

import hashlib
import json
import logging
import subprocess

import requests

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import attrs, binary, logs_in, spans_in, wait_for

TRANSFORM = {
    "error_mode": "ignore",
    "trace_statements": [
        # Flat form: the context is inferred from the path prefixes.
        'set(span.attributes["env"], resource.attributes["deployment.environment.name"])',
        'replace_pattern(span.attributes["db.statement"], "password=[^ ]*", "password=***")',
        {
            "context": "span",
            "conditions": ["kind == SPAN_KIND_SERVER"],
            "statements": [
                'set(attributes["route.hash"], SHA256(attributes["http.route"]))',
                'set(name, Concat(["srv", name], ":"))',
            ],
        },
        {"context": "resource", "statements": ['delete_key(attributes, "secret")']},
        {"context": "spanevent", "statements": ['set(attributes["seen"], true) where name == "exception"']},
        # Fails on every span (a string into an int field): ignored, the rest still runs.
        'set(span.status.code, "not a number")',
    ],
    "log_statements": [
        'set(log.attributes["level"], log.severity_text)',
        'truncate_all(log.attributes, 4)',
    ],
}

FILTER = {
    "traces": {"span": ['attributes["http.route"] == "/health"', 'IsMatch(name, "^internal-")']},
    "logs": {"log_record": ["severity_number < SEVERITY_NUMBER_WARN"]},
}


def at_least(read, n):
    """A predicate for `wait_for`: `read()` once it holds `n` items or more."""
    def check():
        items = read()
        return items if len(items) >= n else None
    return check


def start(collectors, tmp_path, processors, names):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors=processors,
        pipelines={
            "traces": {"receivers": ["otlp"], "processors": names, "exporters": ["file"]},
            "logs": {"receivers": ["otlp"], "processors": names, "exporters": ["file"]},
        },
    ).start()
    return c, out


def send_spans(c):
    resource = Resource.create({"service.name": "shop", "deployment.environment.name": "staging",
                                "secret": "hunter2"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=c.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("e2e.ottl")
    with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/cart"}):
        with tracer.start_as_current_span("query", kind=SpanKind.CLIENT,
                                          attributes={"db.statement": "login user=bob password=s3cret now"}) as q:
            q.add_event("exception", {"exception.type": "Timeout"})
            q.set_status(Status(StatusCode.ERROR, "timeout"))
    with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER, attributes={"http.route": "/health"}):
        pass
    with tracer.start_as_current_span("internal-tick"):
        pass
    provider.shutdown()


def send_logs(c):
    provider = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{c.http_endpoint}/v1/logs")))
    log = logging.getLogger("e2e.ottl")
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    log.setLevel(logging.DEBUG)
    log.info("started")
    log.warning("disk almost full")
    log.error("request failed")
    provider.shutdown()


def test_transform_statements_change_spans_and_logs(tmp_path, collectors):
    c, out = start(collectors, tmp_path, {"transform": TRANSFORM}, ["transform"])
    send_spans(c)
    send_logs(c)
    spans = wait_for(at_least(lambda: spans_in(out), 4), what="4 spans")
    by_name = {s["span"]["name"]: s for s in spans}
    assert set(by_name) == {"srv:GET /cart", "query", "srv:GET /health", "internal-tick"}, by_name.keys()

    server = by_name["srv:GET /cart"]
    a = attrs(server["span"]["attributes"])
    assert a["env"] == "staging"
    assert a["route.hash"] == hashlib.sha256(b"/cart").hexdigest()
    assert "secret" not in attrs(server["resource"]["attributes"])
    assert attrs(server["resource"]["attributes"])["service.name"] == "shop"

    query = by_name["query"]
    qa = attrs(query["span"]["attributes"])
    assert qa["db.statement"] == "login user=bob password=*** now"
    assert "route.hash" not in qa, "the group's condition limits it to server spans"
    # The failing statement was ignored: the status stays as sent.
    assert query["span"]["status"]["code"] in (2, "STATUS_CODE_ERROR")
    events = query["span"]["events"]
    assert attrs(events[0]["attributes"])["seen"] is True

    logs = wait_for(at_least(lambda: logs_in(out), 3), what="3 log records")
    levels = sorted(attrs(l["log"]["attributes"])["level"] for l in logs)
    # truncate_all(…, 4) cut the copied severity texts to 4 bytes.
    assert levels == ["ERRO", "INFO", "WARN"], levels


def test_filter_drops_what_conditions_match(tmp_path, collectors):
    c, out = start(collectors, tmp_path, {"filter": FILTER}, ["filter"])
    send_spans(c)
    send_logs(c)
    spans = wait_for(at_least(lambda: spans_in(out), 2), what="the kept spans")
    send_logs(c)
    logs = wait_for(at_least(lambda: logs_in(out), 4), what="the kept log records")
    names = sorted(s["span"]["name"] for s in spans_in(out))
    assert names == ["GET /cart", "query"], names
    bodies = sorted(l["log"]["body"]["stringValue"] for l in logs)
    assert bodies == ["disk almost full", "disk almost full", "request failed", "request failed"], bodies


def test_transform_then_filter_in_one_pipeline(tmp_path, collectors):
    # transform marks spans, filter drops the marked ones: order in the pipeline matters.
    c, out = start(collectors, tmp_path, {
        "transform": {"trace_statements": ['set(span.attributes["drop"], true) where span.kind == SPAN_KIND_CLIENT']},
        "filter": {"traces": {"span": ['attributes["drop"] == true']}},
    }, ["transform", "filter"])
    send_spans(c)
    spans = wait_for(at_least(lambda: spans_in(out), 3), what="3 spans")
    assert sorted(s["span"]["name"] for s in spans) == ["GET /cart", "GET /health", "internal-tick"]


def test_propagate_refuses_the_batch_and_the_client_sees_it(tmp_path, collectors):
    c, out = start(collectors, tmp_path, {
        "transform": {"trace_statements": ['set(span.name, 1)']},
    }, ["transform"])
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", "name": "x",
        "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}
    r = requests.post(f"{c.http_endpoint}/v1/traces", json=body, timeout=10)
    assert r.status_code >= 400, r.text
    assert "name takes a string" in r.text or "name takes a string" in c.log()
    assert spans_in(out) == []


def write_config(tmp_path, processors):
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "processors": processors,
        "exporters": {"nop": {}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "processors": list(processors), "exporters": ["nop"]}}},
    }
    p = tmp_path / "bad.yaml"
    p.write_text(json.dumps(cfg))
    return p


def test_bad_statements_are_refused_with_their_column(tmp_path):
    p = write_config(tmp_path, {
        "transform": {"trace_statements": ['set(span.attributes["a"], "b" "c")']},
        "filter": {"traces": {"span": ['span.nme == "x"']}},
    })
    r = subprocess.run([binary(), "validate", "--config", str(p)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "processors.transform.trace_statements[0]" in text, text
    assert "column 31" in text, text
    assert "processors.filter.traces.span[0]" in text, text
    assert "`nme` is not a path of the span context" in text, text
