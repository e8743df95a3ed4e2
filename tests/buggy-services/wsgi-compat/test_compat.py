import unittest

from app import client_of, parse_version, supported


class CompatTest(unittest.TestCase):
    def test_parse_version(self):
        self.assertEqual(parse_version("shop-ios/5.1.0"), (5, 1))

    def test_supported(self):
        self.assertEqual(supported((5, 0)), ["dark_mode", "wallet"])
        self.assertEqual(supported((3, 9)), [])

    def test_client_of(self):
        client = client_of({"HTTP_USER_AGENT": "shop-android/4.2.1", "HTTP_X_PLATFORM": "android"})
        self.assertEqual(client, {"agent": "shop-android/4.2.1", "platform": "android"})


if __name__ == "__main__":
    unittest.main()
