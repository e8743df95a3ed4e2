//! A tonic codec that moves protobuf bytes untouched, so the receiver decides how to
//! decode and the exporter sends a batch's received bytes without re-encoding.

use bytes::{Buf, BufMut, Bytes};
use pdata::Batch;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Something that can write its own protobuf encoding.
pub trait WireMessage: Send + 'static {
    fn write_to(&self, dst: &mut EncodeBuf<'_>);
}

// Each writer reserves its whole length first: tonic's buffer starts small,
// and growing it chunk by chunk copies what was written at every step.

impl WireMessage for Bytes {
    fn write_to(&self, dst: &mut EncodeBuf<'_>) {
        dst.reserve(self.len());
        dst.put_slice(self);
    }
}

impl WireMessage for Batch {
    fn write_to(&self, dst: &mut EncodeBuf<'_>) {
        // Held bytes only: a decoded batch's length is a walk of its own.
        if let Some(chunks) = self.encoded() {
            dst.reserve(chunks.iter().map(Bytes::len).sum());
        }
        self.encode_to(dst);
    }
}

/// Fragments whose concatenation is one message (a batch's received bodies).
impl WireMessage for Vec<Bytes> {
    fn write_to(&self, dst: &mut EncodeBuf<'_>) {
        dst.reserve(self.iter().map(Bytes::len).sum());
        for chunk in self {
            dst.put_slice(chunk);
        }
    }
}

/// Encodes `E` by its own wire form and decodes to raw `Bytes`.
pub struct RawCodec<E>(std::marker::PhantomData<E>);

impl<E> Default for RawCodec<E> {
    fn default() -> Self {
        RawCodec(std::marker::PhantomData)
    }
}

pub struct RawEncoder<E>(std::marker::PhantomData<E>);
pub struct RawDecoder;

impl<E: WireMessage> Codec for RawCodec<E> {
    type Encode = E;
    type Decode = Bytes;
    type Encoder = RawEncoder<E>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder(std::marker::PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

impl<E: WireMessage> Encoder for RawEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.write_to(dst);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
