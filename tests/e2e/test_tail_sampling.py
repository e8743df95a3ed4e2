"""`tail_sampling` in the real binary: a generated stream with a known answer, a flood
beyond `num_traces`, and the contrib README's policy examples through `tracemend validate`.

The sampler is the built-in guest (embedded by wasm-host/build.rs), so the configs here
are contrib YAML with no `module:`.
"""

import random
import subprocess

import requests

from conftest import binary, spans_in, wait_for

ERROR, OK, UNSET = 2, 1, 0
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def post_spans(c, groups):
    """One OTLP/JSON request; `groups` is a list of (service, [span dict])."""
    body = {"resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
            "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}],
        }
        for svc, spans in groups
    ]}
    r = requests.post(f"{c.http_endpoint}/v1/traces", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r


def span(trace: int, n: int, start_ms: int, dur_ms: int, status=UNSET, attrs=None):
    s = {
        "traceId": f"{trace:032x}",
        "spanId": f"{trace:08x}{n:08x}",
        "name": f"op-{n}",
        "kind": 2,
        "startTimeUnixNano": str(T0 + start_ms * MS),
        "endTimeUnixNano": str(T0 + (start_ms + dur_ms) * MS),
        "attributes": [{"key": k, "value": v} for k, v in (attrs or {}).items()],
    }
    if status:
        s["status"] = {"code": status}
    return s


POLICIES = [
    {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
    {"name": "slow", "type": "latency", "latency": {"threshold_ms": 500}},
    {"name": "gold", "type": "string_attribute",
     "string_attribute": {"key": "tenant", "values": ["gold"]}},
    {"name": "retried", "type": "numeric_attribute",
     "numeric_attribute": {"key": "retries", "min_value": 3, "max_value": 10}},
    {"name": "no-health", "type": "drop", "drop": {"drop_sub_policy": [
        {"name": "health", "type": "string_attribute",
         "string_attribute": {"key": "http.route", "values": ["/health"]}},
    ]}},
]


def generate(seed: int, n: int):
    """Traces with a known answer: (trace id -> [(service, span)], kept ids, policy)."""
    rng = random.Random(seed)
    traces, kept = {}, {}
    for t in range(1, n + 1):
        tid = 0xA000_0000 + t
        spans, reasons = [], []
        count = rng.randint(1, 6)
        # Whole-trace latency: the earliest start to the latest end, over every span.
        slow = rng.random() < 0.15
        error = rng.random() < 0.15
        gold = rng.random() < 0.1
        retries = rng.choice([None, None, None, 1, 2, 3, 7, 11])
        health = rng.random() < 0.1
        for k in range(count):
            start = k * 20
            dur = 600 if (slow and k == count - 1) else rng.randint(1, 100)
            a = {}
            if gold and k == 0:
                a["tenant"] = {"stringValue": "gold"}
            if retries is not None and k == count - 1:
                a["retries"] = {"intValue": str(retries)}
            if health and k == 0:
                a["http.route"] = {"stringValue": "/health"}
            st = ERROR if (error and k == count // 2) else rng.choice([OK, UNSET])
            svc = "front" if k == 0 else rng.choice(["cart", "pay"])
            spans.append((svc, span(tid, k, start, dur, st, a)))
        slow = slow or any(int(s["endTimeUnixNano"]) - T0 > 500 * MS for _, s in spans)
        if error:
            reasons.append("errors")
        if slow:
            reasons.append("slow")
        if gold:
            reasons.append("gold")
        if retries is not None and 3 <= retries <= 10:
            reasons.append("retried")
        traces[tid] = spans
        if reasons and not health:
            kept[tid] = reasons
    return traces, kept


def test_generated_stream_keeps_exactly_the_expected_traces_and_late_spans_follow(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"tail_sampling": {"decision_wait": "2s", "num_traces": 10000,
                                      "record_policy": True, "policies": POLICIES}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["tail_sampling"],
                              "exporters": ["file"]}},
    ).start()
    traces, kept = generate(seed=5, n=120)
    assert 20 < len(kept) < 100, "the generator should keep some and drop some"

    # Every span of every trace, shuffled (children before roots, a trace across
    # batches and resources), sent in batches of 17.
    all_spans = [(tid, svc, s) for tid, spans in traces.items() for svc, s in spans]
    random.Random(7).shuffle(all_spans)
    for i in range(0, len(all_spans), 17):
        post_spans(c, [(svc, [s]) for _, svc, s in all_spans[i:i + 17]])

    wait_for(lambda: c.metric("tracemend_tail_sampling_traces_decided_total") == len(traces),
             timeout=20, what="every trace decided")
    assert c.metric("tracemend_tail_sampling_early_decisions_total") == 0
    assert c.metric("tracemend_tail_sampling_traces_held") == 0

    # Late spans: one more span for 10 kept and 10 dropped traces, after the decision.
    dropped = [t for t in traces if t not in kept]
    late_kept, late_dropped = sorted(kept)[:10], dropped[:10]
    post_spans(c, [("late", [span(t, 99, 0, 1) for t in late_kept + late_dropped])])
    wait_for(lambda: c.metric("tracemend_tail_sampling_late_spans_total", outcome="sampled") == 10,
             timeout=10, what="late spans of kept traces counted")
    assert c.metric("tracemend_tail_sampling_late_spans_total", outcome="not_sampled") == 10
    assert c.stop() == 0, c.log()

    got = spans_in(out)
    by_trace = {}
    for s in got:
        by_trace.setdefault(int(s["span"]["traceId"], 16), []).append(s)
    assert sorted(by_trace) == sorted(kept), "exactly the expected traces are kept"
    for tid, spans in by_trace.items():
        want = {s["spanId"] for _, s in traces[tid]}
        if tid in late_kept:
            want.add(f"{tid:08x}{99:08x}")
        assert sorted(s["span"]["spanId"] for s in spans) == sorted(want), f"trace {tid:x} whole"
        policies = {a["value"]["stringValue"] for s in spans for a in s["span"]["attributes"]
                    if a["key"] == "tailsampling.policy"}
        assert len(policies) == 1 and policies <= set(kept[tid]), (tid, policies, kept[tid])


def test_flood_beyond_num_traces_decides_early_and_keeps_serving(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"tail_sampling": {"decision_wait": "60s", "num_traces": 100,
                                      "policies": [{"name": "all", "type": "always_sample"}]}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["tail_sampling"],
                              "exporters": ["file"]}},
    ).start()
    held_seen = []
    for b in range(40):
        post_spans(c, [("flood", [span(0xF000_0000 + b * 50 + i, 0, 0, 1) for i in range(50)])])
        if b % 5 == 4:
            held_seen.append(c.metric("tracemend_tail_sampling_traces_held"))
    assert max(held_seen) <= 100, held_seen
    assert c.metric("tracemend_tail_sampling_traces_held") == 100
    early = c.metric("tracemend_tail_sampling_early_decisions_total", cause="num_traces")
    assert early == 2000 - 100
    # Early decisions are decisions, not drops: what the policy keeps goes out now.
    wait_for(lambda: len(spans_in(out)) == 1900, timeout=10, what="early-decided traces exported")
    # Still serving: health is up and a new batch is taken.
    assert requests.get(f"http://127.0.0.1:{c.health_port}/", timeout=2).status_code == 200
    post_spans(c, [("after", [span(0xFFFF_0001, 0, 0, 1)])])
    assert c.stop() == 0, c.log()
    # Shutdown decides what is still held rather than losing it.
    ids = {int(s["span"]["traceId"], 16) for s in spans_in(out)}
    assert len(ids) == 2001


CONTRIB_README_EXAMPLE = r"""
    tail_sampling:
      decision_wait: 10s
      num_traces: 100
      expected_new_traces_per_sec: 10
      decision_cache:
        sampled_cache_size: 100_000
        non_sampled_cache_size: 100_000
      policies:
        [
            {name: test-policy-1, type: always_sample},
            {name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}},
            {name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}},
            {name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}},
            {name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}},
            {name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
            {name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}},
            {name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35}},
            {name: test-policy-9, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}},
            {name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}},
            {name: test-policy-11, type: trace_state, trace_state: { key: key3, values: [value1, value2] }},
            {name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}},
            {
              name: test-policy-13,
              type: ottl_condition,
              ottl_condition: {
                error_mode: ignore,
                span: [
                  "attributes[\"test_attr_key_1\"] == \"test_attr_val_1\"",
                  "attributes[\"test_attr_key_2\"] != \"test_attr_val_1\"",
                ],
                spanevent: [
                  "name != \"test_span_event_name\"",
                  "attributes[\"test_event_attr_key_2\"] != \"test_event_attr_val_1\"",
                ]
              }
            },
            {
              name: and-policy-1, type: and,
              and: {and_sub_policy: [
                {name: test-and-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 }},
                {name: test-and-policy-2, type: string_attribute, string_attribute: { key: key2, values: [ value1, value2 ] }},
              ]}
            },
            {
              name: drop-policy-1, type: drop,
              drop: {drop_sub_policy: [
                {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}
              ]}
            },
            {
              name: composite-policy-1, type: composite,
              composite: {
                max_total_spans_per_second: 1000,
                policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
                composite_sub_policy: [
                  {name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}},
                  {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
                  {name: test-composite-policy-3, type: always_sample}
                ],
                rate_allocation: [
                  {policy: test-composite-policy-1, percent: 50},
                  {policy: test-composite-policy-2, percent: 25}
                ]
              }
            },
        ]
"""


def validate(tmp_path, processor_yaml: str, signal: str = "traces"):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "receivers:\n  otlp:\n    protocols:\n      http:\n"
        "processors:\n" + processor_yaml +
        "exporters:\n  debug:\n"
        "service:\n  pipelines:\n    " + signal + ":\n      receivers: [otlp]\n"
        "      processors: [tail_sampling]\n      exporters: [debug]\n")
    r = subprocess.run([binary(), "validate", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=120)
    return r, cfg


def test_contrib_readme_policies_validate_as_written(tmp_path):
    # Its ottl_condition policy included: the host compiles the OTTL conditions.
    assert "ottl_condition" in CONTRIB_README_EXAMPLE
    r, _ = validate(tmp_path, CONTRIB_README_EXAMPLE)
    assert r.returncode == 0, r.stderr
    assert "The configuration is valid." in r.stdout


def test_ottl_condition_policies_decide_traces(tmp_path, collectors):
    out = tmp_path / "out.jsonl"
    policies = [
        {"name": "gold", "type": "ottl_condition", "ottl_condition": {
            "span": ['attributes["tenant"] == "gold"', 'resource.attributes["service.name"] == "vip"']}},
        {"name": "failed-pay", "type": "and", "and": {"and_sub_policy": [
            {"name": "pay", "type": "string_attribute", "string_attribute": {"key": "service.name", "values": ["pay"]}},
            {"name": "exc", "type": "ottl_condition", "ottl_condition": {
                "error_mode": "ignore", "spanevent": ['name == "exception"']}},
        ]}},
    ]
    c = collectors(
        exporters={"file": {"path": str(out)}},
        processors={"tail_sampling": {"decision_wait": "1s", "record_policy": True, "policies": policies}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["tail_sampling"], "exporters": ["file"]}},
    ).start()
    exc = span(0xB3, 1, 10, 5)
    exc["events"] = [{"name": "exception", "timeUnixNano": str(T0 + 12 * MS)}]
    exc_cart = span(0xB4, 1, 10, 5)
    exc_cart["events"] = [{"name": "exception", "timeUnixNano": str(T0 + 12 * MS)}]
    post_spans(c, [
        ("front", [span(0xB1, 0, 0, 5, attrs={"tenant": {"stringValue": "gold"}}), span(0xB1, 1, 1, 5)]),
        ("vip", [span(0xB2, 0, 0, 5)]),
        ("pay", [span(0xB3, 0, 0, 50), exc]),
        ("cart", [exc_cart]),
        ("front", [span(0xB5, 0, 0, 5, attrs={"tenant": {"stringValue": "silver"}})]),
    ])
    want = {f"{0xB1:032x}": "gold", f"{0xB2:032x}": "gold", f"{0xB3:032x}": "failed-pay"}

    def kept():
        got = {}
        for s in spans_in(out):
            a = {kv["key"]: kv["value"].get("stringValue") for kv in s["span"].get("attributes", [])}
            got[s["span"]["traceId"]] = a.get("tailsampling.policy")
        return got if set(got) >= set(want) else None

    got = wait_for(kept, timeout=30, what="the traces the OTTL policies keep")
    # The other two were decided in the same pass: give the timer one more period.
    wait_for(lambda: c.metric("tracemend_tail_sampling_traces_decided_total") >= 5, timeout=30,
             what="every trace decided")
    assert kept() == want, kept()


def test_unknown_types_bad_regex_and_wrong_signal_fail_with_their_path(tmp_path):
    r, cfg = validate(tmp_path, "  tail_sampling:\n    policies:\n"
                      "      - {name: p1, type: always_sample}\n"
                      "      - {name: fancy, type: span_kind_magic}\n")
    assert r.returncode != 0
    assert "processors.tail_sampling" in r.stderr and str(cfg) in r.stderr, r.stderr
    assert "span_kind_magic" in r.stderr and "fancy" in r.stderr, r.stderr

    r, _ = validate(tmp_path, "  tail_sampling:\n    policies:\n"
                    "      - name: re\n        type: string_attribute\n"
                    "        string_attribute: {key: k, values: ['(unclosed'], enabled_regex_matching: true}\n")
    assert r.returncode != 0
    assert "processors.tail_sampling" in r.stderr and "(unclosed" in r.stderr, r.stderr

    r, _ = validate(tmp_path, "  tail_sampling:\n    policies: [{name: a, type: always_sample}]\n",
                    signal="logs")
    assert r.returncode != 0
    assert "tail_sampling" in r.stderr and "does not support logs" in r.stderr, r.stderr

    r, _ = validate(tmp_path, "  tail_sampling:\n    num_traces: 0\n    policies: []\n")
    assert r.returncode != 0
    assert "processors.tail_sampling.num_traces" in r.stderr, r.stderr
    assert "processors.tail_sampling.policies" in r.stderr, r.stderr


def test_bad_ottl_condition_stops_startup_with_its_path(tmp_path, collectors):
    c = collectors(
        exporters={"debug": {}},
        processors={"tail_sampling": {"policies": [{"name": "x", "type": "ottl_condition",
                                                    "ottl_condition": {"span": ["nme == 1"]}}]}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["tail_sampling"],
                              "exporters": ["debug"]}},
    )
    p = subprocess.run([binary(), "--config", str(c.config_path)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode != 0
    assert "processors.tail_sampling" in p.stderr, p.stderr
    assert "policies[0].ottl_condition.span[0]" in p.stderr and "nme" in p.stderr, p.stderr
