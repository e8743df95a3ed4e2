//! A protobuf wire-format reader over a byte slice that refuses, rather than guesses,
//! whenever prost might decide differently: over-long varints, tag 0, tags past
//! `u32`, groups, truncated fields and wire-type mismatches on known fields all end in
//! [`Fallback`], and the caller hands the request to prost instead.
//!
//! Shared source: pdata's validating scan (`wire.rs`) and the WASM host's view builder
//! (`processors/src/wasm/view_wire.rs`, which includes this file by path, as the guest
//! layout is shared) read the wire format with the same rules. Each uses a subset of
//! the helpers, hence the `dead_code` allowance.
#![allow(dead_code)]

/// Not accepted by the fast path; decode with prost instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

/// A fast-path result.
pub(crate) type R<T> = Result<T, Fallback>;

/// Wire type of varint fields.
pub(crate) const VARINT: u8 = 0;
/// Wire type of `fixed64` and `double` fields.
pub(crate) const I64: u8 = 1;
/// Wire type of strings, bytes and messages.
pub(crate) const LEN: u8 = 2;
/// Wire type of `fixed32` and `float` fields.
pub(crate) const I32: u8 = 5;

/// Reads fields from one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader starting at `pos`, a field boundary found by an earlier pass.
    #[inline]
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// Offset of the next field.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> R<u64> {
        // One-byte varints (small tags, lengths and counts) are the common case.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.long_varint()
    }

    #[inline(never)]
    fn long_varint(&mut self) -> R<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(Fallback)?;
            self.pos += 1;
            // prost refuses a tenth byte that would overflow 64 bits.
            if i == 9 && b > 1 {
                return Err(Fallback);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Fallback)
    }

    /// A field key: (field number, wire type).
    #[inline]
    pub(crate) fn key(&mut self) -> R<(u32, u8)> {
        let k = self.varint()?;
        if k > u64::from(u32::MAX) {
            return Err(Fallback);
        }
        let tag = (k >> 3) as u32;
        let wt = (k & 7) as u8;
        if tag == 0 {
            return Err(Fallback);
        }
        Ok((tag, wt))
    }

    /// A length-delimited payload.
    #[inline]
    pub(crate) fn bytes(&mut self) -> R<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| Fallback)?;
        let end = self.pos.checked_add(len).ok_or(Fallback)?;
        let s = self.buf.get(self.pos..end).ok_or(Fallback)?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    pub(crate) fn fixed(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Fallback)?;
        let s = self.buf.get(self.pos..end).ok_or(Fallback)?;
        self.pos = end;
        Ok(s)
    }

    /// Skips an unknown field; groups are left to prost.
    #[inline]
    pub(crate) fn skip(&mut self, wt: u8) -> R<()> {
        match wt {
            VARINT => self.varint().map(drop),
            I64 => self.fixed(8).map(drop),
            LEN => self.bytes().map(drop),
            I32 => self.fixed(4).map(drop),
            _ => Err(Fallback),
        }
    }

    /// Checks a known field's wire type; a mismatch is prost's error to report.
    #[inline]
    pub(crate) fn expect(&mut self, wt: u8, want: u8) -> R<()> {
        if wt == want { Ok(()) } else { Err(Fallback) }
    }

    /// A `string` field: its bytes, checked to be UTF-8 as prost checks them.
    #[inline]
    pub(crate) fn string(&mut self, wt: u8) -> R<&'a [u8]> {
        self.expect(wt, LEN)?;
        let s = self.bytes()?;
        // Most telemetry strings are ASCII, checked inline a word at a time.
        if !s.is_ascii() {
            std::str::from_utf8(s).map_err(|_| Fallback)?;
        }
        Ok(s)
    }

    /// A `bytes` field or an embedded message.
    #[inline]
    pub(crate) fn message(&mut self, wt: u8) -> R<&'a [u8]> {
        self.expect(wt, LEN)?;
        self.bytes()
    }

    /// A varint-typed field (`uint32`, `int64`, enums, `bool`, ...), as its 64 bits.
    #[inline]
    pub(crate) fn varint_field(&mut self, wt: u8) -> R<u64> {
        self.expect(wt, VARINT)?;
        self.varint()
    }

    /// A `fixed64` or `double` field.
    #[inline]
    pub(crate) fn fixed64(&mut self, wt: u8) -> R<u64> {
        self.expect(wt, I64)?;
        let b = self.fixed(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `fixed32` field.
    #[inline]
    pub(crate) fn fixed32(&mut self, wt: u8) -> R<u32> {
        self.expect(wt, I32)?;
        let b = self.fixed(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// A scalar field of wire type `want`, checked and skipped.
    #[inline]
    pub(crate) fn scalar(&mut self, wt: u8, want: u8) -> R<()> {
        self.expect(wt, want)?;
        self.skip(wt)
    }
}
