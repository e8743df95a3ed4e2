"""tracemend replay runner: runs inside the sandbox container (no network).

Starts the service under test with a deterministic environment (wall clock starting at,
or frozen at, the failure's timestamp through time-machine; PYTHONHASHSEED; seeded
`random`), waits for its port, replays the envelope's request over loopback, stops the
service and prints one result line:

    TRACEMEND_RESULT {"ready": ..., "response": ..., "service_stderr": ...}

The runner itself runs with the real clock; only the service gets the fake one.
"""

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

MAX_OUTPUT = 128 * 1024


def has_time_machine():
    try:
        return importlib.util.find_spec("time_machine") is not None
    except (ImportError, ValueError):
        return False


def read_tail(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-MAX_OUTPUT:].decode("utf-8", "replace")


def main():
    # The spec arrives in chunks: one environment variable is capped at 128 KiB.
    chunks = int(os.environ["TRACEMEND_REPRO_SPEC_CHUNKS"])
    spec = json.loads("".join(os.environ[f"TRACEMEND_REPRO_SPEC_{i}"] for i in range(chunks)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEMEND_REPRO_SPEC")}
    env.update(spec.get("service_env", {}))
    result = {"ready": False, "clock_faked": False}
    clock = spec.get("clock")
    if clock:
        if has_time_machine():
            env["TRACEMEND_FAKE_EPOCH"] = str(clock["epoch"])
            env["TRACEMEND_CLOCK_TICK"] = "1" if clock["tick"] else "0"
            result["clock_faked"] = True
        else:
            result["clock_note"] = "time-machine is not installed in the image; the clock is real"

    out_path, err_path = "/tmp/tracemend-service.stdout", "/tmp/tracemend-service.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(
                spec["command"], cwd=spec["workdir"], env=env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL,
            )
        except OSError as e:
            result["start_error"] = f"{type(e).__name__}: {e}"
            print("TRACEMEND_RESULT " + json.dumps(result), flush=True)
            return

    port = int(spec["port"])
    deadline = time.monotonic() + float(spec["ready_timeout_s"])
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            result["ready"] = True
            break
        except OSError:
            time.sleep(0.02)

    if result["ready"]:
        req = spec["request"]
        path = req["path"]
        query = req.get("query") or {}
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = dict(req.get("headers") or {})
        body = None
        if req.get("body") is not None:
            body = json.dumps(req["body"]).encode("utf-8")
            headers.setdefault("content-type", "application/json")
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=float(spec["request_timeout_s"]))
            conn.request(req["method"], path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(MAX_OUTPUT)
            result["response"] = {"status": resp.status, "body": data.decode("utf-8", "replace")}
            conn.close()
        except Exception as e:  # the failure itself may close the connection
            result["request_error"] = f"{type(e).__name__}: {e}"
        result["request_ms"] = round((time.monotonic() - started) * 1000, 3)
        # Give the service a moment to finish writing its error output.
        time.sleep(0.05)

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    else:
        result["service_exited_early"] = True
    result["service_exit"] = proc.returncode
    result["service_stdout"] = read_tail(out_path)
    result["service_stderr"] = read_tail(err_path)
    print("TRACEMEND_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
