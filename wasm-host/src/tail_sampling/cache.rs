//! The decision cache: trace ids decided recently, so spans that arrive
//! after their trace's decision follow it instead of starting a new trace.
//! Bounded; the oldest entry is evicted first (insertion order: a late span
//! does not refresh its entry, which keeps the cache a plain ring).

use std::collections::VecDeque;

use super::TraceId;
use super::buffer::Map;

pub(crate) struct DecisionCache<V> {
    map: Map<TraceId, V>,
    order: VecDeque<TraceId>,
    capacity: usize,
}

impl<V> DecisionCache<V> {
    /// A cache of at most `capacity` ids; 0 remembers nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        DecisionCache {
            // Grows as used: a large configured size costs nothing until filled.
            map: Map::default(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<&V> {
        self.map.get(id)
    }

    pub(crate) fn insert(&mut self, id: TraceId, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.map.insert(id, value).is_some() {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_zero_disables() {
        let mut c = DecisionCache::new(2);
        c.insert([1; 16], 'a');
        c.insert([2; 16], 'b');
        c.insert([3; 16], 'c');
        assert!(c.get(&[1; 16]).is_none());
        assert_eq!(c.get(&[3; 16]), Some(&'c'));
        assert_eq!(c.len(), 2);
        let mut off = DecisionCache::new(0);
        off.insert([1; 16], ());
        assert!(off.get(&[1; 16]).is_none());
    }
}
