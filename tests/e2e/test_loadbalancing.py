"""Two tiers of real `tracemend` processes: a `loadbalancing` front routes by trace id to
two backends that do tail sampling. Every span of a trace lands on one backend, kept
traces are whole, and a backend that stops while the front holds its data loses nothing,
whether it comes back or is removed from the front's list.
"""

import random

from conftest import spans_in, wait_for
from test_tail_sampling import ERROR, OK, post_spans, span

BACKENDS = ("b1", "b2")


def backend(collectors, tmp_path, name):
    """A sampling backend: `all.jsonl` gets every span it received, `kept.jsonl` what the
    tail sampler kept. Files append, so a restarted backend keeps its earlier output."""
    return collectors(
        name=name,
        exporters={
            "file/all": {"path": str(tmp_path / name / "all.jsonl"), "append": True},
            "file/kept": {"path": str(tmp_path / name / "kept.jsonl"), "append": True},
        },
        processors={"tail_sampling": {"decision_wait": "1s", "policies": [
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
        ]}},
        pipelines={
            "traces/all": {"receivers": ["otlp"], "exporters": ["file/all"]},
            "traces/sampled": {"receivers": ["otlp"], "processors": ["tail_sampling"],
                               "exporters": ["file/kept"]},
        },
    )


def front(collectors, name, hostnames, extensions=None, queue=None):
    return collectors(
        name=name,
        exporters={"loadbalancing": {
            "routing_key": "traceID",
            "protocol": {"otlp": {
                "tls": {"insecure": True},
                "timeout": "1s",
                "sending_queue": queue or {"num_consumers": 4},
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "300ms",
                                     "max_elapsed_time": "0s"},
            }},
            "resolver": {"static": {"hostnames": hostnames}},
        }},
        extensions=extensions,
        pipelines={"traces": {"receivers": ["otlp"], "exporters": ["loadbalancing"]}},
    )


def traces(first: int, n: int, spans_per_trace=4, seed=1):
    """n traces of `spans_per_trace` spans; every third has an error span."""
    out = {}
    for t in range(first, first + n):
        out[t] = [span(t, k, k * 10, 5, ERROR if (t % 3 == 0 and k == 2) else OK)
                  for k in range(spans_per_trace)]
    return out


def send_shuffled(c, trs, seed=3, per_batch=23):
    flat = [s for spans in trs.values() for s in spans]
    random.Random(seed).shuffle(flat)
    for i in range(0, len(flat), per_batch):
        post_spans(c, [("svc", flat[i:i + per_batch])])


def where(tmp_path, file):
    """trace id -> {backend: set of span ids} over the backends' `file` outputs."""
    seen = {}
    for b in BACKENDS:
        for s in spans_in(tmp_path / b / file):
            t = int(s["span"]["traceId"], 16)
            seen.setdefault(t, {}).setdefault(b, set()).add(s["span"]["spanId"])
    return seen


def count_spans(tmp_path, file):
    return sum(len(spans_in(tmp_path / b / file)) for b in BACKENDS)


def test_every_span_of_a_trace_lands_on_one_backend_and_kept_traces_are_whole(tmp_path, collectors):
    b1 = backend(collectors, tmp_path, "b1").start()
    b2 = backend(collectors, tmp_path, "b2").start()
    f = front(collectors, "front", [b1.grpc_endpoint, b2.grpc_endpoint]).start()
    trs = traces(1, 150)
    send_shuffled(f, trs)
    total = sum(len(s) for s in trs.values())
    wait_for(lambda: count_spans(tmp_path, "all.jsonl") == total, timeout=20,
             what="every span at a backend")
    for b in (b1, b2):
        wait_for(lambda b=b: b.metric("tracemend_tail_sampling_traces_held") == 0
                 and b.metric("tracemend_tail_sampling_traces_decided_total") > 0,
                 timeout=15, what=f"{b.name} decided")
    assert f.stop() == 0, f.log()
    assert b1.stop() == 0 and b2.stop() == 0

    seen = where(tmp_path, "all.jsonl")
    assert sorted(seen) == sorted(trs)
    for t, backends in seen.items():
        assert len(backends) == 1, f"trace {t} split over {sorted(backends)}"
    per_backend = {b: sum(1 for v in seen.values() if b in v) for b in BACKENDS}
    assert min(per_backend.values()) > 20, per_backend

    kept = where(tmp_path, "kept.jsonl")
    assert sorted(kept) == sorted(t for t in trs if t % 3 == 0)
    for t, backends in kept.items():
        (b, ids), = backends.items()
        assert ids == {s["spanId"] for s in trs[t]}, f"kept trace {t} is not whole"
        assert b in seen[t]


def test_backend_that_stops_and_returns_gets_its_traces(tmp_path, collectors):
    b1 = backend(collectors, tmp_path, "b1").start()
    b2 = backend(collectors, tmp_path, "b2").start()
    f = front(collectors, "front", [b1.grpc_endpoint, b2.grpc_endpoint]).start()
    assert b2.stop() == 0
    trs = traces(1000, 120)
    send_shuffled(f, trs)
    total = sum(len(s) for s in trs.values())
    # b1's share arrives while b2 is down; the rest waits in the front's queue.
    wait_for(lambda: 0 < count_spans(tmp_path, "all.jsonl") < total and
             f.metric("otelcol_exporter_queue_size", exporter="loadbalancing") > 0,
             timeout=15, what="b1's share delivered, b2's queued")
    b2.start()
    wait_for(lambda: count_spans(tmp_path, "all.jsonl") >= total, timeout=30,
             what="b2's share delivered after it returned")
    assert f.stop() == 0, f.log()
    assert b1.stop() == 0 and b2.stop() == 0
    seen = where(tmp_path, "all.jsonl")
    assert sorted(seen) == sorted(trs)
    for t, backends in seen.items():
        assert len(backends) == 1, f"trace {t} split over {sorted(backends)}"
        (ids,) = backends.values()
        assert ids == {s["spanId"] for s in trs[t]}


def test_backend_removed_while_its_data_is_queued_loses_nothing(tmp_path, collectors):
    b1 = backend(collectors, tmp_path, "b1").start()
    b2 = backend(collectors, tmp_path, "b2").start()
    storage = {"file_storage": {"directory": str(tmp_path / "queue"), "create_directory": True}}
    queue = {"storage": "file_storage", "num_consumers": 2}
    f = front(collectors, "front", [b1.grpc_endpoint, b2.grpc_endpoint], storage, queue).start()
    assert b2.stop() == 0
    trs = traces(5000, 80)
    send_shuffled(f, trs)
    wait_for(lambda: count_spans(tmp_path, "all.jsonl") > 0, timeout=15, what="b1's share")
    # Stopping leaves b2's undelivered data in the persisted queue ...
    assert f.stop() == 0, f.log()
    assert list((tmp_path / "queue").rglob("*")), "the queue kept data on disk"
    # ... and the front, restarted without b2, re-hashes all of it to b1.
    f2 = front(collectors, "front2", [b1.grpc_endpoint], storage, queue).start()
    total_ids = {(t, s["spanId"]) for t, spans in trs.items() for s in spans}

    def delivered():
        got = {(int(s["span"]["traceId"], 16), s["span"]["spanId"])
               for s in spans_in(tmp_path / "b1" / "all.jsonl")}
        return total_ids <= got
    wait_for(delivered, timeout=30, what="every span at b1")
    assert f2.stop() == 0, f2.log()
    assert b1.stop() == 0


def dns_front(collectors, name, hostname, port):
    """A front whose backends come from DNS (the system resolver, as in a Kubernetes
    headless service), with contrib's exporter-level queue and retry settings."""
    return collectors(
        name=name,
        exporters={"loadbalancing": {
            "protocol": {"otlp": {"tls": {"insecure": True}}},
            "resolver": {"dns": {"hostname": hostname, "port": str(port), "interval": "200ms"}},
            "timeout": "1s",
            "sending_queue": {"num_consumers": 2, "queue_size": 100},
            "retry_on_failure": {"initial_interval": "100ms", "max_interval": "300ms",
                                 "max_elapsed_time": "0s"},
        }},
        pipelines={"traces": {"receivers": ["otlp"], "exporters": ["loadbalancing"]}},
    )


def test_dns_resolver_routes_to_what_the_name_resolves_to(tmp_path, collectors):
    b1 = backend(collectors, tmp_path, "b1").start()
    port = int(b1.grpc_endpoint.rsplit(":", 1)[1])
    # `localhost` resolves through the system resolver (getaddrinfo) to 127.0.0.1.
    f = dns_front(collectors, "front", "localhost", port).start()
    trs = traces(7000, 30)
    send_shuffled(f, trs)
    total = sum(len(s) for s in trs.values())
    wait_for(lambda: count_spans(tmp_path, "all.jsonl") == total, timeout=20,
             what="every span at the backend DNS named")
    assert f.metric("otelcol_loadbalancer_num_resolutions_total", resolver="dns",
                    success="true") >= 1
    assert f.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 1
    assert f.metric("otelcol_loadbalancer_backend_sent_spans_total",
                    endpoint=f"127.0.0.1:{port}") == total
    assert f.stop() == 0, f.log()
    assert b1.stop() == 0


def test_unresolvable_name_holds_data_and_says_why(tmp_path, collectors):
    # `.invalid` never resolves (RFC 6761): the front must start, accept, hold the data
    # (in its queue, or in a queue consumer waiting for a backend) and say what is wrong,
    # not drop it.
    f = dns_front(collectors, "front", "backends.invalid", 4317).start()
    trs = traces(8000, 5)
    send_shuffled(f, trs)
    total = sum(len(s) for s in trs.values())
    wait_for(lambda: f.metric("otelcol_loadbalancer_num_resolutions_total", resolver="dns",
                              success="false") >= 2, timeout=15, what="failed resolutions")
    assert f.metric("otelcol_receiver_accepted_spans_total") == total
    assert f.metric("otelcol_loadbalancer_num_backends", resolver="dns") == 0
    assert f.metric("otelcol_exporter_sent_spans_total") == 0
    assert f.metric("otelcol_exporter_send_failed_spans_total") == 0, "nothing given up yet"
    assert "Cannot resolve the backends" in f.log() or "timed out" in f.log(), f.log()
    f.stop()
