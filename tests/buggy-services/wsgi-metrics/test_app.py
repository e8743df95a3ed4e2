import io
import json
import unittest
from wsgiref.util import setup_testing_defaults

from app import application, parse_window, rate


def call(path, query=""):
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(application(environ, start_response))
    return seen["status"], json.loads(body)


class MetricsTest(unittest.TestCase):
    def test_parse_window(self):
        self.assertEqual(parse_window("300"), 300)

    def test_rate(self):
        self.assertEqual(rate("logins", 60), 4.0)

    def test_route(self):
        status, body = call("/metrics/logins/rate", "window=120")
        self.assertEqual(status, "200 OK")
        self.assertEqual(body["per_minute"], 3.0)

    def test_unknown_route(self):
        self.assertEqual(call("/nope")[0], "404 Not Found")


if __name__ == "__main__":
    unittest.main()
