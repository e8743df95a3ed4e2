import unittest

from app import cost_per_parcel, parcel_count, plan_shipment, quote


class ShippingTest(unittest.TestCase):
    def test_parcel_count(self):
        self.assertEqual(parcel_count(40.0), 2)

    def test_plan(self):
        plan = plan_shipment({"items": [{"weight_kg": 10.0, "quantity": 4}]})
        self.assertEqual(plan, {"weight_kg": 40.0, "parcels": 2})

    def test_cost_per_parcel(self):
        self.assertEqual(cost_per_parcel(90.0, 3), 30.0)

    def test_quote(self):
        result = quote({"service": "standard", "items": [{"weight_kg": 20.0, "quantity": 1}]})
        self.assertEqual(result, {"weight_kg": 20.0, "parcels": 1, "total": 25.5, "per_parcel": 25.5})


if __name__ == "__main__":
    unittest.main()
