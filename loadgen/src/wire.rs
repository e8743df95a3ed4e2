//! Just enough of the protobuf wire format to find fields in OTLP export requests
//! without decoding them: used by the sink to count items and by the pool to find the
//! trace ids it re-keys.

/// Broken protobuf wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub &'static str);

/// Calls `f` with every span or log record in an export request: request ->
/// `resource_*` (field 1) -> `scope_*` (2) -> span / log record (2). Traces and logs
/// share those field numbers, so one walk serves both.
pub fn for_each_item(
    body: &[u8],
    f: &mut dyn FnMut(&[u8]) -> Result<(), WireError>,
) -> Result<(), WireError> {
    for_each_field(body, 1, &mut |resource| {
        for_each_field(resource, 2, &mut |scope| for_each_field(scope, 2, f))
    })
}

/// Calls `f` with the payload of every length-delimited field numbered `wanted`.
pub fn for_each_field(
    mut buf: &[u8],
    wanted: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<(), WireError>,
) -> Result<(), WireError> {
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = skip(buf, 8)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?)
                    .map_err(|_| WireError("length overflows"))?;
                let payload = buf
                    .get(..len)
                    .ok_or(WireError("length past end of message"))?;
                if field == wanted {
                    f(payload)?;
                }
                buf = &buf[len..];
            }
            5 => buf = skip(buf, 4)?,
            _ => return Err(WireError("unsupported wire type")),
        }
    }
    Ok(())
}

fn skip(buf: &[u8], n: usize) -> Result<&[u8], WireError> {
    buf.get(n..)
        .ok_or(WireError("fixed-width field past end of message"))
}

fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or(WireError("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError("varint longer than 10 bytes"))
}
