"""tracemend-capture in real servers: Flask on werkzeug (WSGI), a raw ASGI app on
uvicorn, and http.server, each also behind the OpenTelemetry WSGI/ASGI instrumentation
(whose server span the package enriches rather than starting its own). The service
exports over OTLP/HTTP to the real `tracemend`; the assertions read its `file` exporter.
"""

import base64
import hashlib
import json
import subprocess
import uuid

import pytest
import requests

from capture_support import KINDS, Service, attributes, is_server
from conftest import Collector, free_port, read_otlp_json_lines, wait_for

CREDENTIALS = {
    "Authorization": "Bearer sk-live-credential-4242",
    "Cookie": "session=cookie-credential-4242",
    "X-Api-Key": "apikey-credential-4242",
    "Proxy-Authorization": "Basic proxy-credential-4242",
}
CAP = 16 * 1024


@pytest.fixture(scope="module", params=KINDS)
def stack(request, tmp_path_factory):
    """One collector and one service of a kind, for every test of that kind. The
    service runs in a real git repository and no variable names its commit, so the
    commit comes from the last link of the chain, `git rev-parse HEAD`."""
    kind = request.param
    tmp = tmp_path_factory.mktemp(f"capture-{kind}")
    out = tmp / "spans.jsonl"
    collector = Collector(
        tmp, "collector",
        exporters={"file": {"path": str(out)}},
        processors={"batch": {"timeout": "100ms"}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["file"]}},
    ).start()
    repo = tmp / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "service"], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()
    env = {"OTEL_SERVICE_NAME": f"shop-{kind.replace('_', '-')}",
           "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=e2e-shop"}
    service = Service(kind, free_port(), collector.http_endpoint, repo, env)
    yield {"kind": kind, "service": service, "collector": collector, "out": out, "head": head}
    service.stop()
    collector.stop()


def send(stack, method, path, **kwargs):
    """Sends one request tagged with a fresh x-request-id; returns (id, response or the
    connection error)."""
    rid = uuid.uuid4().hex
    headers = {"X-Request-Id": rid, **kwargs.pop("headers", {})}
    try:
        response = requests.request(method, stack["service"].url + path, headers=headers, timeout=30, **kwargs)
    except requests.ConnectionError as e:
        response = e
    return rid, response


def server_span(stack, rid):
    """The one server span exported for the request `rid`, with its attributes."""

    def find():
        found = []
        for req in read_otlp_json_lines(stack["out"]):
            for rs in req.get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        a = attributes(span.get("attributes"))
                        if is_server(span) and a.get("http.request.header.x-request-id") == [rid]:
                            found.append({"span": span, "attrs": a, "scope": ss.get("scope", {}),
                                          "resource": attributes(rs.get("resource", {}).get("attributes"))})
        return found

    found = wait_for(find, timeout=60, what=f"the server span of request {rid} "
                                              f"(service log: {stack['service'].log_path})")
    assert len(found) == 1, f"one server span per request, got {len(found)}: {found}"
    return found[0]


def exception_events(span):
    return [attributes(e.get("attributes")) for e in span.get("events", []) if e.get("name") == "exception"]


def assert_one_exception(stack, span, exc_type, message):
    events = exception_events(span)
    assert events, span
    # The OpenTelemetry instrumentations record the exception too: one event of theirs and
    # one of ours, the same exception.
    assert len(events) == (2 if stack["kind"].endswith("_otel") else 1), events
    for event in events:
        assert event["exception.type"].split(".")[-1] == exc_type, event
        assert event["exception.message"] == message, event
        assert "Traceback (most recent call last)" in event["exception.stacktrace"], event
        assert "capture_support.py" in event["exception.stacktrace"], event
    assert span["status"]["code"] in (2, "STATUS_CODE_ERROR"), span["status"]


def route(stack, template):
    # Flask names path parameters its own way; http.route keeps the framework's form.
    if stack["kind"].startswith("wsgi"):
        return template.replace("{id}", "<order_id>" if "orders" in template else "<item_id>")
    return template


def test_json_request_attributes_and_resource(stack):
    body = json.dumps({"sku": "A-1", "qty": 2, "note": "größer"}, ensure_ascii=False).encode()
    rid, response = send(stack, "POST", "/orders/42?coupon=SPRING&x=1&x=2", data=body, headers={
        "Content-Type": "application/json", "X-Tenant": "acme", "X-Custom": "not-allowlisted", **CREDENTIALS})
    assert response.status_code == 200, response.text
    assert response.json()["sha256"] == hashlib.sha256(body).hexdigest(), "the app got another body"
    got = server_span(stack, rid)
    a = got["attrs"]
    assert a["http.request.method"] == "POST"
    assert a["url.path"] == "/orders/42"
    assert a["url.query"] == "coupon=SPRING&x=1&x=2"
    assert a["url.scheme"] == "http"
    assert a["http.route"] == route(stack, "/orders/{id}")
    assert a["http.response.status_code"] == 200
    assert a["http.request.header.x-tenant"] == ["acme"]
    assert a["http.request.header.content-type"] == ["application/json"]
    assert "http.request.header.x-custom" not in a
    assert a["tracemend.http.request.body"] == body.decode("utf-8"), "JSON is kept as the client's text"
    assert a["tracemend.http.request.body.encoding"] == "utf-8"
    assert a["tracemend.http.request.body.truncated"] is False
    assert a["http.request.body.size"] == len(body)
    assert not exception_events(got["span"])
    flags = [attributes(e.get("attributes")) for e in got["span"].get("events", [])
             if e.get("name") == "feature_flag.evaluation"]
    assert flags == [{"feature_flag.key": "new-checkout", "feature_flag.result.value": True,
                      "feature_flag.result.variant": "on"}]
    if stack["kind"].endswith("_otel"):
        assert got["scope"]["name"].startswith("opentelemetry.instrumentation."), got["scope"]
    else:
        assert got["scope"]["name"].startswith("tracemend_capture."), got["scope"]

    res = got["resource"]
    assert res["vcs.ref.head.revision"] == stack["head"]
    assert res["service.name"] == f"shop-{stack['kind'].replace('_', '-')}"
    assert res["service.namespace"] == "e2e-shop"
    assert res["service.version"] == "1.2.3"
    assert res["deployment.environment.name"] == "e2e"
    assert res["tracemend.locale"] == "de_DE.UTF-8"
    assert res["tracemend.timezone"] == "Europe/Berlin"
    assert res["process.runtime.name"] == "cpython"

    for name in CREDENTIALS:
        assert f"http.request.header.{name.lower()}" not in a
    exported = stack["out"].read_text()
    for secret in CREDENTIALS.values():
        assert secret.split()[-1] not in exported, f"a credential reached the collector: {secret}"


def test_exception_is_recorded_the_opentelemetry_way(stack):
    body = b'{"qty": 1}'
    rid, response = send(stack, "POST", "/orders/7", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    got = server_span(stack, rid)
    assert_one_exception(stack, got["span"], "KeyError", "'sku'")
    assert got["attrs"]["error.type"].split(".")[-1] in ("KeyError", "500")
    assert got["attrs"]["http.response.status_code"] == 500
    assert got["attrs"]["tracemend.http.request.body"] == '{"qty": 1}'
    assert got["attrs"]["http.route"] == route(stack, "/orders/{id}")

    rid, response = send(stack, "GET", "/items/0?verbose=1")
    assert response.status_code == 500
    got = server_span(stack, rid)
    assert_one_exception(stack, got["span"], "ValueError", "item 0 does not exist")
    assert got["attrs"]["url.query"] == "verbose=1"
    assert got["attrs"]["http.route"] == route(stack, "/items/{id}")
    assert "tracemend.http.request.body" not in got["attrs"]


def test_huge_body_is_capped_and_flagged_and_the_app_gets_all_of_it(stack):
    body = json.dumps({"sku": "B-2", "lines": ["x" * 100] * 1000}).encode()
    assert len(body) > 6 * CAP
    rid, response = send(stack, "POST", "/orders/9", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"order": "9", "sku": "B-2", "len": len(body),
                               "sha256": hashlib.sha256(body).hexdigest()}
    a = server_span(stack, rid)["attrs"]
    assert a["tracemend.http.request.body"] == body[:CAP].decode()
    assert a["tracemend.http.request.body.truncated"] is True
    assert a["http.request.body.size"] == len(body)


def test_utf8_cut_inside_a_character_stays_text(stack):
    body = ("a" + "é" * 10000).encode()  # the cap falls inside a two-byte character
    rid, response = send(stack, "POST", "/upload", data=body, headers={"Content-Type": "text/plain; charset=utf-8"})
    assert response.json()["len"] == len(body)
    a = server_span(stack, rid)["attrs"]
    assert a["tracemend.http.request.body.encoding"] == "utf-8"
    assert a["tracemend.http.request.body"] == "a" + "é" * 8191
    assert a["tracemend.http.request.body.truncated"] is True


@pytest.mark.parametrize("body", [bytes(range(256)) * 8, "café crème".encode("latin-1")],
                         ids=["binary", "latin-1"])
def test_binary_and_non_utf8_bodies_are_base64(stack, body):
    rid, response = send(stack, "POST", "/upload", data=body, headers={"Content-Type": "application/octet-stream"})
    assert response.json() == {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    a = server_span(stack, rid)["attrs"]
    assert a["tracemend.http.request.body.encoding"] == "base64"
    assert base64.b64decode(a["tracemend.http.request.body"]) == body
    assert a["tracemend.http.request.body.truncated"] is False
    assert a["http.request.header.content-type"] == ["application/octet-stream"]


@pytest.mark.parametrize("chunks,truncated", [([b"a" * 100, b"b" * 100], False),
                                              ([bytes([65 + i]) * 10_000 for i in range(3)], True)],
                         ids=["small", "past-the-cap"])
def test_chunked_upload(stack, chunks, truncated):
    body = b"".join(chunks)
    rid, response = send(stack, "POST", "/upload", data=iter(chunks), headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.json() == {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    a = server_span(stack, rid)["attrs"]
    assert "http.request.header.content-length" not in a, "the upload was not chunked"
    assert a["tracemend.http.request.body"] == body[:CAP].decode()
    assert a["tracemend.http.request.body.truncated"] is truncated
    if not truncated:
        assert a["http.request.body.size"] == len(body)


def test_handler_that_raises_before_reading_the_body(stack):
    body = json.dumps({"sku": "C-3", "comment": "y" * 2000}).encode()
    rid, response = send(stack, "POST", "/early-fail", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    got = server_span(stack, rid)
    assert_one_exception(stack, got["span"], "RuntimeError", "refused before reading the body")
    assert got["attrs"]["tracemend.http.request.body"] == body.decode()
    assert got["attrs"]["http.route"] == "/early-fail"
