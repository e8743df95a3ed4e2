//! Sender-side counts and latency, and the summary printed at the end of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::Outcome;

/// Latencies are recorded in microseconds up to this bound (one hour); slower
/// requests saturate to it rather than being lost.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Counters shared with the progress reporter while workers run.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Requests accepted.
    pub requests_ok: AtomicU64,
    /// Items in accepted requests.
    pub items_ok: AtomicU64,
    /// Requests not accepted.
    pub requests_failed: AtomicU64,
    /// Items in requests not accepted.
    pub items_failed: AtomicU64,
}

/// What one worker saw; merged into one at the end.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    latency_us: Histogram<u64>,
    requests_ok: u64,
    items_ok: u64,
    items_rejected: u64,
    requests_failed: u64,
    items_failed: u64,
    retryable_failures: u64,
    bytes_sent: u64,
    failures: BTreeMap<String, u64>,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerStats {
    /// Empty stats.
    pub fn new() -> Self {
        Self {
            // 3 significant digits, from 1 µs up to an hour: ~100 KiB per worker.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            requests_ok: 0,
            items_ok: 0,
            items_rejected: 0,
            requests_failed: 0,
            items_failed: 0,
            retryable_failures: 0,
            bytes_sent: 0,
            failures: BTreeMap::new(),
        }
    }

    /// Records one request of `items` items and `bytes` bytes that took `latency`.
    pub fn record(
        &mut self,
        outcome: &Outcome,
        items: u64,
        bytes: u64,
        latency: Duration,
        live: &LiveCounters,
    ) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
        self.bytes_sent += bytes;
        match outcome {
            Outcome::Ok { rejected } => {
                self.requests_ok += 1;
                self.items_ok += items;
                self.items_rejected += rejected;
                live.requests_ok.fetch_add(1, Ordering::Relaxed);
                live.items_ok.fetch_add(items, Ordering::Relaxed);
            }
            Outcome::Failed { status, retryable } => {
                self.requests_failed += 1;
                self.items_failed += items;
                if *retryable {
                    self.retryable_failures += 1;
                }
                *self.failures.entry(status.clone()).or_default() += 1;
                live.requests_failed.fetch_add(1, Ordering::Relaxed);
                live.items_failed.fetch_add(items, Ordering::Relaxed);
            }
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &WorkerStats) {
        // Both histograms share bounds, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.requests_ok += other.requests_ok;
        self.items_ok += other.items_ok;
        self.items_rejected += other.items_rejected;
        self.requests_failed += other.requests_failed;
        self.items_failed += other.items_failed;
        self.retryable_failures += other.retryable_failures;
        self.bytes_sent += other.bytes_sent;
        for (status, n) in &other.failures {
            *self.failures.entry(status.clone()).or_default() += n;
        }
    }
}

/// Describes the run, echoed in the summary so a saved result explains itself.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// `traces` or `logs`.
    pub signal: crate::generate::Signal,
    /// `grpc` or `http`.
    pub protocol: crate::client::Protocol,
    /// `proto` or `json`.
    pub encoding: crate::encode::Encoding,
    /// `none` or `gzip`.
    pub compression: crate::encode::Compression,
    /// Where requests went.
    pub endpoint: String,
    /// Concurrent senders.
    pub workers: usize,
    /// Items per request.
    pub batch_size: usize,
    /// Target items/s; 0 means as fast as possible.
    pub target_rate: f64,
    /// Mean size of one encoded request body in bytes.
    pub request_bytes: usize,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest request.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// The end-of-run result; `--json` prints exactly this object.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The run's parameters.
    #[serde(flatten)]
    pub info: RunInfo,
    /// Wall time from the first request to the last answer, in seconds.
    pub elapsed_s: f64,
    /// Requests accepted (any 2xx / gRPC OK).
    pub requests_sent: u64,
    /// Requests not accepted (error status, timeout or transport failure).
    pub requests_failed: u64,
    /// Items in accepted requests.
    pub items_sent: u64,
    /// Items in requests not accepted.
    pub items_failed: u64,
    /// Items the server refused through OTLP partial success (included in `items_sent`).
    pub items_rejected: u64,
    /// Failed requests whose status OTLP says to retry (gRPC UNAVAILABLE,
    /// RESOURCE_EXHAUSTED, ...; HTTP 429, 502, 503, 504; timeouts).
    pub requests_retryable: u64,
    /// Accepted items per second.
    pub items_per_s: f64,
    /// Accepted requests per second.
    pub requests_per_s: f64,
    /// Body bytes written per second (after compression).
    pub bytes_per_s: f64,
    /// Request latency, microseconds, over all requests.
    pub latency_us: Latency,
    /// Failed requests by status (`grpc UNAVAILABLE`, `http 503`, `timeout`, `transport`).
    pub failures: BTreeMap<String, u64>,
}

impl Summary {
    /// Builds the summary of a run that took `elapsed`.
    pub fn new(info: RunInfo, stats: &WorkerStats, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let h = &stats.latency_us;
        let latency = if h.is_empty() {
            Latency {
                p50: 0,
                p90: 0,
                p99: 0,
                max: 0,
                mean: 0.0,
            }
        } else {
            Latency {
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                max: h.max(),
                mean: h.mean(),
            }
        };
        Self {
            info,
            elapsed_s: elapsed.as_secs_f64(),
            requests_sent: stats.requests_ok,
            requests_failed: stats.requests_failed,
            items_sent: stats.items_ok,
            items_failed: stats.items_failed,
            items_rejected: stats.items_rejected,
            requests_retryable: stats.retryable_failures,
            items_per_s: stats.items_ok as f64 / secs,
            requests_per_s: stats.requests_ok as f64 / secs,
            bytes_per_s: stats.bytes_sent as f64 / secs,
            latency_us: latency,
            failures: stats.failures.clone(),
        }
    }

    /// The human-readable report.
    pub fn human(&self) -> String {
        let i = &self.info;
        let rate = if i.target_rate > 0.0 {
            format!("{:.0} items/s", i.target_rate)
        } else {
            "unlimited".into()
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} over {} ({}, {}) to {}: {} workers, batch {}, rate {}, {} B/request",
            name(&i.signal),
            name(&i.protocol),
            name(&i.encoding),
            name(&i.compression),
            i.endpoint,
            i.workers,
            i.batch_size,
            rate,
            i.request_bytes
        );
        let _ = writeln!(s, "elapsed     {:.2} s", self.elapsed_s);
        let _ = writeln!(
            s,
            "requests    sent {}  failed {}  (retryable {})",
            self.requests_sent, self.requests_failed, self.requests_retryable
        );
        let _ = writeln!(
            s,
            "items       sent {}  failed {}  rejected {}",
            self.items_sent, self.items_failed, self.items_rejected
        );
        let _ = writeln!(
            s,
            "throughput  {:.0} items/s  {:.1} requests/s  {:.1} MiB/s",
            self.items_per_s,
            self.requests_per_s,
            self.bytes_per_s / (1024.0 * 1024.0)
        );
        let l = &self.latency_us;
        let _ = writeln!(
            s,
            "latency     p50 {}  p90 {}  p99 {}  max {}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        );
        for (status, n) in &self.failures {
            let _ = writeln!(s, "failure     {status}: {n}");
        }
        s
    }
}

/// The same lower-case name the JSON output uses.
fn name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Protocol;
    use crate::encode::{Compression, Encoding};
    use crate::generate::Signal;

    fn info() -> RunInfo {
        RunInfo {
            signal: Signal::Traces,
            protocol: Protocol::Grpc,
            encoding: Encoding::Proto,
            compression: Compression::None,
            endpoint: "127.0.0.1:4317".into(),
            workers: 1,
            batch_size: 10,
            target_rate: 0.0,
            request_bytes: 100,
        }
    }

    #[test]
    fn summary_counts_and_percentiles() -> Result<(), serde_json::Error> {
        let live = LiveCounters::default();
        let mut a = WorkerStats::new();
        let mut b = WorkerStats::new();
        for ms in 1..=100 {
            a.record(
                &Outcome::Ok { rejected: 0 },
                10,
                100,
                Duration::from_millis(ms),
                &live,
            );
        }
        let unavailable = Outcome::Failed {
            status: "grpc UNAVAILABLE".into(),
            retryable: true,
        };
        b.record(&unavailable, 10, 100, Duration::from_millis(1), &live);
        a.merge(&b);
        let s = Summary::new(info(), &a, Duration::from_secs(2));
        assert_eq!(s.requests_sent, 100);
        assert_eq!(s.items_sent, 1000);
        assert_eq!(s.items_failed, 10);
        assert_eq!(s.requests_retryable, 1);
        assert_eq!(s.failures.get("grpc UNAVAILABLE"), Some(&1));
        assert!((s.items_per_s - 500.0).abs() < 1e-9);
        // 3 significant digits: within 0.1%.
        assert!((49_900..=50_100).contains(&s.latency_us.p50));
        assert!((99_900..=100_100).contains(&s.latency_us.max));
        let json: serde_json::Value = serde_json::to_value(&s)?;
        assert_eq!(json["signal"], "traces");
        assert_eq!(json["items_sent"], 1000);
        assert!(json["latency_us"]["p99"].is_u64());
        assert!(s.human().contains("grpc UNAVAILABLE: 1"));
        Ok(())
    }
}
