//! Phone shapes beyond `phone`'s three, each with a shape no other number
//! has: a parenthesized trunk prefix (`(0161) 496 0123`, `(06221) 554321`),
//! an international call prefix instead of `+` (`001-415-555-0132`,
//! `0049 30 1234567`, `011 44 20 7946 0958`) and a US number with an
//! extension glued on (`415-555-0199x1234`, `(415) 555-0199 ext. 12`).
//! After a word that says a phone number follows (`phone`, `tel`, `mobile`,
//! `fax`, `call`, `sms`, `contact`, ...), any 7 to 15 digits in a number's
//! layout are one, whatever the country's plan (`tel: 91 41 77 76`,
//! `phone 0837 783533`): the context words of Presidio's phone recognizer.
//! Apart from `phone`'s scans so that its gate keeps describing exactly
//! its three shapes.

use super::{Detectors, Match, PHONE, isolated};

/// `(0` + area code + `)`, then the subscriber number in groups.
pub(super) const PAREN_TRUNK: &str = r"\(0\d{1,5}\)[ \-]?\d{2,8}(?:[ \-]\d{2,8}){0,3}\b";
/// `00` or `011`, a country code, then groups; at least one separator.
pub(super) const CALL_PREFIX: &str = r"\b(?:00|011)[ \-.]?[1-9]\d{0,3}(?:[ .\-]\d{1,8}){1,6}\b";
/// A US number (with its country code or not) and its extension.
pub(super) const US_EXTENSION: &str = r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{3}\)\s?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\s*(?i:x|ext\.?|extension)\s*\d{1,6}\b";

/// A phone word, an optional `no.`/`number`, then the number (group 1).
/// The word may also be a key (`phone=`, `contact_number=`, `user_phone:`,
/// as in a query string or a form body) whose value is the number.
pub(super) const AFTER_WORD: &str = r"(?i:(?:\b|_)(?:phone|telephone|tel|mobile|mob|cell|cellphone|fax|call|sms|whatsapp|contact|telefon|telefono|telefone|ph)(?:[_\-]?(?:number|num|no|nr))?\b)[.:#=]?\s*(?i:(?:no|nr|number|to|at|on|is|was)\b\.?)?[.:#]?\s*(\(?\+?\(?\d[\d ()./\-]{5,22}\d(?:\s*(?i:x|ext\.?)\s*\d{1,6})?)";

/// Words that gate [`AFTER_WORD`].
pub(super) const WORDS: &[&str] = &[
    "phone", "tel", "mobile", "mob", "cell", "fax", "call", "sms", "whatsapp", "contact", "ph",
];

fn digits(s: &[u8]) -> usize {
    s.iter().filter(|b| b.is_ascii_digit()).count()
}

/// Could any of the three shapes be here? `(0` and a digit, a digit run
/// starting `00`/`011` after a non-word byte, or an `x`/`ext` right after
/// digits. Found by byte search (`memchr`) rather than a loop over every
/// byte: most strings that reach this (user agents with long version
/// numbers) have none of the three bytes in the right place.
pub(super) fn more_shape(text: &[u8]) -> bool {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let digit_before = |p: usize| p >= 1 && at(p - 1).is_ascii_digit();
    let paren =
        || memchr::memchr_iter(b'(', text).any(|i| at(i + 1) == b'0' && at(i + 2).is_ascii_digit());
    let call_prefix = || {
        memchr::memchr_iter(b'0', text).any(|i| {
            (at(i + 1) == b'0' || at(i + 1) == b'1' && at(i + 2) == b'1')
                && (i == 0 || !(at(i - 1).is_ascii_alphanumeric() || at(i - 1) == b'_'))
        })
    };
    let extension = || {
        memchr::memchr2_iter(b'x', b'X', text).any(|p| {
            // `dx`, `d x`, `dex`, `d ext`
            let q = if p >= 1 && matches!(at(p - 1), b'e' | b'E') {
                p - 1
            } else {
                p
            };
            digit_before(q) || q >= 2 && at(q - 1) == b' ' && digit_before(q - 1)
        })
    };
    paren() || extension() || call_prefix()
}

impl Detectors {
    /// `shapes`: [`more_shape`] said yes; `word`: a phone word is in the
    /// text.
    #[inline(never)]
    pub(super) fn more_phones(&self, text: &[u8], shapes: bool, word: bool, out: &mut Vec<Match>) {
        let regexes = if shapes { 3 } else { 0 };
        for (re, lo, hi) in [
            (&self.phone_paren, 9, 12),
            (&self.phone_call_prefix, 10, 18),
            (&self.phone_ext, 11, 19),
        ]
        .into_iter()
        .take(regexes)
        {
            for m in re.find_iter(text) {
                let n = digits(m.as_bytes());
                if (lo..=hi).contains(&n) && isolated(text, m.start(), m.end()) {
                    out.push(Match {
                        start: m.start(),
                        end: m.end(),
                        rule: PHONE,
                    });
                }
            }
        }
        if !word {
            return;
        }
        for c in self.phone_after_word.captures_iter(text) {
            let Some(g) = c.get(1) else { continue };
            let mut s = g.as_bytes();
            // A bracket opened before the number is not closed inside it.
            while s.last().is_some_and(|b| !b.is_ascii_digit()) {
                s = &s[..s.len() - 1];
            }
            let n = digits(s);
            let end = g.start() + s.len();
            // A date (`call on 2024-01-05 10`) is no number.
            let date = s.len() > 5
                && (s.starts_with(b"19") || s.starts_with(b"20"))
                && matches!(s[4], b'-' | b'/' | b'.');
            let seen = out
                .iter()
                .any(|m| m.rule == PHONE && m.start < end && g.start() < m.end);
            if (7..=15).contains(&n) && !date && !seen && isolated(text, g.start(), end) {
                out.push(Match {
                    start: g.start(),
                    end,
                    rule: PHONE,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Detectors;

    fn found(t: &str) -> Vec<String> {
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut out = Vec::new();
        d.more_phones(t.as_bytes(), true, true, &mut out);
        out.iter().map(|m| t[m.start..m.end].to_owned()).collect()
    }

    #[test]
    fn the_three_shapes() {
        for t in [
            "(0161) 496 0123",
            "001-415-555-0132",
            "415-555-0199x1234",
            "555-0199 ext. 12",
        ] {
            assert!(super::more_shape(t.as_bytes()), "{t}");
        }
        for t in ["Chrome/120.0.6099.109", "Mozilla/5.0 (X11; Linux x86_64)"] {
            assert!(!super::more_shape(t.as_bytes()), "{t}");
        }
        assert_eq!(found("call (0161) 496 0123 now"), ["(0161) 496 0123"]);
        assert_eq!(found("Tel. (06221) 554321"), ["(06221) 554321"]);
        assert_eq!(found("dial 001-415-555-0132."), ["001-415-555-0132"]);
        assert_eq!(found("0049 30 12345678"), ["0049 30 12345678"]);
        assert_eq!(found("415-555-0199x1234"), ["415-555-0199x1234"]);
        assert_eq!(found("(415) 555-0199 ext. 12"), ["(415) 555-0199 ext. 12"]);
        assert_eq!(found("tel: 91 41 77 76"), ["91 41 77 76"]);
        assert_eq!(found("sms to 604 443 388 failed"), ["604 443 388"]);
        assert_eq!(
            found("sms +1-739-576-1681x41573"),
            ["+1-739-576-1681x41573"]
        );
        assert_eq!(found("Phone no. 0837 783533."), ["0837 783533"]);
        assert_eq!(
            found("contact +43 (0) 5369 07439150"),
            ["+43 (0) 5369 07439150"]
        );
        assert_eq!(found("phone=0885270258&x=1"), ["0885270258"]);
        assert_eq!(found("contact_number=040 80 30"), ["040 80 30"]);
        assert_eq!(found("user_phone: 3941 5379"), ["3941 5379"]);
        assert!(found("call_id=12345678 smartphone=1234567 hotel=7654321").is_empty());
        assert!(found("call on 2024-01-05 10").is_empty());
        assert!(found("telemetry 1234567 and hotel 7654321").is_empty());
        assert!(found("order 0012-3 ok (0) 12").is_empty());
        assert!(found("id 001.2.3").is_empty());
    }
}
