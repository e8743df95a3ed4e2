//! MAC addresses: six hex bytes as `a4:5e:60:d1:22:7f`, `A4-5E-60-D1-22-7F`
//! or `a45e.60d1.227f` (Cisco), not part of a longer run of hex groups (a
//! certificate fingerprint, an IPv6 address).

use super::{Detectors, MAC, Match};

/// The three spellings; one separator throughout.
pub(super) const PATTERN: &str = r"\b(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})\b";

/// Is there a `hh-hh-hh-hh-hh-hh` or `hhhh.hhhh.hhhh` layout (looked for at
/// each `-` and `.` only, by byte search)? The gate's cheap test before the
/// regex: URLs, user agents, UUIDs and hex ids have dashes and dots, but
/// not in these places.
pub(super) fn mac_shape(text: &[u8]) -> bool {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let hex = |i: usize, n: usize| (i..i + n).all(|j| at(j).is_ascii_hexdigit());
    memchr::memchr2_iter(b'-', b'.', text).any(|p| {
        if at(p) == b'-' {
            p >= 2 && hex(p - 2, 2) && (1..5).all(|k| at(p + 3 * k) == b'-') && hex(p + 13, 2)
        } else {
            p >= 4 && hex(p - 4, 4) && at(p + 5) == b'.' && hex(p + 1, 4) && hex(p + 6, 4)
        }
    })
}

impl Detectors {
    #[inline(never)]
    pub(super) fn macs(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[MAC] else { return };
        for m in re.find_iter(text) {
            let (start, end) = (m.start(), m.end());
            // A seventh group (or a fifth dotted one) makes it something
            // else: a fingerprint, an IPv6 address, an EUI-64.
            let glued = |at: Option<&u8>, next: Option<&u8>| {
                matches!(at, Some(b':' | b'-' | b'.')) && next.is_some_and(u8::is_ascii_hexdigit)
            };
            if glued(text.get(end), text.get(end + 1))
                || start >= 2 && glued(text.get(start - 1), text.get(start - 2))
            {
                continue;
            }
            let hex: Vec<u8> = m
                .as_bytes()
                .iter()
                .copied()
                .filter(u8::is_ascii_hexdigit)
                .collect();
            // All zeros and broadcast name no device.
            if hex.iter().all(|b| *b == b'0') || hex.iter().all(|b| matches!(b, b'f' | b'F')) {
                continue;
            }
            // Digit-only dotted groups are numbers (`1234.5678.9012`).
            if m.as_bytes().contains(&b'.') && hex.iter().all(u8::is_ascii_digit) {
                continue;
            }
            out.push(Match {
                start,
                end,
                rule: MAC,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Detectors;

    fn found(t: &str) -> Vec<String> {
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut out = Vec::new();
        d.macs(t.as_bytes(), &mut out);
        out.iter().map(|m| t[m.start..m.end].to_owned()).collect()
    }

    #[test]
    fn shape_test_admits_every_match() {
        for t in [
            "a4-5e-60-d1-22-7f",
            "x A4-5E-60-D1-22-7F.",
            "a45e.60d1.227f",
        ] {
            assert!(super::mac_shape(t.as_bytes()), "{t}");
        }
        for t in [
            "70f856c7-0482-4891-8056-6b1c1e0e4f2a",
            "Chrome/120.0.6099.109",
            "a.b.c",
        ] {
            assert!(!super::mac_shape(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn three_spellings_and_not_fingerprints() {
        assert_eq!(found("device a4:5e:60:d1:22:7f up"), ["a4:5e:60:d1:22:7f"]);
        assert_eq!(found("mac=A4-5E-60-D1-22-7F"), ["A4-5E-60-D1-22-7F"]);
        assert_eq!(found("sw a45e.60d1.227f port"), ["a45e.60d1.227f"]);
        assert!(found("sha1 ab:cd:ef:01:23:45:67:89:ab:cd").is_empty());
        assert!(found("fe80:0:0:0:a4:5e:60:d1:22:7f").is_empty());
        assert!(found("00:00:00:00:00:00 ff:ff:ff:ff:ff:ff").is_empty());
        assert!(found("12:34:56 a4:5e:60:d1:22").is_empty());
        assert!(found("order 1234.5678.9012").is_empty());
        assert!(found("a4:5e:60-d1:22:7f").is_empty());
    }
}
