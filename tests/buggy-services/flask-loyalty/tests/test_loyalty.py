from loyalty import create_app
from loyalty.members import load_member, tier_for
from loyalty.rewards import points_rate, voucher


def test_tiers():
    assert tier_for(250) == "bronze"
    assert tier_for(1200) == "silver"
    assert tier_for(9000) == "gold"


def test_load_member():
    member = load_member({"id": "m-1", "lifetime_points": 3000, "balance": 800})
    assert member == {"id": "m-1", "tier": "silver", "balance": 800}


def test_rates():
    assert points_rate({"tier": "gold"}) == 1.0


def test_small_redemptions_buy_nothing():
    assert voucher({"id": "m-1", "tier": "bronze"}, 100) is None


def test_redeem_route():
    client = create_app().test_client()
    body = {"member": {"id": "m-2", "lifetime_points": 6000, "balance": 500}, "points": 400}
    resp = client.post("/redemptions", json=body)
    assert resp.status_code == 201
    assert resp.get_json()["voucher"] == {"member": "m-2", "tier": "gold", "cents": 400}
