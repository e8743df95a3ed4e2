"""Cart pricing."""

import flags

# Discount per loyalty tier. The accounts service added "platinum" in November.
TIER_DISCOUNTS = {"standard": 0.0, "silver": 0.05, "gold": 0.10}


def price_cart(cart, tier):
    subtotal = sum(line["unit_price"] * line["quantity"] for line in cart["lines"])
    discount = 0.0
    if flags.enabled("tiered_pricing"):
        discount = round(subtotal * TIER_DISCOUNTS[tier], 2)
    return {"subtotal": round(subtotal, 2), "discount": discount, "total": round(subtotal - discount, 2)}
