//! The first-party tail sampler: evaluates the policies of the contrib
//! `tail_sampling` processor on one complete trace and answers keep or drop,
//! with the name of the deciding policy as the reason.
//!
//! The host (`wasm-host/src/tail_sampling`) buffers spans by trace id and
//! hands each trace over when `decision_wait` has passed; it passes the
//! processor's `policies` block (and `sample_on_first_match`) to `configure`
//! as JSON. The decision time and the trace's protobuf size, which the rate
//! policies need, come from the `sampler-context` import.
//!
//! How the policies' verdicts combine (contrib's rules, drop policies first):
//!
//! 1. any `drop` policy that matches: not sampled (reason: that policy);
//! 2. else any inverted match (`invert_match: true` that found the value):
//!    not sampled (reason: that policy);
//! 3. else any policy that samples: sampled (reason: the first such policy);
//! 4. else an inverted non-match and no plain "not sampled": sampled;
//! 5. else not sampled (reason: empty).
//!
//! With `sample_on_first_match` evaluation stops at the first policy that
//! samples; a matching drop policy always stops it.

mod config;
mod policy;
#[cfg(test)]
mod tests;

use tracemend_sdk::Batch;
use tracemend_sdk::sampler::Sampler;

use config::Config;
use policy::{Attrs, Trace, Verdict};

struct TailSampling {
    config: Config,
    /// The attribute keys the policies read (gathered once per trace).
    keys: Vec<String>,
}

impl TailSampling {
    /// Decides one trace; `now` and `size` come from the host.
    fn decide(&mut self, batch: Batch<'_>, now_unix_nano: u64, size_bytes: u64) -> (bool, String) {
        let mut trace_id = [0u8; 16];
        if let Some(s) = batch.spans().next() {
            let id = s.trace_id();
            let n = id.len().min(16);
            trace_id[..n].copy_from_slice(&id[..n]);
        }
        let trace = Trace {
            batch,
            trace_id,
            span_count: u64::from(batch.span_count()),
            now_unix_nano,
            size_bytes,
            attrs: Attrs::gather(batch, &self.keys),
        };
        // First policy (in evaluation order) to give each verdict.
        let mut first: [Option<usize>; 5] = [None; 5];
        let slot = |v: Verdict| match v {
            Verdict::Sampled => 0,
            Verdict::NotSampled => 1,
            Verdict::Dropped => 2,
            Verdict::InvertSampled => 3,
            Verdict::InvertNotSampled => 4,
        };
        for (i, p) in self.config.policies.iter_mut().enumerate() {
            let v = p.policy.evaluate(&trace);
            let s = slot(v);
            if first[s].is_none() {
                first[s] = Some(i);
            }
            if v == Verdict::Dropped || (self.config.sample_on_first_match && v == Verdict::Sampled)
            {
                break;
            }
        }
        let name = |i: usize| self.config.policies[i].name.clone();
        if let Some(i) = first[slot(Verdict::Dropped)] {
            return (false, name(i));
        }
        if let Some(i) = first[slot(Verdict::InvertNotSampled)] {
            return (false, name(i));
        }
        if let Some(i) = first[slot(Verdict::Sampled)] {
            return (true, name(i));
        }
        if let Some(i) = first[slot(Verdict::InvertSampled)]
            && first[slot(Verdict::NotSampled)].is_none()
        {
            return (true, name(i));
        }
        (false, String::new())
    }
}

impl Sampler for TailSampling {
    fn configure(config: &str) -> Result<Self, String> {
        let config = config::parse(config)?;
        let keys = policy::attribute_keys(config.policies.iter().map(|p| &p.policy));
        Ok(TailSampling { config, keys })
    }

    fn sample(&mut self, trace: Batch<'_>) -> Result<(bool, String), String> {
        let now = tracemend_sdk::sampler::decision_time_unix_nano();
        let size = tracemend_sdk::sampler::trace_size_bytes();
        Ok(self.decide(trace, now, size))
    }
}

tracemend_sdk::export_sampler!(TailSampling);
