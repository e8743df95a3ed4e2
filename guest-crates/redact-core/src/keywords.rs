//! The keyword automaton as one flat table, walked a byte at a time with
//! two loads, one add and a bit test.
//!
//! `aho-corasick` builds the automaton (case-insensitive, every keyword of
//! every rule, overlapping matches); this module copies its DFA into a table
//! shaped for the guest's compiler. The library's own transition costs a
//! byte-class load, a bounds check against the table's length and a compare
//! against its largest special state: under Cranelift those three values
//! did not fit the walk's registers and were reloaded from the stack at
//! every byte. Here every transition is in bounds by construction (no
//! length), and a match state is flagged in the low bit of the transition
//! that enters it (a constant test).
//!
//! The walk is one dependent load per byte, so its speed is the latency of
//! the address computation before that load. Each byte's column is kept as
//! an address (table base plus column offset), loaded off that chain: the
//! next transition's address is then that address plus the current
//! transition, one add. With the base and the column offset added on the
//! chain instead (the compiler orders `base + state + column` by operand
//! rank, the state first), the guest's walk took two address computations
//! a byte, one of them a three-operand `lea`, about 40% longer than the
//! native walk's `add` and load.

use aho_corasick::Anchored;
use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use std::collections::HashMap;

/// The automaton's tables. `table` holds `states * classes` transitions,
/// `u32` each: a transition into state `next` is `4 * next * classes |
/// is_match(next)`, the byte offset of `next`'s row with the match flag in
/// bit 0 (offsets are multiples of four). `columns[b]` is the address of
/// byte `b`'s column in row 0: `table`'s address plus `4 * class(b)`. The
/// walk adds a transition (flag cleared) to a column and reads the next
/// transition there.
pub(crate) struct KeywordTable {
    /// Heap-allocated and never changed after `new`, so the addresses in
    /// `columns` stay valid however the struct moves. Read only through
    /// them.
    #[allow(dead_code)]
    table: Box<[u32]>,
    columns: Box<[usize; 256]>,
    classes: u32,
    /// The start state, encoded as a transition into it.
    start: u32,
    /// Keyword ids matched in each state (by state index), as ranges of
    /// `patterns`.
    matches: Box<[(u32, u32)]>,
    patterns: Box<[u32]>,
}

/// `columns` for `table`, whose byte classes are `class_of` (each below the
/// row length).
fn columns(table: &[u32], class_of: &[u32; 256]) -> Box<[usize; 256]> {
    // The address is exposed so that `step` may read through an address
    // rebuilt from an integer (`with_exposed_provenance`).
    let base = table.as_ptr().expose_provenance();
    Box::new(class_of.map(|c| base + 4 * c as usize))
}
impl KeywordTable {
    /// Copies `dfa`'s unanchored automaton. States are found from the
    /// start state; the DFA of a few hundred keywords has a few thousand.
    pub(crate) fn new(dfa: &DFA) -> Self {
        let Ok(start) = dfa.start_state(Anchored::No) else {
            // Cannot happen for an unanchored DFA: a table that never
            // matches.
            let table: Box<[u32]> = vec![0].into();
            let columns = columns(&table, &[0; 256]);
            return KeywordTable {
                table,
                columns,
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
        let mut table: Vec<u32> = Vec::with_capacity(ids.len() * representative.len());
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
        let table: Box<[u32]> = table.into();
        let columns = columns(&table, &class_of);
        KeywordTable {
            table,
            columns,
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
        let column = self.columns[usize::from(b)];
        // SAFETY: `column` is the address of a column of row 0 of `table`
        // (`columns`), exposed there; `s` is `4 * state * classes` for some
        // state (`new` encodes the start and every transition so, and the
        // walk clears the match flag), so `column + s` is the address of a
        // `u32` inside `table`, which lives (boxed, unchanged) as long as
        // `self`, and is aligned (both terms are multiples of four).
        unsafe { std::ptr::with_exposed_provenance::<u32>(column + s as usize).read() }
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
