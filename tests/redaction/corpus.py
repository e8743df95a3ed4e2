"""Labeled evaluation corpus for the `redact` processor, generated from a seed.

Every item is one telemetry value as it would reach the collector (a span
attribute, a URL, a SQL statement, an exception message, a span status
message, a free-text or structured log body, a log attribute) with the
sensitive values planted in it (`planted`: class, value) and the hard
negatives it contains (`negatives`: class, value) that must come out
untouched.

Deterministic from the seed with the pinned Faker in
tests/requirements-redaction.txt. Never committed: the secret-shaped values
(AWS keys, GitHub tokens, private keys) would trip secret scanners.

    python -m tests.redaction.corpus --seed 7 --count 6000 > corpus.jsonl
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import random
import string
import sys
import uuid

from faker import Faker

# Classes a redactor must remove, and classes it must leave alone.
PII_CLASSES = [
    "email", "phone", "card", "iban", "ssn", "ipv4", "ipv6", "jwt", "bearer",
    "aws_access_key", "aws_secret_key", "github_token", "gitlab_token", "slack_token",
    "stripe_key", "google_api_key", "private_key", "url_password", "high_entropy",
    "sensitive_key", "inline_secret",
]
NEGATIVE_CLASSES = [
    "trace_id", "span_id", "uuid", "git_sha", "digest", "base64_words", "version",
    "timestamp", "hex_color", "order_number", "private_ip", "token_count", "identifier",
]
# The bar: these must be found every time; every other class at 98%.
MUST_BE_COMPLETE = {"card", "email", "jwt", "aws_access_key", "aws_secret_key",
                    "private_key", "bearer"}

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


@dataclasses.dataclass
class Item:
    id: int
    carrier: str  # span_attr | event_exception | status | log_body | log_struct | log_attr | resource_attr
    key: str
    value: object  # str, or a dict/list tree for log_struct
    planted: list = dataclasses.field(default_factory=list)
    negatives: list = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"])
        self.fake.seed_instance(seed)
        self.us = Faker("en_US")
        self.us.seed_instance(seed + 1)
        self.iban_fakers = []
        for i, loc in enumerate(["de_DE", "fr_FR", "nl_NL", "en_GB", "es_ES", "it_IT"]):
            f = Faker(loc)
            f.seed_instance(seed + 10 + i)
            self.iban_fakers.append(f)

    # --- small helpers -------------------------------------------------

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def hexs(self, n: int) -> str:
        return self.s("0123456789abcdef", n)

    def pick(self, xs):
        return self.r.choice(xs)

    def b64url(self, raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    # --- sensitive values, by class --------------------------------------

    def email(self) -> str:
        e = self.pick([self.fake.email, self.fake.free_email, self.fake.company_email,
                       self.fake.safe_email])()
        if self.r.random() < 0.15:
            local, domain = e.split("@")
            e = f"{local}+{self.pick(['billing', 'test', 'x1'])}@{domain}"
        if self.r.random() < 0.1:
            e = e.upper()
        return e

    def phone(self) -> str:
        d = lambda n: self.s(string.digits, n)
        nz = lambda: str(self.r.randint(2, 9))
        fmt = self.r.randrange(9)
        if fmt == 0:
            return f"+1{nz()}{d(2)}{nz()}{d(6)}"                    # E.164
        if fmt == 1:
            return f"+1 {nz()}{d(2)}-{nz()}{d(2)}-{d(4)}"
        if fmt == 2:
            return f"({nz()}{d(2)}) {nz()}{d(2)}-{d(4)}"             # US national
        if fmt == 3:
            return f"{nz()}{d(2)}.{nz()}{d(2)}.{d(4)}"
        if fmt == 4:
            return f"+44 20 {d(4)} {d(4)}"                           # UK
        if fmt == 5:
            return f"0{self.r.randint(1, 9)}{d(3)} {d(6)}"           # UK national
        if fmt == 6:
            return f"0{self.r.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}"  # FR
        if fmt == 7:
            return f"+33 {self.r.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}"
        return f"+49 30 {d(8)}"                                        # DE

    def card(self) -> str:
        kind = self.pick(["visa16", "mastercard", "amex", "discover", "jcb", "diners", "visa16"])
        n = self.us.credit_card_number(card_type=kind)
        sep = self.pick(["", " ", "-"])
        if not sep:
            return n
        if len(n) == 15:
            return sep.join([n[:4], n[4:10], n[10:]])
        if len(n) == 14:
            return sep.join([n[:4], n[4:10], n[10:]])
        return sep.join(n[i:i + 4] for i in range(0, len(n), 4))

    def iban(self) -> str:
        v = self.pick(self.iban_fakers).iban()
        if self.r.random() < 0.5:
            v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
        return v

    def ssn(self) -> str:
        return self.us.ssn()

    def ipv4(self) -> str:
        while True:
            ip = self.fake.ipv4_public()
            o = [int(x) for x in ip.split(".")]
            if not (o[0] in (0, 10, 127) or o[0] >= 224 or o[:2] == [169, 254]
                    or o[:2] == [192, 168] or (o[0] == 172 and 16 <= o[1] <= 31)
                    or (o[0] == 100 and 64 <= o[1] <= 127)):
                return ip

    def ipv6(self) -> str:
        import ipaddress
        while True:
            a = ipaddress.IPv6Address(self.r.getrandbits(128))
            if a.is_private or a.is_multicast or a.is_link_local or a.is_loopback or a.ipv4_mapped:
                continue
            return a.compressed if self.r.random() < 0.5 else a.exploded

    def jwt(self) -> str:
        header = {"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        payload = {"sub": str(self.r.randint(1, 10**6)), "name": self.fake.name(),
                   "iat": self.r.randint(1_600_000_000, 1_800_000_000)}
        sig = bytes(self.r.getrandbits(8) for _ in range(self.pick([32, 64])))
        return ".".join([self.b64url(json.dumps(header).encode()),
                         self.b64url(json.dumps(payload).encode()), self.b64url(sig)])

    def bearer_token(self) -> str:
        return self.pick([
            lambda: self.s(ALNUM, self.r.randint(24, 64)),
            lambda: self.s(ALNUM + "-._~", self.r.randint(32, 80)),
            self.jwt,
        ])()

    def aws_access_key(self) -> str:
        return self.pick(["AKIA", "ASIA"]) + self.s(string.ascii_uppercase + "234567", 16)

    def aws_secret_key(self) -> str:
        return self.s(B64, 40)

    def github_token(self) -> str:
        if self.r.random() < 0.8:
            return f"gh{self.pick('pousr')}_" + self.s(ALNUM, 36)
        return "github_pat_" + self.s(ALNUM, 22) + "_" + self.s(ALNUM, 59)

    def gitlab_token(self) -> str:
        return self.pick(["glpat-", "glpat-", "gldt-", "glrt-"]) + self.s(ALNUM + "_-", 20)

    def slack_token(self) -> str:
        if self.r.random() < 0.75:
            return (f"xox{self.pick('bpar')}-{self.s(string.digits, 11)}-"
                    f"{self.s(string.digits, 12)}-{self.s(ALNUM, 24)}")
        return (f"https://hooks.slack.com/services/T{self.s(string.ascii_uppercase + string.digits, 8)}"
                f"/B{self.s(string.ascii_uppercase + string.digits, 8)}/{self.s(ALNUM, 24)}")

    def stripe_key(self) -> str:
        return f"{self.pick(['sk', 'rk'])}_{self.pick(['live', 'test'])}_" + self.s(ALNUM, self.r.randint(24, 99))

    def google_api_key(self) -> str:
        if self.r.random() < 0.7:
            return "AIza" + self.s(ALNUM + "_-", 35)
        return "ya29." + self.s(ALNUM + "_-", self.r.randint(60, 120))

    def private_key(self) -> tuple[str, str]:
        kind = self.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                          "ENCRYPTED PRIVATE KEY"])
        lines = [self.s(B64, 64) for _ in range(self.r.randint(3, 12))]
        nl = self.pick(["\n", "\\n"])
        body = nl.join(lines)
        return f"-----BEGIN {kind}-----{nl}{body}{nl}-----END {kind}-----", body

    def password(self) -> str:
        return self.s(ALNUM + "!$%*_+-", self.r.randint(8, 20))

    def high_entropy(self) -> str:
        return self.pick([
            lambda: self.s(ALNUM, self.r.randint(24, 48)),
            lambda: self.s(ALNUM + "_-", self.r.randint(32, 48)),
            lambda: base64.b64encode(bytes(self.r.getrandbits(8) for _ in range(self.r.randint(18, 36)))).decode(),
        ])()

    # --- hard negatives, by class ---------------------------------------

    def negative(self, cls: str) -> str:
        r = self.r
        if cls == "trace_id":
            return self.hexs(32)
        if cls == "span_id":
            return self.hexs(16)
        if cls == "uuid":
            return str(uuid.UUID(int=r.getrandbits(128), version=4))
        if cls == "git_sha":
            return self.hexs(40)
        if cls == "digest":
            return self.pick(["sha256:" + self.hexs(64), self.hexs(64), self.hexs(32)])
        if cls == "base64_words":
            text = " ".join(self.fake.words(r.randint(2, 8)))
            return base64.b64encode(text.encode()).decode()
        if cls == "version":
            return self.pick([
                lambda: f"{r.randint(0, 20)}.{r.randint(0, 40)}.{r.randint(0, 300)}",
                lambda: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}-rc.{r.randint(1, 5)}",
                lambda: f"{r.randint(1, 12)}.{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 255)}",
                lambda: f"{r.randint(4, 6)}.{r.randint(0, 19)}.0-{r.randint(100, 999)}-generic",
            ])()
        if cls == "timestamp":
            t = r.randint(1_600_000_000, 1_800_000_000)
            return self.pick([
                lambda: str(t), lambda: str(t * 1000 + r.randint(0, 999)),
                lambda: str(t * 1_000_000 + r.randint(0, 999_999)),
                lambda: str(t * 1_000_000_000 + r.randint(0, 999_999_999)),
                lambda: self.fake.iso8601() + self.pick(["Z", "+02:00", ".123Z", ""]),
                lambda: self.fake.date_time().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
            ])()
        if cls == "hex_color":
            return "#" + self.pick([self.hexs(6), self.hexs(3), self.hexs(6).upper()])
        if cls == "order_number":
            while True:
                n = self.pick("4563") + self.s(string.digits, r.choice([12, 13, 14, 15, 18]))
                if not luhn(n):
                    break
            if r.random() < 0.3 and len(n) == 16:
                n = " ".join(n[i:i + 4] for i in range(0, 16, 4))
            return n
        if cls == "private_ip":
            return self.pick([
                lambda: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                lambda: f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
                lambda: f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                lambda: "127.0.0.1",
            ])()
        if cls == "token_count":
            return str(r.randint(1, 200_000))
        if cls == "identifier":
            return self.pick([
                lambda: self.pick(["ConcurrentModificationException", "IllegalArgumentException",
                                   "NullPointerException", "ArrayIndexOutOfBoundsException",
                                   "UnsupportedOperationException", "DataIntegrityViolationException",
                                   "HttpMessageNotReadableException", "TransactionSystemException"]),
                lambda: (self.pick(["checkout", "payments", "orders", "inventory", "gateway"])
                         + "-" + self.s("0123456789abcdef", 9) + "-" + self.s(string.ascii_lowercase + string.digits, 5)),
                lambda: "_".join(self.fake.words(r.randint(3, 5))),
                lambda: "".join(w.capitalize() for w in self.fake.words(r.randint(3, 5))) + self.pick(["Service", "Handler", "Controller", "Repository"]),
            ])()
        raise ValueError(cls)

    def negative_in_context(self, cls: str) -> tuple[str, str]:
        """(text fragment, negative value) as it would appear in telemetry."""
        v = self.negative(cls)
        ctx = {
            "trace_id": ["trace_id={v}", "trace {v}", "traceparent 00-{v}-" + self.hexs(16) + "-01"],
            "span_id": ["span_id={v}", "parent span {v}"],
            "uuid": ["request {v}", "id={v}", "for tenant {v}"],
            "git_sha": ["commit {v}", "deployed {v}", "revision={v}"],
            "digest": ["image digest {v}", "checksum {v}"],
            "base64_words": ["payload {v}", "state={v}", "cursor: {v}"],
            "version": ["version {v}", "agent v{v}", "build {v}", "Chrome/{v}", "pkg@{v}", "release {v}"],
            "timestamp": ["at {v}", "ts={v}", "since {v}", "expires {v}"],
            "hex_color": ["color {v}", "theme.accent={v}"],
            "order_number": ["order {v}", "order_id={v}", "invoice {v}", "tracking {v}"],
            "private_ip": ["upstream {v}:8080", "from {v}", "node {v}"],
            "token_count": ["input_tokens={v}", "prompt tokens: {v}", "tokens={v}"],
            "identifier": ["in {v}", "caused by {v}", "pod {v}", "handler {v}"],
        }[cls]
        return self.pick(ctx).format(v=v), v


def luhn(n: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(n)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Keys that hold a value the issue calls sensitive by key.
SENSITIVE_KEYS = ["password", "db.password", "http.request.header.authorization", "api_key",
                  "http.request.header.x-api-key", "client_secret", "session_token",
                  "user.ssn", "http.request.header.cookie", "http.response.header.set-cookie",
                  "auth.credentials", "refresh_token", "app.secret"]
NEUTRAL_KEYS = ["app.note", "message", "detail", "user.comment", "app.payload", "error.detail",
                "messaging.message.body", "app.context"]


def planted_fragment(g: Gen, cls: str) -> tuple[str, str]:
    """(text fragment, planted value) for a value-detected class."""
    r = g.r
    if cls == "email":
        v = g.email()
        return g.pick(["user {v}", "sent to {v}", "<{v}>", "email={v}", "from: {v}", "mailto:{v}"]).format(v=v), v
    if cls == "phone":
        v = g.phone()
        return g.pick(["call {v}", "phone {v}", "sms to {v} failed", "tel: {v}", "contact {v}."]).format(v=v), v
    if cls == "card":
        v = g.card()
        return g.pick(["card {v}", "charged {v}", "pan={v}", "number {v} declined", "using {v}."]).format(v=v), v
    if cls == "iban":
        v = g.iban()
        return g.pick(["iban {v}", "transfer to {v} EUR", "account {v}", "IBAN: {v}."]).format(v=v), v
    if cls == "ssn":
        v = g.ssn()
        return g.pick(["ssn {v}", "SSN: {v}", "tax id {v} rejected", "with {v}"]).format(v=v), v
    if cls == "ipv4":
        v = g.ipv4()
        return g.pick(["client {v}", "from {v}:443", "X-Forwarded-For: {v}", "peer={v}", "http://{v}/health"]).format(v=v), v
    if cls == "ipv6":
        v = g.ipv6()
        return g.pick(["client {v}", "from [{v}]:443", "peer={v}", "addr {v} refused"]).format(v=v), v
    if cls == "jwt":
        v = g.jwt()
        return g.pick(["token {v}", "jwt={v}", "id_token: {v}", "cookie auth={v};", "?access_token={v}&x=1"]).format(v=v), v
    if cls == "bearer":
        v = g.bearer_token()
        return g.pick(["Authorization: Bearer {v}", "sent bearer {v}", "header 'Authorization: Bearer {v}'", "BEARER {v}"]).format(v=v), v
    if cls == "aws_access_key":
        v = g.aws_access_key()
        return g.pick(["access key {v}", "AWS_ACCESS_KEY_ID={v}", "aws_access_key_id = {v}", "using {v}"]).format(v=v), v
    if cls == "aws_secret_key":
        v = g.aws_secret_key()
        return g.pick(["AWS_SECRET_ACCESS_KEY={v}", "aws_secret_access_key = {v}", '"SecretAccessKey": "{v}"',
                       "aws secret: {v}"]).format(v=v), v
    if cls == "github_token":
        v = g.github_token()
        return g.pick(["token {v}", "GITHUB_TOKEN={v}", "https://{v}@github.com/org/repo.git", "auth with {v}"]).format(v=v), v
    if cls == "gitlab_token":
        v = g.gitlab_token()
        return g.pick(["token {v}", "PRIVATE-TOKEN: {v}", "gitlab {v}"]).format(v=v), v
    if cls == "slack_token":
        v = g.slack_token()
        return g.pick(["slack {v}", "posting to {v}", "SLACK_BOT_TOKEN={v}"]).format(v=v), v
    if cls == "stripe_key":
        v = g.stripe_key()
        return g.pick(["stripe key {v}", "STRIPE_SECRET={v}", "using {v} for charges"]).format(v=v), v
    if cls == "google_api_key":
        v = g.google_api_key()
        return g.pick(["maps?key={v}&q=1", "GOOGLE_API_KEY={v}", "oauth {v}"]).format(v=v), v
    if cls == "private_key":
        block, body = g.private_key()
        return g.pick(["key material: {v}", "loaded {v}", "{v}"]).format(v=block), body
    if cls == "url_password":
        v = g.password()
        scheme = g.pick(["postgres", "mysql", "redis", "amqp", "mongodb+srv", "https", "ftp"])
        user = g.fake.user_name()
        host = g.pick([g.fake.domain_name(), "db.internal", "10.0.3.4"])
        return f"connecting to {scheme}://{user}:{v}@{host}:{r.randint(1000, 9999)}/app", v
    if cls == "high_entropy":
        v = g.high_entropy()
        return g.pick(["nonce {v}", "using credential {v} for upstream", "signed with {v}", "value {v} rotated"]).format(v=v), v
    if cls == "inline_secret":
        v = g.password()
        return g.pick(["login password={v} user=bob", '{{"user": "bob", "password": "{v}"}}',
                       "passwd: {v}", "retry with api_key={v}", "secret={v}&mode=1",
                       "Set-Cookie: session={v}; Path=/; HttpOnly"]).format(v=v), v
    raise ValueError(cls)


URL_PARAM = {"email": "email", "phone": "phone", "card": "card", "iban": "iban", "ssn": "ssn",
             "ipv4": "client_ip", "ipv6": "client_ip", "jwt": "id_token", "aws_access_key": "AWSAccessKeyId",
             "aws_secret_key": "aws_secret", "github_token": "gh", "gitlab_token": "gl", "slack_token": "hook",
             "stripe_key": "sk", "google_api_key": "key", "high_entropy": "sig",
             "trace_id": "trace", "span_id": "span", "uuid": "id", "git_sha": "rev", "digest": "sum",
             "base64_words": "state", "version": "v", "timestamp": "ts", "hex_color": "color",
             "order_number": "order", "private_ip": "upstream", "token_count": "tokens", "identifier": "from"}
NOT_IN_URLS = {"private_key", "bearer", "inline_secret", "url_password"}


def url_with(g: Gen, values: list[tuple[str, str]]) -> str:
    """A URL whose query carries the values raw, as applications log them."""
    f = g.fake
    q = "&".join(f"{URL_PARAM[c]}={v.replace(' ', '')}" if c in ("iban", "card", "order_number") and " " in v
                 else f"{URL_PARAM[c]}={v}" for c, v in values)
    return f"https://{f.domain_name()}/api/v{g.r.randint(1, 3)}/{f.word()}?{q}"


def text_around(g: Gen, parts: list[str], shape: str) -> str:
    """Wraps fragments in a realistic value of the given shape."""
    f = g.fake
    joined = " ".join(parts)
    if shape == "sql":
        return g.pick([
            f"SELECT id, name FROM users WHERE note = '{joined}' LIMIT 10",
            f"UPDATE accounts SET memo = '{joined}' WHERE id = {g.r.randint(1, 99999)}",
            f"INSERT INTO audit (actor, detail) VALUES ('{f.user_name()}', '{joined}')",
        ])
    if shape == "exception":
        exc = g.pick(["ValueError", "java.lang.IllegalStateException", "RuntimeError",
                      "PaymentDeclinedException", "TypeError", "KeyError"])
        return f"{exc}: {f.sentence(nb_words=4).rstrip('.')} ({joined})"
    if shape == "log":
        level = g.pick(["INFO", "WARN", "ERROR", "DEBUG"])
        return f"{f.date_time().isoformat()} {level} [{f.word()}] {f.sentence(nb_words=5).rstrip('.')}: {joined}"
    return f"{f.sentence(nb_words=g.r.randint(2, 6)).rstrip('.')} {joined}"


def generate(seed: int = 7, count: int = 6000) -> list[Item]:
    g = Gen(seed)
    items: list[Item] = []
    value_classes = [c for c in PII_CLASSES if c != "sensitive_key"]
    k = 0
    carriers = ["span_attr", "span_attr", "event_exception", "status", "log_body", "log_struct",
                "log_attr", "resource_attr"]
    for i in range(count):
        planted: list = []
        negatives: list = []
        parts: list[str] = []
        # A quarter of the items hold no sensitive value at all (precision).
        if i % 4 != 3:
            if i % 11 == 5:
                # A sensitive key: the whole value goes.
                key = g.pick(SENSITIVE_KEYS)
                v = g.pick([g.password, lambda: g.s(ALNUM, 32), lambda: "sid=" + g.s(ALNUM, 24) + "; theme=dark"])()
                carrier = g.pick(["span_attr", "log_attr", "log_struct"])
                ncls = g.pick(NEGATIVE_CLASSES)
                neg_frag, neg = g.negative_in_context(ncls)
                if carrier == "log_struct":
                    value = {"msg": text_around(g, [neg_frag], "free"), "request": {key: v, "route": "/login"}}
                    items.append(Item(i, carrier, "body", value, [["sensitive_key", v]], [[ncls, neg]]))
                else:
                    items.append(Item(i, carrier, key, v, [["sensitive_key", v]], []))
                continue
            cls = value_classes[k % len(value_classes)]
            k += 1
            frag, v = planted_fragment(g, cls)
            parts.append(frag)
            planted.append([cls, v])
        for _ in range(g.r.randint(1, 2) if i % 4 == 3 else g.r.randint(0, 2)):
            ncls = g.pick(NEGATIVE_CLASSES)
            frag, v = g.negative_in_context(ncls)
            parts.insert(g.r.randrange(len(parts) + 1), frag)
            negatives.append([ncls, v])
        carrier = carriers[i % len(carriers)]
        if carrier == "log_struct":
            value = {
                "msg": text_around(g, parts[:1], "free"),
                "ctx": {"request_id": str(uuid.UUID(int=g.r.getrandbits(128), version=4)),
                        "detail": " ".join(parts[1:]) or g.fake.word(),
                        "tags": [g.fake.word(), " ".join(parts[1:2]) or "ok"]},
                "attempt": g.r.randint(1, 5),
            }
            negatives.append(["uuid", value["ctx"]["request_id"]])
            items.append(Item(i, carrier, "body", value, planted, negatives))
            continue
        shape = {
            "span_attr": g.pick(["sql", "url", "free", "free"]),
            "event_exception": "exception",
            "status": "exception",
            "log_body": "log",
            "log_attr": "free",
            "resource_attr": "free",
        }[carrier]
        key = {
            "span_attr": {"sql": "db.statement", "url": "url.full"}.get(shape) or g.pick(NEUTRAL_KEYS),
            "event_exception": "exception.message",
            "status": "status.message",
            "log_body": "body",
            "log_attr": g.pick(NEUTRAL_KEYS),
            "resource_attr": g.pick(["host.description", "app.owner", "deployment.note"]),
        }[carrier]
        if shape == "url" and not any(c in NOT_IN_URLS for c, _ in planted):
            # Spaced card/IBAN/order numbers lose their spaces in a URL.
            planted = [[c, v.replace(" ", "")] if c in ("iban", "card") else [c, v] for c, v in planted]
            negatives = [[c, v.replace(" ", "")] if c == "order_number" else [c, v] for c, v in negatives]
            value = url_with(g, [(c, v) for c, v in planted + negatives])
        else:
            if shape == "url":
                shape, key = "free", g.pick(NEUTRAL_KEYS)
            value = text_around(g, parts, shape)
        items.append(Item(i, carrier, key, value, planted, negatives))
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=6000)
    a = ap.parse_args()
    for item in generate(a.seed, a.count):
        sys.stdout.write(json.dumps(item.to_json()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
