//! `drop`: dropped, whatever the other policies say, when every
//! sub-policy matches (evaluated before the others: see `config`).

use super::{Policy, Trace, Verdict};

/// Dropped when every sub-policy matches, like `and`.
pub(super) fn evaluate(t: &Trace<'_>, subs: &mut [Policy]) -> Verdict {
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
