//! The sample service used by the Docker tests: a Python HTTP service with a planted bug.

use super::BASE_IMAGE;

/// The service under test. Standard library only.
pub const APP_PY: &str = r#"import json
import os
import random
import socket
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

RATES = {"10115": 4.9, "80331": 5.9}


def shipping_quote(order):
    address = order["address"]
    return RATES.get(address["postcode"], 7.5)


def parse_quantity(order):
    return int(order["quantity"])


def clock_report():
    raise LookupError("now=%d rand=%d hash=%d" % (time.time(), random.randint(0, 10**9), hash("tracemend")))


def probe_network(port):
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise RuntimeError("network interfaces present: %s" % names)
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return "connected"


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        order = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/quote"):
            self._send(200, {"price": shipping_quote(order)})
        elif self.path.startswith("/quantity"):
            self._send(200, {"quantity": parse_quantity(order)})
        else:
            self._send(404, {"error": "no route"})

    def do_GET(self):
        if self.path.startswith("/clock"):
            clock_report()
        elif self.path.startswith("/net"):
            port = int(self.path.split("port=")[1])
            self._send(200, {"result": probe_network(port)})
        else:
            self._send(404, {"error": "no route"})


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
"#;

pub fn service_yaml(repo: &std::path::Path, runs: u32) -> String {
    format!(
        "workers: 3\nreproduce:\n  runs: {runs}\n  ready_timeout: 20s\nsandbox:\n  timeout: 60s\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n    env:\n      PORT: \"8080\"\n",
        repo.display()
    )
}
