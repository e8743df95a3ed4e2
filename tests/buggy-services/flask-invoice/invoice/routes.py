"""HTTP routes of the invoice service."""

from flask import Blueprint, jsonify, request

from invoice.parse import parse_lines
from invoice.totals import summarize

bp = Blueprint("invoice", __name__)


@bp.post("/invoices/<invoice_id>/summary")
def invoice_summary(invoice_id):
    body = request.get_json(force=True)
    lines = parse_lines(body["lines"])
    summary = summarize(lines)
    summary["invoice"] = invoice_id
    summary["currency"] = body.get("currency", "EUR")
    return jsonify(summary)


@bp.get("/healthz")
def healthz():
    return {"ok": True}
