//! Stage `minimize`: hierarchical delta debugging over the reproduced request's inputs.
//! The oracle is the reproduce stage's strict signature (exception type and top in-app
//! frame); the result is the smallest input that still fails that way, plus the passing
//! neighbours (inputs one step away that pass) that localization and verification use.

mod result;

pub use result::{
    MinimizeResult, MinimizeVerdict, Neighbour, ProbeInput, ProbeMode, ProbeStats, Reduction,
};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "minimize";
