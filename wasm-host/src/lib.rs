//! The WASM side of tracemend: everything that runs guests, and the
//! processors built on them. The native processors (`batch`, `memory_limiter`) and the
//! pipeline wiring live in the `collector` crate.
//!
//! - [`wasm`]: the WASM processor host for the `tracemend:plugin` WIT package: one
//!   engine and its on-disk component cache, the sandbox and limits, the batch view
//!   handed to guests (built from decoded requests or straight from the received bytes
//!   with `pdata::wire`), edit validation and application, the instance pool, fault
//!   handling with a circuit breaker and per-plugin metrics. Beside the `processor`
//!   world's [`wasm::WasmProcessor`], it hosts the `sampler` world
//!   ([`wasm::WasmSampler`]) and the `envelope-assembler` world
//!   ([`wasm::WasmAssembler`]), and embeds the built-in guests ([`wasm::builtin`]).
//! - [`tail_sampling`]: the `tail_sampling` processor, which holds spans by trace
//!   (protobuf-encoded, grouped with `pdata::group`) and asks a sampler guest to keep
//!   or drop each whole trace.
//!
//! - [`envelope`]: the host side of the `envelope` exporter, which holds spans
//!   and log records by trace in the tail-sampling buffer and turns failing
//!   traces into Failure Envelopes through an assembler guest, the data
//!   contract, the schema and dedupe.
//!
//! The collector wires a [`wasm::WasmProcessor`] or a
//! [`tail_sampling::TailSampling`] into a pipeline like any other processor.

pub mod envelope;
pub mod tail_sampling;
pub mod wasm;
