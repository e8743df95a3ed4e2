//! Connectors: each is the exporter of some pipelines and the receiver of others
//! (`connectors:` in otelcol's YAML). One file per connector type; the registry row in
//! [`crate::components::CONNECTORS`] says which signal pairs it joins.

pub mod count;
pub mod forward;
pub mod routing;
pub mod spanmetrics;

#[cfg(test)]
pub(crate) mod sink {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use pdata::{Batch, ConsumeError, Consumer};

    /// Keeps every batch it is given, for tests to read.
    #[derive(Default)]
    pub struct Collect(pub Mutex<Vec<Batch>>);

    #[async_trait]
    impl Consumer for Collect {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(batch);
            Ok(())
        }
    }
}
