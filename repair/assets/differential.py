"""tracemend differential runner: runs inside the sandbox container (no network).

Starts the service, sends every input of the spec over loopback in order (restarting the
service when an input needs other feature flags or fixtures, or when it died), and prints
one result line:

    TRACEMEND_DIFF {"results": [{"status": 200, "sha256": "...", "head": "..."}, ...]}

The engine runs it against the original and the patched image and compares.
"""

import hashlib
import http.client
import json
import os
import socket
import subprocess
import time
import urllib.parse


def load_spec():
    chunks = int(os.environ["TRACEMEND_DIFF_SPEC_CHUNKS"])
    return json.loads("".join(os.environ["TRACEMEND_DIFF_SPEC_%d" % i] for i in range(chunks)))


class Service:
    def __init__(self, spec):
        self.spec = spec
        self.proc = None
        self.key = None

    def ensure(self, flags, fixtures):
        key = json.dumps([flags, fixtures], sort_keys=True)
        if self.proc is not None and self.proc.poll() is None and key == self.key:
            return None
        self.stop()
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("TRACEMEND_DIFF_SPEC"):
                del env[k]
        env.update(self.spec["service_env"])
        env.update({"HOST": "127.0.0.1", "PORT": str(self.spec["port"])})
        env["TRACEMEND_FEATURE_FLAGS"] = json.dumps(flags or {})
        if fixtures is not None:
            env["TRACEMEND_FIXTURES"] = json.dumps(fixtures)
        self.proc = subprocess.Popen(
            self.spec["command"], cwd=self.spec["workdir"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.key = key
        deadline = time.monotonic() + self.spec["ready_timeout_s"]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "the service exited with %s before accepting connections" % self.proc.returncode
            try:
                socket.create_connection(("127.0.0.1", self.spec["port"]), timeout=1).close()
                return None
            except OSError:
                time.sleep(0.05)
        return "the service did not accept connections in time"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def send(spec, item):
    query = urllib.parse.urlencode(item.get("query") or {}, doseq=True)
    path = item["path"] + ("?" + query if query else "")
    body = None if item.get("body") is None else json.dumps(item["body"]).encode()
    # Re-serialized bodies differ in length from the recorded ones: drop the framing.
    headers = {
        k: v
        for k, v in (item.get("headers") or {}).items()
        if k.lower() not in ("content-length", "transfer-encoding", "connection")
    }
    if body is not None:
        headers.setdefault("content-type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=spec["request_timeout_s"])
    try:
        conn.request(item["method"], path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return {"status": resp.status, "sha256": hashlib.sha256(data).hexdigest(),
                "head": data[:160].decode("utf-8", "replace")}
    except Exception as e:  # any failure to answer is a result, not a crash of the runner
        return {"error": "%s: %s" % (type(e).__name__, e)}
    finally:
        conn.close()


def main():
    spec = load_spec()
    service = Service(spec)
    results = []
    try:
        for item in spec["inputs"]:
            err = service.ensure(item.get("feature_flags"), item.get("fixtures"))
            results.append({"error": err} if err else send(spec, item))
    finally:
        service.stop()
    print("TRACEMEND_DIFF " + json.dumps({"results": results}), flush=True)


main()
