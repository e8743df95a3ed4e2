"""Mixed traffic for the checkout service: web shoppers browsing and quoting carts, and
now and then the mobile app, whose newest release sends quantities as strings ("2").
Stops after the first answer of 500 or more (the bug firing) plus a few more requests,
or after --max-requests.

    python traffic.py --url http://127.0.0.1:8080 [--seed 7] [--max-requests 400]

Standard library only. Prints one line per request class at the end, and each 5xx as it
happens.
"""

import argparse
import collections
import json
import random
import sys
import time
import urllib.error
import urllib.request

SKUS = ["BK-101", "BK-202", "MG-310", "ST-007"]
COUNTRIES = ["DE", "FR", "NL", "DE", "DE"]
# Shoppers' addresses for the receipt: personal data that the collector's redact
# processor turns into pseudonyms before anything leaves the edge.
SHOPPERS = ["ada.lovelace", "grace.hopper", "edsger.dijkstra", "barbara.liskov", "donald.knuth"]


def cart(rng, mobile):
    items = [{"sku": sku, "qty": rng.randint(1, 3)} for sku in rng.sample(SKUS, rng.randint(1, 3))]
    if mobile:
        # The mobile app's release 5.2 serializes quantities from a text field.
        for item in items:
            item["qty"] = str(item["qty"])
    return {"items": items, "country": rng.choice(COUNTRIES), "currency": "EUR",
            "receipt_email": f"{rng.choice(SHOPPERS)}@shopper.example.org"}


def next_request(rng, mobile_share):
    """(class, method, path, JSON body or None, headers) of one request."""
    roll = rng.random()
    if roll < 0.25:
        return "browse", "GET", "/products", None, {}
    if roll < 0.50:
        sku = rng.choice(SKUS + ["XX-404"])
        return "product", "GET", f"/products/{sku}", None, {}
    mobile = rng.random() < mobile_share
    agent = "checkout-mobile/5.2 (Android 15)" if mobile else "Mozilla/5.0 (X11; Linux x86_64)"
    return ("quote-mobile" if mobile else "quote-web"), "POST", "/cart/quote", cart(rng, mobile), {
        "user-agent": agent, "x-request-id": f"req-{rng.getrandbits(32):08x}"}


def send(base, method, path, body, headers, timeout):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(
        headers, **({"content-type": "application/json"} if data is not None else {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the service's base URL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-requests", type=int, default=400)
    parser.add_argument("--mobile-share", type=float, default=0.1,
                        help="share of cart quotes sent by the mobile app (0 to 1)")
    parser.add_argument("--after-error", type=int, default=5,
                        help="requests still sent after the first 5xx")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between requests")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one request may take")
    args = parser.parse_args(argv)
    if not 0 <= args.mobile_share <= 1:
        parser.error(f"--mobile-share must be between 0 and 1, got {args.mobile_share}")
    if args.max_requests < 1:
        parser.error(f"--max-requests must be at least 1, got {args.max_requests}")
    rng = random.Random(args.seed)
    counts = collections.Counter()
    first_error = None
    for n in range(1, args.max_requests + 1):
        cls, method, path, body, headers = next_request(rng, args.mobile_share)
        try:
            status = send(args.url.rstrip("/"), method, path, body, headers, args.timeout)
        except (OSError, urllib.error.URLError) as e:
            print(f"traffic: {method} {path} failed: {e}", file=sys.stderr)
            return 2
        counts[(cls, status)] += 1
        if status >= 500:
            print(f"traffic: request {n}: {method} {path} ({cls}) answered {status}: {json.dumps(body)}", flush=True)
            first_error = first_error or n
        if first_error and n - first_error >= args.after_error:
            break
        time.sleep(args.interval)
    for (cls, status), count in sorted(counts.items()):
        print(f"traffic: {cls:13} {status}  x{count}")
    if first_error is None:
        print(f"traffic: no 5xx in {args.max_requests} requests", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
