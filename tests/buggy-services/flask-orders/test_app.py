from app import app, shipping_cost, subtotal


def order(**customer):
    return {
        "id": "o-1",
        "customer": {"id": "c-1", "address": {"city": "Berlin", "country": "DE"}, **customer},
        "items": [{"sku": "A", "price": 10.0, "quantity": 2, "weight_kg": 1.0}],
    }


def test_subtotal():
    assert subtotal([{"price": 2.5, "quantity": 4}, {"price": 1.0, "quantity": 1}]) == 11.0


def test_shipping_unknown_country_uses_default_rate():
    assert shipping_cost("JP", [{"quantity": 1, "weight_kg": 1.0}]) == 15.8


def test_create_order():
    client = app.test_client()
    resp = client.post("/orders", json=order())
    assert resp.status_code == 201
    assert resp.get_json() == {"id": "o-1", "subtotal": 20.0, "shipping": 6.5, "total": 26.5}
