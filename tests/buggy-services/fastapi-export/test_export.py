import asyncio

from fastapi.testclient import TestClient

from app import app
from events import fetch_page, render_row

client = TestClient(app)


def test_fetch_page():
    assert [e["id"] for e in fetch_page(10, 3)] == [10, 11, 12]


def test_render_row():
    assert asyncio.run(render_row({"id": 1, "actor": "user-1", "action": "login"})) == "1,user-1,login"


def test_export_default_page():
    body = client.get("/exports/audit", params={"cursor": 100}).json()
    assert body["cursor"] == 150
    assert body["rows"][0] == "100,user-2,login"
