import pytest

from app import app
from pricing import price_cart

CART = {"lines": [{"sku": "A", "unit_price": 10.0, "quantity": 3}]}


def test_price_without_flag():
    assert price_cart(CART, "platinum") == {"subtotal": 30.0, "discount": 0.0, "total": 30.0}


def test_gold_discount_with_flag(monkeypatch):
    monkeypatch.setenv("TRACEMEND_FEATURE_FLAGS", '{"tiered_pricing": true}')
    assert price_cart(CART, "gold") == {"subtotal": 30.0, "discount": 3.0, "total": 27.0}


@pytest.mark.parametrize("tier", ["standard", "silver"])
def test_quote_route(tier):
    resp = app.test_client().post("/quote", json={"customer": {"id": "c-1", "tier": tier}, "cart": CART})
    assert resp.status_code == 200
    assert resp.get_json()["total"] == 30.0
