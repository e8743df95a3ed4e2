//! Metric label sets shared by the collector and the processor hosts.

use prometheus_client::encoding::EncodeLabelSet;

/// `{processor}`: the label set of every per-processor metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProcessorLabels {
    /// Component id, e.g. `wasm/redact`.
    pub processor: String,
}
