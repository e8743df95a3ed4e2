from fastapi.testclient import TestClient

from app import app
from ranking import rank, tokenize

client = TestClient(app)


def test_tokenize_drops_stopwords():
    assert tokenize("How to RESET my password") == ["reset", "password"]


def test_rank_orders_by_score():
    assert [hit["id"] for hit in rank(["order", "refund"])] == [3, 2]


def test_search_route():
    body = client.get("/search", params={"q": "track my order"}).json()
    assert body["best"] == "Track an order"
    assert len(body["hits"]) == 2
