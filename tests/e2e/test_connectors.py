"""Connectors in the real binary: `forward`, `routing`, `spanmetrics` and `count` join
pipelines. The Python OpenTelemetry SDK sends spans and logs over OTLP; what reaches the
`file` exporter (or, for span metrics, a second collector over OTLP/gRPC) shows what each
connector passed, routed or computed. Bad connector configs stop `tracemend validate`
with the connector or pipeline at fault named."""

import json
import logging
import subprocess

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import attrs, binary, read_otlp_json_lines, spans_in, wait_for


def with_connectors(c, connectors):
    """Adds a `connectors:` section to a collector's config before it starts."""
    c.config["connectors"] = connectors
    c.config_path.write_text(json.dumps(c.config, indent=2))
    return c


def send_spans(c, service, spans):
    """Sends `spans` ((name, kind, attributes, error, events), ...) as `service`."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=c.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("e2e.connectors")
    for name, kind, attributes, error, events in spans:
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as s:
            for e in range(events):
                s.add_event(f"event-{e}")
            if error:
                s.set_status(Status(StatusCode.ERROR, "failed"))
    provider.shutdown()


def send_logs(c, service, records):
    """Sends (level, message) log records as `service` over OTLP/HTTP."""
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{c.http_endpoint}/v1/logs")))
    log = logging.getLogger(f"e2e.connectors.{service}")
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    log.setLevel(logging.DEBUG)
    for level, message in records:
        log.log(level, message)
    provider.shutdown()


def metric_points(path):
    """Every data point in a file exporter's output: (metric name, kind, point, resource
    attributes), in file order."""
    out = []
    for req in read_otlp_json_lines(path):
        for rm in req.get("resourceMetrics", []):
            resource = attrs(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    for kind in ("sum", "gauge", "histogram", "exponentialHistogram"):
                        for p in m.get(kind, {}).get("dataPoints", []):
                            out.append((m["name"], kind, p, resource, m))
    return out


def num(v):
    """An OTLP/JSON integer (a string for 64-bit fields) as an int."""
    return int(v) if v is not None else 0


def test_forward_joins_pipelines(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = with_connectors(collectors(
        exporters={"file": {"path": str(out)}},
        pipelines={
            "traces/in": {"receivers": ["otlp"], "exporters": ["forward"]},
            "logs": {"receivers": ["otlp"], "exporters": ["forward"]},
            "traces/out": {"receivers": ["forward"], "exporters": ["file"]},
            "logs/out": {"receivers": ["forward"], "exporters": ["file"]},
        },
    ), {"forward": None}).start()
    send_spans(c, "shop", [("GET /a", SpanKind.SERVER, {}, False, 0), ("GET /b", SpanKind.SERVER, {}, False, 0)])
    send_logs(c, "shop", [(logging.WARNING, "low disk")])
    spans = wait_for(lambda: (s := spans_in(out)) and len(s) >= 2 and s, what="2 forwarded spans")
    assert sorted(s["span"]["name"] for s in spans) == ["GET /a", "GET /b"]
    wait_for(lambda: any("resourceLogs" in r for r in read_otlp_json_lines(out)), what="the forwarded log")
    assert c.stop() == 0


def test_routing_by_resource_and_span_conditions(tmp_path, collectors):
    files = {name: tmp_path / f"{name}.jsonl" for name in ("checkout", "health", "other")}
    c = with_connectors(collectors(
        exporters={f"file/{n}": {"path": str(p)} for n, p in files.items()},
        pipelines={
            "traces": {"receivers": ["otlp"], "exporters": ["routing"]},
            **{f"traces/{n}": {"receivers": ["routing"], "exporters": [f"file/{n}"]} for n in files},
        },
    ), {"routing": {
        "default_pipelines": ["traces/other"],
        "table": [
            # A span condition first: health checks of every service go to their own pipeline.
            {"condition": 'span.name == "GET /health"', "pipelines": ["traces/health"]},
            # A resource condition (context inferred from nothing: resource, as otelcol).
            {"statement": 'route() where attributes["service.name"] == "checkout"',
             "pipelines": ["traces/checkout"]},
        ],
    }}).start()
    send_spans(c, "checkout", [("POST /pay", SpanKind.SERVER, {}, False, 0),
                               ("GET /health", SpanKind.SERVER, {}, False, 0)])
    send_spans(c, "cart", [("GET /cart", SpanKind.SERVER, {}, False, 0),
                           ("GET /health", SpanKind.SERVER, {}, False, 0)])
    got = {}
    for name, want in (("checkout", 1), ("health", 2), ("other", 1)):
        got[name] = wait_for(lambda: (s := spans_in(files[name])) and len(s) >= want and s, what=f"{want} span(s) in {name}")
    assert [s["span"]["name"] for s in got["checkout"]] == ["POST /pay"]
    assert sorted(attrs(s["resource"]["attributes"])["service.name"] for s in got["health"]) == ["cart", "checkout"]
    assert [s["span"]["name"] for s in got["other"]] == ["GET /cart"]
    # A moved span keeps its resource and scope.
    assert got["checkout"][0]["scope"]["name"] == "e2e.connectors"
    assert c.stop() == 0
    # Nothing went to two places.
    assert sum(len(spans_in(p)) for p in files.values()) == 4


def test_spanmetrics_over_otlp_to_a_second_collector(tmp_path, collectors):
    out = tmp_path / "metrics.jsonl"
    backend = collectors(
        "backend",
        exporters={"file": {"path": str(out)}},
        pipelines={"metrics": {"receivers": ["otlp"], "exporters": ["file"]}},
    ).start()
    edge = with_connectors(collectors(
        "edge",
        exporters={"otlp": {"endpoint": backend.grpc_endpoint, "tls": {"insecure": True}},
                   "nop": None},
        pipelines={
            "traces": {"receivers": ["otlp"], "exporters": ["nop", "spanmetrics"]},
            "metrics": {"receivers": ["spanmetrics"], "exporters": ["otlp"]},
        },
    ), {"spanmetrics": {
        "metrics_flush_interval": "200ms",
        "dimensions": [{"name": "http.route"}, {"name": "tier", "default": "free"}],
        "histogram": {"explicit": {"buckets": ["1ms", "10s"]}},
        "exemplars": {"enabled": True},
    }}).start()
    send_spans(edge, "shop", [
        ("GET /cart", SpanKind.SERVER, {"http.route": "/cart"}, False, 0),
        ("GET /cart", SpanKind.SERVER, {"http.route": "/cart"}, False, 0),
        ("GET /cart", SpanKind.SERVER, {"http.route": "/cart", "tier": "gold"}, True, 0),
    ])

    def calls():
        points = [p for p in metric_points(out) if p[0] == "traces.span.metrics.calls"]
        latest = {}
        for name, kind, p, resource, m in points:
            a = attrs(p["attributes"])
            latest[(a.get("status.code"), a.get("tier"))] = (num(p.get("asInt")), a, resource, m)
        return latest if sum(v[0] for v in latest.values()) >= 3 else None

    latest = wait_for(calls, timeout=30, what="3 calls in span metrics at the backend")
    ok, ok_attrs, resource, m = latest[("STATUS_CODE_UNSET", "free")]
    err, _, _, _ = latest[("STATUS_CODE_ERROR", "gold")]
    assert (ok, err) == (2, 1)
    assert ok_attrs["service.name"] == "shop"
    assert ok_attrs["span.name"] == "GET /cart"
    assert ok_attrs["span.kind"] == "SPAN_KIND_SERVER"
    assert ok_attrs["http.route"] == "/cart"
    assert resource["service.name"] == "shop"
    # Cumulative and monotonic by default.
    assert m["sum"]["aggregationTemporality"] in (2, "AGGREGATION_TEMPORALITY_CUMULATIVE")
    assert m["sum"]["isMonotonic"] is True

    hist = [p for p in metric_points(out) if p[0] == "traces.span.metrics.duration"]
    assert hist, "no duration histogram"
    name, kind, p, _, m = hist[-1]
    assert kind == "histogram" and m["unit"] == "ms"
    assert [float(b) for b in p["explicitBounds"]] == [1.0, 10000.0]
    total = sum(num(x) for x in p["bucketCounts"])
    assert total == num(p["count"]) > 0
    assert any(h[2].get("exemplars") for h in hist), "exemplars enabled but none sent"
    assert edge.stop() == 0


def test_spanmetrics_flushes_at_shutdown_into_running_pipelines(tmp_path, collectors):
    """An hour-long flush interval: the only flush is the one at shutdown, which must
    pass through the metrics pipeline's processor before its exporter drains."""
    out = tmp_path / "metrics.jsonl"
    c = with_connectors(collectors(
        exporters={"file": {"path": str(out)}, "nop": None},
        processors={"batch": {"timeout": "10s"}},
        pipelines={
            "traces": {"receivers": ["otlp"], "exporters": ["nop", "spanmetrics"]},
            "metrics": {"receivers": ["spanmetrics"], "processors": ["batch"], "exporters": ["file"]},
        },
    ), {"spanmetrics": {"metrics_flush_interval": "1h", "namespace": "",
                        "aggregation_temporality": "AGGREGATION_TEMPORALITY_DELTA",
                        "histogram": {"exponential": {"max_size": 20}}}}).start()
    send_spans(c, "shop", [("GET /a", SpanKind.SERVER, {}, False, 0)] * 4)
    assert not metric_points(out)
    assert c.stop() == 0
    points = metric_points(out)
    calls = [p for p in points if p[0] == "calls"]
    assert [num(p[2]["asInt"]) for p in calls] == [4], points
    assert calls[0][4]["sum"]["aggregationTemporality"] in (1, "AGGREGATION_TEMPORALITY_DELTA")
    duration = [p for p in points if p[0] == "duration"]
    assert duration and duration[0][1] == "exponentialHistogram", points
    assert num(duration[0][2]["count"]) == 4


def test_count_spans_events_and_logs_with_conditions(tmp_path, collectors):
    out = tmp_path / "counts.jsonl"
    c = with_connectors(collectors(
        exporters={"file": {"path": str(out)}},
        pipelines={
            "traces": {"receivers": ["otlp"], "exporters": ["count"]},
            "logs": {"receivers": ["otlp"], "exporters": ["count"]},
            "metrics": {"receivers": ["count"], "exporters": ["file"]},
        },
    ), {"count": {
        "spans": {
            "shop.span.count": {"description": "spans by route",
                                "attributes": [{"key": "http.route", "default_value": "none"}]},
            "shop.error.count": {"conditions": ["status.code == STATUS_CODE_ERROR"]},
        },
        "logs": {"shop.warning.count": {"conditions": ["severity_number >= SEVERITY_NUMBER_WARN"]}},
    }}).start()
    send_spans(c, "shop", [
        ("GET /cart", SpanKind.SERVER, {"http.route": "/cart"}, True, 2),
        ("GET /cart", SpanKind.SERVER, {"http.route": "/cart"}, False, 0),
        ("tick", SpanKind.INTERNAL, {}, False, 1),
    ])
    send_logs(c, "shop", [(logging.INFO, "hello"), (logging.WARNING, "careful"), (logging.ERROR, "broken")])

    def totals():
        t = {}
        for name, kind, p, resource, m in metric_points(out):
            assert resource.get("service.name") == "shop"
            assert m["sum"]["aggregationTemporality"] in (1, "AGGREGATION_TEMPORALITY_DELTA")
            key = (name, attrs(p.get("attributes")).get("http.route"))
            t[key] = t.get(key, 0) + num(p.get("asInt"))
        return t

    expected = {
        ("shop.span.count", "/cart"): 2,
        ("shop.span.count", "none"): 1,
        ("shop.error.count", None): 1,
        # spanevents left out: otelcol's default metric counts every event.
        ("trace.span.event.count", None): 3,
        ("shop.warning.count", None): 2,
    }
    try:
        wait_for(lambda: totals() == expected, what="the counts of 3 spans and 3 log records")
    except AssertionError:
        pass
    assert totals() == expected
    assert c.stop() == 0


def validate(tmp_path, config: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(config, indent=2))
    return subprocess.run([binary(), "validate", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)


def base(connectors, pipelines):
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "exporters": {"nop": None},
        "connectors": connectors,
        "service": {"pipelines": pipelines},
    }


def test_bad_connector_configs_are_refused_by_validate(tmp_path):
    cases = [
        (base({"spanmetrics": None}, {"traces": {"receivers": ["otlp"], "exporters": ["spanmetrics"]}}),
         "connectors.spanmetrics: connector `spanmetrics` is an exporter of a traces pipeline but no pipeline it can feed lists it as a receiver"),
        (base({"forward/a": None}, {
            "traces": {"receivers": ["otlp", "forward/a"], "exporters": ["forward/a", "nop"]}}),
         "service.pipelines: the pipelines form a cycle through connectors: pipeline `traces` → connector `forward/a` → pipeline `traces`"),
        (base({"count": None}, {
            "traces": {"receivers": ["otlp"], "exporters": ["count"]},
            "logs": {"receivers": ["count"], "exporters": ["nop"]}}),
         "service.pipelines.logs.receivers[0]: connector `count` cannot be a receiver of a logs pipeline"),
        (base({"routing": {"table": [{"condition": 'attributes["x"] == ', "pipelines": ["traces/a"]}]}}, {
            "traces": {"receivers": ["otlp"], "exporters": ["routing"]},
            "traces/a": {"receivers": ["routing"], "exporters": ["nop"]}}),
         "connectors.routing.table[0].condition: "),
        (base({"spanmetrics": {"dimensions": [{"name": "service.name"}]}}, {
            "traces": {"receivers": ["otlp"], "exporters": ["spanmetrics"]},
            "metrics": {"receivers": ["spanmetrics"], "exporters": ["nop"]}}),
         "connectors.spanmetrics.dimensions[0].name: duplicate dimension name `service.name`"),
        (base({"datadog": None}, {"traces": {"receivers": ["otlp"], "exporters": ["nop"]}}),
         "connectors.datadog: unknown connector type `datadog`, expected one of: forward, routing, spanmetrics, count"),
    ]
    for config, expected in cases:
        r = validate(tmp_path, config)
        assert r.returncode != 0, f"accepted: {config}"
        assert expected in r.stderr, f"{expected!r} not in:\n{r.stderr}"
    # The routing condition error points at its column.
    r = validate(tmp_path, cases[3][0])
    assert "column" in r.stderr, r.stderr
