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
import tempfile
import time
import urllib.parse

# The result line must reach the engine whole: the engine keeps the last 256 KiB of the
# runner's stdout, so the line is kept well under that however much the service wrote
# (a framework's debug 500 page, a chatty log). Service output is cut from the front:
# the failure is at the end.
MAX_OUTPUT = 64 * 1024
MAX_BODY = 16 * 1024
MAX_RESULT_LINE = 192 * 1024
SHRINKABLE = ("service_stdout", "service_stderr", "response")


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


def result_line(result):
    """The result as one line no longer than MAX_RESULT_LINE bytes (UTF-8)."""

    def text_of(key):
        value = result.get(key)
        return value.get("body", "") if isinstance(value, dict) else (value or "")

    while True:
        line = "TRACEMEND_RESULT " + json.dumps(result, ensure_ascii=False)
        if len(line.encode("utf-8")) <= MAX_RESULT_LINE:
            return line
        # Halve the longest text field, keeping its end (where the failure is), and say so.
        key = max(SHRINKABLE, key=lambda k: len(text_of(k)))
        text = text_of(key)
        if len(text) < 64:
            # Nothing left worth cutting: the rest of the result is what is too large.
            keep = ("ready", "clock_faked", "uid", "service_exit")
            result = {k: result[k] for k in keep if k in result}
            result["request_error"] = "the replay result was too large to report"
            continue
        kept = text[len(text) // 2:]
        if isinstance(result.get(key), dict):
            result[key] = dict(result[key], body=kept)
        else:
            result[key] = kept
        if key not in result.setdefault("truncated", []):
            result["truncated"].append(key)


def emit(result):
    # Bytes, not print(): the line is UTF-8 whatever the container's locale says.
    sys.stdout.buffer.write((result_line(result) + "\n").encode("utf-8"))
    sys.stdout.buffer.flush()


def python_path(env, site_dir):
    """Our sitecustomize first, then whatever the image or the service config set."""
    parts = [site_dir] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != site_dir]
    return os.pathsep.join(parts)


def main():
    # The spec arrives in chunks: one environment variable is capped at 128 KiB.
    chunks = int(os.environ["TRACEMEND_REPRO_SPEC_CHUNKS"])
    spec = json.loads("".join(os.environ[f"TRACEMEND_REPRO_SPEC_{i}"] for i in range(chunks)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEMEND_REPRO_SPEC")}
    env.update(spec.get("service_env", {}))
    env["PYTHONPATH"] = python_path(env, spec["site_dir"])
    result = {"ready": False, "clock_faked": False, "uid": os.getuid()}
    if os.getuid() == 0 and not spec.get("allow_root", False):
        result["start_error"] = (
            "refusing to run the service as root (uid 0): the image's user or sandbox.user "
            "maps to root; set sandbox.allow_root: true to allow it"
        )
        emit(result)
        return
    clock = spec.get("clock")
    if clock:
        if has_time_machine():
            env["TRACEMEND_FAKE_EPOCH"] = str(clock["epoch"])
            env["TRACEMEND_CLOCK_TICK"] = "1" if clock["tick"] else "0"
            result["clock_faked"] = True
        else:
            result["clock_note"] = "time-machine is not installed in the image; the clock is real"

    out_dir = tempfile.mkdtemp(prefix="tracemend-service-")
    out_path, err_path = os.path.join(out_dir, "stdout"), os.path.join(out_dir, "stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(
                spec["command"], cwd=spec["workdir"], env=env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL,
            )
        except OSError as e:
            result["start_error"] = f"{type(e).__name__}: {e}"
            emit(result)
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
            data = resp.read(MAX_BODY)
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
    emit(result)


if __name__ == "__main__":
    sys.exit(main())
