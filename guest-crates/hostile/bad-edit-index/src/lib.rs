//! Hostile guest: a valid edit followed by one addressed past the end of the
//! span table. The host must apply neither.
use tracemend_sdk::{Batch, Edits, Processor, Target, export_processor};

struct Bad;

impl Processor for Bad {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Bad)
    }
    fn process_traces(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        e.set_attribute_at(Target::Span, 0, "half", "applied");
        e.set_attribute_at(Target::Span, b.span_count() + 1_000_000, "oops", 1i64);
        Ok(())
    }
    fn process_logs(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        e.drop_log_at(b.log_count());
        Ok(())
    }
}

export_processor!(Bad);
