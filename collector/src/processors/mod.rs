//! Native processors. WASM processors live in the `processors` crate.

pub mod batch;
pub mod memory_limiter;
