"""Inventory service (plain WSGI): which products need reordering."""

import json
import os
from wsgiref.simple_server import make_server

import store


def needs_reorder(product):
    return product["stock"] <= product["reorder_level"]


def reorder_list(products):
    due = []
    for product in products:
        if needs_reorder(product):
            due.append(product["sku"])
    return due


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if path == "/inventory/reorder":
        products = store.load_products()
        return respond(start_response, "200 OK", {"reorder": reorder_list(products)})
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
