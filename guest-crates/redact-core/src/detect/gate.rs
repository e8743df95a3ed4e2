//! The gating pass: which rules may match a string, decided before any
//! detector runs. One walk of the keyword automaton gates the keyword rules
//! ([`super::by_keyword`]); one pass of byte counts, eight bytes a step,
//! gates the shape-based classes (cards, IBANs, SSNs, phones, addresses,
//! high-entropy runs) and tells whether the text may need decoding (a `%`
//! or a `+`).

use super::iban::iban_head;
use super::inline::kv_follows;
use super::mac::mac_shape;
use super::phone::{phone_shape, zero_lead};
use super::phone_more::more_shape;
use super::ssn::digit_sep_digit;
use super::{
    CARD, Detectors, ENTROPY, IBAN, IMEI, INLINE, IPV4, IPV6, MAC, PHONE, PHONE_MORE_BIT,
    PHONE_WORD_BIT, SSN, URL_PASSWORD,
};
use crate::swar::{HIGH, LANES, lanes_eq, lanes_ge, word_at};

/// Class bits of the byte-at-a-time gating pass ([`gate_bytes`]; [`gate`]
/// computes the same classes with SWAR compares): a digit.
pub(super) const C_DIGIT: u8 = 1;
/// Continues a plain digit run: digits, space, dash.
pub(super) const C_PLAIN: u8 = 2;
/// Continues any digit run: those and `.()/+`.
pub(super) const C_ANY: u8 = 4;
/// Part of a high-entropy candidate run: `[A-Za-z0-9+_/-]`.
pub(super) const C_RUN: u8 = 8;

/// The byte class table of the gating pass.
pub(super) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut v = 0;
        if c.is_ascii_digit() {
            v |= C_DIGIT | C_PLAIN | C_ANY;
        }
        if matches!(c, b' ' | b'-') {
            v |= C_PLAIN | C_ANY;
        }
        if matches!(c, b'.' | b'(' | b')' | b'/' | b'+') {
            v |= C_ANY;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'-' | b'/') {
            v |= C_RUN;
        }
        t[b] = v;
        b += 1;
    }
    t
};

impl Detectors {
    /// The rules that may match `text` (bit = rule id), before the enabled
    /// set is applied, and whether `text` holds a `%` or a `+` (only then
    /// can it have a decoded view: [`crate::form::View::of`]). Inlined into
    /// [`Detectors::find`], where it was written: a split for reading, not a
    /// new call per string.
    #[inline(always)]
    pub(super) fn may_match(&self, text: &[u8]) -> (u128, bool) {
        // The keyword hits' rules, in a variable of their own: `want`
        // itself then never lives in memory (the walk's callback writes
        // through a pointer), which in the guest had every use of it below
        // compiled twice, once for each home.
        let mut by_keyword: u128 = 0;
        self.keywords.hits(text, |pattern, end| {
            let bit = self.ac_rule[pattern];
            // A sensitive word gates `inline_secret` only when a `key=` or
            // `key:` follows (`/api/v1/` is not `api_key=`).
            if bit != 1 << INLINE || kv_follows(text, end) {
                by_keyword |= bit;
            }
        });
        let mut want = by_keyword;
        // One pass of byte counts gates the shape-based classes. A "digit
        // run" is digits joined by number separators; a letter or any other
        // byte ends it, so hex ids and UUIDs rarely wake the card, phone and
        // IBAN patterns. `plain` runs (space and dash only: cards, SSNs,
        // IBAN groups) and `any` runs (also `.()/+`: phones) are counted
        // apart, so version strings and dotted quads do not look like cards.
        // This pass reads every byte of every scanned string, so it is the
        // engine's floor (eight bytes a step: see `gate`); the rarer shape tests
        // (`XX00`, `d-d`, a leading zero) run after it, only when the counts
        // call for them.
        let cand_len = self.min_entropy_len.saturating_sub(2).max(1);
        let Gate {
            plain,
            any,
            longest,
            dots,
            colons,
            plus,
            at,
            percent,
            account_word,
        } = if cand_len <= 6 {
            gate::<true>(text)
        } else {
            gate::<false>(text)
        };
        // Dotted groups (`4111.1111.1111.1111`) are not `plain` runs.
        if plain >= 13 || any >= 13 && dots >= 1 {
            want |= 1 << CARD;
        }
        // Grouped IMEIs (`35-209900-176148-1`); after the word `imei` the
        // keyword gates them in.
        if plain >= 15 {
            want |= 1 << IMEI;
        }
        // `a4:5e:60:d1:22:7f`, `a45e.60d1.227f`, and `A4-5E-60-D1-22-7F`
        // (one 17-byte run of the `longest` class).
        if colons >= 5 || (dots >= 2 || longest >= 17) && mac_shape(text) {
            want |= 1 << MAC;
        }
        // Letters in the account number (`RO81VZAT4MPX...`) leave short
        // digit runs: unspaced, the IBAN is one long run; spaced, one group
        // of four digits at least (`RO27 SAUG U4B2 6867 F46A 9295`). Its
        // first 15 bytes are `[A-Z0-9 ]`, so one word of the pass is.
        if (plain >= 4 || longest >= 15) && account_word && iban_head(text) {
            want |= 1 << IBAN;
        }
        // Without a `+`, the US and national phone patterns need the shapes
        // `phone_shape` looks for (user agents pass the counts on every span).
        if any >= 8 && (plus || any >= 10 || zero_lead(text)) && (plus || phone_shape(text)) {
            want |= 1 << PHONE;
        }
        // Not where dots abound (user agents' version numbers make long
        // digit runs); a number with an extension has at most two.
        if any >= 8 && dots <= 2 && more_shape(text) {
            want |= 1 << PHONE_MORE_BIT;
        }
        if any < 7 {
            want &= !(1 << PHONE_WORD_BIT);
        }
        // `ddd-dd-dddd`: a digit, a separator and a digit in a row.
        if plain >= 9 && digit_sep_digit(text) {
            want |= 1 << SSN;
        }
        if any >= 4 && dots >= 3 {
            want |= 1 << IPV4;
        }
        if colons >= 2 {
            want |= 1 << IPV6;
        }
        if longest >= self.min_entropy_len {
            want |= 1 << ENTROPY;
        }
        // `user:pass@host` needs an `@` somewhere after the `://`.
        if !at {
            want &= !(1 << URL_PASSWORD);
        }
        (want, plus || percent)
    }
}

/// What the gating pass of [`Detectors::find`] counts over one string.
/// `plain`, `any` and `longest` are exact from the smallest value `find`
/// compares them with (4, 4, and 7 or the candidate length) up; below that
/// they may fall short (see [`digit_runs`], [`class_runs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Gate {
    /// Most digits in one run of digits, spaces and dashes.
    plain: usize,
    /// Most digits in one run of digits, spaces, dashes and `.()/+`.
    any: usize,
    /// Longest run of `[A-Za-z0-9+_/-]`.
    longest: usize,
    dots: u64,
    colons: u64,
    /// Whether the text has a `+`, an `@`, a `%`.
    plus: bool,
    at: bool,
    percent: bool,
    /// Whether a word of the pass (eight bytes from a multiple of eight) is
    /// all `[A-Z0-9 ]`, as an IBAN's first 15 bytes always hold one.
    account_word: bool,
}

/// Digits in the runs of class `m` (lane mask) over one word: `cur` carries
/// the digits of the run still open from the previous word; each run that
/// ends in this word raises `best`. Runs that start and end inside the word
/// (six bytes at most) are followed only when the word holds at least
/// `inner` digits: below that they cannot reach the smallest count `find`
/// tests, so `best` is exact from `inner` up.
#[inline(always)]
fn digit_runs(m: u64, digit: u64, inner: u64, cur: &mut usize, best: &mut usize) {
    // Lane k of `ps`: the digits in lanes 0..=k.
    let ps = (digit >> 7).wrapping_mul(LANES);
    let total = (ps >> 56) as usize;
    let stops = !m & HIGH;
    if stops == 0 {
        *cur += total;
        return;
    }
    // Digits in the lanes before the one whose high bit is `bit`.
    let before = |bit: u32| ((ps << 8) >> (bit - 7) & 0xFF) as usize;
    let first = stops.trailing_zeros();
    *best = (*best).max(*cur + before(first));
    let last = 63 - stops.leading_zeros();
    // The run open at the word's end: the digits after the last stop
    // (a stop is not a digit).
    *cur = total - before(last);
    if (total as u64) < inner {
        return;
    }
    // Digits between the first and the last stop.
    let mut rest = digit & (u64::MAX << first) & ((1u64 << last) - 1);
    while rest != 0 {
        let s = rest.trailing_zeros();
        let e = (stops & (u64::MAX << s)).trailing_zeros();
        *best = (*best).max(before(e) - before(s));
        rest &= u64::MAX << e;
    }
}

/// Runs of class `m` (lane mask) over one word, by length: `cur` carries
/// the run open from the previous word; each run that ends in this word
/// raises `best`, and `ended(start, len)` hears of it (`start` relative to
/// the word: negative for the carried run), first to last. Runs inside the
/// word (six bytes at most) are followed only when `inner`.
#[inline(always)]
pub(super) fn class_runs(
    m: u64,
    inner: bool,
    cur: &mut usize,
    best: &mut usize,
    mut ended: impl FnMut(isize, usize),
) {
    let stops = !m & HIGH;
    if stops == 0 {
        *cur += 8;
        return;
    }
    let first = stops.trailing_zeros();
    let done = *cur + (first / 8) as usize;
    *best = (*best).max(done);
    ended(-(*cur as isize), done);
    let last = 63 - stops.leading_zeros();
    *cur = (7 - last / 8) as usize;
    if !inner {
        return;
    }
    let mut rest = m & (u64::MAX << first) & ((1u64 << last) - 1);
    while rest != 0 {
        let s = rest.trailing_zeros();
        let e = (stops & (u64::MAX << s)).trailing_zeros();
        let len = ((e - s) / 8) as usize;
        *best = (*best).max(len);
        ended((s / 8) as isize, len);
        rest &= u64::MAX << e;
    }
}

/// The gating pass, eight bytes a step: each byte class is a bit mask of
/// one 64-bit word (SWAR compares on 7-bit lanes; bytes >= 0x80 are in no
/// class), and runs are followed from word to word with bit scans, so the
/// loop takes one back-edge per word (and one per run of digits or
/// run bytes that ends inside it) instead of one per byte. Equal to
/// [`gate_bytes`], the byte-at-a-time pass it replaced (tested).
///
/// Never inlined: wasmtime's register allocator spilled nearly every value
/// of this loop to the stack when it was part of `find` (56 KiB of machine
/// code); on its own the loop's values stay in registers.
#[inline(never)]
fn gate<const INNER: bool>(text: &[u8]) -> Gate {
    let mut g = GateState {
        gate: Gate {
            plain: 0,
            any: 0,
            longest: 0,
            dots: 0,
            colons: 0,
            plus: false,
            at: false,
            percent: false,
            account_word: false,
        },
        dots_colons: 0,
        plus_at: 0,
        cur_plain: 0,
        cur_any: 0,
        run: 0,
    };
    let mut base = 0usize;
    // One word a loop step, the last one zero-padded (padding is in no
    // class: it ends every open run in place), so the step is compiled
    // once. Two words a step plus separate tails (four copies, 13 KiB of
    // the guest's machine code against 4 KiB) ran fewer instructions but
    // more slowly in the guest: its hot code is several times the native
    // code's size, and what the CPU has to fetch and decode counts there.
    while base < text.len() {
        g.word::<INNER>(word_at(text, base));
        base += 8;
    }
    // Runs still open at the end of the text.
    let mut out = g.gate;
    out.dots = g.dots_colons & 0xFFFF_FFFF;
    out.colons = g.dots_colons >> 32;
    out.plus = g.plus_at & HIGH != 0;
    out.at = g.plus_at & (HIGH >> 1) != 0;
    out.percent = g.plus_at & (HIGH >> 2) != 0;
    out.account_word = g.plus_at & (HIGH >> 3) != 0;
    out.plain = out.plain.max(g.cur_plain);
    out.any = out.any.max(g.cur_any);
    out.longest = out.longest.max(g.run);
    out
}

/// [`gate`]'s counters between words.
struct GateState {
    gate: Gate,
    /// Counts of `.` (low half) and `:` (high half): one register in the
    /// loop instead of two, as `plus_at` is one instead of two counts.
    dots_colons: u64,
    /// Lanes that held a `+` (bit 7), an `@` (bit 6) or a `%` (bit 5),
    /// and bit 4 when a word was all `[A-Z0-9 ]`: `find` only asks whether
    /// there is one.
    plus_at: u64,
    cur_plain: usize,
    cur_any: usize,
    run: usize,
}

impl GateState {
    /// One word of text starting at byte `base`. Forced inline into the
    /// loop: as a call per word (LLVM at `opt-level = "s"` did not
    /// inline it) it cost a fifth of the pass in the guest.
    #[inline(always)]
    fn word<const INNER: bool>(&mut self, word: u64) {
        let g = &mut self.gate;
        // Bytes >= 0x80 are in no class: the compares run on the low seven
        // bits, and each class is masked to the ASCII lanes once.
        let ascii = !word & HIGH;
        let t = word & !HIGH;
        let digit = lanes_ge(t, b'0') & !lanes_ge(t, b'9' + 1) & ascii;
        let dash = lanes_eq(t, b'-');
        let slash = lanes_eq(t, b'/');
        let plus = lanes_eq(t, b'+');
        let dot = lanes_eq(t, b'.');
        let space = lanes_eq(t, b' ');
        let plain = digit | ((dash | space) & ascii);
        // `(` and `)` differ only in the lowest bit.
        let paren = lanes_eq(t & !LANES, b'(');
        let any = plain | ((dot | slash | plus | paren) & ascii);
        let folded = t | (LANES * 0x20);
        let alpha = lanes_ge(folded, b'a') & !lanes_ge(folded, b'z' + 1);
        let run = digit | ((alpha | plus | dash | slash | lanes_eq(t, b'_')) & ascii);
        // Capitals are the letters with bit 5 clear. A word all of
        // capitals, digits and spaces is what lets the IBAN's window scan
        // run: none of loadgen's random values have one in fifty.
        let account = digit | ((alpha & !t << 2 | space) & ascii);

        // Two counts a multiply: one in the low nibble of each lane, one in
        // the high (eight a word at most, so neither spills over).
        let a = (ascii >> 7) * 0x11;
        let dc = ((dot >> 7 | lanes_eq(t, b':') >> 3) & a).wrapping_mul(LANES) >> 56;
        self.dots_colons += (dc & 0xF) | (dc >> 4) << 32;
        self.plus_at |= (plus & ascii)
            | (lanes_eq(t, b'@') & ascii) >> 1
            | (lanes_eq(t, b'%') & ascii) >> 2
            | u64::from(account == HIGH) << 4;
        // A word without digits only ends or extends the digit runs.
        if digit == 0 {
            if plain != HIGH {
                g.plain = g.plain.max(self.cur_plain);
                self.cur_plain = 0;
            }
            if any != HIGH {
                g.any = g.any.max(self.cur_any);
                self.cur_any = 0;
            }
        } else {
            // `find` tests `plain >= 4` and `any >= 4` at the least.
            digit_runs(plain, digit, 4, &mut self.cur_plain, &mut g.plain);
            digit_runs(any, digit, 4, &mut self.cur_any, &mut g.any);
        }
        // A run inside one word is six bytes at most: it matters only to a
        // candidate length that short (`longest` is tested against the
        // entropy minimum, 8 at the least, unless `INNER`).
        class_runs(run, INNER, &mut self.run, &mut g.longest, |_, _| {});
    }
}

#[cfg(test)]
mod tests {
    use super::super::{next, scan_texts};
    use super::*;
    use crate::swar::{digit_bytes, find_class, run_bytes};

    /// Counts of `.`, `:`, `+` and `@` in the 16-bit lanes of one `u64`, so
    /// the byte-at-a-time gating pass adds one table entry a byte for all four.
    #[cfg(test)]
    static COUNT: [u64; 256] = {
        let mut t = [0u64; 256];
        t[b'.' as usize] = 1;
        t[b':' as usize] = 1 << 16;
        t[b'+' as usize] = 1 << 32;
        t[b'@' as usize] = 1 << 48;
        t
    };

    /// The byte-at-a-time gating pass [`gate`] replaced, branch-free over the
    /// class tables: kept as the oracle of its tests.
    fn gate_bytes(text: &[u8]) -> Gate {
        let (mut plain, mut cur_plain, mut any, mut cur_any) = (0usize, 0usize, 0usize, 0usize);
        let (mut run, mut longest) = (0usize, 0usize);
        let (mut dots, mut colons, mut plus, mut at) = (0u64, 0u64, 0u64, 0u64);
        // 16-bit lanes: a chunk shorter than 2^16 cannot carry between them.
        for chunk in text.chunks(usize::from(u16::MAX)) {
            let mut lanes = 0u64;
            for &b in chunk {
                let c = CLASS[usize::from(b)];
                let digit = usize::from(c & C_DIGIT != 0);
                cur_plain = (cur_plain + digit) * usize::from(c & C_PLAIN != 0);
                cur_any = (cur_any + digit) * usize::from(c & C_ANY != 0);
                plain = plain.max(cur_plain);
                any = any.max(cur_any);
                run = (run + 1) * usize::from(c & C_RUN != 0);
                longest = longest.max(run);
                lanes += COUNT[usize::from(b)];
            }
            dots += lanes & 0xFFFF;
            colons += lanes >> 16 & 0xFFFF;
            plus += lanes >> 32 & 0xFFFF;
            at += lanes >> 48;
        }
        Gate {
            plain,
            any,
            longest,
            dots,
            colons,
            plus: plus > 0,
            at: at > 0,
            percent: text.contains(&b'%'),
            account_word: text.chunks_exact(8).any(|w| {
                w.iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ')
            }),
        }
    }

    /// The eight-bytes-a-step gating pass counts what the byte-at-a-time
    /// pass counts, wherever `find` looks, on every entropy minimum, over random
    /// strings of the bytes that matter (digits, separators, letters,
    /// `.:+@`, `_/()`, bytes >= 0x80, NUL), long runs of one class, and
    /// every length around the word size.
    #[test]
    fn gate_matches_the_byte_pass() {
        const ALPHABETS: &[&[u8]] = &[
            b"0123456789 -.:+@/()_aZ",
            b"0123456789 -",
            b"0123456789.()/+x",
            b"aB3_/+-",
            b"0123456789abcdef-",
            b"0 a.",
            b"\x00\x7f\x80\xff\xc3\xa9 9-.:+@AZaz_/()*,`{[",
            b"0+%a",
            b"AZ09 a[`@\xc1",
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..40 {
            for alphabet in ALPHABETS {
                for _ in 0..40 {
                    inputs.push(
                        (0..len)
                            .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
                            .collect(),
                    );
                }
            }
        }
        for _ in 0..3_000 {
            // Long runs of one byte glued together: runs across many words.
            let mut s = Vec::new();
            while s.len() < 300 {
                let b = ALPHABETS[0][(next(&mut x) % 22) as usize];
                let n = (next(&mut x) % 40) as usize;
                s.extend(std::iter::repeat_n(b, n));
            }
            inputs.push(s);
        }
        inputs.extend(scan_texts());
        // Every byte value.
        inputs.push((0..=255u8).collect());
        inputs.push((0..=255u8).rev().cycle().take(70_000).collect());
        // Past the byte pass's 65,535-byte chunks.
        inputs.push(b"12345 ".repeat(20_000));
        inputs.push(b"a".repeat(70_001));
        // Below the smallest count `find` tests, the maxima may be short
        // (runs inside one word are skipped there), never over.
        let seen = |g: Gate, cand_len: usize| Gate {
            plain: if g.plain >= 4 { g.plain } else { 0 },
            any: if g.any >= 4 { g.any } else { 0 },
            longest: if cand_len <= 6 || g.longest >= 7 {
                g.longest
            } else {
                0
            },
            ..g
        };
        for t in &inputs {
            for cand_len in [1, 6, 7, 8, 18, 254] {
                let new = if cand_len <= 6 {
                    gate::<true>(t)
                } else {
                    gate::<false>(t)
                };
                let old = gate_bytes(t);
                let text = String::from_utf8_lossy(t);
                assert_eq!(
                    seen(new, cand_len),
                    seen(old, cand_len),
                    "cand_len {cand_len}: {text:?}"
                );
                assert!(
                    new.plain <= old.plain && new.any <= old.any && new.longest <= old.longest,
                    "cand_len {cand_len}: {text:?}"
                );
            }
        }
    }

    /// The word-at-a-time class searches find what a byte loop finds.
    #[test]
    fn class_search_matches_a_byte_loop() {
        let mut x = 0x0F0F_1234_5678_9ABCu64;
        for t in scan_texts() {
            let text = String::from_utf8_lossy(&t);
            let from = (next(&mut x) % 41) as usize;
            let run = |b: u8| CLASS[usize::from(b)] & C_RUN != 0;
            let find = |f: &dyn Fn(u8) -> bool| {
                (from.min(t.len())..t.len())
                    .find(|&i| f(t[i]))
                    .unwrap_or(t.len())
            };
            assert_eq!(
                find_class(&t, from.min(t.len()), run_bytes),
                find(&run),
                "{text:?}"
            );
            assert_eq!(
                find_class(&t, from.min(t.len()), |w| !run_bytes(w) & HIGH),
                find(&|b| !run(b)),
                "{text:?}"
            );
            assert_eq!(
                find_class(&t, from.min(t.len()), digit_bytes),
                find(&|b: u8| b.is_ascii_digit()),
                "{text:?}"
            );
        }
    }
}
