"""Recorded latency samples (stands in for the metrics store)."""

SAMPLES = [
    ("checkout", "/cart", 41.0),
    ("checkout", "/cart", 55.5),
    ("checkout", "/pay", 230.0),
    ("search", "/search", 18.0),
    ("search", "/search", 23.0),
]


def latencies_for(service, route=None):
    return [ms for svc, rt, ms in SAMPLES if svc == service and (route is None or rt == route)]
