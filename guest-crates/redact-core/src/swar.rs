//! Eight bytes a step: byte classes as lane masks of one `u64` (SWAR).
//!
//! A compare over a word sets the high bit of each byte (lane) in the class;
//! the rest of the word's bits are clear. The scans here take one loop step
//! per word instead of one per byte, which matters most in the guest: there
//! every loop back-edge is also an epoch check.

/// One byte's worth of 1 in each lane; the high bit of each lane.
pub(crate) const LANES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `t` (7-bit bytes) that is `>= c` (`c <= 0x80`):
/// `t + (0x80 - c)` stays below 256, so no lane carries into the next.
#[inline(always)]
pub(crate) fn lanes_ge(t: u64, c: u8) -> u64 {
    t.wrapping_add(LANES * u64::from(0x80 - c)) & HIGH
}

/// The high bit of each byte of `t` (7-bit bytes) equal to `c` (`c < 0x80`).
#[inline(always)]
pub(crate) fn lanes_eq(t: u64, c: u8) -> u64 {
    !((t ^ (LANES * u64::from(c))).wrapping_add(LANES * 0x7F)) & HIGH
}

/// The eight bytes of `text` from `at` as a little-endian word, zero past
/// the end. Reads the last eight bytes shifted down (or a short text byte
/// by byte) instead of copying into a stack buffer, which is a
/// `memory.copy` call in wasm.
#[inline(always)]
pub(crate) fn word_at(text: &[u8], at: usize) -> u64 {
    let word = |w: &[u8]| w.try_into().map_or(0, u64::from_le_bytes);
    if let Some(w) = text.get(at..at + 8) {
        return word(w);
    }
    let left = text.len().saturating_sub(at);
    match text.len().checked_sub(8) {
        Some(from) if left > 0 => word(&text[from..]) >> (8 * (8 - left)),
        _ => short_word_at(text, at),
    }
}

/// [`word_at`] for a text shorter than eight bytes (or `at` past the end),
/// byte by byte. Out of line: `word_at` is inlined into every scan, and a
/// copy of this loop in each made the guest's hot code larger for a case
/// that is rare (its machine code is several times the native code's size,
/// and fetching it costs the guest time).
#[cold]
#[inline(never)]
fn short_word_at(text: &[u8], at: usize) -> u64 {
    text[at.min(text.len())..]
        .iter()
        .rev()
        .fold(0u64, |w, b| w << 8 | u64::from(*b))
}

/// The eight bytes of `text` just before `at` as a little-endian word: the
/// byte at `at - 1` in the highest lane, zero before the text's start
/// (`at <= text.len()`).
#[inline(always)]
pub(crate) fn word_before(text: &[u8], at: usize) -> u64 {
    match at {
        0 => 0,
        1..8 => word_at(text, 0) << (8 * (8 - at)),
        _ => word_at(text, at - 8),
    }
}

/// The first position at or after `from` whose byte is in the class that
/// `mask` computes for a word (lane mask; the zero bytes past the end may
/// be in it), or the text's length: eight bytes a step.
#[inline(always)]
pub(crate) fn find_class(text: &[u8], from: usize, mask: impl Fn(u64) -> u64) -> usize {
    let mut at = from;
    while at < text.len() {
        let m = mask(word_at(text, at));
        if m != 0 {
            return (at + (m.trailing_zeros() / 8) as usize).min(text.len());
        }
        at += 8;
    }
    text.len()
}

/// Lane mask of `[A-Za-z0-9+_/-]`, the bytes of a high-entropy run.
#[inline(always)]
pub(crate) fn run_bytes(word: u64) -> u64 {
    let ascii = !word & HIGH;
    let t = word & !HIGH;
    let digit = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1);
    let folded = t | (LANES * 0x20);
    let alpha = lanes_ge(folded, b'a') & !lanes_ge(folded, b'z' + 1);
    let punct = lanes_eq(t, b'+') | lanes_eq(t, b'-') | lanes_eq(t, b'/') | lanes_eq(t, b'_');
    (digit | alpha | punct) & ascii
}

/// Lane mask of the ASCII digits.
#[inline(always)]
pub(crate) fn digit_bytes(word: u64) -> u64 {
    let t = word & !HIGH;
    lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1) & !word & HIGH
}

/// Lane mask of `.`.
#[inline(always)]
pub(crate) fn dot_bytes(word: u64) -> u64 {
    lanes_eq(word & !HIGH, b'.') & !word & HIGH
}

/// Lane mask of `/ + - _`, the separators inside a high-entropy run.
#[inline(always)]
pub(crate) fn sep_bytes(word: u64) -> u64 {
    let t = word & !HIGH;
    (lanes_eq(t, b'/') | lanes_eq(t, b'+') | lanes_eq(t, b'-') | lanes_eq(t, b'_')) & !word & HIGH
}

/// Lane mask of `[0-9A-Fa-f_-]`: the bytes of hex ids, UUIDs and digests.
#[inline(always)]
pub(crate) fn hexish_bytes(word: u64) -> u64 {
    let t = word & !HIGH;
    let digit = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1);
    let folded = t | (LANES * 0x20);
    let hex = lanes_ge(folded, b'a') & !lanes_ge(folded, b'f' + 1);
    (digit | hex | lanes_eq(t, b'-') | lanes_eq(t, b'_')) & !word & HIGH
}

/// Is every byte of `text` in the class `mask` computes for a word (eight
/// bytes a step)?
#[inline(always)]
pub(crate) fn all_in(text: &[u8], mask: impl Fn(u64) -> u64) -> bool {
    // The zero bytes past the end are in no class here: `find_class`
    // stops at the text's length.
    find_class(text, 0, |w| !mask(w) & HIGH) == text.len()
}

/// Lane mask of `[A-Z]`.
#[inline(always)]
pub(crate) fn upper_bytes(word: u64) -> u64 {
    let t = word & !HIGH;
    lanes_ge(t, b'A') & !lanes_ge(t, b'Z' + 1) & !word & HIGH
}

/// Is there a window of `n` bytes (2 to 8) in `text` that `starts` accepts?
/// `starts` computes, for a word, the lanes where an accepted window
/// starts (shifting each following byte's class down to the window's first
/// lane: `(m >> 8)` is the next byte's); only windows that lie inside the
/// word count, and the next word overlaps the last `n - 1` bytes.
#[inline(always)]
pub(crate) fn any_window(text: &[u8], n: usize, starts: impl Fn(u64) -> u64) -> bool {
    find_window(text, 0, n, starts) < text.len()
}

/// Where the first window of `n` bytes (2 to 8) at or after `from` starts
/// that `starts` accepts (as in [`any_window`]); `text.len()` when there is
/// none.
#[inline(always)]
pub(crate) fn find_window(
    text: &[u8],
    from: usize,
    n: usize,
    starts: impl Fn(u64) -> u64,
) -> usize {
    let inside = HIGH >> (8 * (n - 1));
    let mut at = from;
    while at + n <= text.len() {
        let m = starts(word_at(text, at)) & inside;
        if m != 0 {
            return at + (m.trailing_zeros() / 8) as usize;
        }
        at += 9 - n;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `word_before` holds the bytes before each position of a text,
    /// nearest highest, zero-padded at the start.
    #[test]
    fn word_before_reads_backwards() {
        let text = b"abcdefghijk";
        for at in 0..=text.len() {
            let mut want = [0u8; 8];
            for (k, b) in text[..at].iter().rev().take(8).enumerate() {
                want[7 - k] = *b;
            }
            assert_eq!(word_before(text, at), u64::from_le_bytes(want), "at {at}");
        }
    }

    /// `word_at` is the eight bytes from `at`, zero past the end, for texts
    /// shorter than a word (the out-of-line path), at least a word long,
    /// and every position up to past the end.
    #[test]
    fn word_at_reads_zero_padded() {
        let bytes: Vec<u8> = (1..=20).collect();
        for len in 0..=bytes.len() {
            let text = &bytes[..len];
            for at in 0..=len + 9 {
                let mut want = [0u8; 8];
                for (k, b) in text.iter().skip(at).take(8).enumerate() {
                    want[k] = *b;
                }
                assert_eq!(
                    word_at(text, at),
                    u64::from_le_bytes(want),
                    "len {len} at {at}"
                );
            }
        }
    }

    /// A class mask and the byte test it stands for.
    type Class = (fn(u64) -> u64, fn(u8) -> bool);

    /// Each class mask agrees with its byte test on every byte value, in
    /// every lane, and `all_in` with `Iterator::all` on texts of every
    /// length up to three words.
    #[test]
    fn class_masks_match_byte_tests() {
        let classes: [Class; 6] = [
            (run_bytes, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'_' | b'/' | b'-')
            }),
            (digit_bytes, |b| b.is_ascii_digit()),
            (dot_bytes, |b| b == b'.'),
            (sep_bytes, |b| matches!(b, b'/' | b'+' | b'-' | b'_')),
            (hexish_bytes, |b| {
                b.is_ascii_hexdigit() || matches!(b, b'-' | b'_')
            }),
            (upper_bytes, |b| b.is_ascii_uppercase()),
        ];
        for (mask, byte) in classes {
            for b in 0..=255u8 {
                for lane in 0..8 {
                    let mut w = [b'!'; 8];
                    w[lane] = b;
                    let want = u64::from(byte(b)) << (8 * lane + 7);
                    let got = mask(u64::from_le_bytes(w)) & (0x80 << (8 * lane));
                    assert_eq!(got, want, "byte {b:#x} in lane {lane}");
                }
            }
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for n in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"09afAFgz-_/+.!\x80\xff";
                let t: Vec<u8> = (0..n % 25)
                    .map(|i| alphabet[((x >> (i * 2)) as usize + i) % alphabet.len()])
                    .collect();
                assert_eq!(all_in(&t, mask), t.iter().all(|b| byte(*b)), "{t:?}");
            }
        }
    }

    /// The SWAR compares agree with the byte tests on every byte value.
    #[test]
    fn swar_compares_match_bytes() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, 0, b'9', b, 0x80, b, 0xff, b]);
            let t = word & !HIGH;
            let ascii = !word & HIGH;
            for c in 0..0x80u8 {
                let want = |f: &dyn Fn(u8) -> bool| {
                    word.to_le_bytes()
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (i, &v)| m | (u64::from(f(v)) << (8 * i + 7)))
                };
                assert_eq!(lanes_eq(t, c) & ascii, want(&|v| v == c), "eq {b} {c}");
                assert_eq!(
                    lanes_ge(t, c) & ascii,
                    want(&|v| v < 0x80 && v >= c),
                    "ge {b} {c}"
                );
            }
        }
    }
}
