"""Pricing service: prices a cart for a customer, with tiered discounts behind a flag."""

import os

from flask import Flask, jsonify, request

from pricing import price_cart

app = Flask(__name__)


@app.post("/quote")
def quote():
    body = request.get_json(force=True)
    result = price_cart(body["cart"], body["customer"]["tier"])
    return jsonify({"customer": body["customer"]["id"], **result})


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
