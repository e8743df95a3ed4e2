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


def probe_network(host, port):
    socket.create_connection((host, port), timeout=2).close()
    return "connected"


def read_first(paths):
    for path in paths:
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
    return "unknown"


def sandbox_probe():
    facts = ["uid=%d" % os.getuid()]
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("NoNewPrivs:", "CapEff:")):
                key, value = line.split(":", 1)
                facts.append("%s=%s" % (key, value.strip()))
    for name, path in (("cwd_writable", os.path.join(os.getcwd(), "probe")), ("tmp_writable", "/tmp/probe")):
        try:
            open(path, "w").close()
            facts.append(name + "=yes")
        except OSError:
            facts.append(name + "=no")
    facts.append("ifaces=" + ",".join(name for _, name in socket.if_nameindex()))
    facts.append("mem=" + read_first(["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]))
    facts.append("pids=" + read_first(["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"]))
    facts.append("cpu=" + read_first(["/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]))
    facts.append("tz=" + time.strftime("%Z"))
    facts.append("hashseed=" + os.environ.get("PYTHONHASHSEED", "unset"))
    raise LookupError(" ".join(facts))


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
        elif self.path.startswith("/probe"):
            sandbox_probe()
        elif self.path.startswith("/net"):
            query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
            self._send(200, {"result": probe_network(query["host"], int(query["port"]))})
        else:
            self._send(404, {"error": "no route"})


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
"#;

/// Config for the sample service. The pipeline stops after reproduce (`stages`): these
/// tests are about reproduction, and the sample (a bare `http.server`) has no fix the
/// patch templates know.
pub fn service_yaml(repo: &std::path::Path, runs: u32) -> String {
    format!(
        "workers: 3\nstages: [reproduce]\nreproduce:\n  runs: {runs}\n  ready_timeout: 20s\nsandbox:\n  timeout: 60s\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n    env:\n      PORT: \"8080\"\n",
        repo.display()
    )
}
