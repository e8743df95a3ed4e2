//! Hostile guest: traps (panics, which aborts: `unreachable`) on the first
//! batch each instance sees, then behaves.
use tracemend_sdk::{Batch, Edits, Processor, export_processor};

struct Trap {
    calls: u64,
}

impl Processor for Trap {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Trap { calls: 0 })
    }
    fn process_traces(&mut self, _b: Batch<'_>, _e: &mut Edits) -> Result<(), String> {
        self.calls += 1;
        if self.calls == 1 {
            panic!("trap on first call");
        }
        Ok(())
    }
    fn process_logs(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        self.process_traces(b, e)
    }
}

export_processor!(Trap);
