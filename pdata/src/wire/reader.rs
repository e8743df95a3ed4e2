//! A protobuf wire-format reader over a byte slice that refuses, rather than guesses,
//! whenever prost might decide differently: over-long varints, tag 0, tags past `u32`,
//! groups, truncated fields and wire-type mismatches on known fields are all errors, and
//! a caller that needs the request anyway hands it to prost instead.

/// Why bytes could not be read as protobuf (or not by a fast path: see
/// [`WireError::Unsupported`]). Small and `Copy`, as hot paths return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A varint runs past the end of its message.
    #[error("truncated varint")]
    TruncatedVarint,
    /// A varint longer than 10 bytes or past 64 bits.
    #[error("varint longer than 64 bits")]
    VarintOverflow,
    /// A length, or a fixed-width field, runs past the end of its message.
    #[error("field runs past the end of its message")]
    PastEnd,
    /// Field number 0, or a key past 32 bits.
    #[error("invalid field number")]
    FieldNumber,
    /// A group or an undefined wire type: not used by OTLP.
    #[error("unsupported wire type")]
    UnsupportedWireType,
    /// A known field with another wire type than its declaration's.
    #[error("wrong wire type for a known field")]
    WrongWireType,
    /// A `string` field that is not UTF-8.
    #[error("string field is not UTF-8")]
    Utf8,
    /// Well-formed, but shaped where only a full decoder can say what it means (nesting
    /// near prost's recursion limit, a singular message given twice, ...).
    #[error("left to the full decoder")]
    Unsupported,
}

/// A wire-reading result.
pub type WireResult<T> = Result<T, WireError>;

/// Wire type of varint fields.
pub const VARINT: u8 = 0;
/// Wire type of `fixed64` and `double` fields.
pub const I64: u8 = 1;
/// Wire type of strings, bytes and messages.
pub const LEN: u8 = 2;
/// Wire type of `fixed32` and `float` fields.
pub const I32: u8 = 5;

/// Reads the fields of one message's bytes, in order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader starting at `pos`, a field boundary found by an earlier pass.
    #[inline]
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// Offset of the next field.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The whole message this reader reads.
    #[inline]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// No field left.
    #[inline]
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A varint.
    #[inline]
    pub fn varint(&mut self) -> WireResult<u64> {
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
    fn long_varint(&mut self) -> WireResult<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(WireError::TruncatedVarint)?;
            self.pos += 1;
            // prost refuses a tenth byte that would overflow 64 bits.
            if i == 9 && b > 1 {
                return Err(WireError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::VarintOverflow)
    }

    /// A field key: (field number, wire type).
    #[inline]
    pub fn key(&mut self) -> WireResult<(u32, u8)> {
        let k = self.varint()?;
        if k > u64::from(u32::MAX) {
            return Err(WireError::FieldNumber);
        }
        let tag = (k >> 3) as u32;
        let wt = (k & 7) as u8;
        if tag == 0 {
            return Err(WireError::FieldNumber);
        }
        Ok((tag, wt))
    }

    /// A length-delimited payload.
    #[inline]
    pub fn bytes(&mut self) -> WireResult<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError::PastEnd)?;
        self.fixed(len)
    }

    /// The next `n` bytes.
    #[inline]
    pub fn fixed(&mut self, n: usize) -> WireResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(WireError::PastEnd)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::PastEnd)?;
        self.pos = end;
        Ok(s)
    }

    /// Skips an unknown field; groups are refused.
    #[inline]
    pub fn skip(&mut self, wt: u8) -> WireResult<()> {
        match wt {
            VARINT => self.varint().map(drop),
            I64 => self.fixed(8).map(drop),
            LEN => self.bytes().map(drop),
            I32 => self.fixed(4).map(drop),
            _ => Err(WireError::UnsupportedWireType),
        }
    }

    /// Checks a known field's wire type.
    #[inline]
    pub fn expect(&mut self, wt: u8, want: u8) -> WireResult<()> {
        if wt == want {
            Ok(())
        } else {
            Err(WireError::WrongWireType)
        }
    }

    /// A `string` field: its bytes, checked to be UTF-8 as prost checks them.
    #[inline]
    pub fn string(&mut self, wt: u8) -> WireResult<&'a [u8]> {
        self.expect(wt, LEN)?;
        let s = self.bytes()?;
        // Most telemetry strings are ASCII, checked inline a word at a time.
        if !s.is_ascii() {
            std::str::from_utf8(s).map_err(|_| WireError::Utf8)?;
        }
        Ok(s)
    }

    /// A `bytes` field or an embedded message.
    #[inline]
    pub fn message(&mut self, wt: u8) -> WireResult<&'a [u8]> {
        self.expect(wt, LEN)?;
        self.bytes()
    }

    /// A varint-typed field (`uint32`, `int64`, enums, `bool`, ...), as its 64 bits.
    #[inline]
    pub fn varint_field(&mut self, wt: u8) -> WireResult<u64> {
        self.expect(wt, VARINT)?;
        self.varint()
    }

    /// A `fixed64` or `double` field.
    #[inline]
    pub fn fixed64(&mut self, wt: u8) -> WireResult<u64> {
        self.expect(wt, I64)?;
        let b = self.fixed(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A `fixed32` field.
    #[inline]
    pub fn fixed32(&mut self, wt: u8) -> WireResult<u32> {
        self.expect(wt, I32)?;
        let b = self.fixed(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// A scalar field of wire type `want`, checked and skipped.
    #[inline]
    pub fn scalar(&mut self, wt: u8, want: u8) -> WireResult<()> {
        self.expect(wt, want)?;
        self.skip(wt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads every field of `buf` as an unknown one.
    fn skip_all(buf: &[u8]) -> WireResult<usize> {
        let mut r = Reader::new(buf);
        let mut n = 0;
        while !r.done() {
            let (_, wt) = r.key()?;
            r.skip(wt)?;
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn reads_every_wire_type() {
        // 1: varint 300; 2: fixed64; 3: "hi"; 4: fixed32.
        let buf = [
            0x08, 0xac, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 2, b'h', b'i', 0x25, 7, 0, 0, 0,
        ];
        let mut r = Reader::new(&buf);
        assert_eq!(r.key(), Ok((1, VARINT)));
        assert_eq!(r.varint_field(VARINT), Ok(300));
        assert_eq!(r.key(), Ok((2, I64)));
        assert_eq!(r.fixed64(I64), Ok(1));
        assert_eq!(r.key(), Ok((3, LEN)));
        assert_eq!(r.string(LEN), Ok(&b"hi"[..]));
        assert_eq!(r.key(), Ok((4, I32)));
        assert_eq!(r.fixed32(I32), Ok(7));
        assert!(r.done());
        assert_eq!(skip_all(&buf), Ok(4));
    }

    #[test]
    fn truncated_varints_are_errors() {
        for bad in [&[0x80][..], &[0x08, 0xff], &[0x08, 0x80, 0x80]] {
            let mut r = Reader::new(bad);
            let got = r.key().and_then(|_| r.varint());
            assert_eq!(got, Err(WireError::TruncatedVarint), "{bad:?}");
        }
    }

    #[test]
    fn over_long_varints_are_errors() {
        // Eleven continuation bytes, and a tenth byte past 64 bits.
        let eleven = [0xffu8; 11];
        assert_eq!(
            Reader::new(&eleven).varint(),
            Err(WireError::VarintOverflow)
        );
        let mut tenth = [0xffu8; 10];
        tenth[9] = 0x02;
        assert_eq!(Reader::new(&tenth).varint(), Err(WireError::VarintOverflow));
        // The largest u64 is ten bytes ending in 1.
        tenth[9] = 0x01;
        assert_eq!(Reader::new(&tenth).varint(), Ok(u64::MAX));
    }

    #[test]
    fn lengths_past_the_end_are_errors() {
        // A 5-byte string with 1 byte left; fixed64 and fixed32 cut short; a length
        // near usize::MAX (overflowing the end offset).
        let huge = [
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        for bad in [
            &[0x0a, 0x05, b'x'][..],
            &[0x09, 1, 2, 3],
            &[0x0d, 1, 2],
            &huge[..],
        ] {
            assert_eq!(skip_all(bad), Err(WireError::PastEnd), "{bad:?}");
        }
    }

    #[test]
    fn bad_keys_and_wire_types_are_errors() {
        // Field number 0; a key past 32 bits; a start group (3) and end group (4); the
        // undefined wire types 6 and 7.
        let past_u32 = [0x80, 0x80, 0x80, 0x80, 0x10];
        assert_eq!(skip_all(&[0x00, 0x01]), Err(WireError::FieldNumber));
        assert_eq!(skip_all(&past_u32), Err(WireError::FieldNumber));
        for key in [0x0b, 0x0c, 0x0e, 0x0f] {
            assert_eq!(
                skip_all(&[key, 0]),
                Err(WireError::UnsupportedWireType),
                "{key:#x}"
            );
        }
    }

    #[test]
    fn a_known_field_of_the_wrong_wire_type_is_an_error() {
        let mut r = Reader::new(&[0x08, 0x01]);
        let (_, wt) = r.key().expect("a key");
        assert_eq!(r.clone().message(wt), Err(WireError::WrongWireType));
        assert_eq!(r.clone().string(wt), Err(WireError::WrongWireType));
        assert_eq!(r.clone().fixed64(wt), Err(WireError::WrongWireType));
        assert_eq!(r.clone().fixed32(wt), Err(WireError::WrongWireType));
        assert_eq!(r.clone().scalar(wt, LEN), Err(WireError::WrongWireType));
        assert_eq!(r.varint_field(wt), Ok(1));
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut r = Reader::new(&[0x0a, 2, 0xc3, 0x28]);
        let (_, wt) = r.key().expect("a key");
        assert_eq!(r.clone().string(wt), Err(WireError::Utf8));
        assert_eq!(r.message(wt), Ok(&[0xc3, 0x28][..]));
        let mut ok = Reader::new("\n\u{2}é".as_bytes());
        let (_, wt) = ok.key().expect("a key");
        assert_eq!(ok.string(wt), Ok("é".as_bytes()));
    }

    #[test]
    fn every_prefix_of_a_message_reads_or_errs_without_panicking() {
        let buf = [
            0x08, 0xac, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 2, b'h', b'i', 0x25, 7, 0, 0, 0,
        ];
        for end in 0..buf.len() {
            // A prefix ends on a field boundary (reads) or inside a field (an error).
            let boundary = [0, 3, 12, 16].contains(&end);
            assert_eq!(skip_all(&buf[..end]).is_ok(), boundary, "prefix {end}");
        }
    }
}
