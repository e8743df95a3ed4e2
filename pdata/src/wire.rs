//! The one reader of the OTLP protobuf wire format: every component that reads encoded
//! requests without decoding them (the receivers' validating scan, the WASM host's view
//! builder, the tail-sampling buffer, the load generator) reads them with this module.
//!
//! - [`Reader`]: varints, keys, length-delimited and fixed-width fields over a byte
//!   slice, with prost's rules; whatever prost might read differently is a
//!   [`WireError`], never a guess and never a panic.
//! - [`field`]: the field numbers of the OTLP messages, as named constants.
//! - [`index`]: the side index the validating scan can make of a request.
//! - [`for_each_item`], [`for_each_field`], [`last_field`]: the walk over the
//!   request -> resource -> scope -> span / log record nesting.

pub mod field;
pub mod index;
mod reader;
pub(crate) mod scan;
mod walk;

pub use reader::{I32, I64, LEN, Reader, VARINT, WireError, WireResult};
pub use scan::{check_log_record_matching, check_span_matching};
pub use walk::{for_each_field, for_each_item, last_field};
