"""The server span of one request, whoever started it.

When another instrumentation (opentelemetry-instrumentation-wsgi, -asgi, a framework's)
already started a server span and made it current, the request's attributes go on that
span and its owner ends it. Otherwise a server span is started here, as a child of the
context the client propagated, and ended here.
"""

from __future__ import annotations

import contextvars
import traceback
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional, Tuple

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import attributes as attr
from .body import body_attributes
from .config import CaptureConfig, recordable

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

_current: contextvars.ContextVar[Optional["RequestSpan"]] = contextvars.ContextVar(
    "tracemend_capture_request_span", default=None
)


def current_request_span() -> Optional["RequestSpan"]:
    """The request being handled in this thread or task, if a middleware started it."""
    return _current.get()


def _existing_server_span() -> Optional[trace.Span]:
    span = trace.get_current_span()
    # `kind` is on the SDK's span, not on the API's; another SDK's span without it is
    # not taken for a server span.
    if span.is_recording() and getattr(span, "kind", None) == SpanKind.SERVER:
        return span
    return None


class RequestSpan:
    """Records one request on its server span; :meth:`finish` must be called once.

    The app runs inside :meth:`active`, which makes the span current; a WSGI response
    iterated after the app returned enters it again for each step.
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        config: CaptureConfig,
        method: str,
        path: str,
        query: str,
        scheme: str,
        headers: Iterable[Tuple[str, str]],
        route_source: Optional[dict] = None,
    ):
        self.config = config
        self._route_source = route_source
        self.method = method.upper()
        self.route: Optional[str] = None
        self.status_code: Optional[int] = None
        self._recorded: set = set()
        self._failed = False
        header_values: dict = {}
        for name, value in headers:
            header_values.setdefault(name.lower(), []).append(value)

        existing = _existing_server_span()
        if existing is not None:
            self.span = existing
            self.owned = False
            self._context = otel_context.get_current()
        else:
            carrier = {k: ", ".join(v) for k, v in header_values.items()}
            parent = propagate.extract(carrier)
            self.span = tracer.start_span(self.method if self.method in _KNOWN_METHODS else "HTTP",
                                          context=parent, kind=SpanKind.SERVER)
            self.owned = True
            self._context = trace.set_span_in_context(self.span, parent)

        if self.method in _KNOWN_METHODS:
            self.span.set_attribute(attr.HTTP_REQUEST_METHOD, self.method)
        else:
            self.span.set_attribute(attr.HTTP_REQUEST_METHOD, "_OTHER")
            self.span.set_attribute("http.request.method_original", method)
        self.span.set_attribute(attr.URL_PATH, path)
        if query:
            self.span.set_attribute(attr.URL_QUERY, query)
        self.span.set_attribute(attr.URL_SCHEME, scheme)
        for name, values in header_values.items():
            if recordable(config, name):
                self.span.set_attribute(attr.HTTP_REQUEST_HEADER_PREFIX + name, values)

    @contextmanager
    def active(self) -> Iterator["RequestSpan"]:
        """Makes the span the current one (and this request the one the module-level
        helpers record on) for the duration of the ``with`` block."""
        token = otel_context.attach(self._context)
        var_token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(var_token)
            otel_context.detach(token)

    def set_body(self, prefix: bytes, truncated: bool, size: Optional[int]) -> None:
        """Records the body read ahead of the app (see body.body_attributes)."""
        self.span.set_attributes(body_attributes(prefix, self.config.body_limit, truncated, size))

    def set_route(self, route: str) -> None:
        """Records the route template that matched the request."""
        self.route = route
        self.span.set_attribute(attr.HTTP_ROUTE, route)

    def resolve_route(self) -> None:
        """Asks the config's route function for the route, until it knows it. It is
        asked when the response starts, when an exception is recorded and at the end:
        frameworks forget the matched route once the app returned (Flask clears
        ``werkzeug.request``), so the earliest answer is kept."""
        if self.route is not None or self.config.route is None or self._route_source is None:
            return
        try:
            route = self.config.route(self._route_source)
        except Exception as e:  # A broken route function must not fail the request.
            self.span.set_attribute("tracemend.capture.route_error", repr(e)[:256])
            return
        if isinstance(route, str) and route:
            self.set_route(route)

    def set_status_code(self, code: int) -> None:
        """Records the HTTP status the service answered."""
        self.resolve_route()
        self.status_code = code
        self.span.set_attribute(attr.HTTP_RESPONSE_STATUS_CODE, code)

    def record_exception(self, exc: BaseException) -> None:
        """Records ``exc`` as the span's ``exception`` event (once) and fails the span."""
        if id(exc) in self._recorded:
            return
        self._recorded.add(id(exc))
        self.resolve_route()
        self._failed = True
        # The SDK formats the stack trace from the exception's own traceback.
        self.span.record_exception(exc, attributes={"exception.escaped": True})
        self.span.set_attribute(attr.ERROR_TYPE, _qualified_name(type(exc)))
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.span.set_status(Status(StatusCode.ERROR, message[:1024]))

    def finish(self) -> None:
        """Sets the route, the name and the status of the span, and ends it if it was
        started here."""
        self.resolve_route()
        if self.status_code is not None and self.status_code >= 500 and not self._failed:
            self.span.set_status(Status(StatusCode.ERROR))
            self.span.set_attribute(attr.ERROR_TYPE, str(self.status_code))
        if self.owned:
            name = self.method if self.method in _KNOWN_METHODS else "HTTP"
            self.span.update_name(f"{name} {self.route}" if self.route else name)
            self.span.end()


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
