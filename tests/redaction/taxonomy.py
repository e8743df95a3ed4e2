"""A second labeled corpus whose categories come from published taxonomies, not
from the `redact` rules: Sentry Relay's built-in PII rules (`@mac`, `@imei`,
`@userpath`, `@password`, `@creditcard`, `@iban`, `@ip`, `@email`, `@usssn`,
`@pemkey`, `@urlauth`, `@bearer`), the pattern entities of Microsoft Presidio's
predefined recognizers (PHONE_NUMBER, IBAN_CODE, CREDIT_CARD, ...) and secret
types of gitleaks' default config. Where a category is national (phones, IBANs)
it has formats of at least 20 countries: Faker's per-locale phone formats (30
locales) and IBANs (25 countries, ISO 13616 check digits computed here).

Same item format as corpus.py (so otlp.py carries it and score.py scores it),
deterministic from the seed with the pinned Faker, never committed (it holds
secret-shaped values). Every new rule has generated hard negatives.

    python -m tests.redaction.taxonomy --seed 11 --count 4000 > taxonomy.jsonl
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from faker import Faker

from .corpus import ALNUM, Gen, Item, luhn

# Planted classes: the category, its source taxonomy entry.
PII_CLASSES = {
    "mac": "Relay @mac",
    "imei": "Relay @imei",
    "home_user": "Relay @userpath",
    "password_text": "Relay @password (free text)",
    "phone_intl": "Presidio PHONE_NUMBER (30 locales)",
    "iban_intl": "Presidio IBAN_CODE / Relay @iban (25 countries)",
    "card_grouped": "Presidio CREDIT_CARD / Relay @creditcard (groupings)",
    "gitleaks_secret": "gitleaks default rules (vendor tokens)",
    # The national categories as a browser or an HTTP client sends them in a query
    # string or a form body (WHATWG application/x-www-form-urlencoded: `+` for a space,
    # `%2B` for a plus) and percent-encoded (RFC 3986, `%20` for a space).
    "phone_intl_form": "PHONE_NUMBER, form-encoded (`%2B49+30+...`)",
    "phone_intl_pct": "PHONE_NUMBER, percent-encoded (`%2B49%2030%20...`)",
    "iban_intl_form": "IBAN_CODE, spaced and form-encoded",
    "iban_intl_pct": "IBAN_CODE, spaced and percent-encoded",
}
# Planted classes whose value is sent encoded: scored on the text as sent and decoded.
ENCODED = {"phone_intl_form": "form", "phone_intl_pct": "pct", "iban_intl_form": "form",
           "iban_intl_pct": "pct"}
NEGATIVE_CLASSES = {
    "hex_groups": "colon/dash hex that is no MAC (fingerprints, EUI-64, short runs)",
    "order_15": "15-digit numbers failing Luhn",
    "service_path": "home paths of service accounts, shared dirs, API routes",
    "version_4part": "four-part versions in a version context",
    "password_prose": "sentences about passwords with no password",
    "phone_like": "dates, times, durations and ids beside phone words",
    "query_values": "form- and percent-encoded query values that are no PII (search terms, dates, paging)",
}

PHONE_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "pt_PT", "pt_BR",
                 "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "de_AT", "de_CH", "en_AU",
                 "en_CA", "en_IN", "ja_JP", "ko_KR", "tr_TR", "hu_HU", "ro_RO", "el_GR", "nl_BE",
                 "en_NZ", "fr_CH", "uk_UA"]
# Country: BBAN layout (a = letter, n = digit, c = either), after ISO 13616.
# Lengths checked against the registry's: AT 20, BE 16, ..., SE 24 (total).
IBAN_LAYOUTS = {
    "AT": "nnnnnnnnnnnnnnnn", "BE": "nnnnnnnnnnnn", "BG": "aaaannnnnncccccccc", "CH": "nnnnncccccccccccc",
    "CY": "nnnnnnnncccccccccccccccc", "CZ": "nnnnnnnnnnnnnnnnnnnn", "DE": "nnnnnnnnnnnnnnnnnn",
    "DK": "nnnnnnnnnnnnnn", "EE": "nnnnnnnnnnnnnnnn", "ES": "nnnnnnnnnnnnnnnnnnnn", "FI": "nnnnnnnnnnnnnn",
    "FR": "nnnnnnnnnncccccccccccnn", "GB": "aaaannnnnnnnnnnnnn", "GR": "nnnnnnncccccccccccccccc",
    "HR": "nnnnnnnnnnnnnnnnn", "HU": "nnnnnnnnnnnnnnnnnnnnnnnn", "IE": "aaaannnnnnnnnnnnnn",
    "IT": "annnnnnnnnncccccccccccc", "LU": "nnnccccccccccccc", "NL": "aaaannnnnnnnnn",
    "NO": "nnnnnnnnnnn", "PL": "nnnnnnnnnnnnnnnnnnnnnnnn", "PT": "nnnnnnnnnnnnnnnnnnnnn",
    "RO": "aaaacccccccccccccccc", "SE": "nnnnnnnnnnnnnnnnnnnn",
}
NOT_PEOPLE = ["app", "Shared", "Public", "ubuntu", "ec2-user", "runner", "node", "root", "Default",
              "jenkins", "www-data", "linuxbrew", "vagrant", "circleci", "admin", "deploy"]


class TaxGen(Gen):
    def __init__(self, seed: int):
        super().__init__(seed)
        self.phone_fakers = []
        for i, loc in enumerate(PHONE_LOCALES):
            f = Faker(loc)
            f.seed_instance(seed + 100 + i)
            self.phone_fakers.append(f)

    def digits(self, n: int) -> str:
        return self.s(string.digits, n)

    # --- planted ------------------------------------------------------------

    def mac(self) -> str:
        b = [self.r.randrange(256) for _ in range(6)]
        b[0] &= 0xFE  # a unicast device address
        if not any(b[1:]):
            b[5] = 1
        hx = [f"{x:02x}" for x in b]
        if self.r.random() < 0.4:
            hx = [h.upper() for h in hx]
        form = self.r.randrange(3)
        if form == 0:
            return ":".join(hx)
        if form == 1:
            return "-".join(hx)
        joined = "".join(hx)
        return ".".join(joined[i:i + 4] for i in range(0, 12, 4))

    def imei(self) -> str:
        tac = self.pick(["35", "86", "01", "99", "49", "35"]) + self.digits(6)
        body = tac + self.digits(6)
        n = next(body + d for d in string.digits if luhn(body + d))
        if self.r.random() < 0.3:
            return f"{n[:2]}-{n[2:8]}-{n[8:14]}-{n[14]}"
        return n

    def user_name(self, avoid: str = "") -> str:
        while True:
            u = self.pick([self.fake.user_name, self.fake.first_name, lambda: self.fake.last_name().lower()])()
            u = "".join(c for c in u if c.isascii() and (c.isalnum() or c in "._-"))
            if len(u) >= 5 and u.lower() not in (n.lower() for n in NOT_PEOPLE) and u not in avoid:
                return u

    def home_path(self, user: str) -> str:
        tail = self.pick(["/app/config.yml", "/.cache/pip/wheels", "/src/service/main.py", "/Downloads/report.csv",
                          "/.ssh/known_hosts", "", "/go/pkg/mod"])
        return self.pick([
            lambda: f"/home/{user}{tail}",
            lambda: f"/Users/{user}{tail}",
            lambda: "C:\\Users\\" + user + tail.replace("/", "\\"),
            lambda: "C:\\\\Users\\\\" + user + tail.replace("/", "\\\\"),
            lambda: f"file:///home/{user}{tail}",
        ])()

    def phone_intl(self) -> str:
        return self.pick(self.phone_fakers).phone_number()

    def encoded(self, v: str, how: str) -> str:
        """`v` as a form value (`quote_plus`: space `+`, plus `%2B`) or percent-encoded."""
        return quote_plus(v) if how == "form" else quote(v, safe="")

    def iban_intl(self, spaced: bool | None = None) -> str:
        cc = self.pick(sorted(IBAN_LAYOUTS))
        # `c` (alphanumeric) positions hold an account number: mostly digits in
        # real IBANs (letters are bank codes, check letters, a few account ids).
        bban = "".join(self.pick(string.ascii_uppercase) if k == "a" or k == "c" and self.r.random() < 0.15
                       else self.pick(string.digits) for k in IBAN_LAYOUTS[cc])
        num = "".join(str(int(ch, 36)) for ch in bban + cc + "00")
        iban = f"{cc}{98 - int(num) % 97:02d}{bban}"
        if spaced if spaced is not None else self.r.random() < 0.5:
            iban = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban

    def card_grouped(self) -> str:
        kind = self.pick(["visa19", "visa16", "mastercard", "discover", "jcb", "maestro"])
        prefix = {"visa19": "4", "visa16": "4", "mastercard": "5" + str(self.r.randint(1, 5)),
                  "discover": "6011", "jcb": "35" + str(self.r.randint(28, 89)), "maestro": "6759"}[kind]
        length = {"visa19": 19, "maestro": 19}.get(kind, 16)
        body = prefix + self.digits(length - len(prefix) - 1)
        n = next(body + d for d in string.digits if luhn(body + d))
        seps = self.pick([".", " ", "-", "mixed"])
        groups = [n[i:i + 4] for i in range(0, len(n), 4)]
        if seps != "mixed":
            return seps.join(groups)
        out = groups[0]
        for g in groups[1:]:
            out += self.pick([" ", "-", "."]) + g
        return out

    def gitleaks_secret(self) -> str:
        hexs, a = self.hexs, ALNUM
        return self.pick([
            lambda: "sk-proj-" + self.s(a + "_-", 64),                                   # openai-api-key
            lambda: "sk-ant-api03-" + self.s(a + "_-", 93) + "AA",                       # anthropic-api-key
            lambda: "npm_" + self.s(a, 36),                                              # npm-access-token
            lambda: "pypi-AgEIcHlwaS5vcmc" + self.s(a + "_-", 60),                       # pypi-upload-token
            lambda: "SG." + self.s(a + "_-", 22) + "." + self.s(a + "_-", 43),           # sendgrid-api-token
            lambda: "shpat_" + hexs(32),                                                 # shopify-access-token
            lambda: "dop_v1_" + hexs(64),                                                # digitalocean-pat
            lambda: "hvs." + self.s(a + "_-", 90),                                       # vault-service-token
            lambda: "hf_" + self.s(string.ascii_letters, 34),                            # huggingface-access-token
            lambda: "dapi" + hexs(32),                                                   # databricks-api-token
            lambda: "lin_api_" + self.s(a, 40),                                          # linear-api-key
            lambda: "PMAK-" + hexs(24) + "-" + hexs(34),                                 # postman-api-token
            lambda: "glsa_" + self.s(a, 32) + "_" + hexs(8),                             # grafana-service-account
            lambda: "dp.pt." + self.s(a, 43),                                            # doppler-api-token
            lambda: "pul-" + hexs(40),                                                   # pulumi-api-token
            lambda: "rubygems_" + hexs(48),                                              # rubygems-api-token
        ])()

    # --- hard negatives ------------------------------------------------------

    def negative(self, cls: str) -> str:
        r = self.r
        if cls == "hex_groups":
            return self.pick([
                # Fingerprints (8 colon groups would be a valid IPv6 address).
                lambda: ":".join(self.hexs(2) for _ in range(r.choice([16, 20, 32]))),
                lambda: ":".join(self.hexs(2) for _ in range(r.choice([3, 4]))),           # short runs
                lambda: self.hexs(12),                                                     # bare hex id
                lambda: "-".join(self.hexs(2) for _ in range(8)),                          # EUI-64
                lambda: "00:00:00:00:00:00",
            ])()
        if cls == "order_15":
            while True:
                n = self.pick("123456789") + self.digits(14)
                if not luhn(n):
                    return n
        if cls == "service_path":
            return self.pick([
                lambda: f"/home/{self.pick(NOT_PEOPLE)}/app/main.py",
                lambda: f"/Users/{self.pick(['Shared', 'Public', 'Guest'])}/build.log",
                lambda: "C:\\Users\\" + self.pick(["Public", "Default", "Administrator"]) + "\\AppData",
                lambda: f"/api/v{r.randint(1, 3)}/users/{r.randint(1, 99999)}/orders",
                lambda: f"/home/linuxbrew/.linuxbrew/bin/{self.fake.word()}",
                lambda: f"/var/lib/{self.fake.word()}/data",
            ])()
        if cls == "version_4part":
            return f"{r.randint(1, 31)}.{r.randint(0, 40)}.{r.randint(0, 300)}.{r.randint(0, 999)}"
        if cls == "password_prose":
            return self.pick(["password reset requested", "password is incorrect", "password policy updated",
                              "password must have 12 characters", "passwords do not match",
                              "password expired for the account", "pwd changed successfully",
                              "the passphrase was rejected", "password hash algorithm: bcrypt"])
        if cls == "phone_like":
            return self.pick([
                lambda: self.fake.date_time().strftime("%Y-%m-%d %H:%M:%S"),
                lambda: f"{r.randint(1, 900)} ms",
                lambda: f"{r.randint(1, 59)}:{r.randint(10, 59)}",
                lambda: f"#{r.randint(1000, 99999)}",
            ])()
        if cls == "query_values":
            term = " ".join(self.fake.words(r.randint(1, 3)))
            return self.pick([
                lambda: f"q={quote_plus(term)}&page={r.randint(1, 40)}&per_page={self.pick([20, 50, 100])}",
                lambda: f"from={quote(self.fake.date_time().isoformat(), safe='')}&tz=Europe%2FBerlin",
                lambda: f"amount={r.randint(1, 99999)}.{r.randint(0, 99):02d}&currency=EUR",
                lambda: f"utm_campaign={quote_plus(term)}+{r.randint(2019, 2026)}&utm_source=mail",
                lambda: f"sort=created_at&order=desc&limit={r.randint(1, 500)}",
                lambda: f"redirect={quote('/account/orders/' + str(r.randint(1, 99999)), safe='')}",
            ])()
        raise ValueError(cls)

    def negative_in_context(self, cls: str) -> tuple[str, str]:
        v = self.negative(cls)
        ctx = {
            "hex_groups": ["fingerprint {v}", "cert sha1={v}", "id {v}", "key id {v}"],
            "order_15": ["order {v}", "invoice {v} paid", "tracking={v}", "account ref {v}"],
            "service_path": ["open {v}", "cwd={v}", "GET {v}", "loading {v}"],
            "version_4part": ["driver {v} loaded", "sdk={v}", "firmware {v}", "version: {v}", "agent/{v}",
                              "kernel {v}", "build {v}", "os {v}"],
            "password_prose": ["{v}", "audit: {v}", "{v} for user id 42"],
            "phone_like": ["call at {v}", "call took {v}", "contact since {v}", "phone ticket {v}"],
            "query_values": ["GET /search?{v} 200", "https://shop.example.com/list?{v}", "{v}",
                             "POST /api/v1/orders body {v}"],
        }[cls]
        return self.pick(ctx).format(v=v), v


def planted(g: TaxGen, cls: str) -> tuple[str, str, str]:
    """(text, planted value, attribute key) of one planted value."""
    if cls == "mac":
        v = g.mac()
        key = g.pick(["device.mac", "app.note", "message", "net.host.mac"])
        text = v if key.endswith("mac") and g.r.random() < 0.5 else \
            g.pick(["client {v} joined", "mac={v}", "from {v} (wlan0)", "DHCPACK to {v}"]).format(v=v)
        return text, v, key
    if cls == "imei":
        v = g.imei()
        if g.r.random() < 0.25:
            return v, v, g.pick(["device.imei", "imei", "mobile.imei"])  # a key rule: the whole value
        return g.pick(["IMEI: {v}", "imei={v}", "device imei {v} blocked", "handset {v} lost"]
                      if "-" in v else ["IMEI: {v}", "imei={v}", "device imei {v} blocked", "IMEI {v}"]
                      ).format(v=v), v, g.pick(["app.note", "message"])
    if cls == "home_user":
        u = g.user_name()
        path = g.home_path(u)
        return g.pick(["open {p}", "cwd={p}", 'File "{p}", line 12', "ENOENT: {p}"]).format(p=path), u, \
            g.pick(["app.note", "exception.stacktrace", "message", "process.cwd"])
    if cls == "password_text":
        v = g.password()
        return g.pick(["login failed for user with password {v}", "pwd {v} rejected", "passphrase was '{v}'",
                       "retry password {v} for bob", "Password is {v}", 'passcode "{v}" expired']
                      ).format(v=v), v, g.pick(["app.note", "message", "exception.message"])
    if cls == "phone_intl":
        v = g.phone_intl()
        return g.pick(["call {v}", "phone {v}", "tel: {v}", "mobile {v} verified", "contact {v}.",
                       "sms to {v} failed", "Tel. {v}", "fax {v}"]).format(v=v), v, g.pick(["app.note", "message"])
    if cls == "iban_intl":
        v = g.iban_intl()
        return g.pick(["iban {v}", "transfer to {v}", "account {v}", "IBAN: {v}."]).format(v=v), v, "app.note"
    if cls in ENCODED:
        how = ENCODED[cls]
        raw = g.phone_intl() if cls.startswith("phone") else g.iban_intl(spaced=True)
        name = g.pick(["phone", "tel", "mobile", "contact_number"] if cls.startswith("phone")
                      else ["iban", "account", "payout_iban", "bank_account"])
        v = g.encoded(raw, how)
        text = g.pick([
            lambda: (f"{name}={v}&lang=de", "url.query"),
            lambda: (f"https://shop.example.com/account?{name}={v}&step=2", "url.full"),
            lambda: (f"/api/v1/profile?{name}={v}", "http.target"),
            lambda: (f"first_name=Bob&{name}={v}&submit=Save", "body"),
            lambda: (f"GET /signup?{name}={v}&ref=mail HTTP/1.1 200", "message"),
        ])()
        return text[0], v, text[1]
    if cls == "card_grouped":
        v = g.card_grouped()
        return g.pick(["card {v}", "charged {v}", "pan={v}", "number {v} declined"]).format(v=v), v, "app.note"
    if cls == "gitleaks_secret":
        v = g.gitleaks_secret()
        return g.pick(["token {v}", "key={v}", "using {v} for upload", "export API_TOKEN={v}",
                       '"token": "{v}"']).format(v=v), v, g.pick(["app.note", "message", "process.command_line"])
    raise ValueError(cls)


def generate(seed: int = 11, count: int = 4000) -> list[Item]:
    g = TaxGen(seed)
    items: list[Item] = []
    pii = list(PII_CLASSES)
    neg = list(NEGATIVE_CLASSES)
    carriers = ["span_attr", "span_attr", "event_exception", "log_body", "log_attr", "status"]
    for i in range(count):
        carrier = carriers[i % len(carriers)]
        if i % 2 == 0:
            cls = pii[(i // 2) % len(pii)]
            text, v, key = planted(g, cls)
            plants, negs = [[cls, v]], []
            if g.r.random() < 0.5 and text != v:
                ncls = g.pick(neg)
                frag, nv = g.negative_in_context(ncls)
                if nv not in text and v not in frag:
                    text = f"{text}; {frag}"
                    negs.append([ncls, nv])
        else:
            cls = neg[(i // 2) % len(neg)]
            text, nv = g.negative_in_context(cls)
            plants, negs, key = [], [[cls, nv]], g.pick(["app.note", "message", "process.cwd"])
        if plants and text == plants[0][1] and key != "app.note":
            # A value held by its key (`device.imei`, `device.mac`): an attribute, as sent.
            items.append(Item(i, g.pick(["span_attr", "log_attr"]), key, text, plants, []))
            continue
        if plants and plants[0][0] in ENCODED and key != "message":
            # A URL attribute or a form body, as instrumentations record them.
            carrier = "log_body" if key == "body" else g.pick(["span_attr", "log_attr"])
            items.append(Item(i, carrier, key, text, plants, negs))
            continue
        if carrier == "event_exception":
            key = "exception.message"
        elif carrier in ("log_body", "status"):
            key = "body" if carrier == "log_body" else "status.message"
        items.append(Item(i, carrier, key, text, plants, negs))
    return items


def score(items, outputs: dict) -> dict:
    """Per class: n, ok, misses (the score.py rules, over this corpus's classes)."""
    from .score import flatten, leaked

    res = {c: {"n": 0, "ok": 0, "misses": []} for c in [*PII_CLASSES, *NEGATIVE_CLASSES]}
    for it in items:
        it = it if isinstance(it, dict) else it.to_json()
        out = flatten(outputs[it["id"]])
        for cls, v in it["planted"]:
            res[cls]["n"] += 1
            # An encoded value leaks as sent, or as any decoding of it.
            dec = {"form": unquote_plus, "pct": unquote}.get(ENCODED.get(cls, ""))
            if leaked(v, out) or dec is not None and leaked(dec(v), dec(out)):
                res[cls]["misses"].append((it["id"], v, out[:300]))
            else:
                res[cls]["ok"] += 1
        for cls, v in it["negatives"]:
            res[cls]["n"] += 1
            if v in out:
                res[cls]["ok"] += 1
            else:
                res[cls]["misses"].append((it["id"], v, out[:300]))
    return res


def table(res: dict) -> str:
    lines = ["| class | source | kind | n | result |", "|---|---|---|---:|---:|"]
    for c, src in [*PII_CLASSES.items(), *NEGATIVE_CLASSES.items()]:
        kind = "recall" if c in PII_CLASSES else "untouched"
        r = res[c]
        lines.append(f"| {c} | {src} | {kind} | {r['n']} | {100.0 * r['ok'] / max(r['n'], 1):.1f}% |")
    return "\n".join(lines)


def failures(res: dict, recall: float = 0.99, untouched: float = 0.995) -> list[str]:
    """Recall per planted class, and hard negatives untouched overall and per class."""
    out = []
    for c in PII_CLASSES:
        r = res[c]
        if r["n"] == 0 or r["ok"] / r["n"] < recall:
            out.append(f"{c}: recall {r['ok']}/{r['n']} below {recall:.0%}; first misses: {r['misses'][:4]}")
    nn = sum(res[c]["n"] for c in NEGATIVE_CLASSES)
    nok = sum(res[c]["ok"] for c in NEGATIVE_CLASSES)
    if nn == 0 or nok / nn < untouched:
        bad = [(c, res[c]["misses"][:3]) for c in NEGATIVE_CLASSES if res[c]["misses"]]
        out.append(f"hard negatives untouched {nok}/{nn} below {untouched:.1%}; misses: {bad}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--count", type=int, default=4000)
    a = ap.parse_args()
    for item in generate(a.seed, a.count):
        sys.stdout.write(json.dumps(item.to_json()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
