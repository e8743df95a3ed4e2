//! Test sampler: keeps traces with an error span or a span over the
//! configured `slow_ms` (default 1000), drops the rest.
use tracemend_sdk::Batch;
use tracemend_sdk::sampler::Sampler;

struct KeepErrors {
    slow_ns: u64,
}

impl Sampler for KeepErrors {
    fn configure(config: &str) -> Result<Self, String> {
        let slow_ms = config
            .split("\"slow_ms\":")
            .nth(1)
            .map(|r| {
                r.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or("")
            })
            .map(|n| {
                n.parse::<u64>()
                    .map_err(|_| "config.slow_ms: must be an integer".to_string())
            })
            .transpose()?
            .unwrap_or(1000);
        Ok(KeepErrors {
            slow_ns: slow_ms * 1_000_000,
        })
    }

    fn sample(&mut self, trace: Batch<'_>) -> Result<(bool, String), String> {
        if trace.spans().any(|s| s.is_error()) {
            return Ok((true, "error".into()));
        }
        if trace.spans().any(|s| s.duration_nanos() >= self.slow_ns) {
            return Ok((true, "slow".into()));
        }
        Ok((false, "ok".into()))
    }
}

tracemend_sdk::export_sampler!(KeepErrors);
