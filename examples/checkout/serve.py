"""Runs the checkout service as production does: `app.application` wrapped in
tracemend-capture's WSGI middleware, spans sent over OTLP/HTTP to a collector.

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 PORT=8080 python serve.py

The commit on the resource (`vcs.ref.head.revision`) is found by tracemend-capture:
TRACEMEND_COMMIT, else `git rev-parse HEAD` in the working directory (run it from the
service's checkout). Needs opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http and
tracemend-capture; app.py itself needs only the standard library.
"""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import tracemend_capture
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app import application

ROUTES = ("/healthz", "/products", "/cart/quote")


def route(environ):
    """The route template, so requests for different products group as one route."""
    path = environ.get("PATH_INFO", "")
    if path in ROUTES:
        return path
    if path.startswith("/products/"):
        return "/products/{sku}"
    return None


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        # One line per request drowns the demo's output; failures still print tracebacks.
        pass


def main():
    provider = TracerProvider(resource=tracemend_capture.capture_resource(
        service_name="checkout", service_version=os.environ.get("SERVICE_VERSION", "1.4.0"),
        environment=os.environ.get("DEPLOYMENT_ENVIRONMENT", "production")))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=500))
    app = tracemend_capture.CaptureMiddleware(
        application, config=tracemend_capture.capture_config(route=route), tracer_provider=provider)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))
    server = make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    print(f"checkout listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        provider.shutdown()


if __name__ == "__main__":
    sys.exit(main())
