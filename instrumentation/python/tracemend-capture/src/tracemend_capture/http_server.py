"""Capture for ``http.server`` handlers: a decorator for ``do_*`` methods and the
context manager it uses. The body is read ahead (Content-Length or chunked framing) and
the handler's ``rfile`` serves it again, byte for byte as it came on the wire."""

from __future__ import annotations

import functools
import ssl
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import BinaryIO, Callable, Iterator, List, Optional, Tuple

from opentelemetry import trace

from .config import CaptureConfig, capture_config
from .replay_stream import ReplayStream, read_ahead
from .request_span import RequestSpan

_TRACER_NAME = "tracemend_capture.http_server"
_DEFAULT_CONFIG: Optional[CaptureConfig] = None
# Longest chunk-size line accepted while reading a chunked body ahead.
_MAX_CHUNK_LINE = 1024


def captured(route: Optional[str] = None, config: Optional[CaptureConfig] = None,
             tracer_provider: Optional[trace.TracerProvider] = None) -> Callable:
    """Decorates a handler's ``do_GET``/``do_POST``/...: the request is recorded on its
    server span, ``route`` (e.g. ``/orders/{id}``) as ``http.route``."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(handler: BaseHTTPRequestHandler, *args, **kwargs):
            with capture_request(handler, route=route, config=config, tracer_provider=tracer_provider):
                return method(handler, *args, **kwargs)

        return wrapper

    return decorate


@contextmanager
def capture_request(handler: BaseHTTPRequestHandler, route: Optional[str] = None,
                    config: Optional[CaptureConfig] = None,
                    tracer_provider: Optional[trace.TracerProvider] = None) -> Iterator[RequestSpan]:
    """Records the request ``handler`` is handling for the duration of the block; an
    exception leaving the block is recorded and raised again."""
    config = config or _default_config()
    path, _, query = handler.path.partition("?")
    request = RequestSpan(
        trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider), config,
        method=handler.command,
        path=path.split("#", 1)[0] or "/",
        query=query.split("#", 1)[0],
        scheme="https" if isinstance(handler.connection, ssl.SSLSocket) else "http",
        headers=list(handler.headers.items()),
    )
    if route:
        request.set_route(route)
    original_rfile = handler.rfile
    original_send_response = handler.send_response

    def recording_send_response(code: int, message: Optional[str] = None) -> None:
        if request.status_code is None:
            request.set_status_code(int(code))
        original_send_response(code, message)

    # An instance attribute shadows the method for this request only (send_error and
    # send_response both go through it).
    handler.send_response = recording_send_response  # type: ignore[method-assign]
    try:
        with request.active():
            try:
                _read_body_ahead(handler, request, config.body_limit)
                yield request
            except Exception as exc:
                request.record_exception(exc)
                raise
            finally:
                request.finish()
    finally:
        # The connection's next request is read from the real stream.
        handler.rfile = original_rfile
        del handler.send_response


def _default_config() -> CaptureConfig:
    global _DEFAULT_CONFIG
    if _DEFAULT_CONFIG is None:
        _DEFAULT_CONFIG = capture_config()
    return _DEFAULT_CONFIG


def _read_body_ahead(handler: BaseHTTPRequestHandler, request: RequestSpan, limit: int) -> None:
    rfile = handler.rfile
    chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
    if chunked:
        if limit <= 0:
            return
        raw, decoded, ended = _read_chunked_ahead(rfile, limit)
        handler.rfile = ReplayStream(raw, rfile, None)
        request.set_body(decoded, truncated=not ended, size=len(decoded) if ended else None)
        return
    try:
        length = int(handler.headers.get("Content-Length", ""))
    except ValueError:
        return
    if length < 0:
        return
    prefix, error = read_ahead(rfile, min(length, limit))
    handler.rfile = ReplayStream(prefix, rfile, None, error)
    request.set_body(prefix, truncated=length > len(prefix), size=length)


def _read_chunked_ahead(rfile: BinaryIO, limit: int) -> Tuple[bytes, bytes, bool]:
    """Reads chunks until the body ends or passes ``limit`` decoded bytes.

    Returns the raw bytes taken (for the handler to read again), the decoded body so
    far, and whether the body ended. Framing that cannot be parsed stops the read: what
    was decoded is kept and flagged as not the whole body.
    """
    raw: List[bytes] = []
    decoded: List[bytes] = []
    got = 0
    while got <= limit:
        line = rfile.readline(_MAX_CHUNK_LINE)
        raw.append(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return b"".join(raw), b"".join(decoded), False
        if size == 0:
            # Trailer lines up to the empty line that ends the body.
            while True:
                trailer = rfile.readline(_MAX_CHUNK_LINE)
                raw.append(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(raw), b"".join(decoded), True
        data, error = read_ahead(rfile, size)
        raw.append(data)
        decoded.append(data)
        got += len(data)
        if error is not None or len(data) < size:
            return b"".join(raw), b"".join(decoded), False
        raw.append(rfile.readline(_MAX_CHUNK_LINE))  # The CRLF after the chunk.
    return b"".join(raw), b"".join(decoded), False
