//! Settings of the minimize and localize stages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// The minimize stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinimizeConfig {
    /// Probes the stage may ask for (cached answers included). Default 400.
    #[serde(default = "default_max_probes")]
    pub max_probes: u32,
    /// Wall-clock budget of the stage. Default `10m`.
    #[serde(default = "default_time_budget", with = "humantime_serde")]
    pub time_budget: Duration,
    /// Most probes answered by one container. Default 32.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
}

impl Default for MinimizeConfig {
    fn default() -> Self {
        Self {
            max_probes: default_max_probes(),
            time_budget: default_time_budget(),
            batch_size: default_batch_size(),
        }
    }
}

/// The localize stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizeConfig {
    /// Weights of the logistic scoring function.
    #[serde(default)]
    pub weights: Weights,
    /// Hypotheses kept. Default 10.
    #[serde(default = "default_max_hypotheses")]
    pub max_hypotheses: usize,
    /// Call-graph radius around the crash frames. Default 2.
    #[serde(default = "default_graph_radius")]
    pub graph_radius: u32,
    /// A change this long before the envelope's commit counts half. Default `30d`.
    #[serde(default = "default_half_life", with = "humantime_serde")]
    pub recent_change_half_life: Duration,
    /// Collect line coverage (coverage.py in the sandbox) for the spectrum signal.
    /// Default true.
    #[serde(default = "default_true")]
    pub coverage: bool,
    /// The coverage.py requirement vendored into the sandbox at engine start (pip on the
    /// engine's host). Default `coverage==7.6.1`.
    #[serde(default = "default_coverage_requirement")]
    pub coverage_requirement: String,
    /// How long the repository's own tests may run under coverage. Default `5m`.
    #[serde(default = "default_tests_timeout", with = "humantime_serde")]
    pub tests_timeout: Duration,
}

impl Default for LocalizeConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            max_hypotheses: default_max_hypotheses(),
            graph_radius: default_graph_radius(),
            recent_change_half_life: default_half_life(),
            coverage: true,
            coverage_requirement: default_coverage_requirement(),
            tests_timeout: default_tests_timeout(),
        }
    }
}

/// `score = 1 / (1 + exp(-(bias + Σ weight_s · value_s)))` over the signals' values in
/// `[0, 1]` (a signal that could not be computed counts 0).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Default -4.
    #[serde(default = "default_bias")]
    pub bias: f64,
    /// Default 2.5.
    #[serde(default = "default_w_crash")]
    pub crash_frame: f64,
    /// Default 4.
    #[serde(default = "default_w_spectrum")]
    pub spectrum: f64,
    /// Default 1.5.
    #[serde(default = "default_w_graph")]
    pub code_graph: f64,
    /// Default 3 (fitted on the buggy-service set, see repair/BENCHMARKS.md).
    #[serde(default = "default_w_return_value")]
    pub return_value: f64,
    /// Default 0.5.
    #[serde(default = "default_w_recent")]
    pub recent_change: f64,
    /// Default 1.
    #[serde(default = "default_w_cross")]
    pub cross_service: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            bias: default_bias(),
            crash_frame: default_w_crash(),
            spectrum: default_w_spectrum(),
            code_graph: default_w_graph(),
            return_value: default_w_return_value(),
            recent_change: default_w_recent(),
            cross_service: default_w_cross(),
        }
    }
}

impl Weights {
    /// The weights by signal name (`bias` included), as results show them.
    pub fn by_name(&self) -> BTreeMap<String, f64> {
        [
            ("bias", self.bias),
            ("crash_frame", self.crash_frame),
            ("spectrum", self.spectrum),
            ("code_graph", self.code_graph),
            ("return_value", self.return_value),
            ("recent_change", self.recent_change),
            ("cross_service", self.cross_service),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl MinimizeConfig {
    /// Problems, each named by its YAML path.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.max_probes == 0 {
            errors.push("minimize.max_probes: must be at least 1".to_string());
        }
        if self.time_budget.is_zero() {
            errors.push("minimize.time_budget: must be positive".to_string());
        }
        if !(1..=256).contains(&self.batch_size) {
            errors.push("minimize.batch_size: must be between 1 and 256".to_string());
        }
    }
}

impl LocalizeConfig {
    /// Problems, each named by its YAML path.
    pub fn validate(&self, errors: &mut Vec<String>) {
        let w = &self.weights;
        for (name, v) in w.by_name() {
            if !v.is_finite() {
                errors.push(format!("localize.weights.{name}: must be a finite number"));
            }
        }
        if self.max_hypotheses == 0 {
            errors.push("localize.max_hypotheses: must be at least 1".to_string());
        }
        if self.graph_radius > 5 {
            errors.push("localize.graph_radius: must be at most 5".to_string());
        }
        if self.recent_change_half_life.is_zero() {
            errors.push("localize.recent_change_half_life: must be positive".to_string());
        }
        if self.coverage && self.coverage_requirement.trim().is_empty() {
            errors.push("localize.coverage_requirement: must not be empty".to_string());
        }
        if self.tests_timeout.is_zero() {
            errors.push("localize.tests_timeout: must be positive".to_string());
        }
    }
}

fn default_max_probes() -> u32 {
    400
}
fn default_time_budget() -> Duration {
    Duration::from_secs(600)
}
fn default_batch_size() -> u32 {
    32
}
fn default_max_hypotheses() -> usize {
    10
}
fn default_graph_radius() -> u32 {
    2
}
fn default_half_life() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_true() -> bool {
    true
}
fn default_coverage_requirement() -> String {
    "coverage==7.6.1".to_string()
}
fn default_tests_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_bias() -> f64 {
    -4.0
}
fn default_w_crash() -> f64 {
    2.5
}
fn default_w_spectrum() -> f64 {
    4.0
}
fn default_w_graph() -> f64 {
    1.5
}
fn default_w_recent() -> f64 {
    0.5
}
fn default_w_return_value() -> f64 {
    3.0
}
fn default_w_cross() -> f64 {
    1.0
}
