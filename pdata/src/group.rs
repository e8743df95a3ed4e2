//! Group-by-trace: the items of one trace together, for components that route or hold
//! whole traces (the `loadbalancing` exporter on decoded spans and log records, the
//! tail-sampling buffer on encoded span messages).

use std::collections::HashMap;

/// A trace id: the 16 bytes of OTLP's `trace_id`.
pub type TraceId = [u8; 16];

/// The trace id in `bytes`, or `None` when they are not 16 bytes (empty or malformed).
#[inline]
pub fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    TraceId::try_from(bytes).ok()
}

/// Items grouped by trace id: traces in first-seen order, the items of each in arrival
/// order; items without a 16-byte trace id go together under `None`.
#[derive(Debug)]
pub struct ByTrace<T> {
    groups: Vec<(Option<TraceId>, Vec<T>)>,
    /// Where each trace's group is; consulted only past the last group, as most
    /// batches hold a trace's spans next to each other.
    index: HashMap<Option<TraceId>, usize>,
}

impl<T> Default for ByTrace<T> {
    fn default() -> Self {
        ByTrace {
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> ByTrace<T> {
    /// No groups yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item` to the group of trace `id`.
    #[inline]
    pub fn push(&mut self, id: Option<TraceId>, item: T) {
        if let Some((last, items)) = self.groups.last_mut()
            && *last == id
        {
            items.push(item);
            return;
        }
        match self.index.get(&id) {
            Some(&i) => self.groups[i].1.push(item),
            None => {
                self.index.insert(id, self.groups.len());
                self.groups.push((id, vec![item]));
            }
        }
    }

    /// How many traces (groups) so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// No item yet.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups, traces in first-seen order.
    pub fn into_groups(self) -> Vec<(Option<TraceId>, Vec<T>)> {
        self.groups
    }
}

impl<T> FromIterator<(Option<TraceId>, T)> for ByTrace<T> {
    fn from_iter<I: IntoIterator<Item = (Option<TraceId>, T)>>(iter: I) -> Self {
        let mut out = ByTrace::new();
        for (id, item) in iter {
            out.push(id, item);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_seen_order_and_arrival_order() {
        let t = |b: u8| Some([b; 16]);
        let items = [
            (t(1), "a"),
            (t(2), "b"),
            (t(1), "c"),
            (None, "x"),
            (t(3), "d"),
        ];
        let mut g: ByTrace<&str> = items.into_iter().collect();
        g.push(t(2), "e");
        g.push(None, "y");
        assert_eq!(g.len(), 4);
        assert_eq!(
            g.into_groups(),
            vec![
                (t(1), vec!["a", "c"]),
                (t(2), vec!["b", "e"]),
                (None, vec!["x", "y"]),
                (t(3), vec!["d"]),
            ]
        );
        assert!(ByTrace::<u8>::new().is_empty());
    }

    #[test]
    fn only_16_bytes_make_a_trace_id() {
        assert_eq!(trace_id(&[7; 16]), Some([7; 16]));
        assert_eq!(trace_id(&[]), None);
        assert_eq!(trace_id(&[7; 15]), None);
        assert_eq!(trace_id(&[7; 17]), None);
    }
}
