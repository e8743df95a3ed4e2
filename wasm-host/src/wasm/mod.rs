//! The WASM processor host: runs third-party and first-party processors as
//! sandboxed WebAssembly components against the `tracemend:plugin` WIT
//! package (`wit/` at the repository root).
//!
//! A batch's path through a `wasm/<name>` processor:
//!
//! 1. [`WasmProcessor::process_traces`] asks the [circuit breaker](circuit)
//!    whether the plugin may run; if the circuit is open the batch follows
//!    `on_error` at once.
//! 2. It takes an idle [instance](instance) from the [pool](pool) (each
//!    instance is a `Store` of its own, used by one thread at a time) or
//!    builds one from the pre-linked component.
//! 3. [`view`] writes the batch into the instance's reusable buffers: one
//!    string arena plus packed little-endian row tables (`wit/layout.rs`),
//!    without allocating per string. A batch still encoded (the collector
//!    keeps received protobuf bytes) is read by [`view_wire`] straight from
//!    the bytes, without a prost decode. A guest that declared the rows it
//!    needs ([`interest`]) is shown only those; a batch with none of them
//!    does not reach it.
//! 4. The guest runs under a memory limit ([`limits`]) and a CPU deadline
//!    (epoch interruption, ticked by [`engine::WasmRuntime`]), with no ambient
//!    authority ([`sandbox`]): no files, sockets, environment, real clock or
//!    randomness.
//! 5. [`edits`] validates every returned edit and only then applies them all;
//!    one bad edit rejects the whole list. A batch read from its bytes is
//!    edited as bytes: only the spans, log records, resources and scopes the
//!    edits touch are decoded and encoded again, and the batch stays encoded.
//!    Otherwise the edits go to the prost request.
//! 6. Any fault (trap, timeout, memory, invalid edit, guest error) applies
//!    `on_error` (`pass` or `drop`), is counted by kind in [`metrics`] and
//!    logged with the plugin's name; the instance is thrown away and rebuilt
//!    on the next call; repeated faults open the circuit, which
//!    [`WasmProcessor::health`] reports.
//!
//! Components are compiled once per engine and cached on disk by content hash
//! and engine version ([`cache`]), so a second start skips compilation.

pub mod assembler;
mod bindings;
pub mod builtin;
pub mod cache;
pub mod circuit;
pub mod config;
pub mod edits;
pub mod engine;
mod instance;
pub mod interest;
mod layout_shared;
pub mod limits;
pub mod load;
pub mod metrics;
mod pool;
pub mod processor;
pub mod sampler;
pub mod sandbox;
mod typed_guest;
pub mod view;
pub mod view_wire;

pub use assembler::WasmAssembler;
pub use circuit::Health;
pub use config::{CircuitBreakerConfig, Grants, Limits, OnError, WasmProcessorConfig};
pub use engine::{WasmRuntime, WasmRuntimeOptions};
pub use interest::Interest;
pub use load::LoadError;
pub use processor::{Applied, BatchAccess, Fault, FaultKind, WasmProcessor};
pub use sampler::{Decision, SampleError, WasmSampler};
pub use view_wire::WireFallback;

/// The version of the `tracemend:plugin` WIT package this host implements.
pub const WIT_VERSION: &str = "0.1.0";
