"""The gRPC `otlp` exporter's client TLS block through two real collectors: a backend
serving OTLP/gRPC over TLS 1.3 only with a test CA's certificate, and a front collector
whose pipelines each mark their spans (a `resource` processor) and export through one
TLS variant. Verified with `ca_file`, or `insecure_skip_verify` without a CA, the spans
arrive; without either, or limited to TLS 1.2, the handshake fails and nothing
arrives."""

import json

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import attrs, spans_in, wait_for
from test_dropin_receiver import pki  # noqa: F401 (the fixture)

VARIANTS = {
    "ca": lambda pki: {"ca_file": str(pki / "ca.pem"), "min_version": "1.2"},
    "skip": lambda pki: {"insecure_skip_verify": True},
    "unverified": lambda pki: {},
    "old": lambda pki: {"ca_file": str(pki / "ca.pem"), "max_version": "1.2"},
}


def test_client_tls_variants(tmp_path, collectors, pki):  # noqa: F811
    out = tmp_path / "out.jsonl"
    backend = collectors("backend", exporters={"file": {"path": str(out)}},
                         pipelines={"traces": {"receivers": ["otlp"], "exporters": ["file"]}})
    backend.config["receivers"]["otlp"]["protocols"]["grpc"]["tls"] = {
        "cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key"), "min_version": "1.3"}
    backend.config_path.write_text(json.dumps(backend.config))
    backend.start()

    exporters, processors, pipelines = {}, {}, {}
    for name, tls in VARIANTS.items():
        exporters[f"otlp/{name}"] = {"endpoint": f"localhost:{backend.grpc_port}", "tls": tls(pki),
                                     "retry_on_failure": {"enabled": False}}
        processors[f"resource/{name}"] = {"attributes": [{"key": "via", "value": name, "action": "upsert"}]}
        pipelines[f"traces/{name}"] = {"receivers": ["otlp"], "processors": [f"resource/{name}"],
                                       "exporters": [f"otlp/{name}"]}
    front = collectors("front", exporters=exporters, processors=processors, pipelines=pipelines).start()

    provider = TracerProvider(resource=Resource.create({"service.name": "tls-front"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=front.grpc_endpoint, insecure=True)))
    with provider.get_tracer("e2e").start_as_current_span("through tls"):
        pass
    provider.shutdown()

    def arrived():
        via = {attrs(s["resource"]["attributes"]).get("via") for s in spans_in(out)}
        return via if {"ca", "skip"} <= via else None

    wait_for(arrived, timeout=30, what="spans through the verified and the skip-verify exporters")
    # The failing variants report their handshake errors; by then nothing of theirs came.
    wait_for(lambda: "otlp/unverified" in front.log() and "otlp/old" in front.log(), timeout=30,
             what="the failing exporters' errors in the log")
    via = {attrs(s["resource"]["attributes"]).get("via") for s in spans_in(out)}
    assert via == {"ca", "skip"}, via
