//! Validators that cut false positives after a pattern matched: checksums
//! (Luhn, IBAN mod-97), issuer prefixes, address classes, and the shape tests
//! of the high-entropy detector. Pure functions over ASCII bytes.

use std::net::Ipv6Addr;

use crate::swar::{all_in, hexish_bytes};

/// Luhn checksum over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Does a 13–19 digit number carry a real card issuer's prefix and length?
/// Epoch timestamps (13 digits of milliseconds, 19 of nanoseconds) start
/// with `1`, which no issuer uses, so they fail here even when Luhn passes.
pub fn card_issuer_ok(d: &[u8]) -> bool {
    let len = d.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let p = |n: usize| -> u32 {
        d[..n]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    match d[0] {
        b'4' => matches!(len, 13 | 16 | 19),
        b'2' => (2221..=2720).contains(&p(4)) && len == 16,
        b'5' => (50..=59).contains(&p(2)) && len >= 12,
        b'3' => {
            let two = p(2);
            // 35xx: JCB (3528-3589 registered; generators and test
            // ranges use all of 35xx).
            (two == 34 || two == 37) && len == 15
                || (300..=305).contains(&p(3)) && len >= 14
                || (two == 36 || two == 38 || two == 39) && len >= 14
                || two == 35 && len >= 16
        }
        b'6' => len >= 16,
        _ => false,
    }
}

/// The IBAN length of a country, for the registry's common countries; `None`
/// for an unknown code (then any length from 15 to 34 is accepted).
pub fn iban_len(cc: &[u8]) -> Option<usize> {
    const T: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BR", 29),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NL", 18),
        (b"NO", 15),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"SA", 24),
        (b"SC", 31),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
    ];
    T.iter().find(|(c, _)| c.as_slice() == cc).map(|(_, n)| *n)
}

/// ISO 13616 mod-97 check over an IBAN without spaces (uppercase letters and
/// digits).
pub fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 15 || iban.len() > 34 {
        return false;
    }
    let mut rem = 0u32;
    let rotated = iban[4..].iter().chain(&iban[..4]);
    for &c in rotated {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// US SSN ranges the SSA never issues: area 000, 666, 900–999; group 00;
/// serial 0000.
pub fn ssn_ok(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Private, loopback, link-local, CGNAT, unspecified, broadcast and
/// multicast IPv4 addresses: not personal data on their own, so left alone
/// unless `redact_private_ips` is set.
pub fn ipv4_private(o: [u8; 4]) -> bool {
    matches!(
        o,
        [10, ..] | [127, ..] | [0, ..] | [169, 254, ..] | [192, 168, ..]
    ) || o[0] == 172 && (16..=31).contains(&o[1])
        || o[0] == 100 && (64..=127).contains(&o[1])
        || o[0] >= 224
}

/// The IPv6 counterpart of [`ipv4_private`]: loopback, unspecified, unique
/// local (fc00::/7), link-local (fe80::/10), multicast, and IPv4-mapped
/// private addresses.
pub fn ipv6_private(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    if a.is_loopback() || a.is_unspecified() || a.is_multicast() {
        return true;
    }
    if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 {
        return true;
    }
    if let Some(v4) = a.to_ipv4_mapped() {
        return ipv4_private(v4.octets());
    }
    false
}

/// Shannon entropy in bits per byte.
pub fn shannon(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Decodes standard or URL-safe base64 (padding optional); `None` if `s` is
/// not base64.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let body = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Is `s` base64 of ordinary text (every decoded byte printable ASCII or
/// whitespace)? Such strings look random but are not secrets.
pub fn base64_of_text(s: &[u8]) -> bool {
    match base64_decode(s) {
        Some(d) if d.len() >= 4 => std::str::from_utf8(&d).is_ok_and(|t| {
            t.chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r')
        }),
        _ => false,
    }
}

/// CamelCase identifiers (`ConcurrentModificationException`) mix cases like
/// random strings do, but their lowercase runs are long and vowel-rich:
/// random base62 has lowercase runs of ~1.7 and ~19% vowels among letters.
fn word_like(s: &[u8], has_digit: bool) -> bool {
    let (mut letters, mut vowels, mut runs, mut in_run, mut lower) =
        (0u32, 0u32, 0u32, false, 0u32);
    for &b in s {
        if b.is_ascii_alphabetic() {
            letters += 1;
            if matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u') {
                vowels += 1;
            }
        }
        if b.is_ascii_lowercase() {
            lower += 1;
            if !in_run {
                runs += 1;
                in_run = true;
            }
        } else {
            in_run = false;
        }
    }
    if letters == 0 || runs == 0 {
        return false;
    }
    let mean_run = f64::from(lower) / f64::from(runs);
    let vowel_ratio = f64::from(vowels) / f64::from(letters);
    if has_digit {
        mean_run >= 3.0 && vowel_ratio >= 0.3
    } else {
        mean_run >= 3.0 || vowel_ratio >= 0.3 && mean_run >= 2.2
    }
}

/// The high-entropy secret test for one token (a maximal run of
/// `[A-Za-z0-9+/_=-]` without word parts, at least the minimum length).
/// Exempt by shape, never by entropy alone: hex-only strings (trace and span
/// ids, git SHAs, digests), UUIDs, digit-only strings (timestamps, order
/// numbers), identifiers made of words (`CamelCaseName`; dashed names are
/// split into parts by the caller), and base64 of ordinary text.
pub fn high_entropy(tok: &[u8]) -> bool {
    let core = tok
        .strip_suffix(b"==")
        .or_else(|| tok.strip_suffix(b"="))
        .unwrap_or(tok);
    if all_in(core, hexish_bytes) {
        return false;
    }
    let (mut upper, mut lower, mut digit) = (false, false, false);
    // Runs of one character class: random strings switch class every 1–2
    // characters, CamelCase words and dates every 4+.
    let (mut runs, mut prev) = (0usize, 0u8);
    for &b in core {
        let class = if b.is_ascii_uppercase() {
            upper = true;
            1
        } else if b.is_ascii_lowercase() {
            lower = true;
            2
        } else if b.is_ascii_digit() {
            digit = true;
            3
        } else {
            4
        };
        if class != prev {
            runs += 1;
            prev = class;
        }
    }
    if u8::from(upper) + u8::from(lower) + u8::from(digit) < 2 {
        return false;
    }
    if (core.len() as f64) / (runs as f64) >= 3.0 || word_like(core, digit) {
        return false;
    }
    let n = core.len().min(64) as f64;
    if shannon(core) < 0.8 * n.log2() {
        return false;
    }
    !base64_of_text(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_issuers() {
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        // A 13-digit millisecond epoch that passes Luhn still has no issuer.
        let ms = (0..10)
            .map(|d| format!("170000000000{d}"))
            .find(|s| luhn(s.as_bytes()))
            .expect("a digit completes it");
        assert!(!card_issuer_ok(ms.as_bytes()));
        assert!(card_issuer_ok(b"4000000000000002"));
        assert!(!card_issuer_ok(b"9000000000000002"));
    }

    #[test]
    fn iban_checks() {
        // The ISO 13616 example, built from parts so no scanner flags it.
        let iban = ["GB82", "WEST", "1234", "5698", "7654", "32"].concat();
        assert!(iban_mod97(iban.as_bytes()));
        assert_eq!(iban_len(b"GB"), Some(22));
        assert!(!iban_mod97(b"GB82WEST12345698765433"));
    }

    #[test]
    fn shapes_that_are_not_secrets() {
        for s in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "550e8400-e29b-41d4-a716-446655440000",
            "1700000000123456789",
            "ThisIsAJavaClassNameThatIsLong",
            "aGVsbG8gd29ybGQgZnJvbSB0aGUgdGVzdHM=",
        ] {
            assert!(!high_entropy(s.as_bytes()), "{s}");
        }
        assert!(high_entropy(b"q8Xv2LmZ0rT5bN7kW1yP4sJd"));
    }

    #[test]
    fn private_addresses() {
        assert!(ipv4_private([10, 1, 2, 3]));
        assert!(ipv4_private([172, 20, 0, 1]));
        assert!(!ipv4_private([203, 0, 113, 7]));
        assert!(ipv6_private(&"fe80::1".parse().expect("addr")));
        assert!(!ipv6_private(&"2001:db8::1".parse().expect("addr")));
    }
}
