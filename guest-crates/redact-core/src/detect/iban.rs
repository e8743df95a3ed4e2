//! IBANs: a country code, check digits and up to 30 alphanumerics, in
//! groups or not, of the country's length and with a valid mod-97 check.

use super::{Detectors, IBAN, Match};
use crate::swar::{HIGH, digit_bytes, upper_bytes, word_at};
use crate::validate;

/// Two capitals, two digits, then 11 to 30 alphanumerics, optionally
/// spaced.
pub(super) const PATTERN: &str = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}";

impl Detectors {
    #[inline(never)]
    pub(super) fn ibans(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[IBAN] else { return };
        for m in re.find_iter(text) {
            let s = m.as_bytes();
            let want = validate::iban_len(&s[..2]);
            // Collect alphanumerics up to the country's length; the greedy
            // pattern may run into following uppercase words ("... 00 EUR").
            let mut compact = Vec::with_capacity(34);
            let mut end = 0;
            let mut found = None;
            for (i, &b) in s.iter().enumerate() {
                if b == b' ' {
                    continue;
                }
                compact.push(b);
                end = i + 1;
                let n = compact.len();
                let ok_len = match want {
                    Some(l) => n == l,
                    None => (15..=34).contains(&n),
                };
                if ok_len && validate::iban_mod97(&compact) {
                    let next = text.get(m.start() + end);
                    if !next.is_some_and(u8::is_ascii_alphanumeric) {
                        found = Some(end);
                    }
                    if want.is_some() {
                        break;
                    }
                }
            }
            let _ = end;
            if let Some(e) = found {
                out.push(Match {
                    start: m.start(),
                    end: m.start() + e,
                    rule: IBAN,
                });
            }
        }
    }
}

/// Could [`PATTERN`] match in `text`? `XX00` (an IBAN's country code and
/// check digits) followed by at least 11 bytes of `[A-Z0-9 ]`: the 15
/// bytes a match starts with. The `XX00` windows alone let one value of
/// loadgen's in twenty (16 random letters and digits) through to the
/// regex; with the bytes after them, almost none. Eight bytes a step: the
/// windows that start in a word, then those that start in the previous
/// word's last three bytes (the same test on those three bytes and this
/// word's first five). The gating pass calls this only where a word (eight
/// bytes from a multiple of eight) is all `[A-Z0-9 ]`, as 15 such bytes in
/// a row always hold one.
#[inline(never)]
pub(super) fn iban_head(text: &[u8]) -> bool {
    let head = |u: u64, d: u64| u & u >> 8 & d >> 16 & d >> 24;
    let (mut prev_u, mut prev_d) = (0u64, 0u64);
    let mut at = 0;
    while at < text.len() {
        let w = word_at(text, at);
        let (u, d) = (upper_bytes(w), digit_bytes(w));
        let inside = head(u, d);
        let across = head(u << 24 | prev_u >> 40, d << 24 | prev_d >> 40) & (HIGH >> 40);
        if inside != 0 && account_follows(text, at, inside)
            || across != 0 && account_follows(text, at - 3, across)
        {
            return true;
        }
        (prev_u, prev_d) = (u, d);
        at += 8;
    }
    false
}

/// Does a window of `lanes` (starting `from + lane`) hold `XX00` followed
/// by 11 bytes of `[A-Z0-9 ]`?
fn account_follows(text: &[u8], from: usize, mut lanes: u64) -> bool {
    while lanes != 0 {
        let p = from + (lanes.trailing_zeros() / 8) as usize;
        lanes &= lanes - 1;
        if text.get(p + 4..p + 15).is_some_and(|rest| {
            rest.iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ')
        }) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::{bytes_re, scan_texts};
    use super::*;

    /// The byte-window scan [`iban_head`] stands for: the oracle of its
    /// test.
    fn iban_head_bytes(text: &[u8]) -> bool {
        text.windows(15).any(|w| {
            w[0].is_ascii_uppercase()
                && w[1].is_ascii_uppercase()
                && w[2].is_ascii_digit()
                && w[3].is_ascii_digit()
                && w[4..]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ')
        })
    }

    /// The word scan decides as the byte windows do, and lets every text
    /// the pattern matches through.
    #[test]
    fn iban_head_matches_the_byte_windows() {
        let re = bytes_re(PATTERN).expect("pattern");
        let mut x = 0x5DEE_CE66_D1CE_4E5Bu64;
        let spaced = (0..20_000).map(|n| {
            let alphabet: &[u8] = if n % 2 == 0 { b"GB82 X" } else { b"DE0 a\xc4" };
            let len = (super::super::next(&mut x) % 48) as usize;
            (0..len)
                .map(|_| alphabet[(super::super::next(&mut x) % alphabet.len() as u64) as usize])
                .collect::<Vec<u8>>()
        });
        let (mut heads, mut matches) = (0, 0);
        for t in scan_texts().chain(spaced) {
            let text = String::from_utf8_lossy(&t);
            let got = iban_head(&t);
            assert_eq!(got, iban_head_bytes(&t), "{text:?}");
            if re.is_match(&t) {
                assert!(got, "{text:?}");
                matches += 1;
            }
            heads += usize::from(got);
        }
        // The inputs reach both sides of the test.
        assert!(heads > 1_000 && matches > 100, "{heads} {matches}");
    }
}
