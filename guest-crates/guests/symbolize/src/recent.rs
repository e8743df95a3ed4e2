//! The outcomes of recently seen stack traces. An error storm repeats one
//! trace text thousands of times, and an index never changes within an
//! instance, so the same `(index, runtime hint, text)` always gives the same
//! attributes: they are kept and shared (not copied) instead of parsing and
//! looking up every frame again. Bounded: when full it is emptied and refills with
//! what comes next, which keeps the cost of eviction at zero.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use stacktrace::Problem;

use crate::attributes::SharedAttrs;
use crate::outcome::Reason;

/// Most traces kept (each holds its text, a few KiB, and its attributes).
pub(crate) const CAPACITY: usize = 256;

/// What one trace gave, replayed on a hit: the outcome and the parse
/// problems to count again.
pub(crate) struct Seen {
    pub(crate) outcome: Result<SharedAttrs, Reason>,
    pub(crate) problems: Vec<Problem>,
}

struct Entry {
    language: Option<String>,
    text: String,
    seen: Seen,
}

/// Recent traces by index and a hash of the text.
#[derive(Default)]
pub(crate) struct Recent {
    map: HashMap<(usize, u64), Entry>,
}

fn key(index: usize, language: Option<&str>, text: &str) -> (usize, u64) {
    let mut h = DefaultHasher::new();
    language.hash(&mut h);
    text.hash(&mut h);
    (index, h.finish())
}

/// `a == b`, eight bytes a step: in wasm32 `==` on slices is libc's
/// `memcmp`, a byte loop, and a hit compares the whole trace text (kilobytes)
/// every time.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails = wa.remainder() == wb.remainder();
    let word = |w: &[u8]| w.try_into().map_or(0, u64::from_le_bytes);
    tails && wa.zip(wb).all(|(x, y)| word(x) == word(y))
}

impl Recent {
    /// What this trace gave last time, if it is still kept. The text itself
    /// is compared, so a hash collision is a miss, never a wrong answer.
    pub(crate) fn get(&self, index: usize, language: Option<&str>, text: &str) -> Option<&Seen> {
        self.map
            .get(&key(index, language, text))
            .filter(|e| same(&e.text, text) && e.language.as_deref() == language)
            .map(|e| &e.seen)
    }

    /// Keeps what this trace gave.
    pub(crate) fn put(&mut self, index: usize, language: Option<&str>, text: &str, seen: Seen) {
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        self.map.insert(
            key(index, language, text),
            Entry {
                language: language.map(str::to_owned),
                text: text.to_owned(),
                seen,
            },
        );
    }

    /// Traces kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(reason: Reason) -> Seen {
        Seen {
            outcome: Err(reason),
            problems: vec![Problem::Truncated],
        }
    }

    /// `same` is `==`: equal texts, and texts differing in one byte at each
    /// position or in length.
    #[test]
    fn same_is_equality() {
        let base: String = (0..40).map(|i| char::from(b'a' + i % 26)).collect();
        for len in 0..base.len() {
            let a = &base[..len];
            assert!(same(a, a));
            assert!(!same(a, &base[..len + 1]));
            for at in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[at] = b'#';
                let b = String::from_utf8(b).expect("ascii");
                assert!(!same(a, &b), "{a} {b}");
            }
        }
    }

    #[test]
    fn hits_need_the_same_index_hint_and_text_and_the_size_is_bounded() {
        let mut r = Recent::default();
        r.put(0, Some("python"), "t", seen(Reason::OutsideIndex));
        let hit = r.get(0, Some("python"), "t").expect("kept");
        assert_eq!(hit.outcome.as_ref().err(), Some(&Reason::OutsideIndex));
        assert_eq!(hit.problems, [Problem::Truncated]);
        assert!(r.get(1, Some("python"), "t").is_none());
        assert!(r.get(0, None, "t").is_none());
        assert!(r.get(0, Some("python"), "t2").is_none());
        for i in 0..CAPACITY * 2 + 3 {
            r.put(0, None, &i.to_string(), seen(Reason::NoInAppFrame));
            assert!(r.len() <= CAPACITY);
        }
        assert!(r.get(0, None, &(CAPACITY * 2 + 2).to_string()).is_some());
    }
}
