"""Totals over parsed invoice lines."""


def summarize(lines):
    billable = [line for line in lines if line["billable"]]
    total = sum(line["amount"] for line in billable)
    return {
        "lines": len(lines),
        "billable_lines": len(billable),
        "total": round(total, 2),
        "average_billable": average(total, len(billable)),
    }


def average(total, count):
    return round(total / count, 2)
