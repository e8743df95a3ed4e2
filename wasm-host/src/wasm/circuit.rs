//! The circuit breaker of one plugin: after `consecutive_faults` faulted
//! calls in a row the circuit opens and batches skip the guest (following
//! `on_error`) for `open_for`; then one trial call is let through, and its
//! success closes the circuit again. The state is what `health_check` reports.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Health of a WASM plugin, for the `health_check` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The last call succeeded (or there was none yet).
    Healthy,
    /// Recent calls faulted, but fewer than the threshold.
    Degraded {
        /// Faulted calls in a row.
        consecutive_faults: u32,
        /// The last fault.
        last_fault: String,
    },
    /// The circuit is open: the guest is not being called.
    Unhealthy {
        /// Faulted calls in a row when it opened.
        consecutive_faults: u32,
        /// The fault that opened it.
        last_fault: String,
    },
}

impl Health {
    /// `true` unless the circuit is open.
    pub fn is_serving(&self) -> bool {
        !matches!(self, Health::Unhealthy { .. })
    }
}

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One trial call is in flight; everyone else is still refused.
    Trial,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive: u32,
    last_fault: String,
}

/// A consecutive-fault circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// Opens after `threshold` faults in a row, for `open_for`.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive: 0,
                last_fault: String::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the state
        // inconsistent (plain assignments), so a poisoned lock is still good.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call go to the guest now?
    pub fn allow(&self) -> bool {
        let mut g = self.lock();
        match g.state {
            State::Closed => true,
            State::Open { until } if Instant::now() >= until => {
                g.state = State::Trial;
                true
            }
            State::Open { .. } | State::Trial => false,
        }
    }

    /// Records a successful call.
    pub fn success(&self) {
        let mut g = self.lock();
        g.state = State::Closed;
        g.consecutive = 0;
    }

    /// Records a faulted call; returns `true` if this opened the circuit.
    pub fn fault(&self, message: &str) -> bool {
        let mut g = self.lock();
        g.consecutive = g.consecutive.saturating_add(1);
        message.clone_into(&mut g.last_fault);
        let was_closed = matches!(g.state, State::Closed);
        // A failed trial reopens at once, whatever the count.
        if !was_closed || g.consecutive >= self.threshold {
            g.state = State::Open {
                until: Instant::now() + self.open_for,
            };
            return was_closed;
        }
        false
    }

    /// The current health.
    pub fn health(&self) -> Health {
        let g = self.lock();
        match g.state {
            State::Closed if g.consecutive == 0 => Health::Healthy,
            State::Closed => Health::Degraded {
                consecutive_faults: g.consecutive,
                last_fault: g.last_fault.clone(),
            },
            State::Open { .. } | State::Trial => Health::Unhealthy {
                consecutive_faults: g.consecutive,
                last_fault: g.last_fault.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_closes_after_trial() {
        let c = CircuitBreaker::new(2, Duration::from_millis(20));
        assert_eq!(c.health(), Health::Healthy);
        assert!(c.allow());
        assert!(!c.fault("a"));
        assert!(matches!(
            c.health(),
            Health::Degraded {
                consecutive_faults: 1,
                ..
            }
        ));
        assert!(c.fault("b"));
        assert!(!c.allow());
        assert!(!c.health().is_serving());
        std::thread::sleep(Duration::from_millis(30));
        assert!(c.allow(), "one trial after open_for");
        assert!(!c.allow(), "only one trial at a time");
        c.success();
        assert_eq!(c.health(), Health::Healthy);
        assert!(c.allow());
    }

    #[test]
    fn failed_trial_reopens() {
        let c = CircuitBreaker::new(1, Duration::from_millis(10));
        c.fault("x");
        std::thread::sleep(Duration::from_millis(15));
        assert!(c.allow());
        c.fault("y");
        assert!(!c.allow());
        assert!(
            matches!(c.health(), Health::Unhealthy { ref last_fault, .. } if last_fault == "y")
        );
    }
}
