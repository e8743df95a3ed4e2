//! `ottl_condition`: sampled when any of its span or span-event OTTL conditions
//! holds. The host compiles the conditions and evaluates them on the decoded trace
//! before calling the sampler (docs/architecture.md says why); this policy asks it by
//! the policy's YAML path.

use super::{Verdict, sampled_if};

/// The host's answer for the policy at `path`.
pub(super) fn evaluate(path: &str) -> Verdict {
    sampled_if(tracemend_sdk::sampler::ottl_condition_holds(path))
}
