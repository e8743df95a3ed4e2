"""Malformed protobuf, malformed JSON, wrong content type, oversized and compressed-bomb
bodies each get the status the OTLP spec names, and the collector keeps serving.

Each receiver test runs twice: with the plain pipeline, where the receiver checks a
request before pushing it, and with a WASM guest first in the pipeline, where the guest's
view builder checks the request as it reads it (the receiver's scan is skipped) and
hands anything it does not take back to the receiver's path. The answers must match."""

import gzip
import json
import zlib

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import spans_in, wait_for

TRACES_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def valid_request(n=1, trace_id=b"\x01" * 16) -> bytes:
    req = trace_service_pb2.ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for i in range(n):
        span = ss.spans.add()
        span.trace_id = trace_id
        span.span_id = bytes([0, 0, 0, 0, 0, 0, 0, i + 1])
        span.name = f"ok-{i}"
    return req.SerializeToString()


# The pipeline's processors: none, or the built-in no-op guest first (alone or after
# memory_limiter).
PIPELINES = {
    "plain": ({}, []),
    "wasm-first": ({"wasm/noop": {"module": "builtin:noop"}}, ["wasm/noop"]),
    # memory_limiter passes the received bytes on to the guest's check.
    "limiter-then-wasm": (
        {"memory_limiter": {"check_interval": "1s", "limit_mib": 4096},
         "wasm/noop": {"module": "builtin:noop"}},
        ["memory_limiter", "wasm/noop"],
    ),
}


def start(collectors, tmp_path, http=None, grpc_cfg=None, pipeline="plain"):
    out = tmp_path / "out.jsonl"
    processors, chain = PIPELINES[pipeline]
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors=processors,
        pipelines={"traces": {"receivers": ["otlp"], "processors": chain, "exporters": ["file"]}},
    )
    protocols = c.config["receivers"]["otlp"]["protocols"]
    protocols["http"].update(http or {})
    protocols["grpc"].update(grpc_cfg or {})
    c.config_path.write_text(json.dumps(c.config))
    return c.start(), out


def post(c, body, content_type="application/x-protobuf", **headers):
    return requests.post(f"{c.http_endpoint}/v1/traces", data=body,
                         headers={"content-type": content_type, **headers}, timeout=10)




@pytest.mark.parametrize("pipeline", PIPELINES)
def test_http_bad_bodies(tmp_path, collectors, pipeline):
    c, out = start(collectors, tmp_path, http={"max_request_body_size": 4096}, pipeline=pipeline)

    r = post(c, b"\x0a\xff\x01")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/x-protobuf"
    assert b"malformed OTLP protobuf traces request" in r.content

    r = post(c, b'{"resourceSpans": [', "application/json")
    assert r.status_code == 400
    assert "malformed OTLP JSON traces request" in r.json()["message"]
    assert r.json()["code"] == 3

    r = post(c, b"hello", "text/plain")
    assert r.status_code == 415
    assert "application/x-protobuf or application/json" in r.text

    r = post(c, b"\x00" * 5000)
    assert r.status_code == 413

    bomb = gzip.compress(valid_request() + b"\x00" * 100_000)
    assert len(bomb) < 4096
    r = post(c, bomb, **{"content-encoding": "gzip"})
    assert r.status_code == 413, "decompressed size is limited too"

    r = post(c, valid_request(), **{"content-encoding": "br"})
    assert r.status_code == 400
    assert b"unsupported Content-Encoding" in r.content

    r = post(c, b"\x1f\x8b garbage", **{"content-encoding": "gzip"})
    assert r.status_code == 400

    r = requests.get(f"{c.http_endpoint}/v1/traces", timeout=5)
    assert r.status_code == 405

    r = post(c, b"{}", "application/json")
    assert r.status_code == 200, "an empty request is valid"

    # Partial success: one span with a 5-byte trace id is rejected, the rest accepted.
    req = trace_service_pb2.ExportTraceServiceRequest.FromString(valid_request(3))
    req.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x01" * 5
    r = post(c, req.SerializeToString())
    assert r.status_code == 200
    resp = trace_service_pb2.ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 1
    assert "trace_id must be 16 bytes" in resp.partial_success.error_message

    # A span name that is not UTF-8: the whole request is malformed.
    bad_name = valid_request(1).replace(b"ok-0", b"ok-\xff")
    r = post(c, bad_name)
    assert r.status_code == 400
    assert b"malformed OTLP protobuf traces request" in r.content

    # Still serving, over every encoding.
    assert post(c, valid_request(2)).status_code == 200
    assert post(c, gzip.compress(valid_request(2)), **{"content-encoding": "gzip"}).status_code == 200
    assert post(c, zlib.compress(valid_request(2)), **{"content-encoding": "deflate"}).status_code == 200
    wait_for(lambda: len(spans_in(out)) == 8, what="the valid spans")
    assert c.metric("otelcol_receiver_refused_spans_total", transport="http") == 1
    assert c.metric("otelcol_receiver_accepted_spans_total", transport="http") == 8
    assert c.stop() == 0


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_grpc_bad_messages(tmp_path, collectors, pipeline):
    c, out = start(collectors, tmp_path, grpc_cfg={"max_recv_msg_size_mib": 1}, pipeline=pipeline)
    with grpc.insecure_channel(c.grpc_endpoint) as channel:
        export = channel.unary_unary(TRACES_EXPORT, request_serializer=None, response_deserializer=None)
        try:
            export(b"\x0a\xff\x01", timeout=5)
            raise AssertionError("malformed protobuf must fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed OTLP protobuf traces request" in e.details()
        try:
            export(b"\x0a" + b"\x80\x80\x80\x01" + b"\x00" * (2 * 1024 * 1024), timeout=10)
            raise AssertionError("oversized message must fail")
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE), e
        logs = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                                   request_serializer=None, response_deserializer=None)
        try:
            logs(b"", timeout=5)
            raise AssertionError("a signal without a pipeline must fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNIMPLEMENTED
        try:
            export(valid_request(1).replace(b"ok-0", b"ok-\xff"), timeout=5)
            raise AssertionError("a string that is not UTF-8 must fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed OTLP protobuf traces request" in e.details()
        req = trace_service_pb2.ExportTraceServiceRequest.FromString(valid_request(3))
        req.resource_spans[0].scope_spans[0].spans[2].span_id = b""
        reply = trace_service_pb2.ExportTraceServiceResponse.FromString(
            export(req.SerializeToString(), timeout=5))
        assert reply.partial_success.rejected_spans == 1
        assert "span_id must be 8 bytes" in reply.partial_success.error_message
        reply = export(valid_request(3), timeout=5)
        assert trace_service_pb2.ExportTraceServiceResponse.FromString(reply).partial_success.rejected_spans == 0
    wait_for(lambda: len(spans_in(out)) == 5, what="the valid spans")
    assert c.metric("otelcol_receiver_accepted_spans_total", transport="grpc") == 5
    assert c.metric("otelcol_receiver_refused_spans_total", transport="grpc") == 1
    assert c.stop() == 0


@pytest.mark.parametrize("then_wasm", [False, True], ids=["alone", "then-wasm"])
def test_memory_limiter_refusal_is_retryable(tmp_path, collectors, then_wasm):
    out = tmp_path / "out.jsonl"
    processors = {"memory_limiter": {"check_interval": "1s", "limit_mib": 1}}
    chain = ["memory_limiter"]
    if then_wasm:
        processors["wasm/noop"] = {"module": "builtin:noop"}
        chain.append("wasm/noop")
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors=processors,
        pipelines={"traces": {"receivers": ["otlp"], "processors": chain, "exporters": ["file"]}},
    ).start()
    r = post(c, valid_request())
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    assert b"high memory usage" in r.content
    with grpc.insecure_channel(c.grpc_endpoint) as channel:
        export = channel.unary_unary(TRACES_EXPORT, request_serializer=None, response_deserializer=None)
        try:
            export(valid_request(), timeout=5)
            raise AssertionError("memory limiter must refuse")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE
    assert c.metric("otelcol_processor_refused_spans_total", processor="memory_limiter") == 2
    assert c.stop() == 0
    assert spans_in(out) == []
