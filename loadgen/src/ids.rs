//! Trace and span ids for generated telemetry.
//!
//! Ids come from counters pushed through a bijective 64-bit mixer, so they look random
//! (which matters to anything that shards or samples by id) and are unique by
//! construction: no bookkeeping, no collisions to check for while building the pool.

/// Makes trace ids (16 bytes) and span ids (8 bytes) that are valid (never all zero)
/// and unique within one generator.
#[derive(Debug, Clone)]
pub struct IdGen {
    /// High half of every trace id: random per run, so two runs do not reuse ids.
    run: u64,
    /// Key added to span counters so span ids differ between runs too.
    span_key: u64,
    next_trace: u64,
    next_span: u64,
}

impl IdGen {
    /// A generator whose ids are derived from `seed`; the same seed gives the same ids.
    pub fn new(seed: u64) -> Self {
        let run = mix(seed ^ 0x7472_6163_656d_656e);
        Self {
            // A zero high half would let one trace id be all zeroes; avoid it.
            run: if run == 0 { 1 } else { run },
            span_key: mix(seed.wrapping_add(0x9e37_79b9_7f4a_7c15)),
            next_trace: 0,
            next_span: 0,
        }
    }

    /// The next trace id.
    pub fn trace_id(&mut self) -> [u8; 16] {
        let low = mix(self.next_trace);
        self.next_trace += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.run.to_be_bytes());
        id[8..].copy_from_slice(&low.to_be_bytes());
        id
    }

    /// The next span id.
    pub fn span_id(&mut self) -> [u8; 8] {
        let mut v = mix(self.next_span.wrapping_add(self.span_key));
        self.next_span += 1;
        // `mix` is a bijection, so exactly one counter value maps to zero; remap it.
        // It could then equal the id of one other counter value, a 2^-64 chance.
        if v == 0 {
            v = self.run;
        }
        v.to_be_bytes()
    }

    /// A value that identifies this run (used as `service.instance.id`).
    pub fn run_id(&self) -> u64 {
        self.run
    }
}

/// The splitmix64 finalizer: a bijection on u64 with good avalanche.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_valid_and_unique() {
        let mut ids = IdGen::new(42);
        let mut traces = HashSet::new();
        let mut spans = HashSet::new();
        for _ in 0..100_000 {
            let t = ids.trace_id();
            let s = ids.span_id();
            assert_ne!(t, [0; 16]);
            assert_ne!(s, [0; 8]);
            assert!(traces.insert(t));
            assert!(spans.insert(s));
        }
    }

    #[test]
    fn runs_with_different_seeds_differ() {
        let mut a = IdGen::new(1);
        let mut b = IdGen::new(2);
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(a.span_id(), b.span_id());
    }
}
