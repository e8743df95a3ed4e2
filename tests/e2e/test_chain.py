"""Two collectors chained lose nothing: over gRPC (`otlp` exporter) and over HTTP with
gzip (`otlphttp` exporter)."""

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from conftest import spans_in, wait_for

SPANS = 600


@pytest.mark.parametrize("hop", ["otlp", "otlphttp", "otlphttp/json"])
def test_two_collectors_chained_lose_nothing(tmp_path, collectors, hop):
    out = tmp_path / "second.jsonl"
    second = collectors(
        "second",
        exporters={"file": {"path": str(out)}},
        pipelines={"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
    ).start()
    exporter = {
        "otlp": {"otlp": {"endpoint": second.grpc_endpoint, "tls": {"insecure": True}}},
        "otlphttp": {"otlphttp": {"endpoint": second.http_endpoint, "compression": "gzip"}},
        "otlphttp/json": {"otlphttp/json": {"endpoint": second.http_endpoint, "encoding": "json",
                                            "compression": "none"}},
    }[hop]
    first = collectors(
        "first",
        exporters=exporter,
        processors={"batch": {"send_batch_size": 100, "timeout": "50ms"}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": [hop]}},
    ).start()

    provider = TracerProvider(resource=Resource.create({"service.name": "chain"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=first.grpc_endpoint, insecure=True), max_export_batch_size=64))
    tracer = provider.get_tracer("chain")
    sent = set()
    for i in range(SPANS):
        with tracer.start_as_current_span(f"op-{i}", attributes={"i": i}) as span:
            sent.add(format(span.get_span_context().span_id, "016x"))
    provider.shutdown()

    wait_for(lambda: len(spans_in(out)) >= SPANS, what="every span to reach the second collector")
    assert first.stop() == 0, first.log()
    assert second.stop() == 0, second.log()
    received = [s["span"]["spanId"] for s in spans_in(out)]
    assert len(received) == SPANS, "no span lost or duplicated"
    assert set(received) == sent
