import io
import json
import unittest
from wsgiref.util import setup_testing_defaults

from app import application, needs_reorder, reorder_list


class InventoryTest(unittest.TestCase):
    def test_needs_reorder(self):
        self.assertTrue(needs_reorder({"stock": 5, "reorder_level": 5}))
        self.assertFalse(needs_reorder({"stock": 6, "reorder_level": 5}))

    def test_reorder_list(self):
        rows = [{"sku": "A", "stock": 1, "reorder_level": 2}, {"sku": "B", "stock": 3, "reorder_level": 2}]
        self.assertEqual(reorder_list(rows), ["A"])

    def test_route_on_seed(self):
        environ = {"PATH_INFO": "/inventory/reorder", "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        statuses = []
        body = b"".join(application(environ, lambda status, headers: statuses.append(status)))
        self.assertEqual(statuses, ["200 OK"])
        self.assertEqual(json.loads(body), {"reorder": ["BOLT-M6", "WASHER-6"]})


if __name__ == "__main__":
    unittest.main()
