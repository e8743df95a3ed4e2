//! The collector's own telemetry: metrics in otelcol's names, served in Prometheus text
//! format, component health for `health_check`, and log setup.

mod health;
mod metrics;
mod server;

pub use health::Health;
pub use metrics::{
    BackendLabels, BackendOutcomeLabels, ExporterLabels, PerSignal, ProcessorLabels,
    ReceiverLabels, ResolutionLabels, ResolverLabels, SelfMetrics,
};
pub use server::serve_metrics;

use crate::config::{LogEncoding, LogsConfig};

/// Installs the log subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init_logs(cfg: &LogsConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.level.to_ascii_lowercase()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (tests, `validate` after run) is harmless; ignore it.
    let _ = if cfg.encoding == LogEncoding::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
