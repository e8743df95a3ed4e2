//! Re-keys trace ids on every pass over the request pool, so a run longer than the pool
//! still never repeats a trace id (a tail sampler, for one, would otherwise see old
//! traces come back).
//!
//! Pass `p > 0` XORs the high 8 bytes of every trace id with `mix(p)`. `mix` is a
//! bijection, so each pass gets its own mask, and within a pass the low 8 bytes already
//! differ between traces: ids stay unique across passes. Spans of one trace get the same
//! mask, so parent links (span ids) still hold. Pass 0 sends bodies as generated.
//!
//! Slots are found once, when the pool is built: protobuf by walking the wire format,
//! OTLP/JSON by finding each `"traceId":"` value. A compressed body cannot be patched,
//! so gzip pools repeat ids once per pass.

use bytes::Bytes;

use crate::encode::Encoding;
use crate::generate::Signal;
use crate::ids::mix;
use pdata::wire::field::{log_record, span};
use pdata::wire::{WireError, for_each_field, for_each_item};

/// Where a body's trace ids are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TraceIdSlots {
    /// Not patchable (compressed): sent as is on every pass.
    #[default]
    None,
    /// Offsets of 16-byte binary trace ids.
    Proto(Vec<usize>),
    /// Offsets of 32-character lowercase hex trace ids.
    Json(Vec<usize>),
}

const JSON_KEY: &[u8] = br#""traceId":""#;

impl TraceIdSlots {
    /// Finds the trace ids in an uncompressed body.
    pub fn find(body: &[u8], signal: Signal, encoding: Encoding) -> Result<Self, WireError> {
        match encoding {
            Encoding::Proto => {
                let field = match signal {
                    Signal::Traces => span::TRACE_ID,
                    Signal::Logs => log_record::TRACE_ID,
                };
                let mut offsets = Vec::new();
                for_each_item(body, |item| {
                    for_each_field(item, field, |id| {
                        if id.len() == 16 {
                            // The id is a sub-slice of `body`: its distance from the start
                            // is its offset.
                            offsets.push(id.as_ptr() as usize - body.as_ptr() as usize);
                        }
                        Ok::<(), WireError>(())
                    })
                })?;
                Ok(Self::Proto(offsets))
            }
            Encoding::Json => {
                let offsets = body
                    .windows(JSON_KEY.len())
                    .enumerate()
                    .filter(|(_, w)| *w == JSON_KEY)
                    .map(|(i, _)| i + JSON_KEY.len())
                    .filter(|&o| {
                        body.get(o..o + 32)
                            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    })
                    .collect();
                Ok(Self::Json(offsets))
            }
        }
    }

    /// The body to send on pass `pass`.
    pub fn apply(&self, body: &Bytes, pass: u64) -> Bytes {
        if pass == 0 {
            return body.clone();
        }
        let mask = mix(pass);
        match self {
            Self::None => body.clone(),
            Self::Proto(offsets) => {
                let mut out = body.to_vec();
                for &o in offsets {
                    if let Some(high) = out.get_mut(o..o + 8) {
                        let mut v = [0u8; 8];
                        v.copy_from_slice(high);
                        high.copy_from_slice(&(u64::from_be_bytes(v) ^ mask).to_be_bytes());
                    }
                }
                out.into()
            }
            Self::Json(offsets) => {
                let mut out = body.to_vec();
                for &o in offsets {
                    if let Some(high) = out.get_mut(o..o + 16)
                        && let Some(v) = std::str::from_utf8(high)
                            .ok()
                            .and_then(|s| u64::from_str_radix(s, 16).ok())
                    {
                        high.copy_from_slice(format!("{:016x}", v ^ mask).as_bytes());
                    }
                }
                out.into()
            }
        }
    }
}
