//! Hostile guest: never returns from `process-traces`/`process-logs`.
use tracemend_sdk::{Batch, Edits, Processor, export_processor};

struct Spin;

impl Processor for Spin {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Spin)
    }
    fn process_traces(&mut self, _b: Batch<'_>, _e: &mut Edits) -> Result<(), String> {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    fn process_logs(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        self.process_traces(b, e)
    }
}

export_processor!(Spin);
