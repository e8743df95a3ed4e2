//! `and`: sampled only if every sub-policy samples.

use super::{Policy, Trace, Verdict};

/// An inverted "sample" counts as sampling, an inverted "not" as not.
pub(super) fn evaluate(t: &Trace<'_>, subs: &mut [Policy]) -> Verdict {
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
