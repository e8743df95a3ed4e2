"""The payment part of a charge request."""


def parse_payment(body):
    payment = body["payment"]
    return {
        "amount": payment["amount"],
        "currency": payment.get("currency", "EUR"),
        "method": payment["method"]["type"],
        "country": body.get("billing", {}).get("country", "DE"),
    }
