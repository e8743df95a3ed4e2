"""The demo's child processes: each in a process group of its own, its output in a log
file, stopped with SIGTERM to the group and, when that is not enough, SIGKILL."""

import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

# Ports are drawn below Linux's ephemeral range, so no outgoing connection takes one
# between the demo choosing it and a child binding it, and none is handed out twice.
_PORT_RANGE = range(20000, 32000)
_handed_out: set = set()
_rng = random.Random(os.getpid())


class DemoError(Exception):
    """Something the demo cannot go on without; the message says what and where to look."""


def free_port() -> int:
    for _ in range(1000):
        port = _rng.choice(_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise DemoError("no free loopback port in 20000-31999")


def port_or_free(port: int) -> int:
    """`port` when given (checked free now), else a free one."""
    if not port:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise DemoError(f"port {port} on 127.0.0.1 is taken ({e}); choose another or leave it out") from None
    _handed_out.add(port)
    return port


class Proc:
    """One child process; `name` is how the demo's output refers to it."""

    def __init__(self, name: str, argv: list, log_path, cwd=None, env=None):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            try:
                self.popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as e:
                raise DemoError(f"{name} could not start ({' '.join(map(str, argv))}): {e}") from None

    def check_running(self):
        code = self.popen.poll()
        if code is not None:
            raise DemoError(f"{self.name} exited with status {code}; the end of its log ({self.log_path}):\n"
                            f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return f"(log unreadable: {e})"

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the process group, SIGKILL after `grace` seconds."""
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Whatever the child started and left behind in its group.
        _signal_group(self.popen.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_until(predicate, timeout: float, what: str, proc: Proc = None, interval: float = 0.2):
    """Polls `predicate` until it returns something true; fails naming `what` (and the
    end of `proc`'s log when the process exited meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            proc.check_running()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"; the end of {proc.name}'s log ({proc.log_path}):\n{proc.log_tail()}" if proc else ""
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(interval)
