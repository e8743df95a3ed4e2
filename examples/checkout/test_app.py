import io
import json
import unittest
from wsgiref.util import setup_testing_defaults

from app import application, line_total, shipping_for


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(data),
               "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json"}
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    answer = b"".join(application(environ, start_response))
    return seen["status"], json.loads(answer)


class CatalogTest(unittest.TestCase):
    def test_products(self):
        status, body = call("GET", "/products")
        self.assertEqual(status, "200 OK")
        self.assertIn("BK-101", body["products"])

    def test_product(self):
        status, body = call("GET", "/products/MG-310")
        self.assertEqual(status, "200 OK")
        self.assertEqual(body["price"], 12.90)

    def test_unknown_product(self):
        self.assertEqual(call("GET", "/products/XX-000")[0], "404 Not Found")


class QuoteTest(unittest.TestCase):
    def test_line_total(self):
        self.assertEqual(line_total({"sku": "BK-202", "qty": 2}), 55.0)

    def test_shipping(self):
        self.assertEqual(shipping_for("FR", 20.0), 6.50)
        self.assertEqual(shipping_for("DE", 75.0), 0.0)

    def test_quote(self):
        status, body = call("POST", "/cart/quote", {"items": [{"sku": "MG-310", "qty": 1}, {"sku": "ST-007", "qty": 3}],
                                                    "country": "NL"})
        self.assertEqual(status, "200 OK")
        self.assertEqual(body, {"subtotal": 26.4, "shipping": 5.2, "total": 31.6})

    def test_quote_unknown_product(self):
        status, body = call("POST", "/cart/quote", {"items": [{"sku": "XX-000", "qty": 1}]})
        self.assertEqual(status, "404 Not Found")
        self.assertEqual(body["skus"], ["XX-000"])


if __name__ == "__main__":
    unittest.main()
