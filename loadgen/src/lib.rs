//! `tracemend-loadgen`: an OTLP load generator and counting sink for benchmarking
//! collectors, in the spirit of otelcol's `telemetrygen`.
//!
//! A send run goes: `cli` validates flags into a plan; `pool` builds the requests with
//! `generate` (shape, ids from `ids`) and encodes them with `encode` before the clock
//! starts; `run` drives workers, each owning one `client` connection (gRPC through
//! tonic and `raw_codec`, gRPC+gzip as pre-compressed messages over HTTP/2, or
//! HTTP/1.1), paced or flat out, replaying pooled bodies with `rekey`
//! giving each pass over the pool fresh trace ids; `stats` merges what each worker saw
//! into the summary printed at the end.
//!
//! The `sink` receives OTLP over gRPC and HTTP and counts items straight from the wire
//! bytes (`sink::count`) so that it is never the bottleneck of a benchmark.

pub mod cli;
pub mod client;
pub mod encode;
pub mod generate;
pub mod ids;
pub mod pool;
pub mod raw_codec;
pub mod rekey;
pub mod run;
pub mod sink;
pub mod stats;
