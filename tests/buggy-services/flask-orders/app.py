"""Orders service: takes an order, prices it and quotes its shipping."""

import os

from flask import Flask, jsonify, request

# Flat rate per destination country, plus a per-kilogram charge.
SHIPPING_RATES = {"DE": 4.90, "FR": 5.90, "NL": 5.50, "US": 12.00}
PER_KG = 0.80

app = Flask(__name__)


def subtotal(items):
    return round(sum(item["price"] * item["quantity"] for item in items), 2)


def shipping_cost(country, items):
    weight = sum(item.get("weight_kg", 0.5) * item["quantity"] for item in items)
    return round(SHIPPING_RATES.get(country, 15.00) + weight * PER_KG, 2)


@app.post("/orders")
def create_order():
    order = request.get_json(force=True)
    items = order["items"]
    country = order["customer"]["address"]["country"]
    net = subtotal(items)
    shipping = shipping_cost(country, items)
    return (
        jsonify(
            {
                "id": order["id"],
                "subtotal": net,
                "shipping": shipping,
                "total": round(net + shipping, 2),
            }
        ),
        201,
    )


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
