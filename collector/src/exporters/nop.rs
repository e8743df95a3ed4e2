//! The `nop` exporter: accepts and discards everything (useful as a sink in benchmarks).

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::ComponentConfig;

/// `exporters.nop` takes no settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NopConfig {}

impl ComponentConfig for NopConfig {}

pub struct NopExporter {
    pub sent: Counter,
}

#[async_trait]
impl Consumer for NopExporter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.sent.inc_by(batch.item_count() as u64);
        Ok(())
    }
}
