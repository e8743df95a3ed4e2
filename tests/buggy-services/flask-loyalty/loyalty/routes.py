"""HTTP routes of the loyalty service."""

from flask import Blueprint, jsonify, request

from loyalty.members import load_member
from loyalty.rewards import voucher

bp = Blueprint("loyalty", __name__)


@bp.post("/redemptions")
def redeem():
    body = request.get_json(force=True)
    member = load_member(body["member"])
    points = min(body["points"], member["balance"])
    issued = voucher(member, points)
    if issued is None:
        return jsonify({"error": "too few points for a voucher"}), 422
    return jsonify({"voucher": issued, "channel": body.get("channel", "web")}), 201


@bp.get("/healthz")
def healthz():
    return {"ok": True}
