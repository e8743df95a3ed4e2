//! The YAML of a `tail_sampling` processor: the contrib processor's schema,
//! so existing configs work unchanged, plus a few keys of ours.
//!
//! ```yaml
//! processors:
//!   tail_sampling:
//!     decision_wait: 10s
//!     num_traces: 50000
//!     decision_cache: { sampled_cache_size: 100_000, non_sampled_cache_size: 100_000 }
//!     policies:
//!       - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
//!       - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::wasm::Limits;

/// Configuration of one `tail_sampling` processor.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TailSamplingConfig {
    /// How long after a trace's first span its decision is made, e.g. `10s`.
    /// Default: `30s`.
    #[serde(with = "humantime_serde")]
    pub decision_wait: Duration,
    /// Most traces held undecided. A new trace beyond it makes the oldest
    /// held trace be decided early (not dropped). Default: `50000`.
    #[serde(deserialize_with = "int")]
    pub num_traces: u64,
    /// Expected new traces per second; sizes the buffer up front. Default: `0`.
    #[serde(deserialize_with = "int")]
    pub expected_new_traces_per_sec: u64,
    /// How many decided trace ids are remembered, so spans that arrive after
    /// the decision follow it. Default: on (unlike contrib, where it is off).
    pub decision_cache: DecisionCacheConfig,
    /// The sampling policies, in contrib's schema; evaluated by the
    /// tail-sampling guest. Required: at least one.
    pub policies: Vec<serde_json::Value>,
    /// Stop evaluating at the first policy that samples. Default: `false`.
    pub sample_on_first_match: bool,
    /// When `num_traces` is reached, make the caller wait for space instead
    /// of deciding the oldest traces early. Default: `false`.
    pub block_on_overflow: bool,
    /// A trace whose spans exceed this many bytes (protobuf) is decided "not
    /// sampled" at once, and its later spans follow. `0`: no limit. Default: `0`.
    #[serde(deserialize_with = "int")]
    pub maximum_trace_size_bytes: u64,
    /// On shutdown, drop the traces still held instead of deciding them with
    /// what has arrived. Default: `false`.
    pub drop_pending_traces_on_shutdown: bool,
    /// (tracemend) Most bytes of spans held undecided, protobuf-encoded size
    /// plus bookkeeping. Past it the oldest traces are decided early.
    /// Default: `268435456` (256 MiB).
    #[serde(deserialize_with = "int")]
    pub max_buffered_bytes: u64,
    /// (tracemend) Add the attribute `tailsampling.policy` naming the deciding
    /// policy to every kept span (contrib's `recordpolicy` feature gate).
    /// Default: `false`.
    pub record_policy: bool,
    /// (tracemend) The sampler component. Default: the built-in tail-sampling
    /// guest; set a path to run another build of it, or another sampler.
    pub module: Option<PathBuf>,
    /// (tracemend) Limits of each sampler instance. Default: see [`Limits`].
    pub limits: Limits,
}

impl Default for TailSamplingConfig {
    fn default() -> Self {
        TailSamplingConfig {
            decision_wait: Duration::from_secs(30),
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCacheConfig::default(),
            policies: Vec::new(),
            sample_on_first_match: false,
            block_on_overflow: false,
            maximum_trace_size_bytes: 0,
            drop_pending_traces_on_shutdown: false,
            max_buffered_bytes: 256 << 20,
            record_policy: false,
            module: None,
            limits: Limits::default(),
        }
    }
}

/// `decision_cache`: how many decided trace ids are remembered.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionCacheConfig {
    /// Trace ids of kept traces remembered (at least the last this many, at
    /// most twice as many); `0` turns it off. Default: `100000`.
    #[serde(deserialize_with = "int")]
    pub sampled_cache_size: u64,
    /// Trace ids of dropped traces remembered (likewise); `0` turns it off.
    /// Default: `100000`.
    #[serde(deserialize_with = "int")]
    pub non_sampled_cache_size: u64,
}

impl Default for DecisionCacheConfig {
    fn default() -> Self {
        DecisionCacheConfig {
            sampled_cache_size: 100_000,
            non_sampled_cache_size: 100_000,
        }
    }
}

/// An integer, or a string of digits with `_` separators: contrib's README
/// writes `100_000`, which Go's YAML reads as a number and ours as a string.
fn int<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrStr {
        Int(u64),
        Str(String),
    }
    match IntOrStr::deserialize(d)? {
        IntOrStr::Int(n) => Ok(n),
        IntOrStr::Str(s) => {
            let digits: String = s.chars().filter(|c| *c != '_').collect();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(serde::de::Error::custom(format!(
                    "expected a non-negative integer, got {s:?}"
                )));
            }
            digits
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is too large")))
        }
    }
}

/// One problem with a config; its path is the YAML key it is about (e.g. `num_traces`).
pub use component::ConfigError;

impl TailSamplingConfig {
    /// Checks what serde cannot; returns every problem found. The policies
    /// themselves are checked by the guest's `configure` when it loads.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        let mut err = |key: &str, message: &str| errs.push(ConfigError::new(key, message));
        if self.decision_wait.is_zero() {
            err("decision_wait", "must be greater than 0, e.g. `30s`");
        }
        if self.num_traces == 0 {
            err("num_traces", "must be greater than 0");
        }
        if self.policies.is_empty() {
            err("policies", "at least one policy is required");
        }
        if self.max_buffered_bytes == 0 {
            err(
                "max_buffered_bytes",
                "must be greater than 0 (bytes of spans held undecided)",
            );
        }
        // OTTL conditions are compiled by the host (the guest asks for verdicts).
        if let Err(e) = super::OttlPolicies::compile(&self.policies) {
            errs.extend(e);
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// What the guest's `configure` gets: the policies and
    /// `sample_on_first_match`, as JSON.
    pub fn guest_config_json(&self) -> String {
        serde_json::json!({
            "policies": self.policies,
            "sample_on_first_match": self.sample_on_first_match,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c: TailSamplingConfig =
            serde_yaml::from_str("policies: [{name: a, type: always_sample}]").expect("parses");
        assert_eq!(c.decision_wait, Duration::from_secs(30));
        assert_eq!(c.num_traces, 50_000);
        assert_eq!(c.decision_cache.sampled_cache_size, 100_000);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn underscored_numbers_and_unknown_keys() {
        let c: TailSamplingConfig = serde_yaml::from_str(
            "decision_cache: {sampled_cache_size: 100_000, non_sampled_cache_size: 7}\npolicies: []",
        )
        .expect("parses");
        assert_eq!(c.decision_cache.sampled_cache_size, 100_000);
        assert_eq!(c.decision_cache.non_sampled_cache_size, 7);
        let e = serde_yaml::from_str::<TailSamplingConfig>("num_tracez: 5").expect_err("unknown");
        assert!(e.to_string().contains("num_tracez"), "{e}");
        let e = serde_yaml::from_str::<TailSamplingConfig>("num_traces: 1_0x")
            .expect_err("not a number");
        assert!(e.to_string().contains("non-negative integer"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let c = TailSamplingConfig {
            num_traces: 0,
            decision_wait: Duration::ZERO,
            ..Default::default()
        };
        let keys: Vec<String> = c
            .validate()
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(keys, ["decision_wait", "num_traces", "policies"]);
    }
}
