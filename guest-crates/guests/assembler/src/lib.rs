//! Test assembler: for a trace with an error span, returns a tiny JSON
//! envelope naming the trace id, the failing span and the number of logs.
use tracemend_sdk::Batch;
use tracemend_sdk::assembler::Assembler;

struct Tiny;

impl Assembler for Tiny {
    fn configure(_config: &str) -> Result<Self, String> {
        Ok(Tiny)
    }

    fn assemble(&mut self, trace: Batch<'_>, logs: Batch<'_>) -> Result<Option<String>, String> {
        let Some(err) = trace.spans().find(|s| s.is_error()) else {
            return Ok(None);
        };
        let hex: String = err.trace_id().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Some(format!(
            "{{\"trace_id\":\"{hex}\",\"span\":\"{}\",\"logs\":{}}}",
            err.name().replace('"', "'"),
            logs.log_count()
        )))
    }
}

tracemend_sdk::export_assembler!(Tiny);
