#!/usr/bin/env python3
"""Turn a buggy service's truth.json into a Failure Envelope for one commit.

    make_envelope.py SERVICE_DIR --commit SHA [--timestamp 2026-12-01T09:30:00Z] [--out FILE]

The envelope carries what the collector's envelope processor would have sent for the
service's failing request: identity (service, commit, ids derived from both so reruns are
idempotent), the symptom (exception type, redacted message and its hash, the in-app
frames innermost first, a fingerprint over type and top frames), the inputs, and the
feature flags / fixtures the failure needs. It is validated against
config/envelope.schema.json before it is written; an invalid one is an error (exit 1).
"""

import argparse
import hashlib
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "config" / "envelope.schema.json"
DEFAULT_TIMESTAMP = "2026-12-01T09:30:00Z"
COMMIT_RE = re.compile(r"^[0-9a-f]{7,40}$")


class EnvelopeError(Exception):
    """The truth or the resulting envelope is not usable."""


def _hex(*parts, length):
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def fingerprint(exception_type, frames):
    """Stable hash of the exception type and the top three in-app frames (file:function)."""
    top = [f"{f['file']}:{f['function']}" for f in frames if f.get("in_app")][:3]
    return _hex(exception_type, *top, length=16)


def build(truth, commit, timestamp=DEFAULT_TIMESTAMP):
    """The envelope (a dict) for the service described by `truth` at `commit`."""
    if not COMMIT_RE.match(commit):
        raise EnvelopeError(f"commit {commit!r} is not 7-40 lowercase hex digits")
    try:
        name = truth["service"]
        expected = truth["expected"]
        request = truth["failing_request"]
        frames = [
            {"file": f["file"], "line": f["line"], "function": f["function"], "in_app": True}
            for f in truth["frames"]
        ]
    except (KeyError, TypeError) as e:
        raise EnvelopeError(f"truth.json lacks {e}") from e
    exception = {
        "type": expected["exception_type"],
        "message_redacted": expected["message"],
        "message_hash": "sha256:" + hashlib.sha256(expected["message"].encode()).hexdigest(),
        "frames": frames,
    }
    inputs = {"protocol": "http", "method": request["method"], "route": request["route"], "path": request["path"]}
    for key in ("headers", "query"):
        if request.get(key):
            inputs[key] = request[key]
    if "body" in request:
        inputs["body"] = request["body"]
    envelope = {
        "schema_version": "1",
        "envelope_id": f"bugsvc-{name}-{commit[:12]}",
        "identity": {
            "trace_id": _hex(name, commit, "trace", length=32),
            "span_id": _hex(name, commit, "span", length=16),
            "service": {"name": name, "version": commit[:12]},
            "commit": commit,
            "timestamp": timestamp,
        },
        "symptom": {
            "exception": exception,
            "fingerprint": fingerprint(exception["type"], frames),
            "status_code": expected.get("status", 500),
        },
        "inputs": inputs,
        "environment": {
            "timezone": "UTC",
            "runtime": {"name": "cpython", "version": "3.11"},
            **truth.get("environment", {}),
        },
    }
    if truth.get("state"):
        envelope["state"] = truth["state"]
    return envelope


def validate(envelope, schema_path=SCHEMA):
    """Raise EnvelopeError listing every schema violation (JSON pointer and message)."""
    import jsonschema

    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(envelope), key=lambda e: list(e.absolute_path))
    if errors:
        lines = ["/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in errors]
        raise EnvelopeError("envelope violates the schema:\n  " + "\n  ".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service_dir", type=pathlib.Path)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--timestamp", default=DEFAULT_TIMESTAMP)
    parser.add_argument("--out", type=pathlib.Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    truth_path = args.service_dir / "truth.json"
    try:
        truth = json.loads(truth_path.read_text())
        envelope = build(truth, args.commit, args.timestamp)
        validate(envelope)
    except (OSError, ValueError, EnvelopeError) as e:
        print(f"make_envelope: {truth_path}: {e}", file=sys.stderr)
        return 1
    text = json.dumps(envelope, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
