"""Fees per payment method and the resulting quote."""

FEE_RATES = {"card": 0.029, "sepa": 0.008, "paypal": 0.034}
CROSS_BORDER = 0.01


def fee_rate(payment):
    rate = FEE_RATES.get(payment["method"], 0.035)
    if payment["country"] not in ("DE", "AT", "NL", "FR"):
        rate += CROSS_BORDER
    return rate


def apply_fee(amount, rate):
    return round(amount * (1 + rate), 2)


def build_quote(payment):
    rate = fee_rate(payment)
    return {
        "currency": payment["currency"],
        "amount": payment["amount"],
        "fee_rate": rate,
        "total": apply_fee(payment["amount"], rate),
    }
