"""Compatibility service (plain WSGI): which features a client app version supports."""

import json
import os
import re
from wsgiref.simple_server import make_server

# Lowest app version (major, minor) that supports each feature.
FEATURES = {"dark_mode": (4, 2), "wallet": (5, 0), "live_chat": (5, 3)}


def client_of(environ):
    return {
        "agent": environ.get("HTTP_USER_AGENT", ""),
        "platform": environ.get("HTTP_X_PLATFORM", "web"),
    }


def parse_version(agent):
    major, minor = re.search(r"/(\d+)\.(\d+)", agent).groups()
    return int(major), int(minor)


def supported(version):
    return sorted(name for name, since in FEATURES.items() if version >= since)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return respond(start_response, "200 OK", {"ok": True})
    if path == "/compat/features":
        client = client_of(environ)
        version = parse_version(client["agent"])
        body = {"platform": client["platform"], "version": list(version), "features": supported(version)}
        return respond(start_response, "200 OK", body)
    return respond(start_response, "404 Not Found", {"error": "not found"})


def respond(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    with make_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), application) as server:
        server.serve_forever()
