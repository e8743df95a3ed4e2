//! `span_count`: at least `min_spans` spans, and at most `max_spans` when
//! set.

use super::{Trace, Verdict, sampled_if};

/// Sampled when the span count is within the bounds.
pub(super) fn evaluate(t: &Trace<'_>, min: u64, max: Option<u64>) -> Verdict {
    let n = t.span_count;
    sampled_if(n >= min && max.is_none_or(|m| n <= m))
}
