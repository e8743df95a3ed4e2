"""The configurations the demo runs with, as JSON (which is YAML): the collector's full
edge pipeline and the repair engine with all five stages. Secrets are passed by the
names of environment variables, never written here."""

import pathlib

SERVICE = "checkout"
BASE_IMAGE = "tracemend/python-base:bookworm"
ENGINE_TOKEN_ENV = "TRACEMEND_REPAIR_TOKEN"
COLLECTOR_TOKEN_ENV = "TRACEMEND_DEMO_ENGINE_TOKEN"
REDACT_KEY_ENV = "TRACEMEND_DEMO_REDACT_KEY"


def collector(ports: dict, engine_url: str, repo: pathlib.Path, commit: str, index: pathlib.Path) -> dict:
    """OTLP/HTTP in; redact -> tail_sampling -> symbolize -> envelope, which POSTs to the engine."""
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{ports['otlp']}"}}}},
        "processors": {
            # Personal data in inputs and messages becomes keyed pseudonyms (HMAC tokens):
            # equal values stay equal, so the engine can still replay the request.
            "wasm/redact": {
                "module": "builtin:redact",
                "config": {"hash": {"current": "v1", "keys": {"v1": "hmac_key"}}},
                "grants": {"data": {"hmac_key": f"env:{REDACT_KEY_ENV}"}},
            },
            # Keep failing traces only: the envelope exporter needs no others.
            "tail_sampling": {"decision_wait": "2s", "num_traces": 10000, "policies": [
                {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]},
            # Frames resolved to symbols and owners with the commit's index.
            "wasm/symbolize": {
                "module": "builtin:symbolize",
                "config": {"indexes": [{"service": SERVICE, "commit": commit, "data": "checkout_index"}]},
                "grants": {"data": {"checkout_index": str(index)}},
            },
        },
        "exporters": {"envelope": {
            "endpoint": engine_url,
            "token_env": COLLECTOR_TOKEN_ENV,
            "join_window": "2s",
            "dedupe_window": "1m",
            "assembler": {"module": "builtin:envelope", "config": {"strip_prefixes": [f"{repo}/"]}},
            "retry_on_failure": {"initial_interval": "200ms", "max_interval": "2s", "max_elapsed_time": "0s"},
        }},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['health']}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"address": f"127.0.0.1:{ports['metrics']}"}},
            "pipelines": {"traces": {"receivers": ["otlp"],
                                     "processors": ["wasm/redact", "tail_sampling", "wasm/symbolize"],
                                     "exporters": ["envelope"]}},
        },
    }


def engine(port: int, work: pathlib.Path, repo: pathlib.Path, remote: pathlib.Path) -> dict:
    """`tracemend-repair serve`: every stage, one worker, the fix branch pushed to `remote`."""
    return {
        "listen": f"127.0.0.1:{port}",
        "auth": {"token_env": ENGINE_TOKEN_ENV},
        "store": {"path": str(work / "engine" / "repair.db")},
        "data_dir": str(work / "engine" / "data"),
        "workers": 1,
        "stages": ["reproduce", "minimize", "localize", "patch", "verify"],
        "sandbox": {"timeout": "180s"},
        "reproduce": {"runs": 1, "ready_timeout": "60s", "request_timeout": "30s"},
        "services": {SERVICE: {
            "repository": str(repo),
            "base_image": BASE_IMAGE,
            "command": ["python3", "app.py"],
            "port": 8080,
            "test_command": ["python3", "-m", "unittest"],
            # The service keeps no state between requests: probes may share one process.
            "stateless": True,
            "push": True,
            "remote": str(remote),
        }},
    }
