//! Stage `localize`: ranks suspects for the reproduced failure from several signals (the
//! crash frames, spectrum-based localization over line coverage, the code graph, recent
//! change, cross-service error contribution), each kept as evidence.

mod hypothesis;

pub use hypothesis::{
    CauseClass, Evidence, Hypothesis, Intervention, LocalizeResult, Signal, Suspect,
};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "localize";
