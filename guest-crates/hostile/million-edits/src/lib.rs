//! Hostile guest: returns a million edits for the first span.
use tracemend_sdk::{Batch, Edits, Processor, Target, export_processor};

struct Million;

impl Processor for Million {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Million)
    }
    fn process_traces(&mut self, _b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        for i in 0..1_000_000i64 {
            e.set_attribute_at(Target::Span, 0, "k", i);
        }
        Ok(())
    }
}

export_processor!(Million);
