//! `latency`: sampled when the trace's duration reaches `threshold_ms`
//! (or lies in `(threshold_ms, upper_threshold_ms]` with an upper bound).

use super::{Trace, Verdict, sampled_if};

/// The trace's duration is its latest end minus its earliest start (what
/// contrib documents). Contrib's code checks a running duration span by
/// span, so with an upper bound it can sample a trace whose full duration is
/// past it; here the whole trace is measured first.
pub(super) fn evaluate(t: &Trace<'_>, threshold_ms: i64, upper_threshold_ms: i64) -> Verdict {
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
