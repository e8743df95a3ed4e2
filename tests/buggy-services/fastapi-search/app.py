"""Search service: ranks help-centre articles by query terms."""

import os

from fastapi import FastAPI

from ranking import rank, tokenize

app = FastAPI()


@app.get("/search")
def search(q: str, limit: int = 5):
    terms = tokenize(q)
    hits = rank(terms)
    return {"query": q, "best": hits[0]["title"], "hits": hits[:limit]}


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
