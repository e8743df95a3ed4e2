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

_epoch = _os.environ.get("TRACEMEND_FAKE_EPOCH")
if _epoch is not None:
    try:
        import time_machine as _time_machine
    except ImportError:
        _time_machine = None
    if _time_machine is not None:
        _traveller = _time_machine.travel(
            float(_epoch), tick=_os.environ.get("TRACEMEND_CLOCK_TICK", "1") == "1"
        )
        _traveller.start()

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
        # SIGTERM ends a plain server without running atexit; exit cleanly instead.
        # Frameworks that install their own handler (uvicorn) exit cleanly anyway.
        _signal.signal(_signal.SIGTERM, lambda *_: _sys.exit(0))
