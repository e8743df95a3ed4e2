"""A request body as span attributes: the first ``limit`` bytes, as text when they are
UTF-8 (JSON stays the text the client sent) and as base64 otherwise, with the truncation
flagged."""

from __future__ import annotations

import base64
from typing import Optional

from . import attributes as attr


def body_attributes(prefix: bytes, limit: int, truncated: bool, size: Optional[int]) -> dict:
    """Attributes for a body whose first bytes are ``prefix``.

    ``prefix`` may be longer than ``limit`` (the readers read one byte past the cap to
    learn whether there is more); ``truncated`` says the body went on past ``prefix``.
    ``size`` is the body's full length when known (Content-Length, or all of it read).
    An empty body yields only its size.
    """
    out: dict = {}
    if size is not None:
        out[attr.HTTP_REQUEST_BODY_SIZE] = size
    if not prefix:
        return out
    kept = prefix[:limit]
    truncated = truncated or len(prefix) > limit
    text = _utf8_prefix(kept, truncated)
    if text is None:
        out[attr.BODY] = base64.b64encode(kept).decode("ascii")
        out[attr.BODY_ENCODING] = "base64"
    else:
        out[attr.BODY] = text
        out[attr.BODY_ENCODING] = "utf-8"
    out[attr.BODY_TRUNCATED] = truncated
    return out


def _utf8_prefix(data: bytes, truncated: bool) -> Optional[str]:
    """``data`` as text when it is UTF-8. A cut body may end inside a character: up to
    three trailing bytes of an incomplete character are dropped, not taken as binary."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        incomplete_tail = truncated and e.start >= len(data) - 3 and e.reason == "unexpected end of data"
        if not incomplete_tail:
            return None
        try:
            return data[: e.start].decode("utf-8")
        except UnicodeDecodeError:
            return None
