from fastapi.testclient import TestClient

from app import app
from directory import Directory

client = TestClient(app)


def test_card_prefers_nickname():
    assert client.get("/users/u-100/card").json() == {"id": "u-100", "name": "ada", "avatar": "/static/default.png"}


def test_card_full_name_and_avatar():
    assert client.get("/users/u-101/card").json() == {"id": "u-101", "name": "Alan Turing", "avatar": "/a/u-101.png"}


def test_directory_unknown_user_is_none():
    assert Directory().find("nobody") is None
