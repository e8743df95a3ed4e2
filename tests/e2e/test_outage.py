"""Downstream outage with a persistent sending queue: the second collector is down while
data is sent, the first restarts, then the second comes up. Every acknowledged span
arrives.

Delivery is at least once, not exactly once: a batch is deleted from storage only after
the downstream acknowledged it, so a crash between the two would send it again. With a
clean SIGTERM no batch is in that window, and this test sees exactly one copy of each."""

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export import SpanExportResult

from conftest import spans_in, wait_for

SPANS = 120


def test_persistent_queue_survives_restart_and_outage(tmp_path, collectors):
    out = tmp_path / "second.jsonl"
    storage = tmp_path / "queue"
    second = collectors(
        "second",
        exporters={"file": {"path": str(out)}},
        pipelines={"traces": {"receivers": ["otlp"], "exporters": ["file"]}},
    )  # not started: the downstream is down
    first = collectors(
        "first",
        exporters={"otlp": {
            "endpoint": second.grpc_endpoint,
            "tls": {"insecure": True},
            "timeout": "1s",
            "sending_queue": {"storage": "file_storage", "num_consumers": 2},
            "retry_on_failure": {"initial_interval": "100ms", "max_interval": "500ms", "max_elapsed_time": "0s"},
        }},
        extensions={"file_storage": {"directory": str(storage), "create_directory": True, "fsync": True}},
        processors={"batch": {"send_batch_size": 50, "timeout": "5s"}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp"]}},
    ).start()

    exporter = OTLPSpanExporter(endpoint=first.grpc_endpoint, insecure=True)
    provider = TracerProvider(resource=Resource.create({"service.name": "outage"}))
    results = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span):
            results.append(exporter.export([span]))

    provider.add_span_processor(Recording(exporter))
    tracer = provider.get_tracer("outage")
    sent = set()
    for i in range(SPANS):
        with tracer.start_as_current_span(f"op-{i}") as span:
            sent.add(format(span.get_span_context().span_id, "016x"))
    assert results == [SpanExportResult.SUCCESS] * SPANS, "every span was acknowledged"

    # Stop while the downstream is still down: the batch buffer flushes into the queue,
    # which stays on disk.
    assert first.stop() == 0, first.log()
    persisted = list((storage).rglob("*.otlp"))
    assert persisted, "the queue was persisted"

    first.start()
    second.start()
    wait_for(lambda: len(spans_in(out)) >= SPANS, timeout=60, what="the queued spans to be delivered")
    wait_for(lambda: not list(storage.rglob("*.otlp")), what="the queue to be emptied")
    assert first.stop() == 0, first.log()
    assert second.stop() == 0, second.log()

    received = [s["span"]["spanId"] for s in spans_in(out)]
    assert set(received) == sent, "no acknowledged span lost"
    assert len(received) == SPANS, f"{len(received) - SPANS} duplicates"
