//! High-entropy runs: base64- and token-like runs of `[A-Za-z0-9+/_-]`
//! (and `=` padding) at least `min_entropy_len` long, not hex, judged by
//! `validate::high_entropy`, split at separators when plain words show the
//! run is a path or an identifier.

use super::gate::class_runs;
use super::{Detectors, ENTROPY, Match};
use crate::swar::{all_in, find_class, hexish_bytes, run_bytes, sep_bytes, word_at};
use crate::validate;

impl Detectors {
    #[inline(never)]
    pub(super) fn entropy(
        &self,
        text: &[u8],
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        let min = self.min_entropy_len;
        // A run and up to two `=` of padding are judged from `min` bytes
        // on: shorter runs are passed over.
        let cand = min.saturating_sub(2).max(1);
        // Runs followed eight bytes a step, as in `gate` (one loop step a
        // word however many runs end in it: in the guest each step is also
        // an epoch check); only the rare long run costs a call.
        let mut judge = |start: usize, run_end: usize| {
            let mut end = run_end;
            while end < text.len() && end - run_end < 2 && text[end] == b'=' {
                end += 1;
            }
            // No part of a hex run (ids, UUIDs, digests) is high-entropy
            // (`validate::high_entropy` exempts hex): one word-at-a-time
            // check instead of splitting and judging the parts.
            if end - start >= min && !all_in(&text[start..run_end], hexish_bytes) {
                self.entropy_run(text, start, end, is_token, out);
            }
        };
        // `longest` is `class_runs`' maximum, which this scan does not use.
        let (mut cur, mut longest) = (0usize, 0usize);
        let mut base = 0usize;
        while base < text.len() {
            // Past the end, the zero padding is in no run: the last run
            // ends in place.
            class_runs(
                run_bytes(word_at(text, base)),
                cand <= 6,
                &mut cur,
                &mut longest,
                |start, len| {
                    if len >= cand {
                        let start = base.wrapping_add_signed(start);
                        judge(start, start + len);
                    }
                },
            );
            base += 8;
        }
        // A run still open at a text whose length is a multiple of eight.
        if cur >= cand {
            judge(text.len() - cur, text.len());
        }
    }

    /// One run of `[A-Za-z0-9+/_-]` (plus padding). `/ + - _` are base64
    /// characters but also path, form and identifier separators: a run with
    /// a plain word between them (`/api/v1/users/...`, `signed+with+...`,
    /// `checkout-7d9f8b6c4-x2kzp`) is judged part by part, a run without
    /// one (a base64 blob) as a whole.
    fn entropy_run(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        is_token: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Match>,
    ) {
        let min = self.min_entropy_len;
        let run = &text[start..end];
        let sep = |b: &u8| matches!(b, b'/' | b'+' | b'-' | b'_');
        let is_word = |p: &[u8]| {
            p.len() >= 3
                && p.iter().all(u8::is_ascii_lowercase)
                && p.iter()
                    .any(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'))
                || p.len() >= 2 && p.len() <= 4 && p.iter().all(u8::is_ascii_digit)
        };
        let split = find_class(run, 0, sep_bytes) < run.len() && run.split(sep).any(is_word);
        let mut judge = |s: usize, e: usize| {
            // Leading separators are not part of a secret.
            let s = s + text[s..e].iter().take_while(|b| sep(b)).count();
            let tok = &text[s..e];
            if e - s >= min && !is_token(tok) && validate::high_entropy(tok) {
                out.push(Match {
                    start: s,
                    end: e,
                    rule: ENTROPY,
                });
            }
        };
        if !split {
            judge(start, end);
            return;
        }
        // Part by part, separators found eight bytes a step.
        let (mut s, mut i) = (start, 0);
        loop {
            let at = find_class(run, i, sep_bytes);
            if at == run.len() {
                break;
            }
            judge(s, start + at);
            s = start + at + 1;
            i = at + 1;
        }
        if s < end {
            judge(s, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::next;
    use super::*;
    use crate::swar::HIGH;

    /// The run-at-a-time entropy scan the word-at-a-time one replaced: every
    /// maximal run of `[A-Za-z0-9+_/-]` with up to two `=` after it, judged
    /// when it is `min` bytes or more and not all hex-ish.
    fn entropy_by_runs(d: &Detectors, text: &[u8], out: &mut Vec<Match>) {
        let never = |_: &[u8]| false;
        let mut i = 0;
        loop {
            i = find_class(text, i, run_bytes);
            if i == text.len() {
                break;
            }
            let start = i;
            i = find_class(text, i, |w| !run_bytes(w) & HIGH);
            let mut end = i;
            while end < text.len() && end - i < 2 && text[end] == b'=' {
                end += 1;
            }
            if end - start >= d.min_entropy_len && !all_in(&text[start..i], hexish_bytes) {
                d.entropy_run(text, start, end, &never, out);
            }
            i = end.max(i);
        }
    }

    /// The entropy scan finds what the run-at-a-time scan finds, on every
    /// minimum length (the smallest ones judge runs inside one word), over
    /// random texts of secret-like runs, hex, separators and padding, at
    /// every length around the word size.
    #[test]
    fn entropy_scan_matches_the_run_scan() {
        const PIECES: &[&str] = &[
            "aK9xQ2mZ", "7fB3", "Zq", "deadbeef", "0123", "-", "_", "/", "+", "=", "==", " ", ".",
            ":", "\u{e9}", "token", "xY7",
        ];
        let never = |_: &[u8]| false;
        let mut x = 0x0E17_0E17_5EC2_E75Au64;
        let mut found = 0;
        for min in [1, 3, 6, 8, 9, 12, 20, 40] {
            let mut d = Detectors::new(Vec::new(), &[], &[]);
            d.min_entropy_len = min;
            for _ in 0..20_000 {
                let n = (next(&mut x) % 24) as usize;
                let t: String = (0..n)
                    .map(|_| PIECES[(next(&mut x) % PIECES.len() as u64) as usize])
                    .collect();
                let (mut got, mut want) = (Vec::new(), Vec::new());
                d.entropy(t.as_bytes(), &never, &mut got);
                entropy_by_runs(&d, t.as_bytes(), &mut want);
                assert_eq!(got, want, "min {min}: {t:?}");
                found += want.len();
            }
        }
        // The texts hold findings at every minimum, not only empty answers.
        assert!(found > 50_000, "{found} findings");
    }
}
