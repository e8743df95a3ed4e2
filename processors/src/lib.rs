//! Host-side processors of tracemend.
//!
//! Today this crate holds the WASM processor host ([`wasm`]): the engine and
//! its on-disk component cache, the sandbox, the batch view handed to guests,
//! edit validation and application, the instance pool, fault handling with a
//! circuit breaker, and the per-plugin metrics. The collector core wires a
//! [`wasm::WasmProcessor`] into a pipeline like any other processor.

pub mod tail_sampling;
pub mod wasm;
