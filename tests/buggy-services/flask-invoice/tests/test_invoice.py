from invoice import create_app
from invoice.parse import parse_line
from invoice.totals import average, summarize


def test_parse_line_multiplies_quantity():
    assert parse_line({"sku": "X", "amount": "2.50", "quantity": 4, "billable": "true"}) == {
        "sku": "X",
        "amount": 10.0,
        "billable": True,
    }


def test_summarize_counts_only_billable_lines():
    lines = [
        {"sku": "A", "amount": 10.0, "billable": True},
        {"sku": "B", "amount": 99.0, "billable": False},
        {"sku": "C", "amount": 20.0, "billable": True},
    ]
    assert summarize(lines) == {"lines": 3, "billable_lines": 2, "total": 30.0, "average_billable": 15.0}


def test_average():
    assert average(10.0, 3) == 3.33


def test_summary_route():
    client = create_app().test_client()
    body = {"lines": [{"sku": "A", "amount": "5", "quantity": 2, "billable": "true"}]}
    resp = client.post("/invoices/inv-1/summary", json=body)
    assert resp.status_code == 200
    assert resp.get_json()["average_billable"] == 10.0
