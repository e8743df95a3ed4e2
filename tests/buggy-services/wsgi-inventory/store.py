"""Product rows.

The rows come from the database; here from TRACEMEND_FIXTURES (`db_rows.products`), which
the repair sandbox fills from the envelope's state.fixtures, or from the seed below.
"""

import json
import os

SEED = [
    {"sku": "BOLT-M6", "stock": 120, "reorder_level": 200},
    {"sku": "NUT-M6", "stock": 900, "reorder_level": 200},
    {"sku": "WASHER-6", "stock": 40, "reorder_level": 50},
]


def load_products():
    raw = os.environ.get("TRACEMEND_FIXTURES")
    if raw:
        rows = json.loads(raw).get("db_rows", {}).get("products")
        if rows is not None:
            return rows
    return SEED
