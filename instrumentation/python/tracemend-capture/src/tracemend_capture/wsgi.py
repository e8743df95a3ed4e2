"""WSGI middleware: records each request on its server span and reads the body ahead
of the app, handing the app a ``wsgi.input`` that still holds all of it."""

from __future__ import annotations

import urllib.parse
from typing import Callable, Iterable, Iterator, Optional

from opentelemetry import trace

from .config import CaptureConfig, capture_config
from .replay_stream import ReplayStream, read_ahead
from .request_span import RequestSpan

_TRACER_NAME = "tracemend_capture.wsgi"
# Characters a path keeps unescaped (RFC 3986 pchar and '/').
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class CaptureMiddleware:
    """Wraps a WSGI app: ``app = CaptureMiddleware(app)``.

    ``config`` comes from :func:`tracemend_capture.capture_config` (the defaults when
    None); ``tracer_provider`` defaults to the global one.
    """

    def __init__(self, app: Callable, config: Optional[CaptureConfig] = None,
                 tracer_provider: Optional[trace.TracerProvider] = None):
        self.app = app
        self.config = config or capture_config()
        self.tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = RequestSpan(
            self.tracer, self.config,
            method=environ.get("REQUEST_METHOD", "GET"),
            path=_path(environ),
            query=environ.get("QUERY_STRING", ""),
            scheme=environ.get("wsgi.url_scheme", "http"),
            headers=_headers(environ),
            route_source=environ,
        )

        def recording_start_response(status: str, headers, exc_info=None):
            code = status.split(" ", 1)[0]
            if code.isdigit():
                request.set_status_code(int(code))
            return start_response(status, headers, exc_info)

        with request.active():
            try:
                _read_body_ahead(environ, request, self.config.body_limit)
                result = self.app(environ, recording_start_response)
            except BaseException as exc:
                _failed(request, exc)
                raise
        return _ResponseBody(result, request)


def werkzeug_route(environ: dict) -> Optional[str]:
    """Route function for Flask and other Werkzeug apps: the URL rule that matched,
    e.g. ``/orders/<int:order_id>``. Pass as ``capture_config(route=werkzeug_route)``."""
    request = environ.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    return getattr(rule, "rule", None)


def _failed(request: RequestSpan, exc: BaseException) -> None:
    if isinstance(exc, Exception):
        request.record_exception(exc)
        if request.status_code is None:
            # Every WSGI server answers 500 to an app that raised before answering.
            request.set_status_code(500)
    request.finish()


def _path(environ: dict) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return raw.split("?", 1)[0].split("#", 1)[0]
    # PEP 3333 paths are the URL-decoded bytes as latin-1: quote them back.
    decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        data = decoded.encode("latin-1")
    except UnicodeEncodeError:
        data = decoded.encode("utf-8")
    return urllib.parse.quote(data, safe=_PATH_SAFE) or "/"


def _headers(environ: dict) -> Iterator:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            yield key.replace("_", "-").lower(), value


def _content_length(environ: dict) -> Optional[int]:
    raw = environ.get("CONTENT_LENGTH", "")
    try:
        length = int(raw)
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _read_body_ahead(environ: dict, request: RequestSpan, limit: int) -> None:
    """Records the body's first ``limit`` bytes and puts them back in ``wsgi.input``.

    PEP 3333: without a Content-Length the body is read only when the server says the
    stream ends at the body (``wsgi.input_terminated``, e.g. a chunked upload).
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    length = _content_length(environ)
    if length is not None:
        prefix, error = read_ahead(stream, min(length, limit))
        environ["wsgi.input"] = ReplayStream(prefix, stream, length - len(prefix), error)
        request.set_body(prefix, truncated=length > len(prefix), size=length)
    elif environ.get("wsgi.input_terminated"):
        # One byte past the cap tells whether there is more.
        prefix, error = read_ahead(stream, limit + 1) if limit > 0 else (b"", None)
        environ["wsgi.input"] = ReplayStream(prefix, stream, None, error)
        ended = len(prefix) <= limit and error is None
        request.set_body(prefix, truncated=not ended, size=len(prefix) if ended else None)


class _ResponseBody:
    """The app's response, iterated with the span current; the span ends when the
    server closes the response (PEP 3333 calls ``close`` once it is sent)."""

    def __init__(self, result: Iterable[bytes], request: RequestSpan):
        self._result = result
        self._request = request
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        iterator = iter(self._result)
        while True:
            with self._request.active():
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                except BaseException as exc:
                    self._finish_once(exc)
                    raise
            yield chunk

    def close(self) -> None:
        """Closes the app's response and ends the span."""
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                with self._request.active():
                    try:
                        close()
                    except BaseException as exc:
                        self._finish_once(exc)
                        raise
        finally:
            self._finish_once(None)

    def _finish_once(self, exc: Optional[BaseException]) -> None:
        if self._finished:
            return
        self._finished = True
        if exc is not None:
            _failed(self._request, exc)
        else:
            self._request.finish()

