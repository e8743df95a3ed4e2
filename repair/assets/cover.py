"""tracemend changed-line coverage: runs inside the sandbox container (no network).

Writes a `sitecustomize.py` line tracer into /tmp (the only writable place), runs each
command of the spec with it on PYTHONPATH (so the test runner and every service process
it starts are traced), and prints the lines of one file that ran:

    TRACEMEND_COVER {"lines": [12, 13, 15]}

Only the standard library is used (the image need not have coverage.py).
"""

import glob
import json
import os
import subprocess

# The only writable place in the sandbox; the spec may name another (tests on a host).
DEFAULT_SITE = "/tmp/tracemend-cover"

TRACER = r'''
import atexit, json, os, signal, sys, threading

_target = os.path.realpath(os.environ.get("TRACEMEND_COVER_FILE", "/nonexistent"))
_lines = set()
_match = {}


def _local(frame, event, arg):
    if event == "line":
        _lines.add(frame.f_lineno)
    return _local


def _global(frame, event, arg):
    name = frame.f_code.co_filename
    hit = _match.get(name)
    if hit is None:
        hit = _match[name] = os.path.realpath(name) == _target
    if hit:
        _lines.add(frame.f_lineno)
        return _local
    return None


def _dump():
    try:
        with open(os.path.join(os.path.dirname(__file__), "lines-%d.json" % os.getpid()), "w") as f:
            json.dump(sorted(_lines), f)
    except OSError:
        pass


def _term(signum, frame):
    sys.exit(0)


sys.settrace(_global)
threading.settrace(_global)
atexit.register(_dump)
try:
    # A terminated service exits normally, so its lines are written.
    signal.signal(signal.SIGTERM, _term)
except ValueError:
    pass
'''


def main():
    spec = json.loads(os.environ["TRACEMEND_COVER_SPEC"])
    SITE = spec.get("site") or DEFAULT_SITE
    os.makedirs(SITE, exist_ok=True)
    with open(os.path.join(SITE, "sitecustomize.py"), "w") as f:
        f.write(TRACER)
    env = dict(os.environ)
    del env["TRACEMEND_COVER_SPEC"]
    env["TRACEMEND_COVER_FILE"] = spec["file"]
    env["PYTHONPATH"] = SITE + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for argv in spec["commands"]:
        try:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=spec["timeout_s"])
        except (OSError, subprocess.TimeoutExpired):
            pass
    lines = set()
    for path in glob.glob(os.path.join(SITE, "lines-*.json")):
        try:
            with open(path) as f:
                lines.update(json.load(f))
        except (OSError, ValueError):
            pass
    print("TRACEMEND_COVER " + json.dumps({"lines": sorted(lines)}), flush=True)


main()
