"""The Python OpenTelemetry SDK sends traces and logs to the real binary; the `file`
exporter's output holds exactly what was sent."""

import logging

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import attrs, logs_in, spans_in


def hex_id(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def test_sdk_traces_and_logs_arrive_intact(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"batch": {"timeout": "100ms"}},
        pipelines={
            "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["file"]},
            "logs": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["file"]},
        },
    ).start()

    resource = Resource.create({"service.name": "checkout", "deployment.environment.name": "e2e"})
    sent = {}
    for transport, exporter in [
        ("grpc", GrpcSpanExporter(endpoint=c.grpc_endpoint, insecure=True)),
        ("http", HttpSpanExporter(endpoint=f"{c.http_endpoint}/v1/traces")),
    ]:
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("e2e.tracer", "1.2.3")
        with tracer.start_as_current_span(
            f"GET /cart/{{id}} {transport}", kind=SpanKind.SERVER,
            attributes={"http.route": "/cart/{id}", "retries": 3, "cache.hit": True, "ratio": 0.25,
                        "tags": ["a", "b"]},
        ) as parent:
            with tracer.start_as_current_span(f"load cart {transport}") as child:
                child.add_event("exception", {"exception.type": "KeyError", "exception.message": "'sku'"})
                child.set_status(Status(StatusCode.ERROR, "KeyError: 'sku'"))
        sent[transport] = (parent.get_span_context(), child.get_span_context())
        provider.shutdown()

    log_provider = LoggerProvider(resource=resource)
    log_provider.add_log_record_processor(
        SimpleLogRecordProcessor(HttpLogExporter(endpoint=f"{c.http_endpoint}/v1/logs")))
    pylog = logging.getLogger("e2e.logs")
    pylog.propagate = False
    pylog.addHandler(LoggingHandler(level=logging.INFO, logger_provider=log_provider))
    pylog.setLevel(logging.INFO)
    pylog.error("payment failed for order %s", 42, extra={"order.id": 42})
    pylog.info("cart loaded")
    log_provider.shutdown()

    assert c.stop() == 0, c.log()

    spans = spans_in(out)
    assert len(spans) == 4, spans
    by_id = {s["span"]["spanId"]: s for s in spans}
    for transport, (parent_ctx, child_ctx) in sent.items():
        parent = by_id[hex_id(parent_ctx.span_id, 16)]
        child = by_id[hex_id(child_ctx.span_id, 16)]
        for s in (parent, child):
            assert s["span"]["traceId"] == hex_id(parent_ctx.trace_id, 32)
            res = attrs(s["resource"]["attributes"])
            assert res["service.name"] == "checkout"
            assert res["deployment.environment.name"] == "e2e"
            assert s["scope"]["name"] == "e2e.tracer"
            assert s["scope"]["version"] == "1.2.3"
        assert parent["span"]["name"] == f"GET /cart/{{id}} {transport}"
        assert parent["span"]["kind"] == 2
        a = attrs(parent["span"]["attributes"])
        assert a["http.route"] == "/cart/{id}"
        assert a["retries"] == 3
        assert a["cache.hit"] is True
        assert a["ratio"] == 0.25
        assert [v["stringValue"] for v in a["tags"]["values"]] == ["a", "b"]
        assert child["span"]["parentSpanId"] == hex_id(parent_ctx.span_id, 16)
        assert child["span"]["status"]["code"] == 2
        assert child["span"]["status"]["message"] == "KeyError: 'sku'"
        (event,) = child["span"]["events"]
        assert event["name"] == "exception"
        assert attrs(event["attributes"]) == {"exception.type": "KeyError", "exception.message": "'sku'"}
        assert int(child["span"]["endTimeUnixNano"]) >= int(child["span"]["startTimeUnixNano"]) > 0

    logs = logs_in(out)
    assert len(logs) == 2, logs
    error = next(item for item in logs if item["log"]["severityText"] == "ERROR")
    assert error["log"]["body"] == {"stringValue": "payment failed for order 42"}
    assert error["log"]["severityNumber"] == 17
    assert attrs(error["log"]["attributes"])["order.id"] == 42
    assert attrs(error["resource"]["attributes"])["service.name"] == "checkout"

    assert c.proc is None


def test_sdk_metrics_arrive_over_grpc_and_http(tmp_path, collectors):
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from conftest import read_otlp_json_lines

    out = tmp_path / "metrics.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        pipelines={"metrics": {"receivers": ["otlp"], "exporters": ["file"]}},
    ).start()
    for transport, exporter in [
        ("grpc", GrpcMetricExporter(endpoint=c.grpc_endpoint, insecure=True)),
        ("http", HttpMetricExporter(endpoint=f"{c.http_endpoint}/v1/metrics")),
    ]:
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
        provider = MeterProvider(metric_readers=[reader],
                                 resource=Resource.create({"service.name": "meters"}))
        meter = provider.get_meter("e2e.meter")
        meter.create_counter(f"orders.{transport}").add(5, {"region": "eu"})
        meter.create_histogram(f"latency.{transport}", unit="ms").record(12.5)
        provider.shutdown()
    assert c.metric("otelcol_receiver_accepted_metric_points_total") == 4
    assert c.stop() == 0, c.log()

    metrics = {}
    for req in read_otlp_json_lines(out):
        for rm in req["resourceMetrics"]:
            assert attrs(rm["resource"]["attributes"])["service.name"] == "meters"
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    metrics[m["name"]] = m
    for transport in ["grpc", "http"]:
        (point,) = metrics[f"orders.{transport}"]["sum"]["dataPoints"]
        assert int(point["asInt"]) == 5
        assert attrs(point["attributes"]) == {"region": "eu"}
        (hist,) = metrics[f"latency.{transport}"]["histogram"]["dataPoints"]
        assert int(hist["count"]) == 1 and hist["sum"] == 12.5
