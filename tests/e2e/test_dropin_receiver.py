"""The otelcol `otlp` receiver keys real configs use, through the real binary: CORS for
browsers, extra response headers, and server TLS (with mutual TLS) on gRPC and HTTP,
exercised with the Python SDK and plain HTTP clients."""

import subprocess

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from conftest import spans_in, wait_for

ORIGIN = "https://app.example.test"
# One span in OTLP/JSON, as a browser SDK posts it.
SPAN_JSON = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "name": "click checkout",
            "kind": 1,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000100000000",
        }]}],
    }]
}


def test_cors_answers_preflights_and_marks_answers(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(exporters={"file": {"path": str(out)}},
                   pipelines={"traces": {"receivers": ["otlp"], "exporters": ["file"]}})
    c.config["receivers"]["otlp"]["protocols"]["http"].update({
        "cors": {"allowed_origins": ["https://*.example.test"], "allowed_headers": ["x-tenant"],
                 "max_age": 600},
        "response_headers": {"X-Served-By": "tracemend"},
    })
    c.config_path.write_text(__import__("json").dumps(c.config))
    c.start()
    url = f"{c.http_endpoint}/v1/traces"

    pre = requests.options(url, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-tenant"}, timeout=10)
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert pre.headers["Access-Control-Allow-Methods"] == "POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "content-type, x-tenant"
    assert pre.headers["Access-Control-Max-Age"] == "600"

    other = requests.options(url, headers={
        "Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers

    r = requests.post(url, json=SPAN_JSON, headers={"Origin": ORIGIN}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["X-Served-By"] == "tracemend"
    spans = wait_for(lambda: spans_in(out), what="the browser's span in the file")
    assert spans[0]["span"]["name"] == "click checkout"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    d = tmp_path / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=tracemend test CA", cwd=d)
    for name, ext in [("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")]:
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


def test_tls_and_mutual_tls_on_both_protocols(tmp_path, collectors, pki, monkeypatch):
    # requests lets these override a session's CA file, which the SDK's exporter sets.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    out = tmp_path / "out.jsonl"
    c = collectors(exporters={"file": {"path": str(out)}},
                   pipelines={"traces": {"receivers": ["otlp"], "exporters": ["file"]}})
    protocols = c.config["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["tls"] = {"cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key"),
                                "min_version": "1.2"}
    protocols["http"]["tls"] = {"cert_file": str(pki / "server.pem"), "key_file": str(pki / "server.key"),
                                "client_ca_file": str(pki / "ca.pem")}
    c.config_path.write_text(__import__("json").dumps(c.config))
    c.start()

    # gRPC over TLS, verified against the test CA.
    provider = TracerProvider(resource=Resource.create({"service.name": "tls-client"}))
    creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    provider.add_span_processor(SimpleSpanProcessor(
        GrpcSpanExporter(endpoint=f"localhost:{c.grpc_port}", credentials=creds, insecure=False)))
    with provider.get_tracer("e2e").start_as_current_span("over grpc tls"):
        pass
    provider.shutdown()

    # OTLP/HTTP over mutual TLS: the SDK with a client certificate.
    https = f"https://localhost:{c.http_port}/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": "mtls-client"}))
    provider.add_span_processor(SimpleSpanProcessor(HttpSpanExporter(
        endpoint=https, certificate_file=str(pki / "ca.pem"),
        client_certificate_file=str(pki / "client.pem"), client_key_file=str(pki / "client.key"))))
    with provider.get_tracer("e2e").start_as_current_span("over https mtls"):
        pass
    provider.shutdown()

    names = wait_for(lambda: {s["span"]["name"] for s in spans_in(out)} >= {"over grpc tls", "over https mtls"}
                     and {s["span"]["name"] for s in spans_in(out)}, what="both spans in the file")
    assert names == {"over grpc tls", "over https mtls"}

    # Without a client certificate the mutual-TLS handshake fails; plain text gets nothing.
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(https, json=SPAN_JSON, verify=str(pki / "ca.pem"), timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"http://localhost:{c.http_port}/v1/traces", json=SPAN_JSON, timeout=10)
    ok = requests.post(https, json=SPAN_JSON, verify=str(pki / "ca.pem"),
                       cert=(str(pki / "client.pem"), str(pki / "client.key")), timeout=10)
    assert ok.status_code == 200, ok.text
