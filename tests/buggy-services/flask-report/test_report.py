from app import app
from samples import latencies_for


def test_latencies_filter_by_route():
    assert latencies_for("checkout", "/cart") == [41.0, 55.5]


def test_report_for_known_service():
    resp = app.test_client().get("/reports/latency?service=search")
    assert resp.status_code == 200
    assert resp.get_json() == {"service": "search", "count": 2, "median_ms": 20.5, "max_ms": 23.0}
