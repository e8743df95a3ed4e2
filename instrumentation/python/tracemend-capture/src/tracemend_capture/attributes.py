"""Names of the attributes this package records: the contract with tracemend's envelope
assembler (docs/envelopes.md). Semantic-convention names where one exists; the few
tracemend has to add start with ``tracemend.``."""

# Span attributes (semantic conventions, HTTP server spans).
HTTP_REQUEST_METHOD = "http.request.method"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
HTTP_ROUTE = "http.route"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_REQUEST_BODY_SIZE = "http.request.body.size"
ERROR_TYPE = "error.type"
#: Prefix of a request header's attribute; the lowercase header name follows.
HTTP_REQUEST_HEADER_PREFIX = "http.request.header."

# Span attributes tracemend adds: no semantic convention records a request body.
#: The request body, at most the cap's bytes: text when it is UTF-8 (JSON stays the
#: JSON text the client sent), else base64 of the bytes.
BODY = "tracemend.http.request.body"
#: ``"utf-8"`` or ``"base64"``: how BODY holds the body's bytes.
BODY_ENCODING = "tracemend.http.request.body.encoding"
#: True when the body was longer than the cap and BODY holds only its first bytes.
BODY_TRUNCATED = "tracemend.http.request.body.truncated"

# Resource attributes.
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
SERVICE_NAMESPACE = "service.namespace"
DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name"
#: The commit the service was built from (semantic conventions, VCS).
VCS_REF_HEAD_REVISION = "vcs.ref.head.revision"
#: The service's locale (BCP 47 or POSIX, e.g. ``de-DE`` or ``de_DE.UTF-8``).
TRACEMEND_LOCALE = "tracemend.locale"
#: The service's IANA time zone, e.g. ``Europe/Berlin``.
TRACEMEND_TIMEZONE = "tracemend.timezone"

#: The language runtime (semantic conventions, process), e.g. ``cpython`` and ``3.11.7``.
PROCESS_RUNTIME_NAME = "process.runtime.name"
PROCESS_RUNTIME_VERSION = "process.runtime.version"

# Feature flags: the semantic conventions' evaluation event, on the span it happened in.
FEATURE_FLAG_EVENT = "feature_flag.evaluation"
FEATURE_FLAG_KEY = "feature_flag.key"
FEATURE_FLAG_RESULT_VALUE = "feature_flag.result.value"
FEATURE_FLAG_RESULT_VARIANT = "feature_flag.result.variant"
FEATURE_FLAG_PROVIDER_NAME = "feature_flag.provider.name"

# Span attributes of the service's state.
#: Prefix of a fixture, a small JSON text, its kind follows: ``tracemend.fixture.<kind>``.
FIXTURE_PREFIX = "tracemend.fixture."
