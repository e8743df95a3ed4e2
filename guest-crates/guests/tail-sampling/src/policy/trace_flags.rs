//! `trace_flags`: sampled when any span has the W3C `sampled` flag.

use super::{Trace, Verdict, sampled_if};

/// The low byte of span flags is the W3C trace-flags byte; bit 0 is
/// `sampled`.
pub(super) fn evaluate(t: &Trace<'_>) -> Verdict {
    sampled_if(t.batch.spans().any(|s| s.flags() & 0x01 != 0))
}
