"""The `symbolize` processor through the real `tracemend`: a git repository made by the
test with a small Python service at two commits (a rolling deploy), symbol indexes built
by the real `tracemend-symbols`, spans and logs sent by the Python OpenTelemetry SDK from
really running that service (so the interpreter knows the file and line truth), a `file`
exporter, and the attributes the processor adds. Then every bad input (unknown commit,
missing and corrupt blobs, a blob of another commit, lines outside the index, traces that
do not parse): the span passes unchanged and the reason is counted in `/metrics`.

Needs `target/debug/tracemend` and `target/debug/tracemend-symbols`
(`cargo build --workspace --bins`), or `$TRACEMEND_BIN` and `$TRACEMEND_SYMBOLS_BIN`.
"""

import json
import os
import pathlib
import subprocess
import sys

import requests

from conftest import ROOT, attrs, binary, logs_in, spans_in, wait_for

SYMBOLS_BIN = pathlib.Path(os.environ.get("TRACEMEND_SYMBOLS_BIN")
                           or ROOT / "target" / "debug" / "tracemend-symbols")
PROCESSOR = "wasm/symbolize"

ORDERS_PY = '''class Order:
    def __init__(self, items):
        self.items = items

    def total(self):
        if not self.items:
            raise ValueError("empty order")
        return sum(self.items)


def place(items):
    return Order(items).total()
'''

# Commit B moves every line of commit A down by two.
ORDERS_PY_B = "# Orders.\n# Totals are checked before payment.\n" + ORDERS_PY

# Sends, through the OpenTelemetry SDK and its OTLP/HTTP exporters, the spans and the log
# of a service deployed at `deploy` (its commit in `vcs.ref.head.revision`), and prints
# the interpreter's own account of where it raised.
EMIT_PY = r'''
import inspect, json, logging, sys, traceback
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

endpoint, deploy, commit = sys.argv[1:4]
sys.path.insert(0, deploy)
import shop.orders as orders

resource = Resource.create({"service.name": "shop", "vcs.ref.head.revision": commit})
tp = TracerProvider(resource=resource)
tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
tracer = tp.get_tracer("shop")
truth = {}
try:
    with tracer.start_as_current_span("POST /orders"):
        orders.place([])
except ValueError as e:
    inner = traceback.extract_tb(e.__traceback__)[-1]
    truth["raise"] = {"file": inner.filename, "line": inner.lineno, "function": inner.name}
place_line = inspect.getsourcelines(orders.place)[1]
truth["place_line"] = place_line
with tracer.start_as_current_span("place", attributes={
        "code.filepath": inspect.getsourcefile(orders.place),
        "code.lineno": place_line + 1,
        "code.function": "place"}):
    pass
with tracer.start_as_current_span("healthz"):
    pass

lp = LoggerProvider(resource=resource)
lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint + "/v1/logs")))
log = logging.getLogger("shop")
log.propagate = False
log.addHandler(LoggingHandler(logger_provider=lp))
try:
    orders.place([])
except ValueError:
    log.exception("order failed")
tp.shutdown()
lp.shutdown()
print(json.dumps(truth))
'''


def git(repo, *args) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def make_repo(tmp_path):
    """A repository with `shop/orders.py` at commits A and B, each checked out (as a
    deploy would be) and indexed by the real `tracemend-symbols`."""
    assert SYMBOLS_BIN.exists(), f"{SYMBOLS_BIN} is missing: cargo build --workspace --bins"
    repo = tmp_path / "repo"
    (repo / "shop").mkdir(parents=True)
    (repo / ".github").mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".github" / "CODEOWNERS").write_text("*.md @docs\n/shop/ @shop-team @payments\n")
    (repo / "shop" / "__init__.py").write_text("")
    (repo / "README.md").write_text("shop\n")
    commits = {}
    for name, source in (("a", ORDERS_PY), ("b", ORDERS_PY_B)):
        (repo / "shop" / "orders.py").write_text(source)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"orders {name}")
        sha = git(repo, "rev-parse", "HEAD")
        deploy = tmp_path / f"deploy_{name}"
        deploy.mkdir()
        archive = subprocess.run(["git", "-C", str(repo), "archive", sha], capture_output=True,
                                 check=True, timeout=60).stdout
        subprocess.run(["tar", "-x", "-C", str(deploy)], input=archive, check=True, timeout=60)
        index = tmp_path / f"shop-{name}.idx"
        r = subprocess.run([str(SYMBOLS_BIN), "index", "--repo", str(repo), "--commit", sha,
                            "--out", str(index)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        commits[name] = {"sha": sha, "deploy": deploy, "index": index}
    return commits


def start(c, tmp_path, timeout=300):
    """Starts a collector whose first start may compile the built-in guest."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    log = open(c.log_path, "ab")
    c.proc = subprocess.Popen([binary(), "--config", str(c.config_path)], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    log.close()
    wait_for(c.ready, timeout=timeout, what=f"{c.name} to become ready (log: {c.log_path})")
    return c


def symbolize_collector(collectors, out, indexes, grants):
    return collectors(
        exporters={"file": {"path": str(out)}},
        processors={PROCESSOR: {"module": "builtin:symbolize", "config": {"indexes": indexes},
                                "grants": {"data": grants}}},
        pipelines={
            "traces": {"receivers": ["otlp"], "processors": [PROCESSOR], "exporters": ["file"]},
            "logs": {"receivers": ["otlp"], "processors": [PROCESSOR], "exporters": ["file"]},
        },
    )


def guest_counter(c, name: str) -> float:
    # The label is called `name`, which Collector.metric() takes for itself.
    text = requests.get(f"http://127.0.0.1:{c.metrics_port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("tracemend_wasm_guest_counter_total{")
                and f'processor="{PROCESSOR}"' in line and f'name="{name}"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def plain(value: dict):
    """An OTLP/JSON AnyValue as a Python value (arrays and kvlists included)."""
    (kind, v), = value.items()
    if kind == "arrayValue":
        return [plain(x) for x in v.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: plain(kv["value"]) for kv in v.get("values", [])}
    return int(v) if kind == "intValue" else v


def plain_attrs(kvs) -> dict:
    return {kv["key"]: plain(kv["value"]) for kv in kvs or []}


def test_a_rolling_deploy_is_symbolized_per_commit_from_real_python_traces(tmp_path, collectors):
    commits = make_repo(tmp_path)
    out = tmp_path / "out.jsonl"
    c = symbolize_collector(
        collectors, out,
        indexes=[{"service": "shop", "commit": commits[n]["sha"], "data": f"shop_{n}"} for n in "ab"],
        grants={f"shop_{n}": str(commits[n]["index"]) for n in "ab"},
    )
    start(c, tmp_path)
    truth = {}
    for n in "ab":
        # Commit A's service reports its short sha, B's the full one.
        sha = commits[n]["sha"] if n == "b" else commits[n]["sha"][:9]
        r = subprocess.run([sys.executable, "-c", EMIT_PY, c.http_endpoint, str(commits[n]["deploy"]),
                            sha], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        truth[n] = json.loads(r.stdout.strip().splitlines()[-1])
    assert truth["b"]["raise"]["line"] == truth["a"]["raise"]["line"] + 2
    wait_for(lambda: guest_counter(c, "symbolize.enriched.exception") == 4,
             what="two spans and two logs symbolized")
    assert guest_counter(c, "symbolize.enriched.code") == 2
    assert guest_counter(c, "symbolize.index.loaded") == 2
    assert c.metric("tracemend_wasm_faults_total", processor=PROCESSOR) == 0
    assert c.stop() == 0, c.log()

    spans = spans_in(out)
    by = {}
    for s in spans:
        res = attrs(s["resource"]["attributes"])
        commit = "a" if commits["a"]["sha"].startswith(res["vcs.ref.head.revision"]) else "b"
        by[(commit, s["span"]["name"])] = plain_attrs(s["span"]["attributes"])
    assert len(by) == 6, sorted(by)
    ids, fingerprints = set(), set()
    for n in "ab":
        failed = by[(n, "POST /orders")]
        raised = truth[n]["raise"]
        assert raised["file"] == str(commits[n]["deploy"] / "shop" / "orders.py")
        assert failed["code.function.name"] == "shop.orders.Order.total", failed
        assert failed["code.file.path"] == "shop/orders.py"
        assert failed["code.line.number"] == raised["line"]
        assert failed["tracemend.symbol.name"] == "shop.orders.Order.total"
        assert failed["tracemend.code.owners"] == ["@shop-team", "@payments"]
        assert failed["tracemend.code.commit"] == commits[n]["sha"]
        # B only added lines above it: blame still gives A as the last change of `total`.
        assert failed["tracemend.symbol.last_change.commit"] == commits["a"]["sha"]
        assert isinstance(failed["tracemend.symbol.last_change.time"], int)
        frames = failed["tracemend.exception.frames"]
        assert frames[0]["function"] == "total" and frames[0]["line"] == raised["line"], frames
        assert frames[0]["in_app"] is True and frames[0]["file"] == "shop/orders.py"
        assert frames[0]["symbol_id"] == failed["tracemend.symbol.id"]
        assert frames[1]["function"] == "place" and frames[1]["symbol"] == "shop.orders.place"
        ids.add(failed["tracemend.symbol.id"])
        fingerprints.add(failed["tracemend.exception.fingerprint"])

        # code.* without an exception: the old attribute names, a line inside `place`.
        coded = by[(n, "place")]
        assert coded["tracemend.symbol.name"] == "shop.orders.place", coded
        assert coded["tracemend.code.owners"] == ["@shop-team", "@payments"]
        assert coded["code.lineno"] == truth[n]["place_line"] + 1, "input is left as it was"
        assert "code.line.number" not in coded
        assert not any(k.startswith("tracemend.") for k in by[(n, "healthz")]), by[(n, "healthz")]
    # The id and the fingerprint survive a deploy that only moves lines.
    assert len(ids) == 1 and len(next(iter(ids))) == 16, ids
    assert len(fingerprints) == 1 and len(next(iter(fingerprints))) == 32, fingerprints

    logs = logs_in(out)
    assert len(logs) == 2, logs
    for rec in logs:
        la = plain_attrs(rec["log"]["attributes"])
        n = "b" if la["tracemend.code.commit"] == commits["b"]["sha"] else "a"
        assert la["code.function.name"] == "shop.orders.Order.total", la
        assert la["code.line.number"] == truth[n]["raise"]["line"]
        assert la["tracemend.symbol.id"] in ids


def real_traceback(deploy) -> str:
    code = ("import sys, traceback\nsys.path.insert(0, sys.argv[1])\nimport shop.orders as o\n"
            "try:\n    o.place([])\nexcept ValueError:\n    print(traceback.format_exc(), end='')\n")
    r = subprocess.run([sys.executable, "-c", code, str(deploy)], capture_output=True, text=True,
                       timeout=60, check=True)
    assert "ValueError: empty order" in r.stdout, r.stdout
    return r.stdout


def exception_span(i, name, service, commit, stacktrace):
    resource = [{"key": "service.name", "value": {"stringValue": service}},
                {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}}]
    if commit:
        resource.append({"key": "vcs.ref.head.revision", "value": {"stringValue": commit}})
    span = {
        "traceId": "ab" * 16, "spanId": f"{i + 1:016x}", "name": name,
        "kind": 2, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000",
        "attributes": [{"key": "case", "value": {"stringValue": name}}],
        "events": [{"name": "exception", "timeUnixNano": "1700000000050000000", "attributes": [
            {"key": "exception.type", "value": {"stringValue": "ValueError"}},
            {"key": "exception.stacktrace", "value": {"stringValue": stacktrace}},
        ]}],
    }
    return {"resource": {"attributes": resource}, "scopeSpans": [{"scope": {"name": "e2e"}, "spans": [span]}]}


def test_bad_inputs_pass_unchanged_and_are_counted(tmp_path, collectors):
    commits = make_repo(tmp_path)
    a, b = commits["a"]["sha"], commits["b"]["sha"]
    garbage = tmp_path / "garbage.idx"
    garbage.write_bytes(b"\x00not a symbol index\xff" * 64)
    out = tmp_path / "out.jsonl"
    c = symbolize_collector(
        collectors, out,
        indexes=[
            {"service": "shop", "commit": a, "data": "shop_a"},
            {"service": "shop", "commit": b, "data": "corrupt"},
            {"service": "cart", "commit": a, "data": "never_granted"},
            {"service": "billing", "commit": b, "data": "shop_a"},  # A's index named as B's
        ],
        grants={"shop_a": str(commits["a"]["index"]), "corrupt": str(garbage)},
    )
    start(c, tmp_path)
    trace = real_traceback(commits["a"]["deploy"])
    cases = {
        "symbolize.unchanged.unknown_commit": ("shop", "f" * 40, trace),
        "symbolize.unchanged.no_commit": ("shop", None, trace),
        "symbolize.unchanged.corrupt_blob": ("shop", b, trace),
        "symbolize.unchanged.missing_blob": ("cart", a, trace),
        "symbolize.unchanged.commit_mismatch": ("billing", b, trace),
        "symbolize.unchanged.outside_index": ("shop", a, trace.replace(", line ", ", line 9")),
        "symbolize.unchanged.unparsable_trace": ("shop", a, "segfault at 0x0, no stack\n"),
        "symbolize.unchanged.no_in_app_frame": (
            "shop", a, trace.replace(str(commits["a"]["deploy"]), "/usr/lib/python3/site-packages/vendored")),
    }
    rows = [(counter, *case) for counter, case in cases.items()] + [("good", "shop", a, trace)]
    body = {"resourceSpans": [exception_span(i, *row) for i, row in enumerate(rows)]}
    r = requests.post(f"{c.http_endpoint}/v1/traces", json=body, timeout=10)
    assert r.status_code == 200, r.text
    # Twice: a failed blob is remembered, not read again, and counted again.
    r = requests.post(f"{c.http_endpoint}/v1/traces", json=body, timeout=10)
    assert r.status_code == 200, r.text
    wait_for(lambda: guest_counter(c, "symbolize.enriched.exception") == 2, what="the good span twice")
    for counter in cases:
        assert guest_counter(c, counter) == 2, counter
    assert guest_counter(c, "symbolize.index.loaded") == 1
    assert c.metric("tracemend_wasm_faults_total", processor=PROCESSOR) == 0
    assert c.stop() == 0, c.log()

    spans = spans_in(out)
    assert len(spans) == 2 * len(body["resourceSpans"])
    for s in spans:
        got = plain_attrs(s["span"]["attributes"])
        if got["case"] == "good":
            assert got["code.function.name"] == "shop.orders.Order.total", got
        else:
            assert got == {"case": got["case"]}, f"{got['case']} was changed: {got}"
