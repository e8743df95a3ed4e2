"""Records a request's inputs on its OpenTelemetry server span, and the commit on the
resource, for tracemend's Failure Envelopes. The attribute contract: docs/envelopes.md.

- :class:`CaptureMiddleware` (WSGI), :class:`CaptureASGIMiddleware` (ASGI),
  :func:`captured` / :func:`capture_request` (``http.server`` handlers);
- :func:`capture_config`: the header allowlist, the body cap, the route function;
- :func:`capture_resource`: ``service.*``, environment and ``vcs.ref.head.revision``;
- :func:`set_route`, :func:`record_exception`, :func:`record_feature_flag`,
  :func:`record_fixture`: from inside a handler.
"""

from . import attributes
from .asgi import CaptureASGIMiddleware
from .config import (
    CREDENTIAL_HEADERS,
    DEFAULT_BODY_LIMIT,
    DEFAULT_HEADERS,
    CaptureConfig,
    CaptureConfigError,
    capture_config,
)
from .helpers import record_exception, record_feature_flag, record_fixture, set_route
from .http_server import capture_request, captured
from .resource import COMMIT_ENV_VARS, CommitError, capture_resource, resolve_commit
from .wsgi import CaptureMiddleware, werkzeug_route

__all__ = [
    "attributes",
    "CaptureASGIMiddleware",
    "CaptureMiddleware",
    "CaptureConfig",
    "CaptureConfigError",
    "CREDENTIAL_HEADERS",
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_HEADERS",
    "COMMIT_ENV_VARS",
    "CommitError",
    "capture_config",
    "capture_request",
    "capture_resource",
    "captured",
    "record_exception",
    "record_feature_flag",
    "record_fixture",
    "resolve_commit",
    "set_route",
    "werkzeug_route",
]
