# tracemend sandbox: runs before the service's own code.
#
# - PYTHONHASHSEED is set in the environment before the interpreter starts.
# - `random` is seeded from TRACEMEND_SEED (uuid4 and secrets use os.urandom and are not
#   covered).
# - The wall clock starts at the failure's timestamp (TRACEMEND_FAKE_EPOCH) through
#   time-machine, which leaves the monotonic clock alone so sleeps and timeouts work.
#   TRACEMEND_CLOCK_TICK=0 freezes it instead.
import os as _os

_seed = _os.environ.get("TRACEMEND_SEED")
if _seed is not None:
    import random as _random

    _random.seed(int(_seed))

_traveller = None


def _travel():
    global _traveller
    _epoch = _os.environ.get("TRACEMEND_FAKE_EPOCH")
    if _epoch is None:
        return
    try:
        import time_machine as _time_machine
    except ImportError:
        return
    _traveller = _time_machine.travel(
        float(_epoch), tick=_os.environ.get("TRACEMEND_CLOCK_TICK", "1") == "1"
    )
    _traveller.start()


_travel()


def tracemend_fresh_start():
    """In a service process forked by the replay runner's fork server: the seed and the
    clock start again, as they do when an interpreter starts."""
    global _traveller
    if _seed is not None:
        import random as _random

        _random.seed(int(_seed))
    if _traveller is not None:
        _traveller.stop()
        _traveller = None
    _travel()

# Line coverage for localization (TRACEMEND_COVERAGE_OUT set by the replay runner only in
# its coverage probes): coverage.py is vendored in TRACEMEND_COVERAGE_PATH rather than on
# PYTHONPATH, so it never shadows a service's own copy. Lines of files under
# TRACEMEND_COVERAGE_SOURCE are written as JSON at exit, per dynamic context when
# TRACEMEND_COVERAGE_CONTEXT is set (one entry per test function of a test run).
_cov_out = _os.environ.get("TRACEMEND_COVERAGE_OUT")
if _cov_out:
    import sys as _sys

    _sys.path.append(_os.environ.get("TRACEMEND_COVERAGE_PATH", "/opt/tracemend/vendor"))
    try:
        import coverage as _coverage
    except ImportError:
        _coverage = None
    if _coverage is not None:
        import atexit as _atexit
        import json as _json
        import signal as _signal

        _source = _os.environ.get("TRACEMEND_COVERAGE_SOURCE", _os.getcwd())
        _context = _os.environ.get("TRACEMEND_COVERAGE_CONTEXT") or None
        _cov = _coverage.Coverage(data_file=None, source=[_source], config_file=False)
        if _context:
            _cov.set_option("run:dynamic_context", _context)
        _cov.start()

        def _tracemend_write_coverage():
            _cov.stop()
            data = _cov.get_data()
            runs = {}
            contexts = sorted(data.measured_contexts()) if _context else [""]
            for ctx in contexts:
                if _context:
                    data.set_query_contexts(["^" + __import__("re").escape(ctx) + "$"])
                files = {}
                for path in data.measured_files():
                    lines = data.lines(path) or []
                    if lines:
                        files[_os.path.relpath(path, _source)] = sorted(lines)
                if files:
                    runs[ctx] = files
            try:
                with open(_cov_out, "w") as f:
                    _json.dump(runs, f)
            except OSError:
                pass

        _atexit.register(_tracemend_write_coverage)

        # What the service's own functions returned, as predicates over the value (the
        # "returns" scheme of statistical debugging: sign of a number, truth of a bool,
        # None, empty or not, the type, and the same one level into a dict's keys),
        # keyed by the line of the `return`. A function that returns what no passing run
        # saw it return is where a bad value was made, even when it crashes nothing
        # itself. Collected with the profiler hook (coverage.py holds the tracer).
        _values = {}
        _value_prefix = _os.path.join(_os.path.abspath(_source), "")
        _value_ctx = [""]
        try:
            import dis as _dis

            _returns = {_dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in _dis.opmap}
        except Exception:
            _returns = set()
        try:
            from coverage.context import should_start_context_test_function as _test_ctx
        except Exception:
            _test_ctx = None

        def _shape(v):
            out = ["type=" + type(v).__name__]
            if v is None:
                out.append("is None")
            elif isinstance(v, bool):
                out.append("is " + str(v))
            elif isinstance(v, (int, float)):
                out.append("< 0" if v < 0 else ("== 0" if v == 0 else "> 0"))
            elif isinstance(v, (str, bytes, list, tuple, dict, set, frozenset)):
                out.append("empty" if len(v) == 0 else "non-empty")
            return out

        def _predicates(v):
            preds = _shape(v)
            if isinstance(v, dict):
                for k in list(v)[:32]:
                    if isinstance(k, str) and len(k) <= 64:
                        preds.extend("[" + repr(k) + "] " + p for p in _shape(v[k]))
            return preds

        def _tracemend_profile(frame, event, arg):
            code = frame.f_code
            if event == "call":
                if _test_ctx is not None and _context and (
                    code.co_name.startswith("test") or code.co_name == "runTest"
                ):
                    name = _test_ctx(frame)
                    if name:
                        _value_ctx[0] = name
                return
            if event != "return" or not code.co_filename.startswith(_value_prefix):
                return
            # A comprehension's or lambda's value is a step inside its function, not
            # what the function gave back.
            if code.co_name.startswith("<"):
                return
            # A normal return only: while an exception unwinds a frame the profiler sees
            # a `return` of None too, at the failing instruction.
            at = frame.f_lasti
            if at < 0 or at >= len(code.co_code) or code.co_code[at] not in _returns:
                return
            try:
                preds = _predicates(arg)
            except Exception:
                return
            rel = _os.path.relpath(code.co_filename, _source)
            per_line = _values.setdefault(_value_ctx[0], {}).setdefault(rel, {})
            per_line.setdefault(str(frame.f_lineno), set()).update(preds)

        def _tracemend_write_values():
            _sys.setprofile(None)
            runs = {
                ctx: {f: {ln: sorted(p) for ln, p in lines.items()} for f, lines in files.items()}
                for ctx, files in _values.items()
            }
            try:
                with open(_cov_out + ".values", "w") as f:
                    _json.dump(runs, f)
            except OSError:
                pass

        def _tracemend_start_values():
            import threading as _threading

            _sys.setprofile(_tracemend_profile)
            _threading.setprofile(_tracemend_profile)

        if _returns:
            # Registered after coverage's writer, so it runs first (atexit is LIFO).
            _atexit.register(_tracemend_write_values)
            if _context:
                # A test run: the tests call the functions from the start.
                _tracemend_start_values()
            else:
                # A service: what matters is what it returns while it serves, so the
                # hook (a Python call per event) is set when it starts listening, not
                # through the framework's imports.
                import socket as _socket

                _listen = _socket.socket.listen

                def _tracemend_listen(self, *args):
                    _socket.socket.listen = _listen
                    _tracemend_start_values()
                    return _listen(self, *args)

                _socket.socket.listen = _tracemend_listen
        # SIGTERM ends a plain server without running atexit; exit cleanly instead.
        # Frameworks that install their own handler (uvicorn) exit cleanly anyway.
        _signal.signal(_signal.SIGTERM, lambda *_: _sys.exit(0))
