//! `retry_on_failure`: exponential backoff with jitter, as otelcol's exporterhelper.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use crate::config::ConfigError;

/// `retry_on_failure`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Wait before the first retry. Default `5s`.
    #[serde(default = "default_initial", with = "humantime_serde")]
    pub initial_interval: Duration,
    /// Jitter as a fraction of the interval. Default 0.5.
    #[serde(default = "default_randomization")]
    pub randomization_factor: f64,
    /// Growth of the interval per retry. Default 1.5.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Upper bound on one wait. Default `30s`.
    #[serde(default = "default_max_interval", with = "humantime_serde")]
    pub max_interval: Duration,
    /// Give up on a batch after retrying this long; `0s` retries forever. Default `300s`.
    #[serde(default = "default_max_elapsed", with = "humantime_serde")]
    pub max_elapsed_time: Duration,
}

fn yes() -> bool {
    true
}
fn default_initial() -> Duration {
    Duration::from_secs(5)
}
fn default_randomization() -> f64 {
    0.5
}
fn default_multiplier() -> f64 {
    1.5
}
fn default_max_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_max_elapsed() -> Duration {
    Duration::from_secs(300)
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: default_initial(),
            randomization_factor: default_randomization(),
            multiplier: default_multiplier(),
            max_interval: default_max_interval(),
            max_elapsed_time: default_max_elapsed(),
        }
    }
}

impl RetryConfig {
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            errors.push(ConfigError::new(
                format!("{path}.randomization_factor"),
                "must be between 0 and 1",
            ));
        }
        if self.multiplier < 1.0 {
            errors.push(ConfigError::new(
                format!("{path}.multiplier"),
                "must be at least 1",
            ));
        }
        if self.enabled && self.initial_interval.is_zero() {
            errors.push(ConfigError::new(
                format!("{path}.initial_interval"),
                "must be greater than 0",
            ));
        }
        if self.max_interval < self.initial_interval {
            errors.push(ConfigError::new(
                format!("{path}.max_interval"),
                "must be at least initial_interval",
            ));
        }
        errors
    }

    pub fn backoff(&self) -> Backoff {
        Backoff {
            next: self.initial_interval,
            cfg: self.clone(),
        }
    }
}

pub struct Backoff {
    next: Duration,
    cfg: RetryConfig,
}

impl Backoff {
    /// The next wait, with jitter; grows by `multiplier` up to `max_interval`.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.next.as_secs_f64();
        let delta = base * self.cfg.randomization_factor;
        let wait = if delta > 0.0 {
            rand::rng().random_range(base - delta..=base + delta)
        } else {
            base
        };
        self.next = Duration::from_secs_f64(
            (base * self.cfg.multiplier).min(self.cfg.max_interval.as_secs_f64()),
        );
        Duration::from_secs_f64(wait.max(0.0))
    }
}
