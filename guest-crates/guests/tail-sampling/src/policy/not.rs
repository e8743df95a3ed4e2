//! `not`: the sub-policy's sampled and not-sampled swapped.

use super::{Policy, Trace, Verdict};

/// As contrib: other decisions pass through unchanged.
pub(super) fn evaluate(t: &Trace<'_>, sub: &mut Policy) -> Verdict {
    match sub.evaluate(t) {
        Verdict::Sampled => Verdict::NotSampled,
        Verdict::NotSampled => Verdict::Sampled,
        other => other,
    }
}
