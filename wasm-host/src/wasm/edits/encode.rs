//! A checked value tree written as protobuf bytes straight from the guest's
//! nodes: the bytes prost writes for the `AnyValue` [`Node::to_any`] builds,
//! without building it. Applying a guest's edits to an encoded item
//! ([`super::wire`]) spent most of its time on that tree: a `String` for every
//! key and string of a value (a symbolized stack is hundreds), prost's
//! encoding, which measures each nested message once per level above it, and
//! the drop.

use std::collections::HashMap;
use std::ops::Range;

use prost::encoding::{encode_varint, encoded_len_varint};

use super::super::layout_shared::value as v;
use super::{Node, u64_at};
use pdata::wire::field::{any_value as av, key_value as kv};
use pdata::wire::{I64, LEN, VARINT};

/// Bytes of a field's key.
fn key_len(tag: u32) -> usize {
    encoded_len_varint(u64::from(tag) << 3)
}

/// Bytes of a length-delimited field with a `len`-byte payload.
pub(super) fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

pub(super) fn put_key(tag: u32, wire_type: u8, out: &mut Vec<u8>) {
    encode_varint(u64::from(tag) << 3 | u64::from(wire_type), out);
}

/// A length-delimited field's key and length; the payload follows.
pub(super) fn put_len(tag: u32, len: usize, out: &mut Vec<u8>) {
    put_key(tag, LEN, out);
    encode_varint(len as u64, out);
}

/// Encodes the values of one edit list; remembers each node's length, so a
/// nested message is measured once, not once per level above it, and the
/// encoding of a value several edits share, so it is written once.
pub(super) struct Encoder {
    /// `AnyValue` payload length by node, `usize::MAX` while unknown.
    lengths: Vec<usize>,
    /// Encodings of shared values, back to back.
    shared: Vec<u8>,
    /// Root node -> its encoding in `shared`.
    written: HashMap<u32, Range<usize>>,
}

impl Encoder {
    /// For an edit list of `nodes` value nodes.
    pub(super) fn new(nodes: usize) -> Self {
        Encoder {
            lengths: vec![usize::MAX; nodes],
            shared: Vec::new(),
            written: HashMap::new(),
        }
    }

    /// Writes the `AnyValue` payload of an edit's value `n`. A value several
    /// edits set (a guest's cached stack frames on every error span of a
    /// storm) is encoded at its first use and copied at the others.
    pub(super) fn write_value(&mut self, n: &Node<'_>, out: &mut Vec<u8>) {
        if !n.shared {
            return self.write_any(n, n.index, out);
        }
        let range = match self.written.get(&n.index) {
            Some(r) => r.clone(),
            None => {
                let mut buf = std::mem::take(&mut self.shared);
                let from = buf.len();
                self.write_any(n, n.index, &mut buf);
                let r = from..buf.len();
                self.shared = buf;
                self.written.insert(n.index, r.clone());
                r
            }
        };
        out.extend_from_slice(&self.shared[range]);
    }

    /// Length of node `i`'s `AnyValue` message payload.
    pub(super) fn any_len(&mut self, n: &Node<'_>, i: u32) -> usize {
        if let Some(&len) = self.lengths.get(i as usize)
            && len != usize::MAX
        {
            return len;
        }
        let row = n.row(i);
        let len = match row[v::KIND] {
            v::KIND_STRING => field_len(av::STRING, n.bytes(row, v::PAYLOAD).len()),
            v::KIND_BOOL => key_len(av::BOOL) + 1,
            v::KIND_INT => key_len(av::INT) + encoded_len_varint(u64_at(row, v::PAYLOAD)),
            v::KIND_DOUBLE => key_len(av::DOUBLE) + 8,
            v::KIND_BYTES => field_len(av::BYTES, n.bytes(row, v::PAYLOAD).len()),
            v::KIND_ARRAY => field_len(av::ARRAY, self.array_len(n, row)),
            v::KIND_KVLIST => field_len(av::KVLIST, self.kvlist_len(n, row)),
            _ => 0,
        };
        if let Some(slot) = self.lengths.get_mut(i as usize) {
            *slot = len;
        }
        len
    }

    /// Payload of the `ArrayValue` of array node `row`.
    fn array_len(&mut self, n: &Node<'_>, row: &[u8]) -> usize {
        let (first, count) = Node::children(row);
        (first..first.saturating_add(count))
            .map(|c| field_len(av::LIST_VALUES, self.any_len(n, c)))
            .sum()
    }

    /// Payload of the `KeyValueList` of key-value list node `row`.
    fn kvlist_len(&mut self, n: &Node<'_>, row: &[u8]) -> usize {
        let (first, count) = Node::children(row);
        (first..first.saturating_add(count))
            .map(|c| field_len(av::LIST_VALUES, self.kv_len(n, c)))
            .sum()
    }

    /// Payload of a `KeyValue` whose key and value are node `i`'s.
    pub(super) fn kv_len(&mut self, n: &Node<'_>, i: u32) -> usize {
        let key = n.bytes(n.row(i), v::KEY).len();
        // prost leaves an empty key out; the value is always there.
        let key = if key == 0 { 0 } else { field_len(kv::KEY, key) };
        key + field_len(kv::VALUE, self.any_len(n, i))
    }

    /// Writes node `i`'s `AnyValue` payload.
    pub(super) fn write_any(&mut self, n: &Node<'_>, i: u32, out: &mut Vec<u8>) {
        let row = n.row(i);
        match row[v::KIND] {
            v::KIND_STRING => {
                let s = n.bytes(row, v::PAYLOAD);
                put_len(av::STRING, s.len(), out);
                out.extend_from_slice(s);
            }
            v::KIND_BOOL => {
                put_key(av::BOOL, VARINT, out);
                out.push(u8::from(row[v::PAYLOAD] != 0));
            }
            v::KIND_INT => {
                put_key(av::INT, VARINT, out);
                encode_varint(u64_at(row, v::PAYLOAD), out);
            }
            v::KIND_DOUBLE => {
                put_key(av::DOUBLE, I64, out);
                out.extend_from_slice(&u64_at(row, v::PAYLOAD).to_le_bytes());
            }
            v::KIND_BYTES => {
                let b = n.bytes(row, v::PAYLOAD);
                put_len(av::BYTES, b.len(), out);
                out.extend_from_slice(b);
            }
            v::KIND_ARRAY => {
                put_len(av::ARRAY, self.array_len(n, row), out);
                let (first, count) = Node::children(row);
                for c in first..first.saturating_add(count) {
                    put_len(av::LIST_VALUES, self.any_len(n, c), out);
                    self.write_any(n, c, out);
                }
            }
            v::KIND_KVLIST => {
                put_len(av::KVLIST, self.kvlist_len(n, row), out);
                let (first, count) = Node::children(row);
                for c in first..first.saturating_add(count) {
                    put_len(av::LIST_VALUES, self.kv_len(n, c), out);
                    self.write_kv(n, c, out);
                }
            }
            _ => {}
        }
    }

    /// Writes the payload of a `KeyValue` whose key and value are node `i`'s.
    fn write_kv(&mut self, n: &Node<'_>, i: u32, out: &mut Vec<u8>) {
        let key = n.bytes(n.row(i), v::KEY);
        if !key.is_empty() {
            put_len(kv::KEY, key.len(), out);
            out.extend_from_slice(key);
        }
        put_len(kv::VALUE, self.any_len(n, i), out);
        self.write_any(n, i, out);
    }
}
