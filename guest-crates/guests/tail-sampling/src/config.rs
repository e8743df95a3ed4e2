//! The guest's configuration: the `policies` block of the contrib
//! `tail_sampling` processor (and `sample_on_first_match`), as JSON, turned
//! into a tree of [`Policy`] evaluators. Every error names the policy by its
//! YAML path and name, and says what was expected.

use std::collections::HashSet;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::policy::{Composite, Policy, StringMatcher, SubPolicy, TokenBucket};

/// What the host hands to `configure`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestConfig {
    #[serde(default)]
    policies: Vec<Map<String, Value>>,
    #[serde(default)]
    sample_on_first_match: bool,
}

/// One top-level policy, ready to evaluate.
pub(crate) struct TopPolicy {
    pub(crate) name: String,
    pub(crate) policy: Policy,
}

/// The parsed configuration.
pub(crate) struct Config {
    /// Drop policies first (their `Dropped` wins, so evaluating them first
    /// lets the rest be skipped), then the others in configured order.
    pub(crate) policies: Vec<TopPolicy>,
    pub(crate) sample_on_first_match: bool,
}

/// Policy types this guest evaluates, for error messages.
const SUPPORTED: &str = "always_sample, latency, numeric_attribute, probabilistic, status_code, \
     string_attribute, rate_limiting, bytes_limiting, span_count, trace_state, trace_flags, \
     boolean_attribute, ottl_condition, and, not, drop, composite";

/// Where a policy may appear: composite and drop only at the top, as in
/// contrib (a rate budget or a veto nested in an `and` has no clear meaning).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Nested,
}

/// The type blocks a policy map may carry besides `name` and `type`.
const BLOCKS: &[&str] = &[
    "latency",
    "numeric_attribute",
    "probabilistic",
    "status_code",
    "string_attribute",
    "rate_limiting",
    "bytes_limiting",
    "span_count",
    "trace_state",
    "boolean_attribute",
    "ottl_condition",
    "and",
    "not",
    "drop",
    "composite",
];

/// Parses the JSON from `configure`.
pub(crate) fn parse(json: &str) -> Result<Config, String> {
    let cfg: GuestConfig = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
    if cfg.policies.is_empty() {
        return Err("policies: at least one policy is required".into());
    }
    let mut names = HashSet::new();
    let mut drops = Vec::new();
    let mut others = Vec::new();
    for (i, map) in cfg.policies.iter().enumerate() {
        let path = format!("policies[{i}]");
        let (name, policy) = build(&path, map, Level::Top)?;
        if !names.insert(name.clone()) {
            return Err(format!("{path}: duplicate policy name {name:?}"));
        }
        let is_drop = matches!(policy, Policy::Drop(_));
        let top = TopPolicy { name, policy };
        if is_drop {
            drops.push(top);
        } else {
            others.push(top);
        }
    }
    drops.extend(others);
    Ok(Config {
        policies: drops,
        sample_on_first_match: cfg.sample_on_first_match,
    })
}

fn block<'a, T: Deserialize<'a>>(
    path: &str,
    name: &str,
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<T, String> {
    let Some(v) = map.get(key) else {
        return Err(format!(
            "{path} ({name:?}): type {key} needs a `{key}:` block with its settings"
        ));
    };
    T::deserialize(v).map_err(|e| format!("{path}.{key} ({name:?}): {e}"))
}

/// Builds one policy (and its sub-policies) from its YAML map.
fn build(path: &str, map: &Map<String, Value>, level: Level) -> Result<(String, Policy), String> {
    let name = match map.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(format!("{path}.name: every policy needs a non-empty name"));
        }
        Some(_) => return Err(format!("{path}.name: must be a string")),
    };
    let kind = match map.get("type") {
        Some(Value::String(s)) => s.as_str(),
        None => {
            return Err(format!(
                "{path}.type ({name:?}): missing; one of: {SUPPORTED}"
            ));
        }
        Some(_) => return Err(format!("{path}.type ({name:?}): must be a string")),
    };
    for key in map.keys() {
        if key == "name" || key == "type" {
            continue;
        }
        if !BLOCKS.contains(&key.as_str()) {
            return Err(format!(
                "{path}.{key} ({name:?}): unknown key; a policy has `name`, `type` and the block named by its type"
            ));
        }
        // Contrib ignores blocks of other types; a `string_attribute:` block
        // under `type: boolean_attribute` is a typo that silently matches
        // nothing there, so it is an error here.
        if key != kind {
            return Err(format!(
                "{path}.{key} ({name:?}): this policy's type is {kind}, so a `{key}:` block does not apply (did you mean `{kind}:`?)"
            ));
        }
    }
    let p = |e: String| e;
    let policy = match kind {
        "always_sample" => Policy::AlwaysSample,
        "trace_flags" => Policy::TraceFlags,
        "latency" => {
            let c: LatencyCfg = block(path, &name, map, kind)?;
            if c.upper_threshold_ms != 0 && c.upper_threshold_ms < c.threshold_ms {
                return Err(format!(
                    "{path}.latency.upper_threshold_ms ({name:?}): {} is below threshold_ms {}",
                    c.upper_threshold_ms, c.threshold_ms
                ));
            }
            Policy::Latency {
                threshold_ms: c.threshold_ms,
                upper_threshold_ms: c.upper_threshold_ms,
            }
        }
        "numeric_attribute" => {
            let c: NumericCfg = block(path, &name, map, kind)?;
            // As contrib: 0 means "no bound" on either side.
            let min = (c.min_value != 0).then_some(c.min_value);
            let max = (c.max_value != 0).then_some(c.max_value);
            if min.is_none() && max.is_none() {
                return Err(format!(
                    "{path}.numeric_attribute ({name:?}): set min_value and/or max_value (0 means unbounded)"
                ));
            }
            Policy::Numeric {
                key: c.key,
                min: min.unwrap_or(i64::MIN),
                max: max.unwrap_or(i64::MAX),
                invert: c.invert_match,
            }
        }
        "probabilistic" => {
            let c: ProbabilisticCfg = block(path, &name, map, kind)?;
            if !c.sampling_percentage.is_finite() || c.sampling_percentage < 0.0 {
                return Err(format!(
                    "{path}.probabilistic.sampling_percentage ({name:?}): must be a number from 0 to 100"
                ));
            }
            let salt = if c.hash_salt.is_empty() {
                crate::policy::DEFAULT_HASH_SALT.to_owned()
            } else {
                c.hash_salt
            };
            Policy::Probabilistic {
                threshold: crate::policy::threshold(c.sampling_percentage / 100.0),
                salt,
            }
        }
        "status_code" => {
            let c: StatusCodeCfg = block(path, &name, map, kind)?;
            if c.status_codes.is_empty() {
                return Err(format!(
                    "{path}.status_code.status_codes ({name:?}): expected at least one status code to filter on"
                ));
            }
            let mut codes = Vec::new();
            for (i, s) in c.status_codes.iter().enumerate() {
                codes.push(match s.as_str() {
                    "UNSET" => 0,
                    "OK" => 1,
                    "ERROR" => 2,
                    other => {
                        return Err(format!(
                            "{path}.status_code.status_codes[{i}] ({name:?}): unknown status code {other:?}, supported: OK, ERROR, UNSET"
                        ));
                    }
                });
            }
            Policy::StatusCode(codes)
        }
        "string_attribute" => {
            let c: StringCfg = block(path, &name, map, kind)?;
            if c.cache_max_size < 0 {
                return Err(format!(
                    "{path}.string_attribute.cache_max_size ({name:?}): must not be negative"
                ));
            }
            let matcher = if c.enabled_regex_matching {
                let mut res = Vec::new();
                for (i, v) in c.values.iter().enumerate() {
                    res.push(Regex::new(v).map_err(|e| {
                        p(format!(
                            "{path}.string_attribute.values[{i}] ({name:?}): invalid regular expression: {e}"
                        ))
                    })?);
                }
                StringMatcher::Regex(res)
            } else {
                // As contrib: an empty value never matches.
                StringMatcher::Exact(c.values.into_iter().filter(|v| !v.is_empty()).collect())
            };
            Policy::StringAttribute {
                key: c.key,
                matcher,
                invert: c.invert_match,
            }
        }
        "rate_limiting" => {
            let c: RateCfg = block(path, &name, map, kind)?;
            if c.spans_per_second <= 0 {
                return Err(format!(
                    "{path}.rate_limiting.spans_per_second ({name:?}): must be greater than 0"
                ));
            }
            Policy::RateLimiting(TokenBucket::new(c.spans_per_second, c.burst_capacity))
        }
        "bytes_limiting" => {
            let c: BytesCfg = block(path, &name, map, kind)?;
            if c.bytes_per_second <= 0 {
                return Err(format!(
                    "{path}.bytes_limiting.bytes_per_second ({name:?}): must be greater than 0"
                ));
            }
            Policy::BytesLimiting(TokenBucket::new(c.bytes_per_second, c.burst_capacity))
        }
        "span_count" => {
            let c: SpanCountCfg = block(path, &name, map, kind)?;
            if c.min_spans < 0 || c.max_spans < 0 {
                return Err(format!(
                    "{path}.span_count ({name:?}): min_spans and max_spans must not be negative"
                ));
            }
            if c.max_spans != 0 && c.max_spans < c.min_spans {
                return Err(format!(
                    "{path}.span_count.max_spans ({name:?}): {} is below min_spans {} (0 means no upper bound)",
                    c.max_spans, c.min_spans
                ));
            }
            Policy::SpanCount {
                min: c.min_spans as u64,
                max: (c.max_spans != 0).then_some(c.max_spans as u64),
            }
        }
        "trace_state" => {
            let c: TraceStateCfg = block(path, &name, map, kind)?;
            if c.key.is_empty() {
                return Err(format!(
                    "{path}.trace_state.key ({name:?}): must not be empty"
                ));
            }
            // As contrib: a key=value member is at most 256 characters, so a
            // longer value can never match and is left out.
            let values = c
                .values
                .into_iter()
                .filter(|v| !v.is_empty() && c.key.len() + v.len() < 256)
                .collect();
            Policy::TraceState { key: c.key, values }
        }
        "ottl_condition" => {
            // The host compiles and evaluates the conditions (it checked the block
            // before loading this guest); the policy asks it by path.
            let _: OttlCfg = block(path, &name, map, kind)?;
            Policy::OttlCondition {
                path: path.to_owned(),
            }
        }
        "boolean_attribute" => {
            let c: BoolCfg = block(path, &name, map, kind)?;
            Policy::Boolean {
                key: c.key,
                value: c.value,
                invert: c.invert_match,
            }
        }
        "and" => {
            let c: AndCfg = block(path, &name, map, kind)?;
            Policy::And(subs(
                &format!("{path}.and.and_sub_policy"),
                &name,
                &c.and_sub_policy,
            )?)
        }
        "drop" => {
            if level != Level::Top {
                return Err(format!(
                    "{path} ({name:?}): a drop policy is only allowed at the top level of `policies`"
                ));
            }
            let c: DropCfg = block(path, &name, map, kind)?;
            Policy::Drop(subs(
                &format!("{path}.drop.drop_sub_policy"),
                &name,
                &c.drop_sub_policy,
            )?)
        }
        "not" => {
            let c: NotCfg = block(path, &name, map, kind)?;
            let (_, sub) = build(
                &format!("{path}.not.not_sub_policy"),
                &c.not_sub_policy,
                Level::Nested,
            )?;
            Policy::Not(Box::new(sub))
        }
        "composite" => {
            if level != Level::Top {
                return Err(format!(
                    "{path} ({name:?}): a composite policy is only allowed at the top level of `policies`"
                ));
            }
            let c: CompositeCfg = block(path, &name, map, kind)?;
            Policy::Composite(composite(path, &name, c)?)
        }
        other => {
            return Err(format!(
                "{path}.type ({name:?}): unknown policy type {other:?}; supported: {SUPPORTED}"
            ));
        }
    };
    Ok((name, policy))
}

fn subs(path: &str, parent: &str, list: &[Map<String, Value>]) -> Result<Vec<Policy>, String> {
    if list.is_empty() {
        return Err(format!(
            "{path} ({parent:?}): at least one sub-policy is required"
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| build(&format!("{path}[{i}]"), m, Level::Nested).map(|(_, p)| p))
        .collect()
}

fn composite(path: &str, name: &str, c: CompositeCfg) -> Result<Composite, String> {
    let sub_path = format!("{path}.composite.composite_sub_policy");
    if c.max_total_spans_per_second <= 0 {
        return Err(format!(
            "{path}.composite.max_total_spans_per_second ({name:?}): must be greater than 0"
        ));
    }
    if c.composite_sub_policy.is_empty() {
        return Err(format!(
            "{sub_path} ({name:?}): at least one sub-policy is required"
        ));
    }
    let mut built = Vec::new();
    for (i, m) in c.composite_sub_policy.iter().enumerate() {
        let (sub_name, p) = build(&format!("{sub_path}[{i}]"), m, Level::Nested)?;
        if built.iter().any(|(n, _)| *n == sub_name) {
            return Err(format!(
                "{sub_path}[{i}] ({name:?}): duplicate sub-policy name {sub_name:?}"
            ));
        }
        built.push((sub_name, p));
    }
    // policy_order gives the evaluation order; sub-policies it leaves out
    // follow in listed order. (Contrib evaluates in listed order and ignores
    // policy_order; honouring it is what the key promises.)
    let mut order: Vec<usize> = Vec::new();
    for (i, n) in c.policy_order.iter().enumerate() {
        let Some(idx) = built.iter().position(|(bn, _)| bn == n) else {
            return Err(format!(
                "{path}.composite.policy_order[{i}] ({name:?}): no composite_sub_policy is named {n:?}"
            ));
        };
        if !order.contains(&idx) {
            order.push(idx);
        }
    }
    for i in 0..built.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let max = c.max_total_spans_per_second;
    let n = built.len() as i64;
    let mut allocated: Vec<Option<i64>> = vec![None; built.len()];
    for (i, ra) in c.rate_allocation.iter().enumerate() {
        let Some(idx) = built.iter().position(|(bn, _)| *bn == ra.policy) else {
            return Err(format!(
                "{path}.composite.rate_allocation[{i}].policy ({name:?}): no composite_sub_policy is named {:?}",
                ra.policy
            ));
        };
        if ra.percent > 100 {
            return Err(format!(
                "{path}.composite.rate_allocation[{i}].percent ({name:?}): {} is over 100",
                ra.percent
            ));
        }
        // As contrib: a share of the total, or an equal share when the
        // percent is not positive.
        allocated[idx] = Some(if ra.percent > 0 {
            (ra.percent as f64 / 100.0 * max as f64) as i64
        } else {
            max / n
        });
    }
    // Contrib gives a sub-policy without an allocation 0 spans/s (it can
    // never sample), although its README says an unallocated always_sample
    // "fills the remaining capacity". Do what the README says: unallocated
    // sub-policies may use what the allocated ones leave.
    let remaining = (max - allocated.iter().flatten().sum::<i64>()).max(0);
    let mut subs = Vec::new();
    let mut built: Vec<Option<(String, Policy)>> = built.into_iter().map(Some).collect();
    for idx in order {
        let Some((sub_name, policy)) = built[idx].take() else {
            continue;
        };
        subs.push(SubPolicy {
            name: sub_name,
            policy,
            allocated: allocated[idx].unwrap_or(remaining),
            sampled: 0,
        });
    }
    Ok(Composite::new(max, subs))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyCfg {
    #[serde(default)]
    threshold_ms: i64,
    #[serde(default)]
    upper_threshold_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumericCfg {
    key: String,
    #[serde(default)]
    min_value: i64,
    #[serde(default)]
    max_value: i64,
    #[serde(default)]
    invert_match: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbabilisticCfg {
    #[serde(default)]
    hash_salt: String,
    #[serde(default)]
    sampling_percentage: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusCodeCfg {
    #[serde(default)]
    status_codes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StringCfg {
    key: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    enabled_regex_matching: bool,
    /// Contrib's LRU of regex results; the regex engine here is fast enough
    /// that it is accepted and not needed.
    #[serde(default)]
    cache_max_size: i64,
    #[serde(default)]
    invert_match: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateCfg {
    spans_per_second: i64,
    #[serde(default)]
    burst_capacity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BytesCfg {
    bytes_per_second: i64,
    #[serde(default)]
    burst_capacity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpanCountCfg {
    #[serde(default)]
    min_spans: i64,
    #[serde(default)]
    max_spans: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceStateCfg {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoolCfg {
    key: String,
    value: bool,
    #[serde(default)]
    invert_match: bool,
}

/// `ottl_condition`: its shape only; the host compiles the conditions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "read by the host; the guest checks the keys")]
struct OttlCfg {
    #[serde(default)]
    error_mode: Option<String>,
    #[serde(default)]
    span: Vec<String>,
    #[serde(default)]
    spanevent: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AndCfg {
    and_sub_policy: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DropCfg {
    drop_sub_policy: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotCfg {
    not_sub_policy: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompositeCfg {
    max_total_spans_per_second: i64,
    #[serde(default)]
    policy_order: Vec<String>,
    #[serde(default)]
    composite_sub_policy: Vec<Map<String, Value>>,
    #[serde(default)]
    rate_allocation: Vec<RateAllocationCfg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateAllocationCfg {
    policy: String,
    #[serde(default)]
    percent: i64,
}
