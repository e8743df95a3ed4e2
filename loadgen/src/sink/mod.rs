//! The counting sink: an OTLP receiver (gRPC and HTTP) that counts spans, log records,
//! requests and bytes, and nothing else, so it can stand behind a collector under test
//! without becoming the bottleneck.

pub mod count;
mod grpc;
mod http;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::generate::Signal;
use grpc::CountingService;

/// How to run the sink.
#[derive(Debug, Clone)]
pub struct SinkPlan {
    /// OTLP/gRPC listen address.
    pub grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    pub http: SocketAddr,
    /// Print progress to stderr this often.
    pub report_every: Option<Duration>,
    /// Progress and totals as JSON.
    pub json: bool,
    /// Items (spans + log records) the run is expected to deliver.
    pub expect: Option<u64>,
    /// Stop once `expect` items have arrived.
    pub exit_when_done: bool,
}

/// Errors that keep the sink from starting.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Installing the signal handler failed.
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

/// Why the sink stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Signal,
    /// `--expect` items arrived with `--exit-when-done`.
    Expected,
}

/// Shared counters, updated by every request handler.
#[derive(Debug)]
pub struct SinkCounters {
    start: Instant,
    requests: AtomicU64,
    spans: AtomicU64,
    log_records: AtomicU64,
    /// Spans plus log records, kept apart so `--expect` has one counter to watch.
    items: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds since `start` of the first and latest counted request; the first
    /// is u64::MAX until one arrives.
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    expect: Option<u64>,
    done: Notify,
}

impl SinkCounters {
    fn new(expect: Option<u64>) -> Self {
        Self {
            start: Instant::now(),
            requests: AtomicU64::new(0),
            spans: AtomicU64::new(0),
            log_records: AtomicU64::new(0),
            items: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_ns: AtomicU64::new(u64::MAX),
            last_ns: AtomicU64::new(0),
            expect,
            done: Notify::new(),
        }
    }

    /// Counts one well-formed request of `items` items and `bytes` wire bytes.
    pub fn record(&self, signal: Signal, items: u64, bytes: u64) {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.first_ns.fetch_min(now, Ordering::Relaxed);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        match signal {
            Signal::Traces => self.spans.fetch_add(items, Ordering::Relaxed),
            Signal::Logs => self.log_records.fetch_add(items, Ordering::Relaxed),
        };
        let before = self.items.fetch_add(items, Ordering::Relaxed);
        // Only the request that crosses the line signals, so it fires exactly once.
        if let Some(expect) = self.expect
            && before < expect
            && before + items >= expect
        {
            self.done.notify_one();
        }
    }

    /// Counts a malformed or refused request.
    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of the totals so far.
    pub fn totals(&self, stopped_by: Option<StopReason>) -> SinkTotals {
        let first = self.first_ns.load(Ordering::Relaxed);
        let last = self.last_ns.load(Ordering::Relaxed);
        let active_s = if first == u64::MAX {
            0.0
        } else {
            (last - first) as f64 / 1e9
        };
        let spans = self.spans.load(Ordering::Relaxed);
        let log_records = self.log_records.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        // Rates over the window from the first to the last request, so idle time before
        // and after a benchmark does not dilute them.
        let rate = |n: u64| {
            if active_s > 0.0 {
                n as f64 / active_s
            } else {
                0.0
            }
        };
        SinkTotals {
            requests,
            spans,
            log_records,
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            elapsed_s: self.start.elapsed().as_secs_f64(),
            active_s,
            spans_per_s: rate(spans),
            log_records_per_s: rate(log_records),
            requests_per_s: rate(requests),
            expected: self.expect,
            stopped_by,
        }
    }
}

/// The sink's totals; `--json` prints exactly this object at exit.
#[derive(Debug, Clone, Serialize)]
pub struct SinkTotals {
    /// Well-formed export requests.
    pub requests: u64,
    /// Spans counted.
    pub spans: u64,
    /// Log records counted.
    pub log_records: u64,
    /// Request body bytes as received (compressed if sent compressed).
    pub bytes: u64,
    /// Malformed or refused requests.
    pub errors: u64,
    /// Seconds since the sink started.
    pub elapsed_s: f64,
    /// Seconds from the first to the last counted request.
    pub active_s: f64,
    /// Spans per second over `active_s`.
    pub spans_per_s: f64,
    /// Log records per second over `active_s`.
    pub log_records_per_s: f64,
    /// Requests per second over `active_s`.
    pub requests_per_s: f64,
    /// The `--expect` value, if any.
    pub expected: Option<u64>,
    /// Why the sink stopped; absent in progress lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<StopReason>,
}

impl SinkTotals {
    /// The human-readable report.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "sink totals: requests {}  spans {}  log records {}  bytes {}  errors {}",
            self.requests, self.spans, self.log_records, self.bytes, self.errors
        );
        let _ = writeln!(
            s,
            "active {:.2} s: {:.0} spans/s  {:.0} log records/s  {:.1} requests/s",
            self.active_s, self.spans_per_s, self.log_records_per_s, self.requests_per_s
        );
        if let Some(expect) = self.expected {
            let got = self.spans + self.log_records;
            let _ = writeln!(s, "expected {expect}, got {got}");
        }
        s
    }
}

/// Listens on both addresses, announces them on stderr as
/// `tracemend-loadgen sink listening grpc=ADDR http=ADDR` (so a script that asked for
/// port 0 can read the real ports), counts until stopped, and returns the totals.
pub async fn run(plan: &SinkPlan) -> Result<SinkTotals, SinkError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| SinkError::Bind { addr, source })
    };
    let grpc_listener = bind(plan.grpc).await?;
    let http_listener = bind(plan.http).await?;
    let local = |l: &TcpListener, addr: SocketAddr| l.local_addr().unwrap_or(addr);
    let grpc_addr = local(&grpc_listener, plan.grpc);
    let http_addr = local(&http_listener, plan.http);

    let counters = Arc::new(SinkCounters::new(plan.expect));
    let (stop_tx, stop_rx) = watch::channel(false);

    let grpc_server = {
        let mut shutdown = stop_rx.clone();
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20)
            // Export requests are hundreds of KiB; 16 KiB frames (the HTTP/2 default)
            // cost a frame header, a flow-control update and a wake-up each.
            .max_frame_size(1 << 20)
            .serve_with_incoming_shutdown(
                CountingService::new(Arc::clone(&counters)),
                tonic::transport::server::TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
                async move {
                    let _ = shutdown.changed().await;
                },
            )
    };
    let grpc_task = tokio::spawn(grpc_server);
    let http_task = tokio::spawn(http::serve(
        http_listener,
        Arc::clone(&counters),
        stop_rx.clone(),
    ));
    eprintln!("tracemend-loadgen sink listening grpc={grpc_addr} http={http_addr}");
    tracing::info!(%grpc_addr, %http_addr, "Sink started.");

    let reporter = plan
        .report_every
        .map(|every| tokio::spawn(report_progress(Arc::clone(&counters), every, plan.json)));

    let reason = wait_for_stop(&counters, plan).await?;
    let _ = stop_tx.send(true);
    if let Some(r) = reporter {
        r.abort();
    }
    // In-flight requests are already counted or will be refused; do not wait long on
    // clients that keep connections open.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = grpc_task.await;
        let _ = http_task.await;
    })
    .await;
    Ok(counters.totals(Some(reason)))
}

async fn wait_for_stop(counters: &SinkCounters, plan: &SinkPlan) -> Result<StopReason, SinkError> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(SinkError::Signal)?;
    let expected = async {
        if plan.expect.is_none() {
            return std::future::pending().await;
        }
        counters.done.notified().await;
        tracing::info!(expect = plan.expect, "Expected item count reached.");
        if !plan.exit_when_done {
            std::future::pending::<()>().await;
        }
    };
    Ok(tokio::select! {
        _ = tokio::signal::ctrl_c() => StopReason::Signal,
        _ = terminate.recv() => StopReason::Signal,
        () = expected => StopReason::Expected,
    })
}

async fn report_progress(counters: Arc<SinkCounters>, every: Duration, json: bool) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut last = counters.totals(None);
    loop {
        ticker.tick().await;
        let now = counters.totals(None);
        let secs = every.as_secs_f64();
        let spans_per_s = (now.spans - last.spans) as f64 / secs;
        let logs_per_s = (now.log_records - last.log_records) as f64 / secs;
        let requests_per_s = (now.requests - last.requests) as f64 / secs;
        if json {
            eprintln!(
                "{}",
                serde_json::json!({
                    "t_s": now.elapsed_s, "spans": now.spans, "log_records": now.log_records,
                    "requests": now.requests, "errors": now.errors,
                    "spans_per_s": spans_per_s, "log_records_per_s": logs_per_s,
                    "requests_per_s": requests_per_s,
                })
            );
        } else {
            eprintln!(
                "[{:6.1}s] {spans_per_s:10.0} spans/s {logs_per_s:10.0} logs/s {requests_per_s:8.1} req/s  total spans {} logs {} errors {}",
                now.elapsed_s, now.spans, now.log_records, now.errors
            );
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_signal() {
        let c = SinkCounters::new(None);
        c.record(Signal::Traces, 6, 100);
        c.record(Signal::Logs, 6, 100);
        c.record(Signal::Logs, 6, 100);
        c.record_error();
        let t = c.totals(None);
        assert_eq!(
            (t.spans, t.log_records, t.requests, t.bytes),
            (6, 12, 3, 300)
        );
        assert_eq!(t.errors, 1);
    }

    #[tokio::test]
    async fn expect_fires_when_crossed() {
        let c = SinkCounters::new(Some(10));
        c.record(Signal::Traces, 6, 100);
        let early = tokio::time::timeout(Duration::from_millis(20), c.done.notified()).await;
        assert!(early.is_err(), "fired before the expected count");
        c.record(Signal::Logs, 6, 100);
        let done = tokio::time::timeout(Duration::from_secs(1), c.done.notified()).await;
        assert!(done.is_ok(), "did not fire at the expected count");
    }
}
