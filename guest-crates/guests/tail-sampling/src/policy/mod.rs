//! The policy evaluators, with the semantics of the contrib
//! `tail_sampling` processor (each policy's file notes where it
//! deliberately differs). One file per policy, as contrib keeps them, each
//! with its tests; here the verdict type, the trace as the policies see it,
//! the policy enum and its dispatch.

mod and;
mod boolean_attribute;
mod bytes_limiting;
mod composite;
mod drop;
mod latency;
mod not;
mod numeric_attribute;
mod ottl_condition;
mod probabilistic;
mod rate_limiting;
mod span_count;
mod status_code;
mod string_attribute;
mod trace_flags;
mod trace_state;

use std::collections::HashSet;

use tracemend_sdk::{Batch, Value};

pub(crate) use composite::{Composite, SubPolicy};
pub(crate) use probabilistic::{DEFAULT_HASH_SALT, threshold};
pub(crate) use rate_limiting::TokenBucket;
pub(crate) use string_attribute::StringMatcher;

/// What one policy says about one trace (contrib's `Decision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Sampled,
    NotSampled,
    /// From a `drop` policy: not sampled, whatever the others say.
    Dropped,
    /// `invert_match` found no match: sampled unless another policy said
    /// `NotSampled` (contrib's deprecated inverted decisions, still its default).
    InvertSampled,
    /// `invert_match` found a match: not sampled, whatever the others say
    /// except `Dropped`.
    InvertNotSampled,
}

/// The trace being decided and the facts the host gave about it.
pub(crate) struct Trace<'a> {
    pub(crate) batch: Batch<'a>,
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_count: u64,
    pub(crate) now_unix_nano: u64,
    pub(crate) size_bytes: u64,
    /// The values of the attribute keys the policies name.
    pub(crate) attrs: Attrs<'a>,
}

/// The values of the attribute keys some policy names, read from every
/// resource and span of the trace in one pass. Each attribute policy then
/// looks only at its key's values, instead of every policy searching every
/// row (reading each attribute means checking its key and value are UTF-8,
/// so the searches dominated a decision). As `attribute(key)`, only a row's
/// first occurrence of a key counts.
pub(crate) struct Attrs<'a> {
    keys: &'a [String],
    values: Vec<Vec<Value<'a>>>,
}

impl<'a> Attrs<'a> {
    /// Reads `batch` for `keys` (see [`attribute_keys`]).
    pub(crate) fn gather(batch: Batch<'a>, keys: &'a [String]) -> Self {
        let mut values: Vec<Vec<Value<'a>>> = keys.iter().map(|_| Vec::new()).collect();
        if !keys.is_empty() {
            let mut seen = vec![false; keys.len()];
            let mut row = |attrs: tracemend_sdk::Attributes<'a>| {
                seen.iter_mut().for_each(|s| *s = false);
                for (k, v) in attrs {
                    if let Some(i) = keys.iter().position(|key| key == k)
                        && !seen[i]
                    {
                        seen[i] = true;
                        values[i].push(v);
                    }
                }
            };
            for r in batch.resources() {
                row(r.attributes());
            }
            for s in batch.spans() {
                row(s.attributes());
            }
        }
        Attrs { keys, values }
    }

    /// The values of `key`: resources first, then spans, in batch order.
    fn of(&self, key: &str) -> &[Value<'a>] {
        self.keys
            .iter()
            .position(|k| k == key)
            .map_or(&[], |i| &self.values[i])
    }
}

/// Every attribute key `policies` name (nested ones included), once each.
pub(crate) fn attribute_keys<'p>(policies: impl IntoIterator<Item = &'p Policy>) -> Vec<String> {
    fn walk(p: &Policy, out: &mut Vec<String>) {
        match p {
            Policy::Numeric { key, .. }
            | Policy::StringAttribute { key, .. }
            | Policy::Boolean { key, .. } => {
                if !out.contains(key) {
                    out.push(key.clone());
                }
            }
            Policy::And(subs) | Policy::Drop(subs) => subs.iter().for_each(|s| walk(s, out)),
            Policy::Not(sub) => walk(sub, out),
            Policy::Composite(c) => c.subs.iter().for_each(|s| walk(&s.policy, out)),
            Policy::AlwaysSample
            | Policy::TraceFlags
            | Policy::Latency { .. }
            | Policy::Probabilistic { .. }
            | Policy::StatusCode(_)
            | Policy::RateLimiting(_)
            | Policy::BytesLimiting(_)
            | Policy::SpanCount { .. }
            | Policy::TraceState { .. }
            | Policy::OttlCondition { .. } => {}
        }
    }
    let mut out = Vec::new();
    for p in policies {
        walk(p, &mut out);
    }
    out
}

/// One policy, ready to evaluate. Stateful ones (rate limits, composite)
/// keep their state here, per instance.
pub(crate) enum Policy {
    AlwaysSample,
    TraceFlags,
    Latency {
        threshold_ms: i64,
        upper_threshold_ms: i64,
    },
    Numeric {
        key: String,
        min: i64,
        max: i64,
        invert: bool,
    },
    Probabilistic {
        threshold: u64,
        salt: String,
    },
    /// Status codes as numbers: 0 unset, 1 ok, 2 error.
    StatusCode(Vec<u32>),
    StringAttribute {
        key: String,
        matcher: StringMatcher,
        invert: bool,
    },
    RateLimiting(TokenBucket),
    BytesLimiting(TokenBucket),
    SpanCount {
        min: u64,
        max: Option<u64>,
    },
    TraceState {
        key: String,
        values: HashSet<String>,
    },
    Boolean {
        key: String,
        value: bool,
        invert: bool,
    },
    /// Asks the host, which evaluates the OTTL conditions, by the policy's YAML path.
    OttlCondition {
        path: String,
    },
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
    Composite(Composite),
}

impl Policy {
    pub(crate) fn evaluate(&mut self, t: &Trace<'_>) -> Verdict {
        match self {
            Policy::AlwaysSample => Verdict::Sampled,
            Policy::TraceFlags => trace_flags::evaluate(t),
            Policy::Latency {
                threshold_ms,
                upper_threshold_ms,
            } => latency::evaluate(t, *threshold_ms, *upper_threshold_ms),
            Policy::Numeric {
                key,
                min,
                max,
                invert,
            } => numeric_attribute::evaluate(t, key, *min, *max, *invert),
            Policy::Probabilistic { threshold, salt } => {
                probabilistic::evaluate(t, salt, *threshold)
            }
            Policy::StatusCode(codes) => status_code::evaluate(t, codes),
            Policy::StringAttribute {
                key,
                matcher,
                invert,
            } => string_attribute::evaluate(t, key, matcher, *invert),
            Policy::RateLimiting(bucket) => rate_limiting::evaluate(t, bucket),
            Policy::BytesLimiting(bucket) => bytes_limiting::evaluate(t, bucket),
            Policy::SpanCount { min, max } => span_count::evaluate(t, *min, *max),
            Policy::TraceState { key, values } => trace_state::evaluate(t, key, values),
            Policy::Boolean { key, value, invert } => {
                boolean_attribute::evaluate(t, key, *value, *invert)
            }
            Policy::OttlCondition { path } => ottl_condition::evaluate(path),
            Policy::And(subs) => and::evaluate(t, subs),
            Policy::Drop(subs) => drop::evaluate(t, subs),
            Policy::Not(sub) => not::evaluate(t, sub),
            Policy::Composite(c) => c.evaluate(t),
        }
    }
}

fn sampled_if(b: bool) -> Verdict {
    if b {
        Verdict::Sampled
    } else {
        Verdict::NotSampled
    }
}

/// contrib's attribute policies: look at resource attributes and span
/// attributes. Without `invert`: sampled if any matches. With it: an
/// "inverted not sampled" if any matches, else "inverted sampled" (so a
/// trace without the key at all is sampled, as contrib documents).
fn attribute_verdict(
    t: &Trace<'_>,
    key: &str,
    hit: impl Fn(Value<'_>) -> bool,
    invert: bool,
) -> Verdict {
    let any = t.attrs.of(key).iter().any(|v| hit(*v));
    match (invert, any) {
        (false, true) => Verdict::Sampled,
        (false, false) => Verdict::NotSampled,
        (true, true) => Verdict::InvertNotSampled,
        (true, false) => Verdict::InvertSampled,
    }
}
