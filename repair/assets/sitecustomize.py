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
