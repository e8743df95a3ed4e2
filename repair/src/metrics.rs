//! The engine's Prometheus metrics, served at `GET /metrics` (OpenMetrics text, no
//! token, like `/healthz`): per-stage durations and outcomes, reproduction and fix
//! verdicts (their rates are ratios of these counters), minimization probes, the time
//! from a job's start to its fix branch, and the model patcher's tokens.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::stage::{StageError, StageOutcome, StageResult};
use crate::verify::VerifyVerdict;

type Labels = Vec<(String, String)>;

struct Metrics {
    registry: Registry,
    stage_seconds: Family<Labels, Histogram>,
    reproductions: Family<Labels, Counter>,
    fixes: Family<Labels, Counter>,
    probes: Counter,
    time_to_branch: Histogram,
    model_tokens: Counter,
}

fn duration_histogram() -> Histogram {
    // 0.1 s .. about 27 minutes.
    Histogram::new(exponential_buckets(0.1, 2.0, 15))
}

fn metrics() -> &'static Mutex<Metrics> {
    static METRICS: OnceLock<Mutex<Metrics>> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::with_prefix("tracemend_repair");
        let stage_seconds = Family::<Labels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "stage_duration_seconds",
            "Wall-clock time of one stage run, by stage and outcome (completed, rejected, failed, unavailable)",
            stage_seconds.clone(),
        );
        let reproductions = Family::<Labels, Counter>::default();
        registry.register(
            "reproductions",
            "Reproduce stage verdicts (reproduced, not_reproduced, sandbox_error, not_attempted); the repro rate is reproduced over all",
            reproductions.clone(),
        );
        let fixes = Family::<Labels, Counter>::default();
        registry.register(
            "fixes",
            "Verify stage verdicts (fixed, no_fix); the fix rate is fixed over all",
            fixes.clone(),
        );
        let probes = Counter::default();
        registry.register(
            "minimize_probes",
            "Probes the minimize stage ran in a sandbox",
            probes.clone(),
        );
        let time_to_branch = duration_histogram();
        registry.register(
            "time_to_branch_seconds",
            "From a job's start to its verified fix branch",
            time_to_branch.clone(),
        );
        let model_tokens = Counter::default();
        registry.register(
            "model_tokens",
            "Tokens the model patcher's endpoint reported (prompt and completion)",
            model_tokens.clone(),
        );
        Mutex::new(Metrics {
            registry,
            stage_seconds,
            reproductions,
            fixes,
            probes,
            time_to_branch,
            model_tokens,
        })
    })
}

fn label(key: &str, value: &str) -> Labels {
    vec![(key.to_string(), value.to_string())]
}

fn verdict_word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Records one stage run: its duration and outcome, and what its result counts.
/// `job_elapsed` is the time since the job started (for the time to branch).
pub fn stage_ran(
    stage: &str,
    outcome: &Result<StageOutcome, StageError>,
    elapsed: Duration,
    job_elapsed: Duration,
) {
    let m = metrics().lock().unwrap_or_else(|e| e.into_inner());
    let (word, result) = match outcome {
        Ok(StageOutcome::Completed { result, .. }) => ("completed", Some(result)),
        Ok(StageOutcome::Rejected { result, .. }) => ("rejected", Some(result)),
        Err(StageError::Failed { result, .. }) => ("failed", result.as_ref()),
        Err(StageError::Unavailable { .. }) => ("unavailable", None),
    };
    let mut labels = label("stage", stage);
    labels.push(("outcome".into(), word.into()));
    m.stage_seconds
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    match result {
        Some(StageResult::Reproduce(r)) => {
            m.reproductions
                .get_or_create(&label("verdict", &verdict_word(&r.verdict)))
                .inc();
        }
        Some(StageResult::Minimize(r)) => {
            m.probes.inc_by(u64::from(r.probes.executed));
        }
        Some(StageResult::Patch(r)) => {
            if let Some(tokens) = r.model.as_ref().and_then(|m| m.tokens) {
                m.model_tokens.inc_by(tokens);
            }
        }
        Some(StageResult::Verify(r)) => {
            m.fixes
                .get_or_create(&label("verdict", &verdict_word(&r.verdict)))
                .inc();
            if r.verdict == VerifyVerdict::Fixed && r.branch.is_some() {
                m.time_to_branch.observe(job_elapsed.as_secs_f64());
            }
        }
        _ => {}
    }
}

/// The metrics in the OpenMetrics text format.
pub fn render() -> String {
    let m = metrics().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &m.registry) {
        tracing::warn!(error = %e, "Cannot encode the metrics.");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_runs_are_counted_and_rendered() {
        let outcome: Result<StageOutcome, StageError> = Err(StageError::Unavailable {
            dependency: "docker",
            reason: "down".into(),
        });
        stage_ran(
            "verify",
            &outcome,
            Duration::from_millis(300),
            Duration::ZERO,
        );
        let text = render();
        assert!(
            text.contains("tracemend_repair_stage_duration_seconds_count{stage=\"verify\",outcome=\"unavailable\"}"),
            "{text}"
        );
        assert!(text.contains("# HELP tracemend_repair_fixes"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
