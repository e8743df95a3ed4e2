//! The `pseudonymize` action: a keyed, deterministic stand-in that keeps the
//! value's shape, so a request replayed from redacted telemetry takes the
//! same code path as the original (an email still passes an email check, a
//! card number still passes Luhn). A plain `tok_v1_...` token would fail
//! such validation before the code under repair is reached.
//!
//! Every stand-in is drawn from HMAC-SHA256 under the hash key, so equal
//! inputs give equal outputs, a different key gives different outputs, and
//! nobody without the key can map one back. Only the structure a validator
//! reads is kept (an issuer prefix, a country code, a UUID's version); the
//! rest is drawn fresh. The output is never the input: a draw that happens
//! to reproduce it is drawn again.

use crate::action::Hmac;
use crate::validate;

/// What a value is, which decides what of it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `u_<16 hex>@example.com` (`%40` kept when the `@` was encoded).
    Email,
    /// Same length and separators, issuer prefix (first 6 digits), Luhn.
    Card,
    /// Same country, length and separators, valid ISO 13616 check digits.
    Iban,
    /// `ddd-dd-dddd` in the issued ranges.
    Ssn,
    /// Digits stay digits; `+`, separators and the first digits (country
    /// and area code) are kept; NANP exchange codes stay 2-9.
    Phone,
    /// A dotted quad of a public unicast address.
    Ipv4,
    /// Hex digits stay hex digits (an embedded dotted quad stays one).
    Ipv6,
    /// Separators, case and the OUI (first three bytes) kept.
    Mac,
    /// Type allocation code (first 8 digits) kept, Luhn valid.
    Imei,
    /// Version nibble and variant bits kept, case kept.
    Uuid,
    /// Same format and year; month and day drawn (valid whichever of
    /// day/month order the reader assumes).
    Date,
    /// A secret with a vendor prefix (`ghp_`, `sk_live_`, `AKIA`): the
    /// prefix is kept, the rest drawn by character class.
    Secret,
    /// Anything else: digits stay digits, letters stay letters of the same
    /// case, hex stays hex, punctuation and spaces are kept.
    Text,
}

/// The domain pseudonymous emails use. RFC 2606 reserves `example.com`
/// for documentation; unlike `.invalid` or `.test`, common validators
/// (Python's `email-validator`, used by pydantic's `EmailStr`) accept it,
/// and a replay must pass the same validation as the original.
pub const EMAIL_DOMAIN: &str = "example.com";

impl Shape {
    /// The shape of what built-in rule `rule` finds; for other rules (key
    /// rules, custom rules, `inline_secret`, `high_entropy`) the shape is
    /// read off the value.
    pub fn of(rule: &str, value: &str) -> Shape {
        match rule {
            "email" if is_email(value) => Shape::Email,
            "card" => Shape::Card,
            "iban" => Shape::Iban,
            "ssn" => Shape::Ssn,
            "phone" => Shape::Phone,
            "ipv4" => Shape::Ipv4,
            "ipv6" => Shape::Ipv6,
            "mac" => Shape::Mac,
            "imei" => Shape::Imei,
            "aws_access_key" | "github_token" | "gitlab_token" | "slack_token" | "stripe_key"
            | "google_api_key" | "jwt" => Shape::Secret,
            _ => Shape::infer(value),
        }
    }

    /// The shape of a value found by a rule that does not name one.
    pub fn infer(v: &str) -> Shape {
        let b = v.as_bytes();
        if is_email(v) {
            Shape::Email
        } else if is_uuid(b) {
            Shape::Uuid
        } else if parse_date(b).is_some() {
            Shape::Date
        } else if card_digits(b).is_some() {
            Shape::Card
        } else if is_dotted_quad(b) {
            Shape::Ipv4
        } else {
            Shape::Text
        }
    }

    fn tag(self) -> u8 {
        self as u8
    }
}

/// A deterministic stream of draws: HMAC blocks of a seed that is itself
/// the HMAC of the value.
struct Draws<'a> {
    hmac: &'a Hmac,
    seed: [u8; 32],
    block: [u8; 32],
    pos: usize,
    ctr: u32,
}

impl<'a> Draws<'a> {
    fn new(hmac: &'a Hmac, shape: Shape, attempt: u8, normalized: &[u8]) -> Self {
        // Domain-separated from the hash action's tokens: a pseudonym says
        // nothing about the token of the same value.
        let mut msg = Vec::with_capacity(normalized.len() + 24);
        msg.extend_from_slice(b"tracemend-pseudonym\0");
        msg.push(shape.tag());
        msg.push(attempt);
        msg.extend_from_slice(normalized);
        Draws {
            hmac,
            seed: hmac.mac(&msg),
            block: [0; 32],
            pos: 32,
            ctr: 0,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.pos == 32 {
            let mut msg = [0u8; 36];
            msg[..32].copy_from_slice(&self.seed);
            msg[32..].copy_from_slice(&self.ctr.to_le_bytes());
            self.block = self.hmac.mac(&msg);
            self.ctr = self.ctr.wrapping_add(1);
            self.pos = 0;
        }
        let b = self.block[self.pos];
        self.pos += 1;
        b
    }

    /// Uniform in `0..n` (`n` at most 256), by rejection.
    fn below(&mut self, n: u32) -> u32 {
        let limit = 256 - 256 % n;
        loop {
            let b = u32::from(self.byte());
            if b < limit {
                return b % n;
            }
        }
    }

    fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }

    fn hex(&mut self, upper: bool) -> u8 {
        let d = (self.byte() & 15) as usize;
        if upper {
            b"0123456789ABCDEF"[d]
        } else {
            b"0123456789abcdef"[d]
        }
    }

    /// Uniform in `lo..=hi` (a span of at most 65,536).
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let n = hi - lo + 1;
        let limit = 65_536 - 65_536 % n;
        loop {
            let v = u32::from(self.byte()) << 8 | u32::from(self.byte());
            if v < limit {
                return lo + v % n;
            }
        }
    }
}

/// The pseudonym of `value`, which rule `rule` found. `hmac` is the hash
/// action's current key.
pub fn pseudonymize(hmac: &Hmac, rule: &str, value: &str) -> String {
    let shape = Shape::of(rule, value);
    if shape == Shape::Email && is_pseudonym_email(value) {
        // Already one of ours (a second redact in the pipeline, or a replay
        // of redacted data): keep it, as the hash action keeps its tokens.
        return value.to_owned();
    }
    let norm = normalized(shape, value);
    for attempt in 0..32u8 {
        let mut d = Draws::new(hmac, shape, attempt, &norm);
        let out = match draw(shape, value, &mut d) {
            Some(s) => s,
            // The rule's shape did not fit after all (a custom pattern, a
            // truncated value): keep the character classes.
            None => text(value, &mut d, 0),
        };
        if out != value {
            return out;
        }
    }
    // Only a value with nothing to vary gets here (no letters or digits).
    "x".repeat(value.chars().count().max(1))
}

/// Is `v` an email this action made?
pub fn is_pseudonym_email(v: &str) -> bool {
    let Some(local) = v
        .strip_suffix(EMAIL_DOMAIN)
        .and_then(|l| l.strip_suffix('@').or_else(|| l.strip_suffix("%40")))
    else {
        return false;
    };
    local
        .strip_prefix("u_")
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// What the MAC is taken over: equal values in different spellings (case
/// of an email, separators of a card or IBAN) get the same pseudonym's
/// content.
fn normalized(shape: Shape, v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    match shape {
        // `%40` is the same address as `@` (a query and a body join).
        Shape::Email => v.replace("%40", "@").to_ascii_lowercase().into_bytes(),
        Shape::Card | Shape::Imei | Shape::Ssn => {
            b.iter().copied().filter(u8::is_ascii_digit).collect()
        }
        Shape::Iban | Shape::Mac => b
            .iter()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(u8::to_ascii_uppercase)
            .collect(),
        Shape::Uuid | Shape::Ipv6 => v.to_ascii_lowercase().into_bytes(),
        _ => b.to_vec(),
    }
}

fn draw(shape: Shape, v: &str, d: &mut Draws) -> Option<String> {
    match shape {
        Shape::Email => Some(email(d, !v.contains('@'))),
        Shape::Card => card(v, d),
        Shape::Iban => iban(v, d),
        Shape::Ssn => ssn(v, d),
        Shape::Phone => Some(phone(v, d)),
        Shape::Ipv4 => is_dotted_quad(v.as_bytes()).then(|| ipv4(d)),
        Shape::Ipv6 => Some(ipv6(v, d)),
        Shape::Mac => mac(v, d),
        Shape::Imei => imei(v, d),
        Shape::Uuid => uuid(v, d),
        Shape::Date => date(v, d),
        Shape::Secret => Some(text(v, d, vendor_prefix(v.as_bytes()))),
        Shape::Text => Some(text(v, d, 0)),
    }
}

fn email(d: &mut Draws, percent_encoded: bool) -> String {
    let mut out = String::from("u_");
    for _ in 0..16 {
        out.push(d.hex(false) as char);
    }
    out.push_str(if percent_encoded { "%40" } else { "@" });
    out.push_str(EMAIL_DOMAIN);
    out
}

/// `local@domain.tld` with no spaces: what the email rule finds, with the
/// `@` possibly percent-encoded (`%40`, in a query string).
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = split_email(v) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.bytes().any(|b| b.is_ascii_whitespace())
        && !domain.contains('@')
}

/// Local part and domain, split at `@` or, when there is none, at `%40`.
fn split_email(v: &str) -> Option<(&str, &str)> {
    v.split_once('@').or_else(|| v.split_once("%40"))
}

/// Replaces the digits of `v`, in order, with `digits`; everything else is
/// kept where it was.
fn respell(v: &str, digits: &[u8]) -> String {
    let mut it = digits.iter();
    v.bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                it.next().copied().unwrap_or(b) as char
            } else {
                b as char
            }
        })
        .collect()
}

/// The digits of a card number with its separators: 13-19 digits, Luhn.
fn card_digits(b: &[u8]) -> Option<Vec<u8>> {
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.'))
    {
        return None;
    }
    let digits: Vec<u8> = b.iter().copied().filter(u8::is_ascii_digit).collect();
    ((13..=19).contains(&digits.len()) && validate::luhn(&digits)).then_some(digits)
}

/// Sets the last digit so that `digits` passes Luhn.
fn luhn_complete(digits: &mut [u8]) {
    let n = digits.len();
    if n == 0 {
        return;
    }
    for c in b'0'..=b'9' {
        digits[n - 1] = c;
        if validate::luhn(digits) {
            return;
        }
    }
}

fn card(v: &str, d: &mut Draws) -> Option<String> {
    let mut digits: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() < 8 {
        return None;
    }
    // The issuer identification number (first six digits) is what a
    // payment form checks; it identifies a bank, not a person.
    let n = digits.len();
    for c in &mut digits[6..n - 1] {
        *c = d.digit();
    }
    luhn_complete(&mut digits);
    Some(respell(v, &digits))
}

fn imei(v: &str, d: &mut Draws) -> Option<String> {
    let mut digits: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() < 14 {
        return None;
    }
    // The type allocation code (first eight) names the device model; the
    // serial is the personal part. IMEISV (16 digits) has no check digit.
    let n = digits.len();
    let end = if n == 15 { n - 1 } else { n };
    for c in &mut digits[8..end] {
        *c = d.digit();
    }
    if n == 15 {
        luhn_complete(&mut digits);
    }
    Some(respell(v, &digits))
}

fn iban(v: &str, d: &mut Draws) -> Option<String> {
    let chars: Vec<u8> = v
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.len() < 15 || !chars[..2].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let mut out = chars.clone();
    for c in &mut out[4..] {
        *c = if c.is_ascii_digit() {
            d.digit()
        } else {
            b'A' + d.below(26) as u8
        };
    }
    // ISO 13616: check digits = 98 - (BBAN ++ country ++ "00") mod 97.
    let mut rem = 0u32;
    for &c in out[4..].iter().chain(&out[..2]).chain(b"00") {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c - b'A' + 10)) % 97
        };
    }
    let check = 98 - rem;
    out[2] = b'0' + (check / 10) as u8;
    out[3] = b'0' + (check % 10) as u8;
    let mut it = out.iter();
    Some(
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    let c = it.next().copied().unwrap_or(b);
                    if b.is_ascii_lowercase() {
                        c.to_ascii_lowercase() as char
                    } else {
                        c as char
                    }
                } else {
                    b as char
                }
            })
            .collect(),
    )
}

fn ssn(v: &str, d: &mut Draws) -> Option<String> {
    let n = v.bytes().filter(u8::is_ascii_digit).count();
    if n != 9 {
        return None;
    }
    // Issued ranges only, so an SSN validator accepts the replay.
    let mut area = d.range(1, 899);
    if area == 666 {
        area = 665;
    }
    let group = d.range(1, 99);
    let serial = d.range(1, 9999);
    let digits = format!("{area:03}{group:02}{serial:04}");
    Some(respell(v, digits.as_bytes()))
}

fn phone(v: &str, d: &mut Draws) -> String {
    let mut digits: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).collect();
    let n = digits.len();
    // The first digits are a country and area code (or a trunk prefix and
    // area code): where, not who. At least four digits are drawn.
    let keep = n.saturating_sub(7).clamp(2, 4).min(n.saturating_sub(4));
    for c in &mut digits[keep..] {
        *c = d.digit();
    }
    // NANP: the exchange code (the three digits after the area code) never
    // starts with 0 or 1.
    let exch = match (n, digits.first()) {
        (10, Some(b'2'..=b'9')) => Some(3),
        (11, Some(b'1')) => Some(4),
        _ => None,
    };
    if let Some(i) = exch
        && keep <= i
    {
        digits[i] = b'2' + d.below(8) as u8;
    }
    respell(v, &digits)
}

fn is_dotted_quad(b: &[u8]) -> bool {
    let mut parts = 0;
    for p in b.split(|c| *c == b'.') {
        parts += 1;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let n = p.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
        if n > 255 {
            return false;
        }
    }
    parts == 4
}

fn ipv4(d: &mut Draws) -> String {
    // A public unicast first octet: not 0, 10, 100 (CGNAT), 127, 169, 172,
    // 192 or 198 (whose private blocks are easier to skip whole), nor
    // multicast and above.
    let first = loop {
        let o = d.range(1, 223);
        if !matches!(o, 10 | 100 | 127 | 169 | 172 | 192 | 198) {
            break o;
        }
    };
    format!(
        "{first}.{}.{}.{}",
        d.range(0, 255),
        d.range(0, 255),
        d.range(1, 254)
    )
}

fn ipv6(v: &str, d: &mut Draws) -> String {
    // An embedded IPv4 tail (`::ffff:203.0.113.7`) stays a dotted quad.
    let (head, tail) = match v.rfind(':') {
        Some(i) if v[i + 1..].contains('.') => (&v[..=i], Some(&v[i + 1..])),
        _ => (v, None),
    };
    let upper = head.bytes().any(|b| b.is_ascii_uppercase());
    let mut out: String = head
        .bytes()
        .map(|b| {
            if b.is_ascii_hexdigit() {
                d.hex(upper) as char
            } else {
                b as char
            }
        })
        .collect();
    if tail.is_some() {
        out.push_str(&ipv4(d));
    }
    out
}

fn mac(v: &str, d: &mut Draws) -> Option<String> {
    let hex = v.bytes().filter(u8::is_ascii_hexdigit).count();
    if hex != 12 {
        return None;
    }
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let mut seen = 0;
    Some(
        v.bytes()
            .map(|b| {
                if b.is_ascii_hexdigit() {
                    seen += 1;
                    // The OUI names the vendor, not the person.
                    if seen <= 6 {
                        b as char
                    } else {
                        d.hex(upper) as char
                    }
                } else {
                    b as char
                }
            })
            .collect(),
    )
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn uuid(v: &str, d: &mut Draws) -> Option<String> {
    let b = v.as_bytes();
    if !is_uuid(b) {
        return None;
    }
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let mut out = Vec::with_capacity(36);
    for (i, &c) in b.iter().enumerate() {
        out.push(match i {
            8 | 13 | 18 | 23 => b'-',
            // The version nibble.
            14 => c,
            // The variant: keep its top bits (`10xx` for RFC 4122 UUIDs).
            19 => {
                let v = (c as char).to_digit(16).unwrap_or(8) as u8;
                let drawn = (v & 0b1100) | (d.byte() & 0b0011);
                let h = if upper {
                    b"0123456789ABCDEF"
                } else {
                    b"0123456789abcdef"
                };
                h[drawn as usize]
            }
            _ => d.hex(upper),
        });
    }
    String::from_utf8(out).ok()
}

/// A date's layout: where year, month and day sit (byte offsets).
struct DateLayout {
    year: usize,
    month: usize,
    day: usize,
    /// Day and month are both two-digit fields that a reader may swap
    /// (`03/04/2024`): then both are drawn from 1..=12.
    ambiguous: bool,
}

/// `YYYY-MM-DD` (or `/` `.`), `DD/MM/YYYY`, `MM/DD/YYYY`, `DD.MM.YYYY`, and
/// ISO datetimes (`YYYY-MM-DDT...`, whose time is kept).
fn parse_date(b: &[u8]) -> Option<DateLayout> {
    let dig =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let num = |r: std::ops::Range<usize>| {
        b.get(r)
            .map(|s| s.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0')))
    };
    let sep = |i: usize| {
        b.get(i)
            .filter(|c| matches!(c, b'-' | b'/' | b'.'))
            .copied()
    };
    if dig(0..4) && dig(5..7) && dig(8..10) && sep(4).is_some() && sep(4) == sep(7) {
        let rest_ok = b.len() == 10 || matches!(b.get(10), Some(b'T' | b' ')) && dig(11..13);
        let (m, dd) = (num(5..7)?, num(8..10)?);
        if rest_ok && (1..=12).contains(&m) && (1..=31).contains(&dd) {
            return Some(DateLayout {
                year: 0,
                month: 5,
                day: 8,
                ambiguous: false,
            });
        }
    }
    if b.len() == 10 && dig(0..2) && dig(3..5) && dig(6..10) && sep(2).is_some() && sep(2) == sep(5)
    {
        let (a, c) = (num(0..2)?, num(3..5)?);
        if (1..=31).contains(&a) && (1..=31).contains(&c) && (a <= 12 || c <= 12) {
            // Which is the month is unknown, so both stay month-valid.
            return Some(DateLayout {
                year: 6,
                month: 3,
                day: 0,
                ambiguous: true,
            });
        }
    }
    None
}

fn date(v: &str, d: &mut Draws) -> Option<String> {
    let l = parse_date(v.as_bytes())?;
    let mut out = v.as_bytes().to_vec();
    // The year is kept (an age check must still pass); month and day are
    // drawn, day at most 28 so every month has it.
    let _ = l.year;
    let month = d.range(1, 12);
    let day = if l.ambiguous {
        d.range(1, 12)
    } else {
        d.range(1, 28)
    };
    out[l.month] = b'0' + (month / 10) as u8;
    out[l.month + 1] = b'0' + (month % 10) as u8;
    out[l.day] = b'0' + (day / 10) as u8;
    out[l.day + 1] = b'0' + (day % 10) as u8;
    String::from_utf8(out).ok()
}

/// The length of a vendor prefix to keep: `AKIA`/`ASIA`/`AIza`/`ya29.`/`eyJ`,
/// or letters ending in `_` or `-` within the first 12 bytes (`ghp_`,
/// `github_pat_`, `glpat-`, `xoxb-`, `sk_live_`).
fn vendor_prefix(b: &[u8]) -> usize {
    for p in [&b"AKIA"[..], b"ASIA", b"AIza", b"ya29.", b"eyJ", b"GOCSPX-"] {
        if b.starts_with(p) {
            return p.len();
        }
    }
    let mut keep = 0;
    for (i, c) in b.iter().enumerate().take(12) {
        match c {
            b'_' | b'-' => keep = i + 1,
            c if c.is_ascii_alphabetic() => {}
            _ => break,
        }
    }
    // Leave something to draw.
    if b.len() >= keep + 8 { keep } else { 0 }
}

/// Character classes kept from byte `keep` on: digits, lowercase, uppercase
/// (hex stays hex when the whole value is hex); other ASCII kept; any
/// other letter becomes an ASCII lowercase letter.
fn text(v: &str, d: &mut Draws, keep: usize) -> String {
    let b = v.as_bytes();
    let hexish = b
        .iter()
        .all(|c| c.is_ascii_hexdigit() || !c.is_ascii_alphanumeric())
        && b.iter().any(u8::is_ascii_digit);
    let mut out = String::with_capacity(v.len());
    for (i, ch) in v.char_indices() {
        if i < keep {
            out.push(ch);
            continue;
        }
        let c = if ch.is_ascii_digit() {
            d.digit() as char
        } else if hexish && ch.is_ascii_hexdigit() {
            d.hex(ch.is_ascii_uppercase()) as char
        } else if ch.is_ascii_uppercase() {
            (b'A' + d.below(26) as u8) as char
        } else if ch.is_alphabetic() {
            (b'a' + d.below(26) as u8) as char
        } else if ch.is_numeric() {
            d.digit() as char
        } else {
            ch
        };
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
