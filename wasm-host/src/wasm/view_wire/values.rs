//! The builder's value nodes: attributes (a message's run of `KeyValue`s,
//! written in its first pass) and `AnyValue`s with their nested lists.

use pdata::wire::field::{any_value, key_value};
use pdata::wire::{Reader, VARINT, WireError, WireResult as R};

use super::super::layout_shared::{self as layout, NONE};
use super::super::view::{BatchView, Row, len32};
use super::{Each, MAX_LEVEL, Member, list, once, short_string_kv, text, utf8};

impl BatchView {
    /// Where `bytes`, a slice of the chunk being read, lies in the arena.
    /// Anything else (the empty default of an absent field) is copied in.
    #[inline(always)]
    pub(super) fn wire_str(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = (bytes.as_ptr() as usize).wrapping_sub(self.src.ptr);
        if at <= self.src.len && bytes.len() <= self.src.len - at {
            (len32(self.src.base + at), len32(bytes.len()))
        } else {
            self.str(bytes)
        }
    }

    pub(super) fn node_count(&self) -> u32 {
        len32(self.values.len() / layout::value::SIZE)
    }

    /// Where a message's attributes start: the next node, and the next
    /// scratch note. Taken before its first pass.
    #[inline(always)]
    pub(super) fn attrs_start(&self) -> (u32, usize) {
        (self.node_count(), self.scratch.len())
    }

    /// The `KeyValue` `kv` at `level`, just read by `r` in a message's first
    /// pass, gets its root node now: a message's attributes are then one
    /// contiguous run of nodes in wire order, as the decoded path writes them,
    /// with nothing else written during that pass. A string in prost's
    /// canonical shape (most attributes) is written at once, read once; any
    /// other value has its node reserved and its place noted, and is written
    /// by [`BatchView::wire_attrs`] after the run, since nested values go
    /// after the run.
    #[inline(always)]
    pub(super) fn attr<const T: bool>(&mut self, r: &Reader<'_>, kv: &[u8], level: u32) -> R<()> {
        // The value node is at level + 1.
        if level < MAX_LEVEL
            && let Some((key, s)) = short_string_kv(kv)
            && (T || (utf8(key) && utf8(s)))
        {
            let key = self.wire_str(key);
            let s = self.wire_str(s);
            self.push_string_node(key, s);
            return Ok(());
        }
        let slot = self.reserve_nodes(1);
        let end = r.pos();
        self.scratch.push((slot, end - kv.len(), end));
        Ok(())
    }

    /// Appends a root string node (no parent) with `key` and `value`.
    #[inline(always)]
    pub(super) fn push_string_node(&mut self, key: (u32, u32), value: (u32, u32)) {
        use layout::value as v;
        let mut row = Row::<{ v::SIZE }>::new();
        row.0[v::KIND] = v::KIND_STRING;
        row.u32(v::PARENT, NONE)
            .str(v::KEY, key)
            .str(v::PAYLOAD, value);
        self.values.extend_from_slice(&row.0);
    }

    /// Finishes the attributes of `buf` (at `level`) whose first pass
    /// started at `start` ([`BatchView::attrs_start`]): writes the values
    /// [`BatchView::attr`] left noted, nested values after the run, and
    /// removes the notes. (first node, count) of the run.
    pub(super) fn wire_attrs<const T: bool>(
        &mut self,
        buf: &[u8],
        (first, base): (u32, usize),
        level: u32,
    ) -> R<(u32, u32)> {
        let count = self.node_count() - first;
        for i in base..self.scratch.len() {
            let (slot, from, to) = self.scratch[i];
            let kv = buf.get(from..to).ok_or(WireError::PastEnd)?;
            // Nested lists do not take notes, so entries past `base` stay put.
            self.wire_key_value::<T>(slot, NONE, kv, level)?;
        }
        self.scratch.truncate(base);
        Ok((first, count))
    }

    /// A `KeyValue` at `level` into node `index`.
    #[inline(always)]
    pub(super) fn wire_key_value<const T: bool>(
        &mut self,
        index: u32,
        parent: u32,
        buf: &[u8],
        level: u32,
    ) -> R<()> {
        if level > MAX_LEVEL {
            return Err(WireError::Unsupported);
        }
        // Most attributes are strings in the canonical encoding: read that
        // one shape without the field loop. The value node is at level + 1.
        if level < MAX_LEVEL
            && let Some((key, s)) = short_string_kv(buf)
            && (T || (utf8(key) && utf8(s)))
        {
            let key = self.wire_str(key);
            let s = self.wire_str(s);
            let mut payload = [0u8; 8];
            payload[..4].copy_from_slice(&s.0.to_le_bytes());
            payload[4..].copy_from_slice(&s.1.to_le_bytes());
            self.put_node(index, layout::value::KIND_STRING, parent, key, payload);
            return Ok(());
        }
        let mut key: &[u8] = &[];
        let mut value = None;
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                key_value::KEY => key = text::<T>(&mut r, wt)?,
                key_value::VALUE => once(&mut value, r.message(wt)?)?,
                // `key_strindex`: profiles only, not shown.
                key_value::KEY_STRINDEX => r.scalar(wt, VARINT)?,
                _ => r.skip(wt)?,
            }
        }
        let key = self.wire_str(key);
        self.wire_value::<T>(index, parent, key, value, level + 1)
    }

    /// An `AnyValue` at `level` into node `index`, as `write_value` writes it.
    #[inline(always)]
    pub(super) fn wire_value<const T: bool>(
        &mut self,
        index: u32,
        parent: u32,
        key: (u32, u32),
        value: Option<&[u8]>,
        level: u32,
    ) -> R<()> {
        use layout::value as v;
        if level > MAX_LEVEL {
            return Err(WireError::Unsupported);
        }
        let mut member = None;
        if let Some(buf) = value {
            let mut r = Reader::new(buf);
            while !r.done() {
                let (tag, wt) = r.key()?;
                let m = match tag {
                    any_value::STRING => Member::String(text::<T>(&mut r, wt)?),
                    any_value::BOOL => Member::Bool(r.varint_field(wt)? != 0),
                    any_value::INT => Member::Int(r.varint_field(wt)?),
                    any_value::DOUBLE => Member::Double(r.fixed64(wt)?),
                    any_value::ARRAY => Member::Array(r.message(wt)?),
                    any_value::KVLIST => Member::Kvlist(r.message(wt)?),
                    any_value::BYTES => Member::Bytes(r.message(wt)?),
                    // `string_value_strindex` points into a profiles
                    // dictionary traces and logs do not have: shown empty.
                    any_value::STRING_STRINDEX => {
                        r.varint_field(wt)?;
                        Member::Empty
                    }
                    _ => {
                        r.skip(wt)?;
                        continue;
                    }
                };
                // prost keeps the last member, merging a repeated message
                // member into the first: left to prost.
                if member.replace(m).is_some() {
                    return Err(WireError::Unsupported);
                }
            }
        }
        let mut payload = [0u8; 8];
        let pair = |p: &mut [u8; 8], (a, b): (u32, u32)| {
            p[..4].copy_from_slice(&a.to_le_bytes());
            p[4..].copy_from_slice(&b.to_le_bytes());
        };
        let kind = match member {
            None | Some(Member::Empty) => v::KIND_EMPTY,
            Some(Member::String(s)) => {
                pair(&mut payload, self.wire_str(s));
                v::KIND_STRING
            }
            Some(Member::Bool(b)) => {
                payload[0] = b as u8;
                v::KIND_BOOL
            }
            Some(Member::Int(i)) => {
                payload = i.to_le_bytes();
                v::KIND_INT
            }
            Some(Member::Double(d)) => {
                payload = d.to_le_bytes();
                v::KIND_DOUBLE
            }
            Some(Member::Bytes(b)) => {
                pair(&mut payload, self.wire_str(b));
                v::KIND_BYTES
            }
            Some(Member::Array(buf)) => {
                pair(&mut payload, self.wire_list::<T>(index, buf, false, level)?);
                v::KIND_ARRAY
            }
            Some(Member::Kvlist(buf)) => {
                pair(&mut payload, self.wire_list::<T>(index, buf, true, level)?);
                v::KIND_KVLIST
            }
        };
        self.put_node(index, kind, parent, key, payload);
        Ok(())
    }

    /// The elements of an `ArrayValue` (or, with `keyed`, a `KeyValueList`)
    /// of the value at `level` in node `parent`: (first node, count). Out of
    /// line, so that the common scalar values inline into their callers
    /// (this is where the recursion is).
    #[inline(never)]
    pub(super) fn wire_list<const T: bool>(
        &mut self,
        parent: u32,
        buf: &[u8],
        keyed: bool,
        level: u32,
    ) -> R<(u32, u32)> {
        // The list at level + 1, its elements at level + 2.
        let run = list(buf)?;
        let first = self.reserve_nodes(run.count as usize);
        let mut each = Each::new(buf, any_value::LIST_VALUES, run);
        let mut i = 0u32;
        while let Some(item) = each.field()? {
            if keyed {
                self.wire_key_value::<T>(first + i, parent, item, level + 2)?;
            } else {
                self.wire_value::<T>(first + i, parent, (0, 0), Some(item), level + 2)?;
            }
            i += 1;
        }
        Ok((first, run.count))
    }
}
