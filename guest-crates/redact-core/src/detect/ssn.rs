//! US Social Security numbers: `ddd-dd-dddd` or with spaces, the same
//! separator twice, with a valid area, group and serial, matched by hand.

use super::{Detectors, Match, SSN, isolated};
use crate::swar::{HIGH, any_window, find_window, lanes_eq, lanes_ge};
use crate::validate;

impl Detectors {
    /// `ddd-dd-dddd` (or with spaces), matched by hand: a regex search
    /// costs more per call than this whole scan.
    #[inline(never)]
    pub(super) fn ssns(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut i = 0;
        loop {
            // Candidates start at three digits and a separator, found five
            // windows a step (a byte loop was an epoch check a byte in the
            // guest).
            i = find_window(text, i, 4, ssn_head_lanes);
            if i + 11 > text.len() {
                break;
            }
            if ssn_at(text, i) {
                out.push(Match {
                    start: i,
                    end: i + 11,
                    rule: SSN,
                });
                i += 11;
            } else {
                i += 1;
            }
        }
    }
}

/// A digit, a number separator (` -./`) and a digit in a row, six windows
/// a step.
#[inline(never)]
pub(super) fn digit_sep_digit(text: &[u8]) -> bool {
    any_window(text, 3, digit_sep_digit_lanes)
}

/// The lanes of `w` where a digit, a number separator (` -./`) and a digit
/// in a row start.
#[inline(always)]
pub(super) fn digit_sep_digit_lanes(w: u64) -> u64 {
    let t = w & !HIGH;
    // `-./` are 0x2d to 0x2f, just below the digits: three range bounds
    // give both classes.
    let (dash_up, digit_up) = (lanes_ge(t, b'-'), lanes_ge(t, b'0'));
    let ascii = !w & HIGH;
    let sep = (dash_up & !digit_up | lanes_eq(t, b' ')) & ascii;
    let d = digit_up & !lanes_ge(t, b'9' + 1) & ascii;
    d & sep >> 8 & d >> 16
}

/// Is `text[i..i + 11]` a US SSN (`ddd-dd-dddd` or with spaces, the same
/// separator twice, a valid area, group and serial), not glued to a digit or
/// word? `i + 11 <= text.len()`.
fn ssn_at(text: &[u8], i: usize) -> bool {
    let d = |i: usize| text[i].is_ascii_digit();
    let num = |b: &[u8]| b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let sep = text[i + 3];
    d(i) && d(i + 1)
        && d(i + 2)
        && (sep == b'-' || sep == b' ')
        && text[i + 6] == sep
        && d(i + 4)
        && d(i + 5)
        && (i + 7..i + 11).all(d)
        && !(i > 0 && text[i - 1].is_ascii_digit())
        && !text.get(i + 11).is_some_and(u8::is_ascii_digit)
        && isolated(text, i, i + 11)
        && validate::ssn_ok(
            num(&text[i..i + 3]),
            num(&text[i + 4..i + 6]),
            num(&text[i + 7..i + 11]),
        )
}

/// The lanes of `w` where three digits and a `-` or space start (the head
/// of `ddd-dd-dddd`).
#[inline(always)]
fn ssn_head_lanes(w: u64) -> u64 {
    let t = w & !HIGH;
    let ascii = !w & HIGH;
    let d = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1) & ascii;
    let sep = (lanes_eq(t, b'-') | lanes_eq(t, b' ')) & ascii;
    d & d >> 8 & d >> 16 & sep >> 24
}

#[cfg(test)]
mod tests {
    use super::super::{next, scan_texts};
    use super::*;

    /// The byte-window scan [`digit_sep_digit`] replaced: the oracle of its
    /// test.
    #[cfg(test)]
    fn digit_sep_digit_bytes(text: &[u8]) -> bool {
        text.windows(3).any(|w| {
            w[0].is_ascii_digit()
                && matches!(w[1], b' ' | b'-' | b'.' | b'/')
                && w[2].is_ascii_digit()
        })
    }

    /// The window scan decides as the byte windows do.
    #[test]
    fn digit_sep_digit_matches_the_byte_windows() {
        for t in scan_texts() {
            let text = String::from_utf8_lossy(&t);
            assert_eq!(digit_sep_digit(&t), digit_sep_digit_bytes(&t), "{text:?}");
        }
    }

    /// The byte-at-a-time SSN scan the window scan replaced: every position
    /// tried in turn.
    fn ssns_bytes(text: &[u8], out: &mut Vec<Match>) {
        let mut i = 0;
        while i + 11 <= text.len() {
            if ssn_at(text, i) {
                out.push(Match {
                    start: i,
                    end: i + 11,
                    rule: SSN,
                });
                i += 11;
            } else {
                i += 1;
            }
        }
    }

    /// The SSN window scan finds what the byte loop finds, on random texts
    /// of SSN pieces (so that heads, near misses and chains are common),
    /// with bytes whose low seven bits are a digit or separator.
    #[test]
    fn ssn_scan_matches_the_byte_scan() {
        const PIECES: &[&str] = &[
            "123",
            "45",
            "6789",
            "078",
            "05",
            "1120",
            "-",
            " ",
            "a",
            "_",
            "0",
            "9",
            "\u{ad}",
            "\u{b5}",
            "666",
            "000",
            "12-",
            "123-45-6789",
        ];
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut x = 0x55AA_1234_9876_F00Du64;
        let mut found = 0;
        for _ in 0..200_000 {
            let n = (next(&mut x) % 12) as usize;
            let t: String = (0..n)
                .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                .collect();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            d.ssns(t.as_bytes(), &mut got);
            ssns_bytes(t.as_bytes(), &mut want);
            assert_eq!(got, want, "{t:?}");
            found += want.len();
        }
        assert!(found > 3_000, "{found} findings");
    }
}
