//! The keyword automaton as one flat table, walked a byte at a time with
//! two loads and a bit test.
//!
//! `aho-corasick` builds the automaton (case-insensitive, every keyword of
//! every rule, overlapping matches); this module copies its DFA into a table
//! shaped for the guest's compiler. The library's own transition costs a
//! byte-class load, a bounds check against the table's length and a compare
//! against its largest special state: under Cranelift those three values
//! did not fit the walk's registers and were reloaded from the stack at
//! every byte. Here the byte classes sit at the front of the same table as
//! the transitions (one base address), every transition is in bounds by
//! construction (no length), and a match state is flagged in the low bit
//! of the transition that enters it (a constant test).

use aho_corasick::Anchored;
use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use std::collections::HashMap;

/// The automaton's table, in `u32`s: 256 byte classes, then
/// `states * classes` transitions. A class `c` is stored as `4 * c`, the
/// byte offset of its column in a row; a transition into state `next` as
/// `4 * next * classes | is_match(next)`, the byte offset of `next`'s row
/// with the match flag in bit 0 (offsets are multiples of four). The walk
/// adds the two offsets and reads the next transition.
pub(crate) struct KeywordTable {
    table: Box<[u32]>,
    classes: u32,
    /// The start state, encoded as a transition into it.
    start: u32,
    /// Keyword ids matched in each state (by state index), as ranges of
    /// `patterns`.
    matches: Box<[(u32, u32)]>,
    patterns: Box<[u32]>,
}

impl KeywordTable {
    /// Copies `dfa`'s unanchored automaton. States are found from the
    /// start state; the DFA of a few hundred keywords has a few thousand.
    pub(crate) fn new(dfa: &DFA) -> Self {
        let Ok(start) = dfa.start_state(Anchored::No) else {
            // Cannot happen for an unanchored DFA: a table that never
            // matches.
            return KeywordTable {
                table: vec![0; 257].into(),
                classes: 1,
                start: 0,
                matches: vec![(0, 0)].into(),
                patterns: Box::default(),
            };
        };
        // Library state ids in discovery order. Bytes that every state
        // sends to the same place share a class: the partition of the 256
        // bytes is refined state by state, so the walk needs no per-state
        // row of 256 successors (the finished table is the only large
        // allocation, which matters for configs with many keywords in a
        // guest's bounded memory).
        let mut ids = vec![start];
        let mut index: HashMap<_, u32> = HashMap::from([(start, 0)]);
        let mut class_of = [0u32; 256];
        let mut split: HashMap<(u32, u32), u32> = HashMap::new();
        let mut i = 0;
        while i < ids.len() {
            let sid = ids[i];
            split.clear();
            for (b, class) in class_of.iter_mut().enumerate() {
                let n = dfa.next_state(Anchored::No, sid, b as u8);
                let next = *index.entry(n).or_insert_with(|| {
                    ids.push(n);
                    (ids.len() - 1) as u32
                });
                let fresh = split.len() as u32;
                *class = *split.entry((*class, next)).or_insert(fresh);
            }
            i += 1;
        }
        // Renumber the classes by first byte, and keep one byte of each.
        let mut renumber: HashMap<u32, u32> = HashMap::new();
        let mut representative = Vec::new();
        for (b, class) in class_of.iter_mut().enumerate() {
            let fresh = renumber.len() as u32;
            *class = *renumber.entry(*class).or_insert_with(|| {
                representative.push(b as u8);
                fresh
            });
        }
        let classes = representative.len() as u32;
        let is_match: Vec<bool> = ids.iter().map(|s| dfa.is_match(*s)).collect();
        let enter = |next: u32| (4 * next * classes) | u32::from(is_match[next as usize]);
        let mut table: Vec<u32> = Vec::with_capacity(256 + ids.len() * representative.len());
        table.extend(class_of.iter().map(|c| 4 * c));
        for sid in &ids {
            table.extend(representative.iter().map(|b| {
                let n = dfa.next_state(Anchored::No, *sid, *b);
                // Every successor was discovered above.
                enter(index.get(&n).copied().unwrap_or(0))
            }));
        }
        let mut matches = Vec::with_capacity(ids.len());
        let mut patterns = Vec::new();
        for sid in &ids {
            let first = patterns.len() as u32;
            if dfa.is_match(*sid) {
                patterns
                    .extend((0..dfa.match_len(*sid)).map(|k| dfa.match_pattern(*sid, k).as_u32()));
            }
            matches.push((first, patterns.len() as u32 - first));
        }
        KeywordTable {
            table: table.into(),
            classes,
            start: enter(0),
            matches: matches.into(),
            patterns: patterns.into(),
        }
    }

    /// Every keyword match in `text`, overlapping, in the order the
    /// library's `find_overlapping_iter` reports them: `hit(keyword, end)`.
    /// Eight bytes a loop step: in the guest every loop back-edge is also
    /// an epoch check. Never inlined: inside a larger function its values
    /// would not stay in registers.
    #[inline(never)]
    pub(crate) fn hits(&self, text: &[u8], mut hit: impl FnMut(usize, usize)) {
        let mut s = self.start;
        // An empty keyword matches before the first byte.
        if s & 1 != 0 {
            self.report(s, 0, &mut hit);
            s &= !1;
        }
        let mut end = 0usize;
        macro_rules! step {
            ($b:expr) => {
                s = self.step(s, $b);
                end += 1;
                if s & 1 != 0 {
                    self.report(s, end, &mut hit);
                    s &= !1;
                }
            };
        }
        // Eight bytes a loop step, read as one word: the bytes need no
        // registers of their own while the first ones are walked, and the
        // loop's own cost (its epoch check in the guest) is paid once.
        let mut words = text.chunks_exact(8);
        for w in &mut words {
            let w = w.try_into().map_or(0, u64::from_le_bytes);
            step!(w as u8);
            step!((w >> 8) as u8);
            step!((w >> 16) as u8);
            step!((w >> 24) as u8);
            step!((w >> 32) as u8);
            step!((w >> 40) as u8);
            step!((w >> 48) as u8);
            step!((w >> 56) as u8);
        }
        for &b in words.remainder() {
            step!(b);
        }
    }

    /// The transition from the state whose row starts at byte offset `s`
    /// (match flag clear) on byte `b`.
    #[inline(always)]
    fn step(&self, s: u32, b: u8) -> u32 {
        // SAFETY: the table holds 256 classes, each `4 * c` with `c` below
        // `classes`, then `states * classes` transitions; `s` is
        // `4 * state * classes` for some state (`new` encodes the start and
        // every transition so, and the walk clears the match flag), so the
        // byte offset `1024 + s + 4 * c` is below the table's end and a
        // multiple of four. `t.as_ptr()` is aligned for `u32`.
        unsafe {
            let t = self.table.as_ptr().cast::<u8>();
            let class = *self.table.get_unchecked(usize::from(b));
            t.add(1024 + s as usize + class as usize)
                .cast::<u32>()
                .read()
        }
    }

    /// The keywords matched on entering the state `s` encodes, ending at
    /// `end`. Out of line and cold: matches are rare, and the values this
    /// needs would otherwise take registers from the walk.
    #[cold]
    #[inline(never)]
    fn report(&self, s: u32, end: usize, hit: &mut dyn FnMut(usize, usize)) {
        let state = (s >> 2) / self.classes;
        let (first, n) = self.matches.get(state as usize).copied().unwrap_or((0, 0));
        for k in first..first + n {
            if let Some(p) = self.patterns.get(k as usize) {
                hit(*p as usize, end);
            }
        }
    }
}
