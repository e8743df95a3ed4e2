"""Parsing of submitted invoice lines into the internal form."""


def parse_lines(raw_lines):
    return [parse_line(raw) for raw in raw_lines]


def parse_line(raw):
    # The billing UI has always sent the billable flag as the string "true"/"false".
    return {
        "sku": raw["sku"],
        "amount": float(raw["amount"]) * int(raw.get("quantity", 1)),
        "billable": raw.get("billable") == "true",
    }
