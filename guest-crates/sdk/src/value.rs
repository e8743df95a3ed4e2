//! A borrowed tree view over `AnyValue` nodes.

use crate::layout::value as v;
use crate::view::{arena_bytes, arena_str, u32_at, u64_at};

/// One `AnyValue`, borrowed from the batch. Arrays and kvlists are lazy views
/// over their children.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// No value.
    Empty,
    /// A UTF-8 string.
    String(&'a str),
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// An ordered list of values.
    Array(Array<'a>),
    /// An ordered list of `(key, value)` pairs.
    KvList(KvList<'a>),
}

impl<'a> Value<'a> {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The integer, if this is an int value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The number as f64, if this is an int or a double value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }
    /// The boolean, if this is a bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// For a kvlist: the value under `key` (first match).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        match self {
            Value::KvList(kv) => kv.get(key),
            _ => None,
        }
    }
}

/// A lazy view over the children of an array value.
#[derive(Clone, Copy, Debug)]
pub struct Array<'a> {
    arena: &'a [u8],
    values: &'a [u8],
    first: u32,
    len: u32,
}

impl<'a> Array<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// `true` when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let (arena, values) = (self.arena, self.values);
        (self.first..self.first.saturating_add(self.len))
            .filter_map(move |i| read_node(arena, values, i).map(|n| n.value))
    }
}

/// A lazy view over the entries of a kvlist value.
#[derive(Clone, Copy, Debug)]
pub struct KvList<'a> {
    arena: &'a [u8],
    values: &'a [u8],
    first: u32,
    len: u32,
}

impl<'a> KvList<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// `true` when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Value<'a>)> + 'a {
        let (arena, values) = (self.arena, self.values);
        (self.first..self.first.saturating_add(self.len))
            .filter_map(move |i| read_node(arena, values, i).map(|n| (n.key, n.value)))
    }
    /// The value under `key` (first match).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

pub(crate) struct Node<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: Value<'a>,
}

/// Decodes node `index`; `None` when the index is past the table.
#[inline]
pub(crate) fn read_node<'a>(arena: &'a [u8], values: &'a [u8], index: u32) -> Option<Node<'a>> {
    let start = (index as usize).checked_mul(v::SIZE)?;
    let row = values.get(start..)?.first_chunk::<{ v::SIZE }>()?;
    Some(decode_node(arena, values, index, row))
}

/// Decodes one node's 24 bytes, already bounds-checked as a whole: every
/// field below is a fixed-offset read of `row` (no further checks), and only
/// the strings it names are looked up in the arena.
#[inline(always)]
pub(crate) fn decode_node<'a>(
    arena: &'a [u8],
    values: &'a [u8],
    index: u32,
    row: &[u8; v::SIZE],
) -> Node<'a> {
    let key = arena_str(arena, u32_at(row, v::KEY), u32_at(row, v::KEY + 4));
    let first = u32_at(row, v::PAYLOAD);
    let len = u32_at(row, v::PAYLOAD + 4);
    let value = match row[v::KIND] {
        v::KIND_STRING => Value::String(arena_str(arena, first, len)),
        v::KIND_BOOL => Value::Bool(row[v::PAYLOAD] != 0),
        v::KIND_INT => Value::Int(u64_at(row, v::PAYLOAD) as i64),
        v::KIND_DOUBLE => Value::Double(f64::from_bits(u64_at(row, v::PAYLOAD))),
        v::KIND_BYTES => Value::Bytes(arena_bytes(arena, first, len)),
        // Children always sit after their parent; a node claiming otherwise is
        // malformed and shown as empty rather than risking a cycle.
        v::KIND_ARRAY if first > index => Value::Array(Array {
            arena,
            values,
            first,
            len,
        }),
        v::KIND_KVLIST if first > index => Value::KvList(KvList {
            arena,
            values,
            first,
            len,
        }),
        _ => Value::Empty,
    };
    Node { key, value }
}
