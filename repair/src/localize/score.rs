//! The ranking function: a logistic combination of the signals' values,
//! `score = 1 / (1 + exp(-(bias + Σ_s w_s · v_s)))`, weights from `localize.weights`;
//! a signal a suspect has no evidence for counts 0.

use super::{Evidence, Signal};
use crate::config::Weights;

/// The weight of `signal`.
pub fn weight(weights: &Weights, signal: Signal) -> f64 {
    match signal {
        Signal::CrashFrame => weights.crash_frame,
        Signal::Spectrum => weights.spectrum,
        Signal::CodeGraph => weights.code_graph,
        Signal::ReturnValue => weights.return_value,
        Signal::RecentChange => weights.recent_change,
        Signal::CrossService => weights.cross_service,
    }
}

/// The score of a suspect with `evidence`, in `(0, 1)`.
pub fn score(weights: &Weights, evidence: &[Evidence]) -> f64 {
    let z = weights.bias
        + evidence
            .iter()
            .map(|e| weight(weights, e.signal) * e.value.clamp(0.0, 1.0))
            .sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(signal: Signal, value: f64) -> Evidence {
        Evidence {
            signal,
            value,
            detail: String::new(),
        }
    }

    #[test]
    fn the_score_is_the_logistic_of_the_weighted_sum() {
        let w = Weights::default();
        let none = score(&w, &[]);
        assert!((none - 1.0 / (1.0 + 4f64.exp())).abs() < 1e-12);
        let s = score(
            &w,
            &[ev(Signal::CrashFrame, 1.0), ev(Signal::Spectrum, 0.5)],
        );
        let z: f64 = -4.0 + 2.5 + 4.0 * 0.5;
        assert!((s - 1.0 / (1.0 + (-z).exp())).abs() < 1e-12);
        // More evidence never lowers a score with positive weights; values are clamped.
        assert!(
            score(&w, &[ev(Signal::CodeGraph, 7.0)])
                <= score(&w, &[ev(Signal::CodeGraph, 1.0)]) + 1e-12
        );
        assert!(s > none);
    }
}
