//! Phone numbers: E.164 (`+` and 8 to 15 digits), US (`(415) 555-2671`,
//! `415-555-2671`) and national numbers with a trunk `0` (`030 1234567`),
//! none glued to a word or id.

use super::gate::{C_ANY, C_DIGIT, CLASS};
use super::ssn::digit_sep_digit_lanes;
use super::{Detectors, Match, PHONE, is_word, isolated};
use crate::swar::{HIGH, digit_bytes, word_at, word_before};

/// E.164: a `+`, then digits and separators, ending in a digit.
pub(super) const E164_PATTERN: &str = r"\+\d[\d .\-()]{5,24}\d";
/// US: an area code in parentheses or followed by `.`/`-`, then `ddd-dddd`.
pub(super) const US_PATTERN: &str = r"(?:\(\d{3}\)\s?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\b";
/// National: a trunk `0` with one to four digits, then up to four groups.
pub(super) const NATIONAL_PATTERN: &str = r"\b0\d{1,4}(?:[ /.\-]\d{2,8}){1,4}\b";

fn digit_count(s: &[u8]) -> usize {
    s.iter().filter(|b| b.is_ascii_digit()).count()
}

impl Detectors {
    /// Every phone number of the three shapes, in that order.
    #[inline(never)]
    pub(super) fn phones(&self, text: &[u8], out: &mut Vec<Match>) {
        if let Some(re) = self.re[PHONE].as_ref().filter(|_| text.contains(&b'+')) {
            e164(re, text, out);
        }
        self.us_phones(text, out);
        self.national_phones(text, out);
    }

    /// US numbers whose two separators agree. Inlined into `phones`, where
    /// it was written.
    #[inline(always)]
    fn us_phones(&self, text: &[u8], out: &mut Vec<Match>) {
        for m in self.phone_us.find_iter(text) {
            let s = m.as_bytes();
            let seps: Vec<u8> = s[s.len() - 8..]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_digit())
                .collect();
            // 415-555-2671 or 415.555.2671: both separators the same.
            let same = s[0] == b'(' || s.get(3) == seps.first();
            if same && isolated(text, m.start(), m.end()) {
                out.push(Match {
                    start: m.start(),
                    end: m.end(),
                    rule: PHONE,
                });
            }
        }
    }

    /// National numbers of 9 to 12 digits with one kind of separator, not
    /// dates or the tail of a longer digit-group run. Inlined into
    /// `phones`, where it was written.
    #[inline(always)]
    fn national_phones(&self, text: &[u8], out: &mut Vec<Match>) {
        for m in self.phone_national.find_iter(text) {
            let s = m.as_bytes();
            let n = digit_count(s);
            let mixed_seps = {
                let mut seps = s.iter().filter(|b| !b.is_ascii_digit());
                let first = seps.next();
                seps.any(|b| Some(b) != first)
            };
            // Dates (05/12/2023) have 8 digits; a national number has 9–12
            // and one kind of separator.
            // `0416 0929 3007` may be the tail of a longer digit-group run.
            let after_group = m.start() >= 2
                && text[m.start() - 1] == b' '
                && text[m.start() - 2].is_ascii_digit();
            if (9..=12).contains(&n)
                && !mixed_seps
                && !after_group
                && isolated(text, m.start(), m.end())
                && !text.get(m.end()).is_some_and(|b| {
                    *b == b'.' && text.get(m.end() + 1).is_some_and(u8::is_ascii_digit)
                })
            {
                out.push(Match {
                    start: m.start(),
                    end: m.end(),
                    rule: PHONE,
                });
            }
        }
    }
}

/// E.164 numbers, trimmed to at most 15 digits. Inlined into `phones`,
/// where it was written.
#[inline(always)]
fn e164(re: &regex::bytes::Regex, text: &[u8], out: &mut Vec<Match>) {
    for m in re.find_iter(text) {
        // The next char must not continue a number or a word.
        let mut s = m.as_bytes();
        // Drop trailing groups until at most 15 digits (E.164's limit):
        // the class may have run into a following number.
        while digit_count(s) > 15 {
            match s
                .iter()
                .rposition(|b| matches!(b, b' ' | b'.' | b'-' | b'(' | b')'))
            {
                Some(p) => s = s[..p].trim_ascii_end(),
                None => break,
            }
        }
        while s.last().is_some_and(|b| !b.is_ascii_digit()) {
            s = &s[..s.len() - 1];
        }
        let n = digit_count(s);
        let end = m.start() + s.len();
        if (8..=15).contains(&n) && isolated(text, m.start(), end) {
            out.push(Match {
                start: m.start(),
                end,
                rule: PHONE,
            });
        }
    }
}

/// A byte that joins a phone number to its neighbour, so that `phones`
/// rejects the match ([`isolated`]).
#[inline(always)]
fn is_glue(b: u8) -> bool {
    is_word(b) || b == b'-'
}

/// A `0` that starts a digit run (see [`Detectors::find`]): national
/// numbers have a trunk prefix.
#[inline(never)]
pub(super) fn zero_lead(text: &[u8]) -> bool {
    let mut cur = 0usize;
    for &b in text {
        if b == b'0' && cur == 0 {
            return true;
        }
        let c = CLASS[usize::from(b)];
        cur = (cur + usize::from(c & C_DIGIT != 0)) * usize::from(c & C_ANY != 0);
    }
    false
}

/// Can `phones` accept a US or national number here (E.164 needs a `+`)?
/// The US pattern ends in a run of exactly three digits, `[.-]`, four
/// digits and a byte that neither continues a word nor is a `-`; the
/// national one starts with a whole digit run `0d{1,4}` after such a byte,
/// then `[ /.-]dd`. User agents (`Chrome/120.0.6099.109`) and UUIDs pass
/// the digit-run gate often (a four-character UUID group is all digits one
/// time in seven: `a019-1984-4066-...`), and none of them is a number `phones`
/// keeps (it wants the match [`isolated`]); this scan costs far less than
/// the two regexes.
#[inline(never)]
pub(super) fn phone_shape(text: &[u8]) -> bool {
    // Both shapes have a separator between two digits: those windows
    // (`d[ /.-]d`) are found six a step, and the shapes are checked only
    // around them, each with two word reads.
    let inside = HIGH >> 16;
    let mut at = 0;
    while at + 3 <= text.len() {
        let mut starts = digit_sep_digit_lanes(word_at(text, at)) & inside;
        while starts != 0 {
            if phone_around(text, at + (starts.trailing_zeros() / 8) as usize + 1) {
                return true;
            }
            starts &= starts - 1;
        }
        at += 6;
    }
    false
}

/// The two phone shapes around the separator at `p`, which has a digit on
/// each side.
#[inline(always)]
pub(super) fn phone_around(text: &[u8], p: usize) -> bool {
    let before = word_before(text, p);
    // The whole digit run before the separator (8: eight or more).
    let run = (!digit_bytes(before) & HIGH).leading_zeros() as usize / 8;
    let after = word_at(text, p + 1);
    let digits_after = digit_bytes(after);
    // US: exactly three digits, `.` or `-`, exactly four digits and no
    // glue byte (UUID groups like `-1984-4066-` pass a looser test).
    if run == 3
        && matches!(text[p], b'.' | b'-')
        && digits_after & 0x8080_8080 == 0x8080_8080
        && !is_glue((after >> 32) as u8)
    {
        return true;
    }
    // National: `0` and one to four more digits at a word start, then two
    // digits. Before a run of at most five, the eight bytes hold its first
    // digit and the byte before it (zero at the text's start: no glue).
    (2..=5).contains(&run)
        && digits_after & 0x8080 == 0x8080
        && (before >> (8 * (8 - run))) as u8 == b'0'
        && !is_glue((before >> (8 * (7 - run))) as u8)
}

#[cfg(test)]
mod tests {
    use super::super::{next, scan_texts};
    use super::*;

    /// The byte-at-a-time `phone_shape` the word-at-a-time scans replaced:
    /// the oracle of their tests.
    fn phone_shape_bytes(text: &[u8]) -> bool {
        let glue = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        // The current run of digits, and whether it follows `ddd.` or `ddd-`.
        let (mut digits, mut after_group) = (0usize, false);
        for (i, &b) in text.iter().enumerate() {
            if b.is_ascii_digit() {
                if b == b'0' && digits == 0 && (i == 0 || !glue(text[i - 1])) {
                    let run = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let rest = &text[i + run..];
                    if (2..=5).contains(&run)
                        && rest.len() >= 3
                        && matches!(rest[0], b' ' | b'/' | b'.' | b'-')
                        && rest[1].is_ascii_digit()
                        && rest[2].is_ascii_digit()
                    {
                        return true;
                    }
                }
                digits += 1;
            } else {
                if after_group && digits == 4 && !glue(b) {
                    return true;
                }
                after_group = matches!(b, b'.' | b'-') && digits == 3;
                digits = 0;
            }
        }
        after_group && digits == 4
    }

    /// The window-scanning `phone_shape` decides as the byte-at-a-time one.
    #[test]
    fn phone_shape_matches_the_byte_scan() {
        for t in scan_texts() {
            let text = String::from_utf8_lossy(&t);
            assert_eq!(phone_shape(&t), phone_shape_bytes(&t), "{text:?}");
        }
    }

    /// `phone_shape` gates the US and national phone regexes: wherever
    /// `phones` keeps a match of either, it must say yes (random phone-like
    /// and UUID-like texts built from pieces, so that matches are common).
    /// It may say no to a regex match that `phones` drops (a number glued
    /// to a word or a `-`, as inside UUIDs), and does for some here.
    #[test]
    fn phone_shape_admits_every_phone_match() {
        let d = Detectors::new(Vec::new(), &[], &[]);
        const PIECES: &[&str] = &[
            "415",
            "555",
            "2671",
            "0",
            "030",
            "12",
            "1234",
            "98765",
            "-",
            ".",
            " ",
            "/",
            "(",
            ") ",
            "a",
            "c",
            "_",
            "x0",
            "0014",
            "00140",
            "a014-",
            "1984-4066-",
            "-012-",
        ];
        let mut x = 0x5151_7A7A_0303_1919u64;
        let (mut kept, mut refused) = (0, 0);
        let mut out = Vec::new();
        for _ in 0..500_000 {
            let n = 1 + next(&mut x) % 8;
            let t: String = (0..n)
                .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                .collect();
            let t = t.as_bytes();
            out.clear();
            d.phones(t, &mut out);
            if !out.is_empty() {
                kept += 1;
                assert!(phone_shape(t), "{:?}", String::from_utf8_lossy(t));
            } else if (d.phone_us.is_match(t) || d.phone_national.is_match(t)) && !phone_shape(t) {
                refused += 1;
            }
        }
        assert!(kept > 1_000, "only {kept} texts had a number kept");
        assert!(
            refused > 1_000,
            "only {refused} regex matches refused by the shape test"
        );
    }
}
