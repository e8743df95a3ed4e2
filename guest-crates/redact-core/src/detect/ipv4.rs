//! Public IPv4 addresses: dotted quads found by hand, not part of a longer
//! dotted run or a version (`v1.2.3.4`, `Chrome/1.2.3.4`), every octet at
//! most 255 and without a leading zero; private and loopback addresses only
//! when configured.

use super::{Detectors, IPV4, Match, is_word};
use crate::swar::{HIGH, digit_bytes, dot_bytes, find_class, word_at, word_before};
use crate::validate;

impl Detectors {
    #[inline(never)]
    pub(super) fn ipv4s(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut next = 0;
        while let Some(q) = dotted_quad(text, next) {
            let (start, end) = (q.start, q.end);
            next = end;
            // Part of a longer dotted run (1.2.3.4.5, 10.0.0.1.nip.io is fine).
            if start >= 1 && text[start - 1] == b'.'
                || text.get(end) == Some(&b'.') && text.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                continue;
            }
            if version_context(&text[..start]) {
                continue;
            }
            let o = q.octets;
            if q.leading_zero || o.iter().any(|v| *v > 255) {
                continue;
            }
            if self.private_ips || !validate::ipv4_private(o.map(|v| v as u8)) {
                out.push(Match {
                    start,
                    end,
                    rule: IPV4,
                });
            }
        }
    }
}

/// A dotted quad found by [`dotted_quad`]: where it is and its four
/// groups' values (each one to three digits, so at most 999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quad {
    start: usize,
    end: usize,
    octets: [u32; 4],
    /// A group of two or three digits starts with `0` (`010`): not how an
    /// address is written.
    leading_zero: bool,
}

/// The first dotted quad at or after `from`, exactly as the regex
/// `\b(?:\d{1,3}\.){3}\d{1,3}\b` (ASCII word boundaries) finds it, by
/// hand: the regex engine's per-search setup cost more than this scan on the
/// short strings it mostly sees (peer addresses, user agents).
fn dotted_quad(text: &[u8], from: usize) -> Option<Quad> {
    // A match's first group is one to three digits and a dot, and `\b`
    // falls at no byte inside a run of digits, so a match starts where the
    // digit run just before a dot starts: one start to try a dot (dots
    // found eight bytes a step), in increasing order, so the first hit is
    // the leftmost match, as the regex's.
    let mut dot = from;
    loop {
        dot = find_class(text, dot, dot_bytes);
        if dot == text.len() {
            return None;
        }
        // The digit run before the dot, from the eight bytes before it read
        // as one word (no byte loop backwards).
        let run = (!digit_bytes(word_before(text, dot)) & HIGH).leading_zeros() as usize / 8;
        if (1..=3).contains(&run)
            && dot - run >= from
            && let Some(q) = quad_at(text, dot - run)
        {
            return Some(q);
        }
        dot += 1;
    }
}

/// The dotted quad starting at `i`, if one does.
#[inline(always)]
fn quad_at(text: &[u8], i: usize) -> Option<Quad> {
    // A match starts on a digit after a non-word byte (`\b`); each group
    // is a whole run of one to three digits.
    if !text[i].is_ascii_digit() || i > 0 && is_word(text[i - 1]) {
        return None;
    }
    // Each group is read as one word: its leading digits (at most three
    // count), their value and the byte after them, with no loop over the
    // bytes.
    let group = |j: usize, dot: bool| -> Option<(usize, u32, bool)> {
        let w = word_at(text, j);
        let digits = ((!digit_bytes(w) & HIGH).trailing_zeros() / 8).min(3);
        let next = (w >> (8 * digits)) as u8;
        if digits == 0 || dot && next != b'.' {
            return None;
        }
        // The digits' values, right-aligned in the low three bytes: the
        // missing leading ones are zero.
        let v = (w & 0x0f_0f0f & ((1u64 << (8 * digits)) - 1)) << (8 * (3 - digits));
        let value = (v & 0xff) * 100 + (v >> 8 & 0xff) * 10 + (v >> 16 & 0xff);
        let zero = digits > 1 && w as u8 == b'0';
        Some((j + digits as usize + usize::from(dot), value as u32, zero))
    };
    let (j, a, za) = group(i, true)?;
    let (j, b, zb) = group(j, true)?;
    let (j, c, zc) = group(j, true)?;
    let (j, d, zd) = group(j, false)?;
    (!text.get(j).is_some_and(|b| is_word(*b))).then_some(Quad {
        start: i,
        end: j,
        octets: [a, b, c, d],
        leading_zero: za | zb | zc | zd,
    })
}

/// Is the text just before a dotted quad a version marker (`v1.2.3.4`,
/// `version 1.2.3.4`, `Chrome/1.2.3.4`, `pkg@1.2.3.4`, `build 1.2.3.4`)?
fn version_context(before: &[u8]) -> bool {
    let Some(&last) = before.last() else {
        return false;
    };
    if matches!(last, b'v' | b'V' | b'@') {
        return true;
    }
    if last == b'/' {
        return before.len() >= 2 && before[before.len() - 2].is_ascii_alphanumeric();
    }
    let tail = &before[before.len().saturating_sub(24)..];
    // Lowercased in a stack buffer: this runs for every dotted quad found.
    let mut buf = [0u8; 24];
    for (d, b) in buf.iter_mut().zip(tail) {
        *d = b.to_ascii_lowercase();
    }
    let t = buf[..tail.len()].trim_ascii_end();
    let t = match t.last() {
        Some(b'+' | b'=' | b':') => t[..t.len() - 1].trim_ascii_end(),
        _ => t,
    };
    [
        "version", "ver", "build", "release", "firmware", "kernel", "rev", "v", "driver", "sdk",
        "bios", "fw", "patch", "runtime", "plugin", "pkg", "package", "jdk", "os",
    ]
    .iter()
    .any(|w| {
        t.ends_with(w.as_bytes())
            && (t.len() == w.len() || !t[t.len() - w.len() - 1].is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::super::bytes_re;
    use super::*;

    /// The hand-written dotted-quad scan finds exactly what the regex it
    /// replaced finds, on tricky and on random inputs.
    #[test]
    fn dotted_quad_matches_the_regex() {
        let re = bytes_re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("pattern");
        let scan = |t: &[u8]| {
            let mut v = Vec::new();
            let mut next = 0;
            while let Some(q) = dotted_quad(t, next) {
                // The values read from words are the groups' numbers.
                let groups: Vec<&[u8]> = t[q.start..q.end].split(|b| *b == b'.').collect();
                let parsed = groups
                    .iter()
                    .map(|g| g.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')));
                assert!(parsed.eq(q.octets), "{q:?} in {t:?}");
                let zero = groups.iter().any(|g| g.len() > 1 && g[0] == b'0');
                assert_eq!(q.leading_zero, zero, "{q:?} in {t:?}");
                v.push((q.start, q.end));
                next = q.end;
            }
            v
        };
        let mut inputs: Vec<Vec<u8>> = [
            "1.2.3.4",
            "1234.5.6.7.8",
            "1.2.3.4444.5.6.7.8",
            "a1.2.3.4 _1.2.3.4 -1.2.3.4-",
            "10.0.0.1.nip.io 1.2.3.4.5",
            "999.999.999.999x 1.2.3 1..2.3.4 1.2.3.4_",
            "Chrome/120.0.6099.109 Safari/537.36",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let len = (x % 24) as usize;
            let s = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"0123456789....a_ -"[(x % 18) as usize]
                })
                .collect();
            inputs.push(s);
        }
        for t in &inputs {
            let want: Vec<(usize, usize)> = re.find_iter(t).map(|m| (m.start(), m.end())).collect();
            assert_eq!(scan(t), want, "{}", String::from_utf8_lossy(t));
        }
    }
}
