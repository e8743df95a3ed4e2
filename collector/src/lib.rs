//! tracemend's collector core: an OpenTelemetry Collector distribution.
//!
//! A request's path: a receiver (`receivers::otlp`) decodes and validates it into a
//! [`pdata::Batch`] and pushes it into every pipeline that lists the receiver. A pipeline
//! is a chain of [`pdata::Consumer`]s built by [`service`]: processors in order, then a
//! fan-out to exporters. `consume` returns once the next hop owns the batch (buffered by
//! `batch`, queued by an exporter's sending queue), so a full queue or a memory limit
//! reaches the client as a retryable refusal instead of unbounded buffering.
//!
//! The modules stack without cycles: the `component` crate's ids and errors at the
//! bottom; [`config`] loads and checks otelcol-style YAML, parsing each component through
//! the [`config::Catalog`] it is given; [`factory`] defines what a component type
//! provides (a [`factory::Factory`] and its kind's trait); the components implement it;
//! [`components`] is the registry, one table per kind and the one place a type is named;
//! [`connectors`] join pipelines into a graph that [`config::graph`] checks;
//! [`service`] builds and runs pipelines through the registry alone. [`telemetry`] holds
//! the collector's own metrics and health.

pub mod components;
pub mod config;
pub mod connectors;
pub mod exporters;
pub mod extensions;
pub mod factory;
pub mod grpc_codec;
pub mod memory;
pub mod net;
pub mod processors;
pub mod receivers;
pub mod repair_cli;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod tls;

#[cfg(test)]
mod config_tests;

#[cfg(test)]
pub(crate) mod testenv {
    use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
    use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use pdata::{Batch, Payload};

    /// A batch of `n` empty log records: tests tell batches apart by their item count.
    pub fn logs(n: usize) -> Batch {
        Batch::from_payload(Payload::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }))
    }

    /// Tests set uniquely named variables only, so parallel tests do not race on them.
    #[allow(unsafe_code)]
    pub fn set(key: &str, value: &str) {
        // SAFETY: each test uses its own variable name and no other thread reads it.
        unsafe { std::env::set_var(key, value) }
    }
}
