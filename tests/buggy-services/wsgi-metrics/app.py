"""Metrics service (plain WSGI): per-metric event rates over a time window."""

import json
import os
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

# Events per metric, as (seconds before now, count).
EVENTS = {
    "logins": [(10, 4), (70, 2), (400, 9)],
    "signups": [(30, 1), (900, 3)],
}


def parse_window(raw):
    """Window length in seconds."""
    return int(raw)


def rate(metric, window_s):
    count = sum(n for age, n in EVENTS.get(metric, []) if age <= window_s)
    return round(count / window_s * 60, 3)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    parts = path.strip("/").split("/")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if len(parts) == 3 and parts[0] == "metrics" and parts[2] == "rate":
        window_s = parse_window(query.get("window", ["60"])[0])
        body = {"metric": parts[1], "window_s": window_s, "per_minute": rate(parts[1], window_s)}
        return respond(start_response, "200 OK", body)
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
