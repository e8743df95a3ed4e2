//! Native processors, and `wasm/<name>`, the pipeline side of the WASM host in the
//! `processors` crate.

pub mod attraction;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod memory_limiter;
pub mod modify;
pub mod resource;
pub mod resourcedetection;
pub mod tail_sampling;
pub mod transform;
pub mod wasm;
