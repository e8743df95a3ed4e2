//! The `nop` exporter: accepts and discards everything (useful as a sink in benchmarks).

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use std::sync::Arc;

use crate::config::{AnyConfig, ComponentConfig};
use crate::factory::{Exporter, ExporterContext};

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

impl AnyConfig for NopConfig {}

impl Exporter for NopConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(NopExporter {
            sent: super::sent_counter(&ctx),
        }))
    }
}
