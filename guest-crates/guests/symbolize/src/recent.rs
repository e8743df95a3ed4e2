//! The outcomes of recently seen stack traces. An error storm repeats one
//! trace text thousands of times, and an index never changes within an
//! instance, so the same `(index, runtime hint, text)` always gives the same
//! attributes: they are kept and cloned instead of parsing and looking up
//! every frame again. Bounded: when full it is emptied and refills with
//! what comes next, which keeps the cost of eviction at zero.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use stacktrace::Problem;

use crate::attributes::Attrs;
use crate::outcome::Reason;

/// Most traces kept (each holds its text, a few KiB, and its attributes).
pub(crate) const CAPACITY: usize = 256;

/// What one trace gave, replayed on a hit: the outcome and the parse
/// problems to count again.
pub(crate) struct Seen {
    pub(crate) outcome: Result<Attrs, Reason>,
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

impl Recent {
    /// What this trace gave last time, if it is still kept. The text itself
    /// is compared, so a hash collision is a miss, never a wrong answer.
    pub(crate) fn get(&self, index: usize, language: Option<&str>, text: &str) -> Option<&Seen> {
        self.map
            .get(&key(index, language, text))
            .filter(|e| e.text == text && e.language.as_deref() == language)
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
