//! `rate_limiting`: spans per second through a token bucket.

use super::{Trace, Verdict, sampled_if};

/// Sampled while the bucket holds the trace's span count.
pub(super) fn evaluate(t: &Trace<'_>, bucket: &mut TokenBucket) -> Verdict {
    sampled_if(bucket.allow(t.now_unix_nano, t.span_count as f64))
}

/// A token bucket like Go's `rate.Limiter` (which contrib's rate_limiting
/// and bytes_limiting use): it starts full, refills continuously at `rate`
/// per second up to `burst`, and admits `n` only if `n` tokens are there.
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_unix_nano: Option<u64>,
}

impl TokenBucket {
    /// `burst` 0 or less means twice the rate, as contrib.
    pub(crate) fn new(per_second: i64, burst: i64) -> Self {
        let rate = per_second as f64;
        let burst = if burst > 0 { burst as f64 } else { rate * 2.0 };
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last_unix_nano: None,
        }
    }

    pub(crate) fn allow(&mut self, now_unix_nano: u64, n: f64) -> bool {
        if let Some(last) = self.last_unix_nano {
            // A clock that steps back refills nothing rather than going negative.
            let elapsed = now_unix_nano.saturating_sub(last) as f64 / 1e9;
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        if self.last_unix_nano.is_none_or(|l| now_unix_nano > l) {
            self.last_unix_nano = Some(now_unix_nano);
        }
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_starts_full_and_refills() {
        let s = 1_000_000_000u64;
        let mut b = TokenBucket::new(10, 0); // burst 20
        assert!(b.allow(s, 20.0));
        assert!(!b.allow(s, 1.0));
        // Half a second later: 5 tokens.
        assert!(b.allow(s + s / 2, 5.0));
        assert!(!b.allow(s + s / 2, 1.0));
        // Much later: capped at the burst.
        assert!(!b.allow(100 * s, 21.0));
        assert!(b.allow(100 * s, 20.0));
        // More than the burst never passes.
        let mut b = TokenBucket::new(10, 15);
        assert!(!b.allow(s, 16.0));
        assert!(b.allow(s, 15.0));
    }
}
