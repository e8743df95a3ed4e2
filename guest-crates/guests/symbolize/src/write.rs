//! Writes each row's attributes into the edit list. A set of attributes the
//! recent-trace cache hands to several rows (the same stack on every error
//! span of a storm) is packed into the list once, as shared values
//! ([`Edits::add_value`]), and each row's edits point at them: the host then
//! checks and encodes the frames once per batch, not once per row.

use std::collections::HashMap;
use std::rc::Rc;

use tracemend_sdk::{Edits, ForeignValueRef, Row, ValueRef};

use crate::attributes::{Attrs, SharedAttrs};

/// The edit list of one call, and the attribute sets packed into it so far.
pub(crate) struct Writer<'e> {
    edits: &'e mut Edits,
    /// By the set's address: the set (held, so the address cannot be reused
    /// by another set during the call) and its values in the list.
    packed: HashMap<*const Attrs, (SharedAttrs, Vec<ValueRef>)>,
}

impl<'e> Writer<'e> {
    pub(crate) fn new(edits: &'e mut Edits) -> Self {
        Writer {
            edits,
            packed: HashMap::new(),
        }
    }

    /// Sets every attribute of `attrs` on `row`.
    pub(crate) fn write(
        &mut self,
        row: &impl Row,
        attrs: &SharedAttrs,
    ) -> Result<(), ForeignValueRef> {
        // Only this row holds the set (no cache entry): nothing to share.
        if Rc::strong_count(attrs) == 1 {
            for (key, value) in attrs.iter() {
                self.edits.set_attribute_ref(row, key, value);
            }
            return Ok(());
        }
        let edits = &mut *self.edits;
        let (_, values) = self.packed.entry(Rc::as_ptr(attrs)).or_insert_with(|| {
            let values = attrs.iter().map(|(_, v)| edits.add_value(v)).collect();
            (Rc::clone(attrs), values)
        });
        for ((key, _), value) in attrs.iter().zip(values.iter()) {
            edits.set_attribute_shared(row, key, *value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracemend_sdk::{NewValue, Target};

    use super::*;

    struct At(u32);
    impl Row for At {
        fn target(&self) -> Target {
            Target::Span
        }
        fn index(&self) -> u32 {
            self.0
        }
    }

    fn frames() -> SharedAttrs {
        Rc::new(vec![
            ("a", NewValue::from("x")),
            (
                "frames",
                NewValue::Array(vec![NewValue::KvList(vec![("f".into(), NewValue::Int(3))])]),
            ),
        ])
    }

    /// A set the cache holds is packed once for all its rows; a set only
    /// one row holds is written as before; each row gets every attribute.
    #[test]
    fn shared_sets_are_packed_once() {
        let cached = frames();
        let held = Rc::clone(&cached); // as the recent-trace cache holds it
        let mut edits = Edits::new();
        let mut w = Writer::new(&mut edits);
        for row in 0..3 {
            w.write(&At(row), &cached).expect("own list");
        }
        w.write(&At(3), &frames()).expect("own list");
        drop(w);
        assert_eq!(edits.len(), 8);
        let (rows, _, values) = edits.into_parts();
        let mut once = Edits::new();
        once.set_attribute_ref(&At(0), "a", &held[0].1);
        once.set_attribute_ref(&At(0), "frames", &held[1].1);
        let (_, _, one_row) = once.into_parts();
        // Two rows' worth of nodes: the shared set once, the unshared once.
        assert_eq!(values.len(), 2 * one_row.len());
        // Rows 0..3 name the same value nodes (an edit row is 32 bytes, its
        // value node at byte 16: `wit/layout.rs`).
        let value_of = |i: usize| &rows[i * 32 + 16..i * 32 + 20];
        for row in 1..3 {
            assert_eq!(value_of(2 * row), value_of(0));
            assert_eq!(value_of(2 * row + 1), value_of(1));
        }
        assert_ne!(value_of(6), value_of(0));
    }
}
