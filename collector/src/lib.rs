//! tracemend's collector core: an OpenTelemetry Collector distribution.
//!
//! A request's path: a receiver (`receivers::otlp`) decodes and validates it into a
//! [`pdata::Batch`] and pushes it into every pipeline that lists the receiver. A pipeline
//! is a chain of [`pdata::Consumer`]s built by [`service`]: processors in order, then a
//! fan-out to exporters. `consume` returns once the next hop owns the batch (buffered by
//! `batch`, queued by an exporter's sending queue), so a full queue or a memory limit
//! reaches the client as a retryable refusal instead of unbounded buffering.
//!
//! [`config`] loads and checks otelcol-style YAML, [`components`] is the one list of
//! component types, [`telemetry`] holds the collector's own metrics and health.

pub mod components;
pub mod config;
pub mod exporters;
pub mod extensions;
pub mod grpc_codec;
pub mod memory;
pub mod net;
pub mod processors;
pub mod receivers;
pub mod repair_cli;
pub mod service;
pub mod telemetry;

#[cfg(test)]
pub(crate) mod testenv {
    /// Tests set uniquely named variables only, so parallel tests do not race on them.
    #[allow(unsafe_code)]
    pub fn set(key: &str, value: &str) {
        // SAFETY: each test uses its own variable name and no other thread reads it.
        unsafe { std::env::set_var(key, value) }
    }
}
