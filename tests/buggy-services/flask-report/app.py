"""Latency report service: percentiles of recorded request latencies per service."""

import os
import statistics

from flask import Flask, jsonify, request

from samples import latencies_for

app = Flask(__name__)


@app.get("/reports/latency")
def latency_report():
    service = request.args.get("service", "checkout")
    values = latencies_for(service, request.args.get("route"))
    return jsonify(
        {
            "service": service,
            "count": len(values),
            "median_ms": statistics.median(values),
            "max_ms": max(values),
        }
    )


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
