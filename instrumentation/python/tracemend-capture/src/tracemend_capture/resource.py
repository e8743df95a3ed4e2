"""The service's resource: ``service.*``, ``deployment.environment.name``, the runtime,
and the commit it runs as ``vcs.ref.head.revision``, found by a documented chain."""

from __future__ import annotations

import logging
import os
import platform
import re
import subprocess
from typing import Mapping, Optional, Tuple

from opentelemetry.sdk.resources import Resource

from . import attributes as attr

_log = logging.getLogger(__name__)

#: Environment variables that name the commit, in the order they are read after
#: ``TRACEMEND_COMMIT`` and ``OTEL_RESOURCE_ATTRIBUTES``: what CI systems and
#: platforms set (Jenkins, Docker Hub and Coolify, Heroku builds, GitHub Actions,
#: GitLab CI, Heroku dynos, Render, Vercel).
COMMIT_ENV_VARS = (
    "GIT_COMMIT",
    "SOURCE_COMMIT",
    "SOURCE_VERSION",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "HEROKU_SLUG_COMMIT",
    "RENDER_GIT_COMMIT",
    "VERCEL_GIT_COMMIT_SHA",
)

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_GIT_TIMEOUT_S = 5.0


class CommitError(ValueError):
    """A commit was given but is not one; the message names where it came from."""


def resolve_commit(explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                   cwd: Optional[str] = None) -> Tuple[Optional[str], str]:
    """The commit the service runs and where it was found.

    The chain, first hit wins: ``explicit``; ``TRACEMEND_COMMIT``;
    ``vcs.ref.head.revision`` in ``OTEL_RESOURCE_ATTRIBUTES``; each of
    :data:`COMMIT_ENV_VARS`; ``git rev-parse HEAD`` in ``cwd`` (the working directory
    when None). A value found that is not 7 to 40 hex digits raises :class:`CommitError`
    naming its source. Returns ``(None, reason)`` when nothing names a commit.
    """
    env = os.environ if environ is None else environ
    candidates = [("the commit argument", explicit), ("TRACEMEND_COMMIT", env.get("TRACEMEND_COMMIT"))]
    candidates.append(("vcs.ref.head.revision in OTEL_RESOURCE_ATTRIBUTES",
                       _otel_resource_attribute(env.get("OTEL_RESOURCE_ATTRIBUTES", ""),
                                                attr.VCS_REF_HEAD_REVISION)))
    candidates.extend((name, env.get(name)) for name in COMMIT_ENV_VARS)
    for source, value in candidates:
        if value is None or not value.strip():
            continue
        commit = value.strip().lower()
        if not _COMMIT.match(commit):
            raise CommitError(f"{source}: {value!r} is not a commit (7 to 40 hex digits)")
        return commit, source
    return _git_head(cwd)


def _otel_resource_attribute(raw: str, key: str) -> Optional[str]:
    # The SDK's own parser is private; the format is key=value pairs joined by commas.
    for pair in raw.split(","):
        k, sep, v = pair.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def _git_head(cwd: Optional[str]) -> Tuple[Optional[str], str]:
    where = cwd or os.getcwd()
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"git rev-parse HEAD could not run in {where}: {e}"
    commit = done.stdout.strip().lower()
    if done.returncode != 0 or not _COMMIT.match(commit):
        return None, f"git rev-parse HEAD failed in {where}: {done.stderr.strip() or commit!r}"
    return commit, f"git rev-parse HEAD in {where}"


def capture_resource(commit: Optional[str] = None, *, service_name: Optional[str] = None,
                     service_version: Optional[str] = None, environment: Optional[str] = None,
                     locale: Optional[str] = None, timezone: Optional[str] = None,
                     attributes: Optional[Mapping] = None, cwd: Optional[str] = None) -> Resource:
    """A resource for the ``TracerProvider`` (and ``LoggerProvider``) of the service.

    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are read as the SDK reads
    them; an argument given here wins over them. The commit comes from
    :func:`resolve_commit`; when none is found the resource has no
    ``vcs.ref.head.revision`` and a warning names the ways to set it. ``locale`` and
    ``timezone`` fill the envelope's environment (``tracemend.locale``,
    ``tracemend.timezone``); the runtime is Python's own.
    """
    given: dict = {
        attr.PROCESS_RUNTIME_NAME: platform.python_implementation().lower(),
        attr.PROCESS_RUNTIME_VERSION: platform.python_version(),
    }
    given.update(attributes or {})
    for key, value in ((attr.SERVICE_NAME, service_name), (attr.SERVICE_VERSION, service_version),
                       (attr.DEPLOYMENT_ENVIRONMENT_NAME, environment),
                       (attr.TRACEMEND_LOCALE, locale), (attr.TRACEMEND_TIMEZONE, timezone)):
        if value is not None:
            given[key] = value
    found, source = resolve_commit(commit, cwd=cwd)
    if found is None:
        _log.warning(
            "No commit for the resource attribute %s (%s): set TRACEMEND_COMMIT or pass "
            "capture_resource(commit=...); envelopes without it cannot be reproduced.",
            attr.VCS_REF_HEAD_REVISION, source)
    else:
        given[attr.VCS_REF_HEAD_REVISION] = found
    return Resource.create(given)
