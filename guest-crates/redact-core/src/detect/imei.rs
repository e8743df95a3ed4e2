//! IMEI: 15 digits with a valid Luhn check digit, after the word `imei`
//! (`IMEI: 352099001761481`, `imei=35-209900-176148-1`), or anywhere in the
//! grouping that only IMEIs use (`35-209900-176148-1`). A bare 15-digit
//! number without either is an order or account number as often as an
//! IMEI, and is left alone; keys with the word `imei` are a key rule.

use super::{Detectors, IMEI, Match, isolated};
use crate::validate;

/// After the keyword, within a few non-digit bytes: 15 digits, plain or as
/// `2-6-6-1` groups.
pub(super) const AFTER_KEYWORD: &str =
    r"(?i:imei)[^0-9A-Za-z]{0,12}(\d{2}[ \-]?\d{6}[ \-]?\d{6}[ \-]?\d)\b";
/// The `2-6-6-1` grouping alone.
pub(super) const GROUPED: &str = r"\b\d{2}-\d{6}-\d{6}-\d\b";

impl Detectors {
    /// `keyword`: the word `imei` is in the text.
    #[inline(never)]
    pub(super) fn imeis(&self, text: &[u8], keyword: bool, out: &mut Vec<Match>) {
        let push = |start: usize, end: usize, out: &mut Vec<Match>| {
            let digits: Vec<u8> = text[start..end]
                .iter()
                .copied()
                .filter(u8::is_ascii_digit)
                .collect();
            if digits.len() == 15
                && validate::luhn(&digits)
                && isolated(text, start, end)
                && !out.iter().any(|m| m.rule == IMEI && m.start == start)
            {
                out.push(Match {
                    start,
                    end,
                    rule: IMEI,
                });
            }
        };
        if keyword {
            for c in self.imei_after_keyword.captures_iter(text) {
                if let Some(g) = c.get(1) {
                    push(g.start(), g.end(), out);
                }
            }
        }
        for m in self.imei_grouped.find_iter(text) {
            push(m.start(), m.end(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Detectors;

    fn found(t: &str) -> Vec<String> {
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut out = Vec::new();
        d.imeis(
            t.as_bytes(),
            t.to_ascii_lowercase().contains("imei"),
            &mut out,
        );
        out.iter().map(|m| t[m.start..m.end].to_owned()).collect()
    }

    #[test]
    fn keyword_or_grouping_and_luhn() {
        assert_eq!(found("IMEI: 352099001761481"), ["352099001761481"]);
        assert_eq!(found("imei=35 209900 176148 1"), ["35 209900 176148 1"]);
        assert_eq!(
            found("handset 35-209900-176148-1 lost"),
            ["35-209900-176148-1"]
        );
        assert!(found("IMEI: 352099001761482").is_empty(), "Luhn");
        assert!(found("order 352099001761481").is_empty(), "no keyword");
        assert!(found("imei 3520990017614811").is_empty(), "16 digits");
    }
}
