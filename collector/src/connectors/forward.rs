//! The `forward` connector: passes every batch on, unchanged, to the pipelines of the
//! same signal that receive from it (otelcol's `forwardconnector`). Used to join
//! pipelines: several pipelines into one, or one into several with their own processors.

use std::sync::Arc;

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer};
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig};
use crate::factory::{Connector, ConnectorContext};

/// `connectors.forward`: takes no settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {}

impl ComponentConfig for ForwardConfig {}
impl AnyConfig for ForwardConfig {}

impl Connector for ForwardConfig {
    fn build(&self, ctx: ConnectorContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(Forward(ctx.all_pipelines())))
    }
}

/// One instance: the fan-out to the downstream pipelines. Its own shutdown holds
/// nothing to flush; the pipelines it feeds are shut down by the service.
struct Forward(Arc<dyn Consumer>);

#[async_trait]
impl Consumer for Forward {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.0.consume(batch).await
    }
}
