"""Export service: renders a page of audit events as CSV rows within a time budget."""

import asyncio
import os

from fastapi import FastAPI

from events import fetch_page, render_row

app = FastAPI()

# The whole export must finish within this budget (the gateway gives up soon after).
EXPORT_BUDGET_S = 2.0


async def render_page(events):
    rows = []
    for event in events:
        rows.append(await render_row(event))
    return rows


@app.get("/exports/audit")
async def export_audit(page_size: int = 50, cursor: int = 0):
    events = fetch_page(cursor, page_size)
    rows = await asyncio.wait_for(render_page(events), timeout=EXPORT_BUDGET_S)
    return {"cursor": cursor + len(rows), "rows": rows}


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
