"""What a middleware records: the header allowlist and the body cap, checked once when
the middleware is built so a mistake fails at startup, not per request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

#: Headers that carry credentials. They are never recorded, whatever the allowlist says.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

#: Headers recorded when no allowlist is given: what changes how a service parses and
#: answers a request, none of them a credential.
DEFAULT_HEADERS = (
    "content-type",
    "content-length",
    "accept",
    "accept-language",
    "accept-encoding",
    "user-agent",
    "x-request-id",
    "idempotency-key",
)

#: Default cap of the recorded body, in bytes (16 KiB).
DEFAULT_BODY_LIMIT = 16 * 1024

_HEADER_NAME = re.compile(r"^[a-z0-9-]{1,128}$")


class CaptureConfigError(ValueError):
    """A capture setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class CaptureConfig:
    """What the middlewares record on each server span.

    Build it with :func:`capture_config`, which checks the values.
    """

    #: Lowercase names of the request headers recorded as ``http.request.header.<name>``.
    headers: frozenset = field(default_factory=lambda: frozenset(DEFAULT_HEADERS))
    #: Most bytes of the body recorded; the rest is flagged as truncated.
    body_limit: int = DEFAULT_BODY_LIMIT
    #: Returns the route template of a request (e.g. ``/orders/{id}``) from the WSGI
    #: environ or ASGI scope, or None when it does not know (yet). Asked when the
    #: response starts, when an exception is recorded, and when the request ends.
    route: Optional[Callable[[dict], Optional[str]]] = None


def capture_config(
    headers: Optional[Iterable[str]] = None,
    extra_headers: Iterable[str] = (),
    body_limit: int = DEFAULT_BODY_LIMIT,
    route: Optional[Callable[[dict], Optional[str]]] = None,
) -> CaptureConfig:
    """Checks and builds a :class:`CaptureConfig`.

    ``headers`` replaces the default allowlist, ``extra_headers`` adds to it. Header
    names are case-insensitive; ``content-type`` is always recorded. A credential header (``authorization``,
    ``proxy-authorization``, ``cookie``, ``set-cookie``, ``x-api-key``) is refused with
    :class:`CaptureConfigError`, as is a name that is not a header name or a negative
    ``body_limit``. ``body_limit=0`` records no body (its size is still recorded).
    """
    names = set()
    for source, values in (("headers", headers or DEFAULT_HEADERS), ("extra_headers", extra_headers)):
        if isinstance(values, str):
            raise CaptureConfigError(f"{source}: expected a list of header names, got the string {values!r}")
        for raw in values:
            if not isinstance(raw, str):
                raise CaptureConfigError(f"{source}: header names are strings, got {raw!r}")
            name = raw.strip().lower()
            if name in CREDENTIAL_HEADERS:
                raise CaptureConfigError(
                    f"{source}: {raw!r} carries credentials and is never recorded; "
                    f"remove it (refused: {', '.join(sorted(CREDENTIAL_HEADERS))})"
                )
            if not _HEADER_NAME.match(name):
                raise CaptureConfigError(
                    f"{source}: {raw!r} is not a header name (letters, digits and '-', at most 128)"
                )
            names.add(name)
    # The body cannot be read without its content type, so it is always recorded.
    names.add("content-type")
    if isinstance(body_limit, bool) or not isinstance(body_limit, int) or body_limit < 0:
        raise CaptureConfigError(f"body_limit: expected a number of bytes >= 0, got {body_limit!r}")
    if route is not None and not callable(route):
        raise CaptureConfigError(f"route: expected a function of the environ or scope, got {route!r}")
    return CaptureConfig(headers=frozenset(names), body_limit=body_limit, route=route)


def recordable(config: CaptureConfig, name: str) -> bool:
    """Whether a request header (any case) is recorded under ``config``."""
    lower = name.lower()
    return lower in config.headers and lower not in CREDENTIAL_HEADERS
