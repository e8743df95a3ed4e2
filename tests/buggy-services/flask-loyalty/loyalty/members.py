"""Members as the redemption sees them: id, tier and balance."""

# Lifetime points at which each tier starts, lowest first.
TIERS = [(0, "bronze"), (1000, "silver"), (5000, "gold")]


def tier_for(points):
    for floor, name in reversed(TIERS):
        if points > floor:
            return name


def load_member(raw):
    return {
        "id": raw["id"],
        "tier": tier_for(raw["lifetime_points"]),
        "balance": raw["balance"],
    }
