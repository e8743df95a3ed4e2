"""ASGI middleware: records each HTTP request on its server span and reads the body
ahead of the app, replaying the ``http.request`` messages it took to the app's
``receive``."""

from __future__ import annotations

import urllib.parse
from collections import deque
from typing import Awaitable, Callable, List, Optional

from opentelemetry import trace

from .config import CaptureConfig, capture_config
from .request_span import RequestSpan

_TRACER_NAME = "tracemend_capture.asgi"
_PATH_SAFE = "/:@!$&'()*+,;=-._~"

Receive = Callable[[], Awaitable[dict]]


class CaptureASGIMiddleware:
    """Wraps an ASGI app: ``app = CaptureASGIMiddleware(app)``. Scopes other than
    ``http`` (lifespan, websocket) pass through untouched."""

    def __init__(self, app: Callable, config: Optional[CaptureConfig] = None,
                 tracer_provider: Optional[trace.TracerProvider] = None):
        self.app = app
        self.config = config or capture_config()
        self.tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)

    async def __call__(self, scope: dict, receive: Receive, send: Callable) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        request = RequestSpan(
            self.tracer, self.config,
            method=scope.get("method", "GET"),
            path=_path(scope),
            query=scope.get("query_string", b"").decode("latin-1"),
            scheme=scope.get("scheme", "http"),
            headers=headers,
            route_source=scope,
        )

        async def recording_send(message: dict) -> None:
            if message.get("type") == "http.response.start" and request.status_code is None:
                request.set_status_code(int(message.get("status", 200)))
            await send(message)

        with request.active():
            try:
                replay = await _read_body_ahead(receive, request, self.config.body_limit,
                                                _content_length(headers))
                await self.app(scope, replay, recording_send)
            except BaseException as exc:
                if isinstance(exc, Exception):
                    request.record_exception(exc)
                    if request.status_code is None:
                        # ASGI servers answer 500 to an app that raised before answering.
                        request.set_status_code(500)
                request.finish()
                raise
            request.finish()


def _path(scope: dict) -> str:
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0] or "/"
    return urllib.parse.quote(scope.get("path", "/").encode("utf-8"), safe=_PATH_SAFE) or "/"


def _content_length(headers: List) -> Optional[int]:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return None


async def _read_body_ahead(receive: Receive, request: RequestSpan, limit: int,
                           length: Optional[int]) -> Receive:
    """Takes ``http.request`` messages until the body ends or passes ``limit`` bytes,
    records them, and returns a ``receive`` that hands the app those messages first."""
    taken: deque = deque()
    chunks: List[bytes] = []
    got = 0
    ended = False
    error: Optional[BaseException] = None
    while limit > 0 and got <= limit:
        try:
            message = await receive()
        except Exception as e:  # The app meets the same error at the same point.
            error = e
            break
        taken.append(message)
        if message.get("type") != "http.request":
            break  # http.disconnect: the client went away mid-body.
        body = message.get("body", b"")
        chunks.append(body)
        got += len(body)
        if not message.get("more_body", False):
            ended = True
            break
    prefix = b"".join(chunks)
    if limit > 0:
        size = length if length is not None else (got if ended and got else None)
        request.set_body(prefix, truncated=not ended, size=size)
    elif length is not None:
        request.set_body(b"", truncated=False, size=length)

    async def replay() -> dict:
        nonlocal error
        if taken:
            return taken.popleft()
        if error is not None:
            e, error = error, None
            raise e
        return await receive()

    return replay
