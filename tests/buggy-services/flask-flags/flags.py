"""Feature flags.

Read from the JSON object in TRACEMEND_FEATURE_FLAGS: in production the flag client's
snapshot, in the repair sandbox the envelope's environment.feature_flags.
"""

import json
import os


def enabled(name):
    try:
        flags = json.loads(os.environ.get("TRACEMEND_FEATURE_FLAGS") or "{}")
    except ValueError:
        return False
    return isinstance(flags, dict) and flags.get(name) is True
