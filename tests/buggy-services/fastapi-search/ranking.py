"""Term ranking over a small article index."""

STOPWORDS = {"a", "an", "and", "how", "i", "is", "my", "of", "the", "to", "what"}

ARTICLES = [
    {"id": 1, "title": "Reset your password", "text": "reset password account login email"},
    {"id": 2, "title": "Track an order", "text": "order tracking shipping parcel delivery"},
    {"id": 3, "title": "Return an item", "text": "return refund item order label"},
]


def tokenize(query):
    return [word for word in query.lower().split() if word not in STOPWORDS]


def rank(terms):
    """Articles sharing at least one term with the query, best first."""
    scored = []
    for article in ARTICLES:
        words = set(article["text"].split())
        score = sum(1 for term in terms if term in words)
        if score:
            scored.append({"id": article["id"], "title": article["title"], "score": score})
    return sorted(scored, key=lambda hit: (-hit["score"], hit["id"]))
