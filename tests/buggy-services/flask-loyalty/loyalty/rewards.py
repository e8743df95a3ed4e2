"""What a point is worth, per tier, and the voucher a redemption buys."""

# Cents per point.
TIER_RATES = {"bronze": 0.5, "silver": 0.75, "gold": 1.0}
MIN_VOUCHER_CENTS = 100


def points_rate(member):
    return TIER_RATES[member["tier"]]


def voucher(member, points):
    rate = points_rate(member)
    cents = int(points * rate)
    if cents < MIN_VOUCHER_CENTS:
        return None
    return {"member": member["id"], "tier": member["tier"], "cents": cents}
