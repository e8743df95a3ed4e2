"""Checkout service (plain WSGI, standard library only): the catalog and cart quotes.

Production runs it instrumented (serve.py); its tests and the repair engine's sandbox
run this file as it is.
"""

import json
import os
from wsgiref.simple_server import make_server

CATALOG = {
    "BK-101": {"name": "The Pragmatic Tracer", "price": 34.00},
    "BK-202": {"name": "Spans and Sinks", "price": 27.50},
    "MG-310": {"name": "Collector mug", "price": 12.90},
    "ST-007": {"name": "Sticker pack", "price": 4.50},
}
SHIPPING = {"DE": 4.90, "FR": 6.50, "NL": 5.20}
FREE_SHIPPING_FROM = 60.00


def read_json(environ):
    size = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(size) or b"{}")


def line_total(item):
    return round(CATALOG[item["sku"]]["price"] * item["qty"], 2)


def shipping_for(country, subtotal):
    if subtotal >= FREE_SHIPPING_FROM:
        return 0.0
    return SHIPPING.get(country, 9.90)


def quote(cart):
    unknown = [item["sku"] for item in cart["items"] if item["sku"] not in CATALOG]
    if unknown:
        return "404 Not Found", {"error": "unknown products", "skus": unknown}
    subtotal = 0.0
    for item in cart["items"]:
        subtotal += line_total(item)
    subtotal = round(subtotal, 2)
    shipping = shipping_for(cart.get("country", "DE"), subtotal)
    return "200 OK", {"subtotal": subtotal, "shipping": shipping, "total": round(subtotal + shipping, 2)}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    parts = path.strip("/").split("/")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if method == "GET" and path == "/products":
        return respond(start_response, "200 OK", {"products": sorted(CATALOG)})
    if method == "GET" and len(parts) == 2 and parts[0] == "products":
        if parts[1] not in CATALOG:
            return respond(start_response, "404 Not Found", {"error": "unknown product"})
        return respond(start_response, "200 OK", dict(CATALOG[parts[1]], sku=parts[1]))
    if method == "POST" and path == "/cart/quote":
        status, body = quote(read_json(environ))
        return respond(start_response, status, body)
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
