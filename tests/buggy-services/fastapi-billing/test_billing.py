import pytest
from fastapi.testclient import TestClient

from app import app
from payments import parse_payment
from quote import apply_fee, fee_rate

client = TestClient(app)


def test_apply_fee():
    assert apply_fee(100, 0.029) == 102.9


def test_cross_border_fee():
    assert fee_rate({"method": "sepa", "country": "US"}) == pytest.approx(0.018)


def test_parse_payment_defaults():
    parsed = parse_payment({"payment": {"amount": 10, "method": {"type": "card"}}})
    assert parsed == {"amount": 10, "currency": "EUR", "method": "card", "country": "DE"}


def test_quote_route():
    body = {"payment": {"amount": 50.0, "currency": "EUR", "method": {"type": "card"}}, "billing": {"country": "FR"}}
    resp = client.post("/charges/quote", json=body)
    assert resp.status_code == 200
    assert resp.json()["total"] == 51.45
