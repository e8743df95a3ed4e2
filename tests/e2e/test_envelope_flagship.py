"""The flagship path of issue 21, every part real: a shop service in a git repository,
served by werkzeug on a loopback port, instrumented with the OpenTelemetry SDK and
tracemend-capture, sends mixed traffic with planted personal data (emails, card numbers,
IBANs, phone numbers, an API key, a person's name in free text) in its bodies, headers,
query strings and exception messages over OTLP/HTTP to the real `tracemend`, whose
pipeline is `wasm/redact` (with a `hash` key, so request inputs are pseudonymized) ->
`tail_sampling` (errors) -> `envelope`, forwarding to a real `tracemend-repair serve`
whose services map points at the repository (base image, `stages: [reproduce]`).

Asserted: every crashing request class yields an incident; every envelope the engine
stored (read from its SQLite) validates with `tracemend-repair validate-envelope` and
holds none of the planted values in any spelling; equal values got equal pseudonyms and
different values different ones; and the engine reproduces the crashes in Docker from the
pseudonymized envelopes (verdict `reproduced`).

Needs the base image (repair/images/build-python-base.sh) and a Docker engine.
"""

import json
import os
import pathlib
import re
import secrets
import sqlite3
import subprocess
import threading
import urllib.parse

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from werkzeug.serving import make_server

import tracemend_capture
from conftest import ROOT, binary, free_port, wait_for

BASE_IMAGE = "tracemend/python-base:bookworm"
SERVICE = "shop"
TOKEN = "e2e-flagship-token-" + secrets.token_hex(8)
KEY_VAR = "TRACEMEND_E2E_FLAGSHIP_KEY"

# The service, as committed to its repository. Standard library only: the engine runs it
# on the bare base image, where no OpenTelemetry is installed; the test wraps the same
# `application` with the capture middleware in-process.
APP = '''"""Shop service (plain WSGI): orders, customer lookup, refunds."""

import json
import os
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

REGIONS = {"DE": "eu-central", "FR": "eu-west", "GB": "eu-west", "US": "us-east"}
REFUND_LIMIT = 500


def read_json(environ):
    size = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(size) or b"{}")


def unit_price(total, quantity):
    return round(total / quantity, 2)


def region_for(country):
    return REGIONS[country]


def check_refund(doc):
    if doc["amount"] > REFUND_LIMIT:
        raise ValueError(
            "refund of %s to %s for %s (%s) is over the limit" % (doc["amount"], doc["iban"], doc["email"], doc["note"]))
    return {"refund": "queued", "to": doc["iban"][-4:]}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if method == "POST" and path == "/orders":
        doc = read_json(environ)
        return respond(start_response, "200 OK", {"unit_price": unit_price(doc["total"], doc["quantity"])})
    if method == "GET" and path == "/customers/lookup":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return respond(start_response, "200 OK", {"region": region_for(query.get("country", ["DE"])[0])})
    if method == "POST" and path == "/refunds":
        return respond(start_response, "200 OK", check_refund(read_json(environ)))
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
'''

TESTS = '''import io
import json
import unittest
from wsgiref.util import setup_testing_defaults

from app import application


class Health(unittest.TestCase):
    def test_healthz(self):
        environ = {"PATH_INFO": "/healthz", "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        seen = {}
        body = b"".join(application(environ, lambda status, headers: seen.update(status=status)))
        self.assertEqual(seen["status"], "200 OK")
        self.assertEqual(json.loads(body), {"ok": True})
'''

# Two customers; every value is personal and planted in the traffic.
CUSTOMERS = [
    {"email": "margarethe.okafor@mailbox.example.org", "card": "4556 7375 8689 9855",
     "iban": "DE89 3704 0044 0532 0130 00", "phone": "+44 20 7946 0958",
     "api_key": "sk_live_51Hq8vT2eZvKYlo2C0rS7dXk", "name": "Evangeline Marchetti"},
    {"email": "bartholomew.quist@post.example.net", "card": "5425 2334 3010 9903",
     "iban": "FR14 2004 1010 0505 0001 3M02 606", "phone": "+49 30 90182736",
     "api_key": "sk_live_51Jw3pR8nYbQx7Lm4Hs9KzT2", "name": "Cornelius Abernathy"},
]
PII_KINDS = ("email", "card", "iban", "phone", "api_key", "name")
CRASHES = {"orders": "ZeroDivisionError", "lookup": "KeyError", "refund": "ValueError"}


def spellings(value: str) -> set[str]:
    """The planted value as it may appear: as sent, without separators, percent-encoded."""
    compact = re.sub(r"[\s.-]", "", value)
    out = {value, compact, urllib.parse.quote(value), urllib.parse.quote_plus(value)}
    if re.fullmatch(r"\+?[\d ]+", value):
        out.add(compact.lstrip("+"))
    return out


def request_of(cls: str, customer: dict, crash: bool):
    """(method, path with query, headers, JSON body) of one request of a class."""
    headers = {"x-client-key": customer["api_key"], "x-callback-phone": customer["phone"]}
    if cls == "orders":
        body = {"email": customer["email"], "card": customer["card"], "total": 59.97,
                "quantity": 0 if crash else 3, "note": f"gift wrap, deliver to Dr. {customer['name']} at the side door"}
        return "POST", "/orders", headers, body
    if cls == "lookup":
        # The phone form-encoded (`phone=%2B49+30+90182736`), as a browser sends it.
        query = urllib.parse.urlencode({"email": customer["email"], "phone": customer["phone"],
                                        "country": "ZZ" if crash else "DE"})
        return "GET", f"/customers/lookup?{query}", headers, None
    body = {"email": customer["email"], "iban": customer["iban"], "amount": 900 if crash else 40,
            "note": f"requested by Dr. {customer['name']} by phone"}
    return "POST", "/refunds", headers, body


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: pathlib.Path) -> tuple[pathlib.Path, str]:
    repo = root / "shop"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    (repo / "test_app.py").write_text(TESTS)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "app.py", "test_app.py")
    git(repo, "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "-q", "-m", "shop")
    return repo, git(repo, "rev-parse", "HEAD")


def load_app(repo: pathlib.Path):
    """The repository's `application`, loaded from its file so tracebacks name that file."""
    namespace: dict = {"__name__": "shop_app", "__file__": str(repo / "app.py")}
    exec(compile(APP, str(repo / "app.py"), "exec"), namespace)  # noqa: S102 - our own source
    return namespace["application"]


class Server:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


class Engine:
    """`tracemend-repair serve` with the shop in its services map."""

    def __init__(self, tmp_path: pathlib.Path, repo: pathlib.Path):
        self.port = free_port()
        self.dir = tmp_path / "engine"
        self.dir.mkdir()
        self.db = self.dir / "repair.db"
        self.log_path = self.dir / "engine.log"
        config = self.dir / "repair.yaml"
        config.write_text(json.dumps({
            "listen": f"127.0.0.1:{self.port}",
            "auth": {"token_env": "TRACEMEND_REPAIR_TOKEN"},
            "store": {"path": str(self.db)},
            "data_dir": str(self.dir / "data"),
            "workers": 1,
            "stages": ["reproduce"],
            "sandbox": {"timeout": "180s"},
            "reproduce": {"runs": 1, "ready_timeout": "90s", "request_timeout": "60s"},
            "services": {SERVICE: {"repository": str(repo), "base_image": BASE_IMAGE,
                                   "command": ["python3", "app.py"], "port": 8080,
                                   "test_command": ["python3", "-m", "unittest"]}},
        }))
        engine_bin = pathlib.Path(binary()).with_name("tracemend-repair")
        if not engine_bin.exists():
            pytest.fail(f"{engine_bin} does not exist: cargo build --bins -p repair")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(engine_bin), "serve", "--config", str(config)], stdout=log,
                                     stderr=subprocess.STDOUT,
                                     env=dict(os.environ, TRACEMEND_REPAIR_TOKEN=TOKEN, RUST_LOG="info"))
        log.close()
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self.ready, timeout=60, what=f"the repair engine (log: {self.log_path})")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"engine exited: {self.log()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def incidents(self) -> list[dict]:
        r = requests.get(f"{self.url}/v1/incidents", timeout=10, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text
        return r.json()["incidents"]

    def envelopes(self) -> list[dict]:
        if not self.db.exists():
            return []
        con = sqlite3.connect(self.db)
        try:
            return [json.loads(b) for (b,) in con.execute("SELECT body FROM envelopes ORDER BY envelope_id")]
        finally:
            con.close()

    def all_text(self) -> str:
        """Every text value in every table of the engine's store."""
        con = sqlite3.connect(self.db)
        try:
            tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            out = []
            for t in tables:
                for row in con.execute(f'SELECT * FROM "{t}"'):
                    out.extend(v if isinstance(v, str) else v.decode(errors="replace")
                               for v in row if isinstance(v, (str, bytes)))
            return "\n".join(out)
        finally:
            con.close()


def start_collector(c):
    env = {**os.environ, KEY_VAR: "flagship-e2e-hmac-key-0123456789", "E2E_ENGINE_TOKEN": TOKEN,
           "XDG_CACHE_HOME": str(ROOT / "guest-crates" / "target" / "e2e-cache")}
    log = open(c.log_path, "ab")
    c.proc = subprocess.Popen([binary(), "--config", str(c.config_path)], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    log.close()
    # The first start compiles the guests (slow in a debug build); later ones hit the cache.
    wait_for(c.ready, timeout=600, what=f"{c.name} to become ready (log: {c.log_path})")


def reproduce_stage(incident: dict) -> dict | None:
    return next((s for s in incident.get("stages", []) if s["name"] == "reproduce"), None)


TERMINAL = {"succeeded", "rejected", "failed"}


def test_pii_laden_crashes_become_clean_envelopes_that_reproduce(tmp_path, collectors):
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"{BASE_IMAGE} is missing: run repair/images/build-python-base.sh")
    repo, commit = make_repo(tmp_path)
    engine = Engine(tmp_path, repo)
    c = collectors(
        processors={
            "wasm/redact": {
                "module": "builtin:redact",
                "config": {
                    "hash": {"current": "v1", "keys": {"v1": "hmac_key"}},
                    # No rule finds a person's name by itself: the service's notes put a
                    # title before it, and this rule uses that.
                    "custom_rules": [{"name": "titled_name", "pattern": r"(?:Dr|Mr|Mrs|Ms)\. ([A-Z][a-z]+ [A-Z][a-z]+)",
                                      "keywords": ["Dr.", "Mr.", "Mrs.", "Ms."]}],
                },
                "grants": {"data": {"hmac_key": f"env:{KEY_VAR}"}},
            },
            "tail_sampling": {"decision_wait": "2s", "num_traces": 10000, "policies": [
                {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]},
        },
        exporters={"envelope": {
            "endpoint": engine.url, "token_env": "E2E_ENGINE_TOKEN", "join_window": "1s", "dedupe_window": "0s",
            "assembler": {"module": "builtin:envelope", "config": {"strip_prefixes": [f"{repo}/"]}},
            "retry_on_failure": {"initial_interval": "200ms", "max_interval": "2s", "max_elapsed_time": "0s"},
        }},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["wasm/redact", "tail_sampling"],
                              "exporters": ["envelope"]}},
    )
    provider = None
    service = None
    try:
        start_collector(c)
        provider = TracerProvider(resource=tracemend_capture.capture_resource(
            commit, service_name=SERVICE, service_version="2.3.0", environment="e2e"))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{c.http_endpoint}/v1/traces")))
        config = tracemend_capture.capture_config(extra_headers=("x-client-key", "x-callback-phone"),
                                                  route=lambda environ: environ.get("PATH_INFO"))
        service = Server(tracemend_capture.CaptureMiddleware(load_app(repo), config=config, tracer_provider=provider))

        # Mixed traffic: 24 requests, 6 of them crashing (each class twice, once per customer).
        sent = {}  # trace id -> (class, customer index, crashed)
        for i in range(24):
            cls = ("orders", "lookup", "refund")[i % 3]
            who = (i // 3) % 2
            crash = i in (0, 1, 2, 15, 16, 17)
            method, target, headers, body = request_of(cls, CUSTOMERS[who], crash)
            trace_id = secrets.token_hex(16)
            headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
            r = requests.request(method, service.url + target, json=body, headers=headers, timeout=60)
            assert r.status_code == (500 if crash else 200), (cls, crash, r.status_code, r.text)
            sent[trace_id] = (cls, who, crash)
        crashed = {t: v for t, v in sent.items() if v[2]}
        assert {(cls, who) for cls, who, _ in crashed.values()} == {(k, w) for k in CRASHES for w in (0, 1)}, crashed

        # Every crashing request becomes one stored envelope; passing ones none.
        wait_for(lambda: len(engine.envelopes()) >= len(crashed), timeout=300,
                 what=f"{len(crashed)} envelopes at the engine (collector log: {c.log_path})")
        wait_for(lambda: c.metric("tracemend_tail_sampling_traces_decided_total") == len(sent), timeout=120,
                 what="tail_sampling to decide every trace")
        envelopes = engine.envelopes()
        by_trace = {e["identity"]["trace_id"]: e for e in envelopes}
        assert set(by_trace) == set(crashed), (sorted(by_trace), sorted(crashed))
        assert c.metric("tracemend_wasm_faults_total") == 0, c.log()
        for tid, e in by_trace.items():
            cls = crashed[tid][0]
            assert e["identity"]["commit"] == commit and e["identity"]["service"]["name"] == SERVICE
            assert e["symptom"]["exception"]["type"] == CRASHES[cls], e["symptom"]
            top = next(f for f in e["symptom"]["exception"]["frames"] if f.get("in_app"))
            assert top["file"] == "app.py", e["symptom"]["exception"]["frames"]

        # Schema-valid, by the engine's own CLI on what it stored.
        engine_bin = pathlib.Path(binary()).with_name("tracemend-repair")
        for i, e in enumerate(envelopes):
            f = tmp_path / f"stored-{i}.json"
            f.write_text(json.dumps(e))
            out = subprocess.run([str(engine_bin), "validate-envelope", str(f)], capture_output=True, text=True)
            assert out.returncode == 0, out.stdout + out.stderr

        # None of the planted values, in any spelling, anywhere in the envelopes or the store.
        planted = {s for cust in CUSTOMERS for k in PII_KINDS for s in spellings(cust[k])}
        for e in envelopes:
            text = json.dumps(e) + json.dumps(e, ensure_ascii=False)
            leaked = sorted(v for v in planted if v in text)
            assert not leaked, f"planted values in envelope {e['envelope_id']}: {leaked}\n{json.dumps(e, indent=1)}"
        store = engine.all_text()
        leaked = sorted(v for v in planted if v in store)
        assert not leaked, f"planted values in the engine's store: {leaked}"

        # Equal values got equal pseudonyms (across classes and requests), different ones differ.
        seen: dict[tuple, set] = {}
        for tid, e in by_trace.items():
            cls, who, _ = crashed[tid]
            inputs = e["inputs"]
            headers = inputs.get("headers", {})
            seen.setdefault(("phone", who), set()).add(headers["x-callback-phone"])
            seen.setdefault(("api_key", who), set()).add(headers["x-client-key"])
            if cls == "lookup":
                query = {k: v[0] if isinstance(v, list) else v for k, v in inputs["query"].items()}
                seen.setdefault(("email", who), set()).add(query["email"])
                # Decoded, the query's pseudonym is the header's: one set for both.
                seen[("phone", who)].add(query["phone"])
                assert query["country"] == "ZZ", query
            else:
                body = inputs["body"]
                seen.setdefault(("email", who), set()).add(body["email"])
                seen.setdefault(("name", who), set()).add(re.search(r"Dr\. (\w+ \w+)", body["note"]).group(1))
                seen.setdefault(("card" if cls == "orders" else "iban", who), set()).add(
                    body["card" if cls == "orders" else "iban"])
        for (kind, who), values in seen.items():
            assert len(values) == 1, f"{kind} of customer {who}: one value, several pseudonyms {values}"
            assert values != {CUSTOMERS[who][kind]}
            if (kind, 1 - who) in seen:
                assert values != seen[(kind, 1 - who)], f"{kind}: two customers, one pseudonym {values}"
        assert all(re.fullmatch(r"u_[0-9a-f]{16}@example\.com", v) for v in seen[("email", 0)] | seen[("email", 1)]), seen

        # One incident per crashing class, each with both occurrences.
        fingerprints = {e["symptom"]["fingerprint"]: crashed[e["identity"]["trace_id"]][0] for e in envelopes}
        assert len(fingerprints) == len(CRASHES), fingerprints
        wait_for(lambda: {i["fingerprint"] for i in engine.incidents()} == set(fingerprints), timeout=60,
                 what="one incident per crashing class")
        for incident in engine.incidents():
            assert incident["service"] == SERVICE and incident["occurrences"] == 2, incident

        # The engine reproduces the crashes in Docker from the pseudonymized envelopes.
        wait_for(lambda: all(i["status"] in TERMINAL for i in engine.incidents()), timeout=1500, interval=2,
                 what=f"every incident's job to finish (engine log: {engine.log_path})")
        verdicts = {}
        for incident in engine.incidents():
            stage = reproduce_stage(incident)
            verdicts[fingerprints[incident["fingerprint"]]] = (
                incident["status"], (stage or {}).get("result", {}).get("verdict"), incident.get("reason"))
        print(f"\nreproduce verdicts by crash class: {verdicts}")
        reproduced = sorted(cls for cls, (status, verdict, _) in verdicts.items()
                            if status == "succeeded" and verdict == "reproduced")
        # Every class, POSTs with pseudonymized bodies included (their length differs from
        # the recorded one: the replay must not send the recorded content-length).
        assert reproduced == sorted(CRASHES), f"not every crash reproduced: {verdicts}\n{engine.log()[-4000:]}"
        # The engine's replay ran the pseudonymized inputs: still nothing planted in its store.
        store = engine.all_text()
        leaked = sorted(v for v in planted if v in store)
        assert not leaked, f"planted values in the engine's store after reproducing: {leaked}"
    finally:
        if service is not None:
            service.stop()
        if provider is not None:
            provider.shutdown()
        engine.stop()
    assert c.stop() == 0, c.log()
