"""Harness for the tracemend-capture tests: a small shop service, served for real by
werkzeug (Flask, WSGI), uvicorn (ASGI) or http.server, instrumented with the
OpenTelemetry SDK and the capture package and exporting over OTLP/HTTP to the real
`tracemend` binary, whose `file` exporter the tests read.

Run as a script it is the service: `python capture_support.py KIND PORT OTLP_ENDPOINT`.
"""

import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

# The service's routes, the same in every kind of server.
#   POST /orders/{id}  the JSON body must hold "sku" (KeyError otherwise); answers the digest
#   POST /upload       any body; answers the digest of the bytes received
#   POST /early-fail   raises before reading the body
#   GET  /items/{id}   raises ValueError for id 0
KINDS = ("wsgi", "wsgi_otel", "asgi", "asgi_otel", "http_server")
# Variables that name the commit: the services run without them (CI sets some), so the
# commit comes from where each test says.
COMMIT_VARS = ("TRACEMEND_COMMIT", "GIT_COMMIT", "SOURCE_COMMIT", "SOURCE_VERSION", "GITHUB_SHA",
               "CI_COMMIT_SHA", "HEROKU_SLUG_COMMIT", "RENDER_GIT_COMMIT", "VERCEL_GIT_COMMIT_SHA")
ALLOWLIST_EXTRA = ("x-request-id", "x-tenant")


def digest(body: bytes) -> dict:
    return {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def order(order_id: str, body: bytes) -> dict:
    doc = json.loads(body)
    return {"order": order_id, "sku": doc["sku"], **digest(body)}


def item(item_id: str) -> dict:
    if item_id == "0":
        raise ValueError(f"item {item_id} does not exist")
    return {"item": item_id}


# --- the service side -------------------------------------------------------------


def _setup_tracing():
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    import tracemend_capture

    provider = TracerProvider(resource=tracemend_capture.capture_resource(
        service_version="1.2.3", environment="e2e", locale="de_DE.UTF-8", timezone="Europe/Berlin"))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[3] + "/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def _config(**kwargs):
    import tracemend_capture

    return tracemend_capture.capture_config(extra_headers=ALLOWLIST_EXTRA, **kwargs)


def flask_app(with_otel: bool):
    from flask import Flask, got_request_exception, request

    import tracemend_capture

    app = Flask("shop")
    # The exception leaves the app, through the middleware, to the server (which answers
    # 500); the signal records it too, and the middleware keeps one event of the two.
    app.config["PROPAGATE_EXCEPTIONS"] = True
    got_request_exception.connect(
        lambda sender, exception, **kw: tracemend_capture.record_exception(exception), app, weak=False)

    @app.post("/orders/<order_id>")
    def post_order(order_id):
        tracemend_capture.record_feature_flag("new-checkout", True, variant="on")
        return order(order_id, request.get_data())

    @app.post("/upload")
    def upload():
        return digest(request.get_data())

    @app.post("/early-fail")
    def early_fail():
        raise RuntimeError("refused before reading the body")

    @app.get("/items/<item_id>")
    def get_item(item_id):
        return item(item_id)

    wrapped = tracemend_capture.CaptureMiddleware(
        app.wsgi_app, config=_config(route=tracemend_capture.werkzeug_route))
    if with_otel:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

        wrapped = OpenTelemetryMiddleware(wrapped)
    app.wsgi_app = wrapped
    return app


async def shop_asgi(scope, receive, send):
    import tracemend_capture

    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    parts = scope["path"].strip("/").split("/")
    if scope["path"] == "/early-fail":
        tracemend_capture.set_route("/early-fail")
        raise RuntimeError("refused before reading the body")
    if scope["method"] == "GET" and len(parts) == 2 and parts[0] == "items":
        tracemend_capture.set_route("/items/{id}")
        answer = item(parts[1])
    else:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if len(parts) == 2 and parts[0] == "orders":
            tracemend_capture.set_route("/orders/{id}")
            tracemend_capture.record_feature_flag("new-checkout", True, variant="on")
            answer = order(parts[1], body)
        else:
            tracemend_capture.set_route("/upload")
            answer = digest(body)
    data = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _read_chunked(rfile) -> bytes:
    out = []
    while True:
        size = int(rfile.readline().split(b";")[0], 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(out)
        out.append(rfile.read(size))
        rfile.readline()


def http_server_handler():
    from http.server import BaseHTTPRequestHandler

    import tracemend_capture

    config = _config()

    class ShopHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, answer: dict):
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                return _read_chunked(self.rfile)
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def _handle(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            try:
                if self.command == "GET" and len(parts) == 2 and parts[0] == "items":
                    tracemend_capture.set_route("/items/{id}")
                    return self._answer(item(parts[1]))
                if parts == ["early-fail"]:
                    tracemend_capture.set_route("/early-fail")
                    raise RuntimeError("refused before reading the body")
                body = self._body()
                if len(parts) == 2 and parts[0] == "orders":
                    tracemend_capture.set_route("/orders/{id}")
                    tracemend_capture.record_feature_flag("new-checkout", True, variant="on")
                    return self._answer(order(parts[1], body))
                tracemend_capture.set_route("/upload")
                return self._answer(digest(body))
            except Exception:
                # What a plain http.server service does: answer 500, let it propagate.
                self.send_error(500)
                raise

        @tracemend_capture.captured(config=config)
        def do_GET(self):
            self._handle()

        @tracemend_capture.captured(config=config)
        def do_POST(self):
            self._handle()

        def log_message(self, format, *args):
            sys.stderr.write("http_server: " + (format % args) + "\n")

    return ShopHandler


def serve(kind: str, port: int) -> None:
    provider = _setup_tracing()
    if kind in ("asgi", "asgi_otel"):
        import uvicorn

        app = shop_asgi
        import tracemend_capture

        app = tracemend_capture.CaptureASGIMiddleware(app, config=_config())
        if kind == "asgi_otel":
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            app = OpenTelemetryMiddleware(app)
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")).run()
        provider.shutdown()
        return
    if kind in ("wsgi", "wsgi_otel"):
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", port, flask_app(kind == "wsgi_otel"), threaded=True)
    elif kind == "http_server":
        from http.server import ThreadingHTTPServer

        server = ThreadingHTTPServer(("127.0.0.1", port), http_server_handler())
    else:
        raise SystemExit(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    provider.shutdown()


# --- the test side ----------------------------------------------------------------


class Service:
    """The shop as a child process on a loopback port."""

    def __init__(self, kind: str, port: int, otlp_endpoint: str, workdir: pathlib.Path, env: dict):
        self.kind = kind
        self.port = port
        self.log_path = workdir / f"service-{kind}.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, kind, str(port), otlp_endpoint],
            cwd=workdir, env={**without_commit_vars(os.environ), **env}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the {self.kind} service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the {self.kind} service did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def without_commit_vars(environ) -> dict:
    return {k: v for k, v in environ.items() if k not in COMMIT_VARS and k != "OTEL_RESOURCE_ATTRIBUTES"}


def value(v: dict):
    """One OTLP/JSON AnyValue as a Python value."""
    if not v:
        return None
    (kind, val), = v.items()
    if kind == "intValue":
        return int(val)
    if kind == "arrayValue":
        return [value(x) for x in val.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: value(kv.get("value", {})) for kv in val.get("values", [])}
    return val


def attributes(kvs) -> dict:
    return {kv["key"]: value(kv.get("value", {})) for kv in kvs or []}


def is_server(span: dict) -> bool:
    return span.get("kind") in (2, "SPAN_KIND_SERVER")


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
