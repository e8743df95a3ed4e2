//! The policy evaluators, with the semantics of the contrib
//! `tail_sampling` processor (each function notes where it deliberately
//! differs).

use std::collections::HashSet;

use regex::Regex;
use tracemend_sdk::{Batch, Value};

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
            | Policy::TraceState { .. } => {}
        }
    }
    let mut out = Vec::new();
    for p in policies {
        walk(p, &mut out);
    }
    out
}

/// contrib's default `hash_salt`, so both pick the same traces.
pub(crate) const DEFAULT_HASH_SALT: &str = "default-hash-seed";

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
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
    Composite(Composite),
}

/// How `string_attribute` compares values.
pub(crate) enum StringMatcher {
    Exact(HashSet<String>),
    /// Unanchored, like Go's `MatchString`: `val.*` matches `xvalue`.
    Regex(Vec<Regex>),
}

impl StringMatcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            StringMatcher::Exact(set) => set.contains(s),
            StringMatcher::Regex(res) => res.iter().any(|r| r.is_match(s)),
        }
    }
}

impl Policy {
    pub(crate) fn evaluate(&mut self, t: &Trace<'_>) -> Verdict {
        match self {
            Policy::AlwaysSample => Verdict::Sampled,
            Policy::TraceFlags => {
                // The low byte of span flags is the W3C trace-flags byte;
                // bit 0 is `sampled`.
                sampled_if(t.batch.spans().any(|s| s.flags() & 0x01 != 0))
            }
            Policy::Latency {
                threshold_ms,
                upper_threshold_ms,
            } => latency(t, *threshold_ms, *upper_threshold_ms),
            Policy::Numeric {
                key,
                min,
                max,
                invert,
            } => {
                let (min, max) = (*min, *max);
                // Only int attributes count: contrib reads any value with
                // `Int()`, which makes a double or string attribute look
                // like 0 and match ranges that include 0.
                let hit = |v: Value<'_>| v.as_int().is_some_and(|i| i >= min && i <= max);
                attribute_verdict(t, key, hit, *invert)
            }
            Policy::Probabilistic { threshold, salt } => {
                sampled_if(fnv1a64(salt.as_bytes(), &t.trace_id) <= *threshold)
            }
            Policy::StatusCode(codes) => {
                sampled_if(t.batch.spans().any(|s| codes.contains(&s.status_code())))
            }
            Policy::StringAttribute {
                key,
                matcher,
                invert,
            } => {
                // As contrib: an empty string never matches, and only string
                // values are compared.
                let hit = |v: Value<'_>| {
                    v.as_str()
                        .is_some_and(|s| !s.is_empty() && matcher.matches(s))
                };
                attribute_verdict(t, key, hit, *invert)
            }
            Policy::RateLimiting(bucket) => {
                sampled_if(bucket.allow(t.now_unix_nano, t.span_count as f64))
            }
            Policy::BytesLimiting(bucket) => {
                sampled_if(bucket.allow(t.now_unix_nano, t.size_bytes as f64))
            }
            Policy::SpanCount { min, max } => {
                let n = t.span_count;
                sampled_if(n >= *min && max.is_none_or(|m| n <= m))
            }
            Policy::TraceState { key, values } => sampled_if(t.batch.spans().any(|s| {
                trace_state_get(s.trace_state(), key).is_some_and(|v| values.contains(v))
            })),
            Policy::Boolean { key, value, invert } => {
                let want = *value;
                // Only bool attributes count (contrib's `Bool()` reads any
                // other type as false).
                let hit = |v: Value<'_>| v.as_bool() == Some(want);
                attribute_verdict(t, key, hit, *invert)
            }
            Policy::And(subs) => {
                // Sampled only if every sub-policy samples; an inverted
                // "sample" counts as sampling, an inverted "not" as not.
                for sub in subs.iter_mut() {
                    if matches!(
                        sub.evaluate(t),
                        Verdict::NotSampled | Verdict::InvertNotSampled
                    ) {
                        return Verdict::NotSampled;
                    }
                }
                Verdict::Sampled
            }
            Policy::Drop(subs) => {
                // Dropped when every sub-policy matches, like `and`.
                for sub in subs.iter_mut() {
                    if matches!(
                        sub.evaluate(t),
                        Verdict::NotSampled | Verdict::InvertNotSampled
                    ) {
                        return Verdict::NotSampled;
                    }
                }
                Verdict::Dropped
            }
            Policy::Not(sub) => match sub.evaluate(t) {
                Verdict::Sampled => Verdict::NotSampled,
                Verdict::NotSampled => Verdict::Sampled,
                // As contrib: other decisions pass through unchanged.
                other => other,
            },
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

/// The trace's duration is its latest end minus its earliest start (what
/// contrib documents). Contrib's code checks a running duration span by
/// span, so with an upper bound it can sample a trace whose full duration is
/// past it; here the whole trace is measured first.
fn latency(t: &Trace<'_>, threshold_ms: i64, upper_threshold_ms: i64) -> Verdict {
    let mut start = u64::MAX;
    let mut end = 0u64;
    for s in t.batch.spans() {
        start = start.min(s.start_time_unix_nano());
        end = end.max(s.end_time_unix_nano());
    }
    if start == u64::MAX {
        return Verdict::NotSampled;
    }
    // Whole milliseconds, truncated, as Go's `Duration.Milliseconds`.
    let ms = i64::try_from(end.saturating_sub(start) / 1_000_000).unwrap_or(i64::MAX);
    if upper_threshold_ms == 0 {
        sampled_if(ms >= threshold_ms)
    } else {
        sampled_if(threshold_ms < ms && ms <= upper_threshold_ms)
    }
}

/// The value of `key` in a W3C `tracestate` header (`k1=v1,k2=v2`), or
/// `None` if absent or the header is malformed (contrib drops a trace state
/// it cannot parse).
fn trace_state_get<'a>(ts: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for member in ts.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        if k.is_empty() || v.is_empty() {
            return None;
        }
        if k == key && found.is_none() {
            found = Some(v);
        }
    }
    found
}

/// 64-bit FNV-1a over `salt` then the trace id, as contrib's
/// `hashTraceID`: the same trace hashes the same on every instance.
pub(crate) fn fnv1a64(salt: &[u8], id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.iter().chain(id) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `ratio * u64::MAX` as contrib computes it (`big.Float` at 64-bit
/// precision, rounded to nearest even, then truncated), so a trace id is
/// sampled here exactly when contrib samples it. Ratios at or above 1 give
/// `u64::MAX`, at or below 0 give 0.
pub(crate) fn threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio = mant * 2^exp exactly, with mant < 2^53.
    let bits = ratio.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if raw_exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), raw_exp - 1075)
    };
    // The exact product fits in 117 bits.
    let mut p = u128::from(u64::MAX) * u128::from(mant);
    let width = 128 - p.leading_zeros() as i32;
    let mut exp = exp;
    if width > 64 {
        // Round to 64 significant bits, ties to even.
        let shift = (width - 64) as u32;
        let rem = p & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        p >>= shift;
        if rem > half || (rem == half && p & 1 == 1) {
            p += 1;
        }
        exp += shift as i32;
    }
    // ratio < 1, so the value is below u64::MAX and exp is negative here.
    let v = if exp >= 0 {
        p.checked_shl(exp as u32).unwrap_or(u128::MAX)
    } else if -exp >= 128 {
        0
    } else {
        p >> (-exp) as u32
    };
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A token bucket like Go's `rate.Limiter` (which contrib's rate_limiting
/// and bytes_limiting use): it starts full, refills continuously at `rate`
/// per second up to `burst`, and admits `n` only if `n` tokens are there.
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_unix_nano: Option<u64>,
}

impl TokenBucket {
    /// `burst` 0 or less means twice the rate, as contrib.
    pub(crate) fn new(per_second: i64, burst: i64) -> Self {
        let rate = per_second as f64;
        let burst = if burst > 0 { burst as f64 } else { rate * 2.0 };
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last_unix_nano: None,
        }
    }

    pub(crate) fn allow(&mut self, now_unix_nano: u64, n: f64) -> bool {
        if let Some(last) = self.last_unix_nano {
            // A clock that steps back refills nothing rather than going negative.
            let elapsed = now_unix_nano.saturating_sub(last) as f64 / 1e9;
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        if self.last_unix_nano.is_none_or(|l| now_unix_nano > l) {
            self.last_unix_nano = Some(now_unix_nano);
        }
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// One sub-policy of a composite, with its share of spans per second.
pub(crate) struct SubPolicy {
    /// Read by tests; kept so a debugger shows which sub-policy is which.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) name: String,
    pub(crate) policy: Policy,
    pub(crate) allocated: i64,
    pub(crate) sampled: i64,
}

/// contrib's composite: sub-policies in order; the first that samples
/// decides, and the trace is kept if that sub-policy's spans this second
/// stay within its allocation. Unlike contrib, the total over all
/// sub-policies is also held to `max_total_spans_per_second` (contrib
/// checks each sub-policy's own count against the total).
pub(crate) struct Composite {
    max_total: i64,
    subs: Vec<SubPolicy>,
    total: i64,
    second: u64,
}

impl Composite {
    pub(crate) fn new(max_total: i64, subs: Vec<SubPolicy>) -> Self {
        Composite {
            max_total,
            subs,
            total: 0,
            second: u64::MAX,
        }
    }

    fn evaluate(&mut self, t: &Trace<'_>) -> Verdict {
        let second = t.now_unix_nano / 1_000_000_000;
        if second != self.second {
            self.second = second;
            self.total = 0;
            for s in &mut self.subs {
                s.sampled = 0;
            }
        }
        let spans = i64::try_from(t.span_count).unwrap_or(i64::MAX);
        for sub in &mut self.subs {
            if matches!(
                sub.policy.evaluate(t),
                Verdict::Sampled | Verdict::InvertSampled
            ) {
                let would = sub.sampled.saturating_add(spans);
                let total = self.total.saturating_add(spans);
                if would <= sub.allocated && total <= self.max_total {
                    sub.sampled = would;
                    self.total = total;
                    return Verdict::Sampled;
                }
                // Over budget: not sampled, and nothing counted, so a smaller
                // trace may still fit this second (as contrib).
                return Verdict::NotSampled;
            }
        }
        Verdict::NotSampled
    }

    /// Sub-policy names in evaluation order (for tests).
    #[cfg(test)]
    pub(crate) fn order(&self) -> Vec<(&str, i64)> {
        self.subs
            .iter()
            .map(|s| (s.name.as_str(), s.allocated))
            .collect()
    }
}
