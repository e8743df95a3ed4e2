//! IBANs: a country code, check digits and up to 30 alphanumerics, in
//! groups or not, of the country's length and with a valid mod-97 check.

use super::{Detectors, IBAN, Match};
use crate::swar::{any_window, digit_bytes, upper_bytes};
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

/// `XX00` (an IBAN's country code and check digits) anywhere in `text`,
/// five windows a step.
#[inline(never)]
pub(super) fn iban_head(text: &[u8]) -> bool {
    any_window(text, 4, |w| {
        // Two capitals in a row are rare in most text (lowercase URLs, hex
        // ids, UUIDs): the digits are classified only after them.
        let u = upper_bytes(w);
        let uu = u & u >> 8;
        if uu == 0 {
            return 0;
        }
        let d = digit_bytes(w);
        uu & d >> 16 & d >> 24
    })
}

#[cfg(test)]
mod tests {
    use super::super::scan_texts;
    use super::*;

    /// The byte-window scan [`iban_head`] replaced: the oracle of its test.
    fn iban_head_bytes(text: &[u8]) -> bool {
        text.windows(4).any(|w| {
            w[0].is_ascii_uppercase()
                && w[1].is_ascii_uppercase()
                && w[2].is_ascii_digit()
                && w[3].is_ascii_digit()
        })
    }

    /// The window scan decides as the byte windows do.
    #[test]
    fn iban_head_matches_the_byte_windows() {
        for t in scan_texts() {
            let text = String::from_utf8_lossy(&t);
            assert_eq!(iban_head(&t), iban_head_bytes(&t), "{text:?}");
        }
    }
}
