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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(randomization_factor: f64) -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            randomization_factor,
            multiplier: 2.0,
            max_interval: Duration::from_secs(5),
            max_elapsed_time: Duration::from_secs(60),
        }
    }

    #[test]
    fn without_jitter_the_wait_grows_by_the_multiplier_up_to_the_bound() {
        let mut b = cfg(0.0).backoff();
        let waits: Vec<f64> = (0..6).map(|_| b.next_wait().as_secs_f64()).collect();
        assert_eq!(waits, [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]);
    }

    #[test]
    fn jitter_stays_within_the_randomization_factor() {
        for _ in 0..200 {
            let mut b = cfg(0.5).backoff();
            for base in [1.0, 2.0, 4.0, 5.0, 5.0] {
                let w = b.next_wait().as_secs_f64();
                assert!(
                    (base * 0.5..=base * 1.5).contains(&w),
                    "wait {w} outside [{}, {}]",
                    base * 0.5,
                    base * 1.5
                );
            }
        }
    }

    #[test]
    fn defaults_are_otelcols() {
        let d = RetryConfig::default();
        assert!(d.enabled);
        assert_eq!(d.initial_interval, Duration::from_secs(5));
        assert_eq!(d.randomization_factor, 0.5);
        assert_eq!(d.multiplier, 1.5);
        assert_eq!(d.max_interval, Duration::from_secs(30));
        assert_eq!(d.max_elapsed_time, Duration::from_secs(300));
        assert!(d.validate("retry_on_failure").is_empty());
    }

    #[test]
    fn each_rule_names_its_key() {
        let bad = RetryConfig {
            enabled: true,
            initial_interval: Duration::ZERO,
            randomization_factor: 1.5,
            multiplier: 0.5,
            max_interval: Duration::ZERO,
            max_elapsed_time: Duration::ZERO,
        };
        let paths: Vec<String> = bad
            .validate("retry_on_failure")
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "retry_on_failure.randomization_factor",
                "retry_on_failure.multiplier",
                "retry_on_failure.initial_interval",
            ]
        );
        let inverted = RetryConfig {
            max_interval: Duration::from_millis(500),
            ..cfg(0.0)
        };
        let errors = inverted.validate("r");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "r.max_interval");
        assert_eq!(errors[0].message, "must be at least initial_interval");
    }

    #[test]
    fn yaml_durations_are_strings() {
        let c: RetryConfig =
            serde_yaml::from_str("initial_interval: 200ms\nmax_interval: 2s").expect("parses");
        assert_eq!(c.initial_interval, Duration::from_millis(200));
        assert_eq!(c.max_interval, Duration::from_secs(2));
        assert!(serde_yaml::from_str::<RetryConfig>("initial: 1s").is_err());
    }
}
