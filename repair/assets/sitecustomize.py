# tracemend sandbox: seed `random` before the service's code runs (PYTHONHASHSEED is set
# in the environment before the interpreter starts). uuid4 and secrets use os.urandom and
# are not covered.
import os as _os

_seed = _os.environ.get("TRACEMEND_SEED")
if _seed is not None:
    import random as _random

    _random.seed(int(_seed))
