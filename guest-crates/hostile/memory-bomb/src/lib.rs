//! Hostile guest: allocates 1 MiB blocks and keeps them until memory runs out.
use tracemend_sdk::{Batch, Edits, Processor, export_processor};

struct Bomb(Vec<Vec<u8>>);

impl Processor for Bomb {
    fn configure(_c: &str) -> Result<Self, String> {
        Ok(Bomb(Vec::new()))
    }
    fn process_traces(&mut self, _b: Batch<'_>, _e: &mut Edits) -> Result<(), String> {
        loop {
            self.0.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
    fn process_logs(&mut self, b: Batch<'_>, e: &mut Edits) -> Result<(), String> {
        self.process_traces(b, e)
    }
}

export_processor!(Bomb);
