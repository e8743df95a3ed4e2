"""Shipping service (plain WSGI): splits a shipment into parcels and prices them."""

import json
import os
from wsgiref.simple_server import make_server

MAX_PARCEL_KG = 20.0
RATE_PER_KG = {"standard": 1.10, "express": 2.40}
BASE_FEE = 3.50


def parcel_count(weight_kg):
    return int(weight_kg // MAX_PARCEL_KG)


def plan_shipment(shipment):
    weight = sum(item["weight_kg"] * item.get("quantity", 1) for item in shipment["items"])
    return {"weight_kg": weight, "parcels": parcel_count(weight)}


def shipment_cost(plan, service):
    return BASE_FEE + plan["weight_kg"] * RATE_PER_KG[service]


def cost_per_parcel(total, parcels):
    return round(total / parcels, 2)


def quote(shipment):
    plan = plan_shipment(shipment)
    total = shipment_cost(plan, shipment.get("service", "standard"))
    return {**plan, "total": round(total, 2), "per_parcel": cost_per_parcel(total, plan["parcels"])}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if path == "/shipments/quote" and environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        shipment = json.loads(environ["wsgi.input"].read(length) or b"{}")
        return respond(start_response, "200 OK", quote(shipment))
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
