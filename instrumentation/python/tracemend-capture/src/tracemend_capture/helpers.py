"""What an app records on the request being handled, from inside its handlers: the
route, an exception its framework turns into a response, feature flags and fixtures."""

from __future__ import annotations

import json
import re
from typing import Any, Optional, Union

from opentelemetry import trace

from . import attributes as attr
from .request_span import current_request_span

_FIXTURE_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Largest fixture recorded, in bytes of JSON text.
MAX_FIXTURE_BYTES = 16 * 1024

FlagValue = Union[bool, int, float, str]


def set_route(route: str) -> None:
    """Records the route template (e.g. ``/orders/{id}``) of the request being handled.
    Outside a request it sets ``http.route`` on the current span, if any."""
    if not isinstance(route, str) or not route.startswith("/"):
        raise ValueError(f"route: expected a template starting with '/', got {route!r}")
    request = current_request_span()
    if request is not None:
        request.set_route(route)
    else:
        trace.get_current_span().set_attribute(attr.HTTP_ROUTE, route)


def record_exception(exc: BaseException) -> None:
    """Records ``exc`` on the request's server span: for frameworks that answer 500
    themselves, so the exception never reaches the middleware (Flask:
    ``got_request_exception``). Recording the same exception twice adds one event."""
    request = current_request_span()
    if request is not None:
        request.record_exception(exc)
        return
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))


def record_feature_flag(key: str, value: FlagValue, variant: Optional[str] = None,
                        provider: Optional[str] = None) -> None:
    """Records a flag evaluation as the semantic conventions' ``feature_flag.evaluation``
    event on the current span: ``feature_flag.key`` and ``feature_flag.result.value``
    (plus ``.variant`` and ``feature_flag.provider.name`` when given)."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"feature flag key: expected a non-empty string, got {key!r}")
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"feature flag {key!r}: value must be a bool, number or string, got {value!r}")
    event = {attr.FEATURE_FLAG_KEY: key, attr.FEATURE_FLAG_RESULT_VALUE: value}
    if variant is not None:
        event[attr.FEATURE_FLAG_RESULT_VARIANT] = variant
    if provider is not None:
        event[attr.FEATURE_FLAG_PROVIDER_NAME] = provider
    trace.get_current_span().add_event(attr.FEATURE_FLAG_EVENT, event)


def record_fixture(kind: str, value: Any) -> None:
    """Records a small piece of state the request depended on (e.g. ``db_rows``) as JSON
    text in ``tracemend.fixture.<kind>`` on the current span. The redaction processor
    treats it like a body; keep it small (at most 16 KiB of JSON)."""
    if not isinstance(kind, str) or not _FIXTURE_KIND.match(kind):
        raise ValueError(f"fixture kind: expected lower_snake_case of at most 64, got {kind!r}")
    try:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"fixture {kind!r}: not JSON-serializable: {e}") from e
    if len(text.encode("utf-8")) > MAX_FIXTURE_BYTES:
        raise ValueError(f"fixture {kind!r}: {len(text)} characters of JSON, more than {MAX_FIXTURE_BYTES} bytes")
    trace.get_current_span().set_attribute(attr.FIXTURE_PREFIX + kind, text)
