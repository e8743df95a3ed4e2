//! Hostile test assembler: misbehaves on the traces that ask for it and builds a
//! minimal valid envelope for every other failing trace, so a test can show that
//! one trace's fault costs nothing else. The failing span's name decides:
//!
//! - `hostile.trap`: panics (an abort: the instance traps);
//! - `hostile.loop`: never returns (the call's epoch deadline stops it);
//! - `hostile.memory`: allocates until the memory limit refuses;
//! - `hostile.error`: returns a guest error;
//! - `hostile.garbage`: returns text that is not JSON;
//! - `hostile.mixed`: returns an array of a valid envelope and an object that
//!   breaks the schema;
//! - anything else: one valid envelope.
use tracemend_sdk::Batch;
use tracemend_sdk::assembler::Assembler;

struct Hostile {
    /// Kept across calls so the allocations of `hostile.memory` add up.
    hoard: Vec<Vec<u8>>,
}

impl Assembler for Hostile {
    fn configure(_config: &str) -> Result<Self, String> {
        Ok(Hostile { hoard: Vec::new() })
    }

    fn assemble(&mut self, trace: Batch<'_>, _logs: Batch<'_>) -> Result<Option<String>, String> {
        let Some(failing) = trace.spans().find(|s| s.is_error()) else {
            return Ok(None);
        };
        let trace_id = hex(failing.trace_id());
        let span_id = hex(failing.span_id());
        match failing.name() {
            "hostile.trap" => panic!("hostile assembler: trap"),
            "hostile.loop" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "hostile.memory" => loop {
                self.hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            },
            "hostile.error" => Err("hostile assembler: refuses this trace".into()),
            "hostile.garbage" => Ok(Some("{\"schema_version\": \"1\", oops".into())),
            "hostile.mixed" => Ok(Some(format!(
                "[{}, {{\"schema_version\": \"1\", \"envelope_id\": \"broken-{trace_id}\"}}]",
                envelope(&trace_id, &span_id)
            ))),
            _ => Ok(Some(envelope(&trace_id, &span_id))),
        }
    }
}

/// The smallest envelope `config/envelope.schema.json` takes, named after the
/// failing span; the fingerprint is the trace id, so no two traces dedupe.
fn envelope(trace_id: &str, span_id: &str) -> String {
    format!(
        concat!(
            "{{\"schema_version\":\"1\",\"envelope_id\":\"hostile-{t}-{s}\",",
            "\"identity\":{{\"trace_id\":\"{t}\",\"span_id\":\"{s}\",\"service\":{{\"name\":\"orders\"}},",
            "\"commit\":\"9fceb02d0ae598e95dc970b74767f19372d61af8\",\"timestamp\":\"2026-12-07T00:00:00Z\"}},",
            "\"symptom\":{{\"exception\":{{\"type\":\"KeyError\",\"frames\":[]}},\"fingerprint\":\"{t}\"}},",
            "\"inputs\":{{\"protocol\":\"http\",\"method\":\"GET\",\"route\":\"/hostile\",\"path\":\"/hostile\"}}}}"
        ),
        t = trace_id,
        s = span_id
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

tracemend_sdk::export_assembler!(Hostile);
