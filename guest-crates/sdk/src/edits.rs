//! Builders for the edit list a guest returns.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::layout::{NONE, edit as e, value as v};
use crate::value::Value;
use crate::view::{LogRecord, Row, Span, Target};

/// A value to write: an owned `AnyValue` tree.
#[derive(Clone, Debug, PartialEq)]
pub enum NewValue {
    /// No value.
    Empty,
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<NewValue>),
    /// A list of `(key, value)` pairs.
    KvList(Vec<(String, NewValue)>),
}

impl From<&str> for NewValue {
    fn from(s: &str) -> Self {
        NewValue::String(s.to_owned())
    }
}
impl From<String> for NewValue {
    fn from(s: String) -> Self {
        NewValue::String(s)
    }
}
impl From<bool> for NewValue {
    fn from(b: bool) -> Self {
        NewValue::Bool(b)
    }
}
impl From<i64> for NewValue {
    fn from(i: i64) -> Self {
        NewValue::Int(i)
    }
}
impl From<f64> for NewValue {
    fn from(d: f64) -> Self {
        NewValue::Double(d)
    }
}
impl From<Vec<u8>> for NewValue {
    fn from(b: Vec<u8>) -> Self {
        NewValue::Bytes(b)
    }
}
impl From<Value<'_>> for NewValue {
    /// Copies a borrowed value (and its whole subtree).
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Empty => NewValue::Empty,
            Value::String(s) => NewValue::String(s.to_owned()),
            Value::Bool(b) => NewValue::Bool(b),
            Value::Int(i) => NewValue::Int(i),
            Value::Double(d) => NewValue::Double(d),
            Value::Bytes(b) => NewValue::Bytes(b.to_vec()),
            Value::Array(a) => NewValue::Array(a.iter().map(NewValue::from).collect()),
            Value::KvList(kv) => NewValue::KvList(
                kv.iter()
                    .map(|(k, v)| (k.to_owned(), NewValue::from(v)))
                    .collect(),
            ),
        }
    }
}

/// A span status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    /// Unset.
    Unset = 0,
    /// Ok.
    Ok = 1,
    /// Error.
    Error = 2,
}

/// A value packed once into an edit list ([`Edits::add_value`]), to be set
/// by several edits of that list ([`Edits::set_attribute_shared`],
/// [`Edits::set_body_shared`]): the host checks and encodes it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRef {
    /// The [`Edits`] it was added to.
    list: u32,
    /// Its root node.
    node: u32,
}

/// A [`ValueRef`] given to an edit list other than the one it was added to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForeignValueRef;

impl core::fmt::Display for ForeignValueRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the value was added to another edit list")
    }
}

impl std::error::Error for ForeignValueRef {}

/// Numbers edit lists, so a [`ValueRef`] names the list it belongs to.
static NEXT_LIST: AtomicU32 = AtomicU32::new(0);

/// The edits a guest returns for one batch, packed as the host expects.
/// Edits apply in order; drops apply last, so indices stay those of the batch
/// the guest was given.
#[derive(Debug)]
pub struct Edits {
    rows: Vec<u8>,
    arena: Vec<u8>,
    values: Vec<u8>,
    /// This list's number, for [`ValueRef`]s.
    id: u32,
}

impl Default for Edits {
    fn default() -> Self {
        Self::new()
    }
}

impl Edits {
    /// An empty edit list.
    pub fn new() -> Self {
        Edits {
            rows: Vec::new(),
            arena: Vec::new(),
            values: Vec::new(),
            id: NEXT_LIST.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Number of edits.
    pub fn len(&self) -> usize {
        self.rows.len() / e::SIZE
    }

    /// `true` when there are no edits.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Sets (inserts or replaces) attribute `key` on `row`.
    pub fn set_attribute(&mut self, row: &impl Row, key: &str, value: impl Into<NewValue>) {
        self.set_attribute_at(row.target(), row.index(), key, value);
    }

    /// Sets attribute `key` on row `index` of `target`.
    pub fn set_attribute_at(
        &mut self,
        target: Target,
        index: u32,
        key: &str,
        value: impl Into<NewValue>,
    ) {
        let text = self.push_str(key.as_bytes());
        let node = self.push_value(&value.into());
        self.push_row(e::OP_SET_ATTRIBUTE, target.code(), index, text, node, 0);
    }

    /// As [`Edits::set_attribute`], writing a value the guest keeps (a
    /// cached one, say) without taking or copying it: the edit list holds
    /// its own packed copy either way.
    pub fn set_attribute_ref(&mut self, row: &impl Row, key: &str, value: &NewValue) {
        let text = self.push_str(key.as_bytes());
        let node = self.push_value(value);
        self.push_row(
            e::OP_SET_ATTRIBUTE,
            row.target().code(),
            row.index(),
            text,
            node,
            0,
        );
    }

    /// Packs `value` into this list once, for edits that set it on several
    /// rows ([`Edits::set_attribute_shared`], [`Edits::set_body_shared`]):
    /// a value set on many rows (the same stack frames on every error span
    /// of a storm, say) is then packed, checked and encoded once, not once
    /// per row. The host accepts shared values on every 0.1 version.
    pub fn add_value(&mut self, value: &NewValue) -> ValueRef {
        ValueRef {
            list: self.id,
            node: self.push_value(value),
        }
    }

    /// Sets attribute `key` on `row` to a value added with
    /// [`Edits::add_value`]; refused (nothing added) if `value` belongs to
    /// another edit list.
    pub fn set_attribute_shared(
        &mut self,
        row: &impl Row,
        key: &str,
        value: ValueRef,
    ) -> Result<(), ForeignValueRef> {
        let node = self.own(value)?;
        let text = self.push_str(key.as_bytes());
        self.push_row(
            e::OP_SET_ATTRIBUTE,
            row.target().code(),
            row.index(),
            text,
            node,
            0,
        );
        Ok(())
    }

    /// Replaces the body of `log` with a value added with
    /// [`Edits::add_value`]; refused (nothing added) if `value` belongs to
    /// another edit list.
    pub fn set_body_shared(
        &mut self,
        log: &LogRecord<'_>,
        value: ValueRef,
    ) -> Result<(), ForeignValueRef> {
        let node = self.own(value)?;
        self.push_row(e::OP_SET_BODY, e::TARGET_LOG, log.index(), (0, 0), node, 0);
        Ok(())
    }

    /// The root node of `value`, if it is one of this list's.
    fn own(&self, value: ValueRef) -> Result<u32, ForeignValueRef> {
        if value.list == self.id {
            Ok(value.node)
        } else {
            Err(ForeignValueRef)
        }
    }

    /// Removes attribute `key` from `row` (every entry with that key).
    pub fn remove_attribute(&mut self, row: &impl Row, key: &str) {
        self.remove_attribute_at(row.target(), row.index(), key);
    }

    /// Removes attribute `key` from row `index` of `target`.
    pub fn remove_attribute_at(&mut self, target: Target, index: u32, key: &str) {
        let text = self.push_str(key.as_bytes());
        self.push_row(e::OP_REMOVE_ATTRIBUTE, target.code(), index, text, NONE, 0);
    }

    /// Replaces the body of `log`.
    pub fn set_body(&mut self, log: &LogRecord<'_>, body: impl Into<NewValue>) {
        self.set_body_at(log.index(), body);
    }

    /// Replaces the body of log record `index`.
    pub fn set_body_at(&mut self, index: u32, body: impl Into<NewValue>) {
        let node = self.push_value(&body.into());
        self.push_row(e::OP_SET_BODY, e::TARGET_LOG, index, (0, 0), node, 0);
    }

    /// Renames `span`.
    pub fn rename_span(&mut self, span: &Span<'_>, name: &str) {
        self.rename_span_at(span.index(), name);
    }

    /// Renames span `index`.
    pub fn rename_span_at(&mut self, index: u32, name: &str) {
        let text = self.push_str(name.as_bytes());
        self.push_row(e::OP_RENAME_SPAN, e::TARGET_SPAN, index, text, NONE, 0);
    }

    /// Sets the status of `span`.
    pub fn set_status(&mut self, span: &Span<'_>, code: StatusCode, message: &str) {
        self.set_status_at(span.index(), code, message);
    }

    /// Sets the status of span `index`.
    pub fn set_status_at(&mut self, index: u32, code: StatusCode, message: &str) {
        let text = self.push_str(message.as_bytes());
        self.push_row(
            e::OP_SET_STATUS,
            e::TARGET_SPAN,
            index,
            text,
            NONE,
            code as u32,
        );
    }

    /// Drops `span` from the batch.
    pub fn drop_span(&mut self, span: &Span<'_>) {
        self.drop_span_at(span.index());
    }

    /// Drops span `index` from the batch.
    pub fn drop_span_at(&mut self, index: u32) {
        self.push_row(e::OP_DROP_SPAN, e::TARGET_SPAN, index, (0, 0), NONE, 0);
    }

    /// Drops `log` from the batch.
    pub fn drop_log(&mut self, log: &LogRecord<'_>) {
        self.drop_log_at(log.index());
    }

    /// Drops log record `index` from the batch.
    pub fn drop_log_at(&mut self, index: u32) {
        self.push_row(e::OP_DROP_LOG, e::TARGET_LOG, index, (0, 0), NONE, 0);
    }

    /// Appends a raw edit row. For tests of the host's validation: a plugin
    /// never needs this.
    #[doc(hidden)]
    pub fn push_raw(&mut self, op: u8, target: u8, index: u32, text: &str, value: u32, code: u32) {
        let text = self.push_str(text.as_bytes());
        self.push_row(op, target, index, text, value, code);
    }

    /// The three packed buffers `(rows, arena, values)` of the WIT `edits` record.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        (self.rows, self.arena, self.values)
    }

    fn push_str(&mut self, bytes: &[u8]) -> (u32, u32) {
        let off = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        (off, bytes.len() as u32)
    }

    fn push_row(
        &mut self,
        op: u8,
        target: u8,
        index: u32,
        text: (u32, u32),
        value: u32,
        code: u32,
    ) {
        let mut row = [0u8; e::SIZE];
        row[e::OP] = op;
        row[e::TARGET] = target;
        row[e::INDEX..e::INDEX + 4].copy_from_slice(&index.to_le_bytes());
        row[e::TEXT..e::TEXT + 4].copy_from_slice(&text.0.to_le_bytes());
        row[e::TEXT + 4..e::TEXT + 8].copy_from_slice(&text.1.to_le_bytes());
        row[e::VALUE..e::VALUE + 4].copy_from_slice(&value.to_le_bytes());
        row[e::CODE..e::CODE + 4].copy_from_slice(&code.to_le_bytes());
        self.rows.extend_from_slice(&row);
    }

    /// Writes `value` as a root node plus its subtree; children of a node are
    /// reserved as one contiguous run after it, as the layout requires.
    fn push_value(&mut self, value: &NewValue) -> u32 {
        let root = self.reserve_nodes(1);
        self.write_node(root, NONE, (0, 0), value);
        root
    }

    fn reserve_nodes(&mut self, n: usize) -> u32 {
        let first = (self.values.len() / v::SIZE) as u32;
        self.values.resize(self.values.len() + n * v::SIZE, 0);
        first
    }

    fn write_node(&mut self, index: u32, parent: u32, key: (u32, u32), value: &NewValue) {
        let (kind, payload): (u8, [u8; 8]) = match value {
            NewValue::Empty => (v::KIND_EMPTY, [0; 8]),
            NewValue::String(s) => (v::KIND_STRING, pair(self.push_str(s.as_bytes()))),
            NewValue::Bool(b) => (v::KIND_BOOL, (*b as u64).to_le_bytes()),
            NewValue::Int(i) => (v::KIND_INT, i.to_le_bytes()),
            NewValue::Double(d) => (v::KIND_DOUBLE, d.to_bits().to_le_bytes()),
            NewValue::Bytes(b) => (v::KIND_BYTES, pair(self.push_str(b))),
            NewValue::Array(items) => {
                let first = self.reserve_nodes(items.len());
                for (i, item) in items.iter().enumerate() {
                    self.write_node(first + i as u32, index, (0, 0), item);
                }
                (v::KIND_ARRAY, pair((first, items.len() as u32)))
            }
            NewValue::KvList(entries) => {
                let first = self.reserve_nodes(entries.len());
                for (i, (k, item)) in entries.iter().enumerate() {
                    let key = self.push_str(k.as_bytes());
                    self.write_node(first + i as u32, index, key, item);
                }
                (v::KIND_KVLIST, pair((first, entries.len() as u32)))
            }
        };
        let start = index as usize * v::SIZE;
        let row = &mut self.values[start..start + v::SIZE];
        row[v::KIND] = kind;
        row[v::PARENT..v::PARENT + 4].copy_from_slice(&parent.to_le_bytes());
        row[v::KEY..v::KEY + 4].copy_from_slice(&key.0.to_le_bytes());
        row[v::KEY + 4..v::KEY + 8].copy_from_slice(&key.1.to_le_bytes());
        row[v::PAYLOAD..v::PAYLOAD + 8].copy_from_slice(&payload);
    }
}

fn pair((a, b): (u32, u32)) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&a.to_le_bytes());
    out[4..].copy_from_slice(&b.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::read_node;

    #[test]
    fn nested_values_round_trip_through_the_packed_form() {
        let tree = NewValue::KvList(vec![
            ("s".into(), NewValue::from("ünï")),
            (
                "a".into(),
                NewValue::Array(vec![
                    NewValue::Int(-1),
                    NewValue::Double(0.5),
                    NewValue::KvList(vec![("b".into(), NewValue::Bytes(vec![0, 255]))]),
                    NewValue::Empty,
                ]),
            ),
            ("t".into(), NewValue::Bool(true)),
        ]);
        let mut edits = Edits::new();
        let root = edits.push_value(&tree);
        let node = read_node(&edits.arena, &edits.values, root).expect("root");
        assert_eq!(NewValue::from(node.value), tree);
    }

    /// A value written by reference packs as the same value moved in.
    #[test]
    fn set_attribute_ref_packs_as_set_attribute() {
        let value = NewValue::Array(vec![
            NewValue::KvList(vec![("f".into(), NewValue::from("main"))]),
            NewValue::Int(7),
        ]);
        let mut by_value = Edits::new();
        let mut by_ref = Edits::new();
        for (target, index) in [(Target::Span, 3u32), (Target::Log, 0)] {
            by_value.set_attribute_at(target, index, "k", value.clone());
            by_ref.set_attribute_ref(&At(target, index), "k", &value);
        }
        assert_eq!(by_ref.into_parts(), by_value.into_parts());
    }

    struct At(Target, u32);
    impl Row for At {
        fn target(&self) -> Target {
            self.0
        }
        fn index(&self) -> u32 {
            self.1
        }
    }

    /// Edits sharing a value name one packed copy of it, which reads back as
    /// the value; the rows are those `set_attribute` writes but for it.
    #[test]
    fn shared_values_are_packed_once() {
        let value = NewValue::Array(vec![
            NewValue::KvList(vec![("f".into(), NewValue::from("main"))]),
            NewValue::Int(7),
        ]);
        let mut shared = Edits::new();
        let v = shared.add_value(&value);
        let nodes = shared.values.len();
        for i in 0..3 {
            shared
                .set_attribute_shared(&At(Target::Span, i), "k", v)
                .expect("own value");
        }
        assert_eq!(shared.values.len(), nodes, "no copy per edit");
        let node = read_node(&shared.arena, &shared.values, v.node).expect("root");
        assert_eq!(NewValue::from(node.value), value);
        let mut plain = Edits::new();
        for i in 0..3 {
            plain.set_attribute_at(Target::Span, i, "k", value.clone());
        }
        let (rows, _, _) = shared.into_parts();
        let (plain_rows, _, _) = plain.into_parts();
        assert_eq!(rows.len(), plain_rows.len());
        for (a, b) in rows.chunks(e::SIZE).zip(plain_rows.chunks(e::SIZE)) {
            assert_eq!(a[..e::TEXT], b[..e::TEXT], "op, target, index");
            assert_eq!(
                a[e::TEXT + 4..e::VALUE],
                b[e::TEXT + 4..e::VALUE],
                "key length"
            );
            assert_eq!(u32_le(a, e::VALUE), v.node);
        }
    }

    /// A value of another list is refused and adds nothing.
    #[test]
    fn a_foreign_value_is_refused() {
        let mut other = Edits::new();
        let v = other.add_value(&NewValue::Int(1));
        let mut edits = Edits::new();
        assert_eq!(
            edits.set_attribute_shared(&At(Target::Span, 0), "k", v),
            Err(ForeignValueRef)
        );
        let body = edits.add_value(&NewValue::from("b"));
        assert_eq!(
            other.set_attribute_shared(&At(Target::Log, 0), "k", body),
            Err(ForeignValueRef)
        );
        assert_eq!(edits.len(), 0);
        assert_eq!(other.len(), 0);
        other
            .set_attribute_shared(&At(Target::Log, 0), "k", v)
            .expect("own value");
        assert_eq!(other.len(), 1);
    }

    fn u32_le(row: &[u8], off: usize) -> u32 {
        u32::from_le_bytes([row[off], row[off + 1], row[off + 2], row[off + 3]])
    }

    #[test]
    fn rows_are_fixed_width() {
        let mut edits = Edits::new();
        edits.drop_span_at(3);
        edits.set_attribute_at(Target::Log, 1, "k", 5i64);
        assert_eq!(edits.len(), 2);
        let (rows, _, _) = edits.into_parts();
        assert_eq!(rows.len(), 2 * e::SIZE);
        assert_eq!(rows[e::OP], e::OP_DROP_SPAN);
        assert_eq!(rows[e::SIZE + e::TARGET], e::TARGET_LOG);
    }
}
