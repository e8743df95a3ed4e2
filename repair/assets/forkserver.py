"""tracemend fork server: a fresh service process per probe without paying its imports.

The replay runner restarts the service before every probe (the service may keep state
between requests), and most of a Python service's start is importing its framework. This
process is started once per container under the service's own interpreter, with the
service's environment: it imports the third-party and standard modules the service
imported (never the service's own modules, which may read a probe's flags or fixtures
at import), then, for each probe, forks a child that runs the service's command
(`python app.py ...` or `python -m module ...`) as the interpreter would, with the
probe's environment, its output going to the runner's files, the clock and `random`
started again as at a fresh start. Nothing a child does reaches the next one: each is
forked from the same untouched parent.

The first child writes the modules it had imported when it started listening; the
server imports them before the next fork, and the runner reports them so the engine can
hand them to the next container (`preload`).

Protocol, one JSON object a line: on stdin `{"op": "fork", "env": {...}, "out": PATH,
"err": PATH}` -> `{"pid": N}`; `{"op": "poll", "pid": N}` -> `{"exit": CODE|null}`;
`{"op": "stop", "pid": N, "grace": S}` -> `{"exit": CODE}` (SIGTERM, then SIGKILL after
`grace` seconds); EOF ends the server.
"""

import importlib
import json
import os
import re
import signal
import sys
import time

# Most module names carried from one container to the next.
MAX_PRELOAD = 4000


def eligible(command):
    """(kind, target, argv) when `command` is a plain Python start, else None."""
    if len(command) < 2 or not re.fullmatch(r"python[0-9.]*", os.path.basename(command[0])):
        return None
    if command[1] == "-m" and len(command) >= 3:
        return ("module", command[2], [command[2]] + command[3:])
    if not command[1].startswith("-"):
        return ("path", command[1], command[1:])
    return None


def own_module(module, workdir):
    path = getattr(module, "__file__", None)
    return bool(path) and os.path.realpath(path).startswith(workdir)


def loaded_modules(workdir):
    """What this process imported, in import order, minus the service's own modules."""
    out = []
    for name, module in list(sys.modules.items()):
        if module is None or name in ("__main__", "sitecustomize") or name.endswith(".__main__"):
            continue
        if own_module(module, workdir):
            continue
        out.append(name)
    return out[:MAX_PRELOAD]


def preload(names):
    for name in names:
        if not isinstance(name, str) or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except (Exception, SystemExit):
            # Some modules import only as a side effect of others; the child will.
            pass


def record_on_listen(path, workdir):
    """Writes the child's modules to `path` when it first listens (its imports done)."""
    import socket

    original = socket.socket.listen

    def listen(self, *args):
        socket.socket.listen = original
        try:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(loaded_modules(workdir), f)
            os.replace(tmp, path)
        except OSError:
            pass
        return original(self, *args)

    socket.socket.listen = listen


def run_child(kind, target, argv, request, workdir, record):
    code = 0
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, key in ((1, "out"), (2, "err")):
            f = os.open(request[key], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(f, fd)
            os.close(f)
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        restart = getattr(sys.modules.get("sitecustomize"), "tracemend_fresh_start", None)
        if restart is not None:
            restart()
        if record:
            record_on_listen(record, workdir)
        import runpy

        if kind == "module":
            sys.argv = list(argv)
            sys.path[0] = os.getcwd()
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(target)
            sys.argv = [script] + list(argv[1:])
            sys.path[0] = os.path.dirname(script)
            runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    try:
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def exit_code(status):
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def poll(pid, exits):
    if pid in exits:
        return exits[pid]
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return exits.setdefault(pid, None)
    if done == 0:
        return None
    exits[pid] = exit_code(status)
    return exits[pid]


def stop(pid, grace, exits):
    if poll(pid, exits) is not None:
        return exits[pid]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if poll(pid, exits) is not None:
                return exits[pid]
            time.sleep(0.01)
    return poll(pid, exits)


REPLY_FD = None


def reply(obj):
    os.write(REPLY_FD, (json.dumps(obj) + "\n").encode("utf-8"))


def main():
    global REPLY_FD
    # Replies go to a descriptor of their own: whatever a preloaded module prints goes to
    # stderr, never into the protocol.
    REPLY_FD = os.dup(1)
    os.dup2(2, 1)
    command = json.loads(os.environ.pop("TRACEMEND_FORKSERVER_COMMAND"))
    workdir = os.path.join(os.path.realpath(os.environ.pop("TRACEMEND_FORKSERVER_WORKDIR")), "")
    record = os.environ.pop("TRACEMEND_FORKSERVER_RECORD", "")
    names = json.loads(os.environ.pop("TRACEMEND_FORKSERVER_PRELOAD", "[]") or "[]")
    kind, target, argv = eligible(command)
    preload(names)
    recorded = bool(names)
    exits = {}
    reply({"ready": True, "preloaded": len(names)})
    for line in sys.stdin:
        request = json.loads(line)
        op = request.get("op")
        if op == "fork":
            if not recorded and record and os.path.exists(record):
                try:
                    with open(record) as f:
                        preload(json.load(f))
                    recorded = True
                except (OSError, ValueError):
                    pass
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(REPLY_FD)
                run_child(kind, target, argv, request, workdir, None if recorded else record)
            reply({"pid": pid})
        elif op == "poll":
            reply({"exit": poll(request["pid"], exits)})
        elif op == "stop":
            reply({"exit": stop(request["pid"], float(request.get("grace", 3)), exits)})


if __name__ == "__main__":
    main()
