//! The decision cache: trace ids decided recently, so spans that arrive
//! after their trace's decision follow it instead of starting a new trace.
//!
//! Bounded by generations rather than by a ring: ids go into the current
//! map; when it holds `capacity`, it becomes the previous one (the one
//! before is cleared, its allocation reused) and a new current starts. So
//! the cache remembers at least the last `capacity` ids and at most twice
//! that, and an insert costs one map insert: no per-insert eviction (a
//! removal whose key is long out of cache), no ring of ids beside the map.
//! A late span does not refresh its entry.

use super::TraceId;
use super::buffer::Map;

pub(crate) struct DecisionCache<V> {
    current: Map<TraceId, V>,
    previous: Map<TraceId, V>,
    capacity: usize,
}

impl<V> DecisionCache<V> {
    /// A cache of at least the last `capacity` ids (at most twice that); 0
    /// remembers nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        DecisionCache {
            // Grows as used: a large configured size costs nothing until filled.
            current: Map::default(),
            previous: Map::default(),
            capacity,
        }
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<&V> {
        // Most lookups are of traces never decided: both maps are asked.
        self.current.get(id).or_else(|| self.previous.get(id))
    }

    pub(crate) fn insert(&mut self, id: TraceId, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.current.len() >= self.capacity {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(id, value);
    }

    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_at_least_the_last_capacity_ids_and_zero_disables() {
        let mut c = DecisionCache::new(2);
        c.insert([1; 16], 'a');
        c.insert([2; 16], 'b');
        c.insert([3; 16], 'c');
        // The last two surely; the generation before them until it is replaced.
        assert_eq!(c.get(&[3; 16]), Some(&'c'));
        assert_eq!(c.get(&[2; 16]), Some(&'b'));
        assert_eq!(c.len(), 3);
        c.insert([4; 16], 'd');
        c.insert([5; 16], 'e');
        assert!(c.get(&[1; 16]).is_none() && c.get(&[2; 16]).is_none());
        assert_eq!((c.get(&[4; 16]), c.get(&[5; 16])), (Some(&'d'), Some(&'e')));
        assert!(c.len() <= 4);
        // Deciding an id again keeps one entry per generation.
        c.insert([5; 16], 'f');
        assert_eq!(c.get(&[5; 16]), Some(&'f'));
        let mut off = DecisionCache::new(0);
        off.insert([1; 16], ());
        assert!(off.get(&[1; 16]).is_none());
    }
}
