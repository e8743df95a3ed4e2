//! The pipeline side shared by processors that change each batch's content with one
//! piece of work made at `prepare` (`attributes`, `resource`, `resourcedetection`).

use std::sync::Arc;

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};

use crate::config::ComponentId;
use crate::factory::Prepared;
use crate::telemetry::SelfMetrics;

/// What such a processor does to one request.
pub trait Modify: Send + Sync + 'static {
    /// Changes the request in place.
    fn apply(&self, payload: &mut Payload);

    /// True when `apply` would change nothing (the batch then keeps its bytes).
    fn is_noop(&self) -> bool {
        false
    }
}

/// The prepared processor: one [`ModifyConsumer`] per pipeline, sharing the work.
pub struct PreparedModify<W: Modify>(pub Arc<W>);

impl<W: Modify> Prepared for PreparedModify<W> {
    fn build(
        &self,
        _id: &ComponentId,
        _signal: Signal,
        next: Arc<dyn Consumer>,
        _metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(ModifyConsumer {
            work: self.0.clone(),
            next,
        }))
    }
}

/// One pipeline's instance.
pub struct ModifyConsumer<W: Modify> {
    pub work: Arc<W>,
    pub next: Arc<dyn Consumer>,
}

#[async_trait]
impl<W: Modify> Consumer for ModifyConsumer<W> {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if !self.work.is_noop() {
            batch.modify(|p| self.work.apply(p));
        }
        self.next.consume(batch).await
    }
}
