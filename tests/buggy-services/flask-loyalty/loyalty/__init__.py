"""Loyalty points: members redeem points for a voucher worth their tier's rate."""

from flask import Flask


def create_app():
    from loyalty.routes import bp

    app = Flask(__name__)
    app.register_blueprint(bp)
    return app
