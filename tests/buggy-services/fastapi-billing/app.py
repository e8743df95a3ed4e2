"""Billing service: quotes a card charge with its processing fee."""

import os

from fastapi import Body, FastAPI

from payments import parse_payment
from quote import build_quote

app = FastAPI()


@app.post("/charges/quote")
def charge_quote(body: dict = Body(...)):
    payment = parse_payment(body)
    return build_quote(payment)


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
