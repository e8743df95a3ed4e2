//! Payment card numbers: 13 to 19 digits, plain or in groups, with a known
//! issuer prefix and a valid Luhn check digit.

use super::{CARD, Detectors, Match, isolated};
use crate::validate;

/// A card number's shapes: one run, `4-4-4-(1-4)(-1-3)` or `4-6-4/5`,
/// separated by spaces, dashes or dots (mixed too).
pub(super) const PATTERN: &str = r"\b(?:\d{13,19}|\d{4}[ \-.]\d{4}[ \-.]\d{4}[ \-.]\d{1,4}(?:[ \-.]\d{1,3})?|\d{4}[ \-.]\d{6}[ \-.]\d{4,5})\b";

impl Detectors {
    #[inline(never)]
    pub(super) fn cards(&self, text: &[u8], out: &mut Vec<Match>) {
        let Some(re) = &self.re[CARD] else { return };
        for m in re.find_iter(text) {
            let s = m.as_bytes();
            // An optional trailing group may have swallowed a neighbouring
            // number: try the whole candidate, then without its last group.
            let mut end = s.len();
            loop {
                let digits: Vec<u8> = s[..end]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .collect();
                if validate::card_issuer_ok(&digits)
                    && validate::luhn(&digits)
                    && isolated(text, m.start(), m.start() + end)
                {
                    out.push(Match {
                        start: m.start(),
                        end: m.start() + end,
                        rule: CARD,
                    });
                    break;
                }
                match s[..end]
                    .iter()
                    .rposition(|b| matches!(b, b' ' | b'-' | b'.'))
                {
                    Some(p) => end = p,
                    None => break,
                }
            }
        }
    }
}
