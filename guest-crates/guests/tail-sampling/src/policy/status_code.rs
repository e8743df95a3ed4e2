//! `status_code`: sampled when any span's status is one of the codes.

use super::{Trace, Verdict, sampled_if};

/// `codes` as numbers: 0 unset, 1 ok, 2 error.
pub(super) fn evaluate(t: &Trace<'_>, codes: &[u32]) -> Verdict {
    sampled_if(t.batch.spans().any(|s| codes.contains(&s.status_code())))
}
