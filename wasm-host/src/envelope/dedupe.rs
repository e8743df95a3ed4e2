//! Dedupe: at most one envelope per fingerprint per `dedupe_window`. The
//! envelopes suppressed meanwhile are counted and their number carried by the
//! next envelope of that fingerprint (`occurrences`), so the repair engine's
//! occurrence counts stay true.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Fingerprints remembered at most; past it the entries whose window has
/// passed and that carry nothing are forgotten first.
const MAX_FINGERPRINTS: usize = 100_000;

struct Seen {
    sent: Instant,
    suppressed: u64,
}

/// The fingerprints sent recently.
pub(crate) struct Dedupe {
    window: Duration,
    seen: HashMap<String, Seen>,
}

impl Dedupe {
    pub(crate) fn new(window: Duration) -> Self {
        Dedupe {
            window,
            seen: HashMap::new(),
        }
    }

    /// Counts one more suppressed occurrence of `fingerprint` when its window
    /// is open at `now` (true); false when it is not, and then an envelope of
    /// it is to be built and [`Dedupe::admit`]ted. Dedupe before assembly
    /// ([`super::memo`]) asks this.
    pub(crate) fn suppress(&mut self, fingerprint: &str, now: Instant) -> bool {
        if self.window.is_zero() {
            return false;
        }
        match self.seen.get_mut(fingerprint) {
            Some(s) if now.saturating_duration_since(s.sent) < self.window => {
                s.suppressed += 1;
                true
            }
            _ => false,
        }
    }

    /// `Some(occurrences)` when an envelope of `fingerprint` is to be sent at
    /// `now` (itself plus those suppressed since the last), `None` when it is
    /// suppressed.
    pub(crate) fn admit(&mut self, fingerprint: &str, now: Instant) -> Option<u64> {
        if self.window.is_zero() {
            return Some(1);
        }
        if let Some(s) = self.seen.get_mut(fingerprint) {
            if now.saturating_duration_since(s.sent) < self.window {
                s.suppressed += 1;
                return None;
            }
            let occurrences = 1 + s.suppressed;
            *s = Seen {
                sent: now,
                suppressed: 0,
            };
            return Some(occurrences);
        }
        if self.seen.len() >= MAX_FINGERPRINTS {
            let window = self.window;
            self.seen
                .retain(|_, s| s.suppressed > 0 || now.saturating_duration_since(s.sent) < window);
        }
        self.seen.insert(
            fingerprint.to_owned(),
            Seen {
                sent: now,
                suppressed: 0,
            },
        );
        Some(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_envelope_per_window_carries_the_suppressed_count() {
        let t0 = Instant::now();
        let mut d = Dedupe::new(Duration::from_secs(60));
        assert_eq!(d.admit("aa", t0), Some(1));
        assert_eq!(d.admit("aa", t0 + Duration::from_secs(1)), None);
        assert_eq!(d.admit("bb", t0 + Duration::from_secs(1)), Some(1));
        assert_eq!(d.admit("aa", t0 + Duration::from_secs(59)), None);
        assert_eq!(d.admit("aa", t0 + Duration::from_secs(60)), Some(3));
        assert_eq!(d.admit("aa", t0 + Duration::from_secs(121)), Some(1));
        // Occurrences counted before assembly join the same count.
        assert!(d.suppress("bb", t0 + Duration::from_secs(2)));
        assert!(!d.suppress("cc", t0 + Duration::from_secs(2)));
        assert!(!d.suppress("bb", t0 + Duration::from_secs(61)));
        assert_eq!(d.admit("bb", t0 + Duration::from_secs(61)), Some(2));
        let mut off = Dedupe::new(Duration::ZERO);
        assert!(!off.suppress("aa", t0));
        assert_eq!(
            (off.admit("aa", t0), off.admit("aa", t0)),
            (Some(1), Some(1))
        );
    }
}
