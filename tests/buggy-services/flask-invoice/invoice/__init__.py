"""Invoice summaries: parse the submitted lines, total the billable ones."""

from flask import Flask


def create_app():
    from invoice.routes import bp

    app = Flask(__name__)
    app.register_blueprint(bp)
    return app
