//! Does nothing: the baseline for the host's per-batch overhead benchmark.
use tracemend_sdk::{Processor, export_processor};

struct Noop;

impl Processor for Noop {
    fn configure(_config: &str) -> Result<Self, String> {
        Ok(Noop)
    }
}

export_processor!(Noop);
