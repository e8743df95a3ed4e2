//! Runs the senders: workers each own a connection and replay bodies from the pool,
//! paced to a target rate or flat out, until a duration or an item count is reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::client::{Client, ClientError, Outcome, Target};
use crate::pool::Pool;
use crate::stats::{LiveCounters, WorkerStats};

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this long (requests in flight then are finished and counted).
    After(Duration),
    /// After the pool's count-bounded requests are all sent.
    Count,
}

/// How to drive the workers.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Concurrent senders, each with its own connection.
    pub workers: usize,
    /// Target items per second across all workers; 0 for as fast as possible.
    pub rate: f64,
    /// Items per full request (for pacing).
    pub batch_size: usize,
    /// When to stop.
    pub stop: Stop,
    /// Print progress to stderr this often.
    pub report_every: Option<Duration>,
    /// Progress lines as JSON objects.
    pub json: bool,
}

/// Errors that stop a run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A worker could not connect.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A worker task panicked or was cancelled.
    #[error("worker task failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// Sends until `plan.stop`; returns the merged stats and the wall time taken.
pub async fn run(
    target: &Target,
    pool: Arc<Pool>,
    plan: &RunPlan,
) -> Result<(WorkerStats, Duration), RunError> {
    let workers = plan.workers.max(1);
    // Connect every worker first so connection set-up is not part of the measurement.
    let mut clients = Vec::with_capacity(workers);
    for _ in 0..workers {
        clients.push(Client::connect(target).await?);
    }
    let live = Arc::new(LiveCounters::default());
    let next_request = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = match plan.stop {
        Stop::After(d) => Some(start + d),
        Stop::Count => None,
    };
    // Each worker sends one request per `period`, so together they reach the rate.
    let period = (plan.rate > 0.0).then(|| {
        Duration::from_secs_f64(workers as f64 * plan.batch_size.max(1) as f64 / plan.rate)
    });

    let mut tasks = JoinSet::new();
    for (w, client) in clients.into_iter().enumerate() {
        let worker = Worker {
            client,
            pool: Arc::clone(&pool),
            live: Arc::clone(&live),
            next_request: Arc::clone(&next_request),
            deadline,
            // Stagger paced workers so their requests interleave instead of bursting.
            first_send: start + period.map_or(Duration::ZERO, |p| p * w as u32 / workers as u32),
            period,
        };
        tasks.spawn(worker.run());
    }
    let reporter = plan
        .report_every
        .map(|every| tokio::spawn(report_progress(Arc::clone(&live), every, plan.json)));

    let mut total = WorkerStats::new();
    while let Some(stats) = tasks.join_next().await {
        total.merge(&stats?);
    }
    let elapsed = start.elapsed();
    if let Some(r) = reporter {
        r.abort();
    }
    Ok((total, elapsed))
}

struct Worker {
    client: Client,
    pool: Arc<Pool>,
    live: Arc<LiveCounters>,
    next_request: Arc<AtomicU64>,
    deadline: Option<Instant>,
    first_send: Instant,
    period: Option<Duration>,
}

impl Worker {
    async fn run(mut self) -> WorkerStats {
        let mut stats = WorkerStats::new();
        let mut ticker = self.period.map(|p| {
            let mut t = tokio::time::interval_at(self.first_send, p);
            // Catch up after a stall so the run's average rate is the one asked for.
            t.set_missed_tick_behavior(MissedTickBehavior::Burst);
            t
        });
        loop {
            if let Some(t) = ticker.as_mut() {
                match self.deadline {
                    // A slow pace must not carry the run past its deadline.
                    Some(deadline) => tokio::select! {
                        _ = t.tick() => {}
                        () = tokio::time::sleep_until(deadline) => break,
                    },
                    None => {
                        t.tick().await;
                    }
                }
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            // Workers claim request numbers from one counter, so every request of the
            // run is sent once: a count is exact and a pass over the pool is not sent
            // twice (which would repeat its ids).
            let n = self.next_request.fetch_add(1, Ordering::Relaxed);
            if self.pool.total_requests().is_some_and(|total| n >= total) {
                break;
            }
            let body = self.pool.request(n);
            let started = Instant::now();
            let outcome = self.client.send(&body).await;
            let latency = started.elapsed();
            stats.record(
                &outcome,
                body.items,
                body.bytes.len() as u64,
                latency,
                &self.live,
            );
            if matches!(&outcome, Outcome::Failed { status, .. } if status == "transport") {
                // The server is gone or refusing; do not spin on reconnects.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        stats
    }
}

async fn report_progress(live: Arc<LiveCounters>, every: Duration, json: bool) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let (mut last_items, mut last_requests) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        ticker.tick().await;
        let items = live.items_ok.load(Ordering::Relaxed);
        let requests = live.requests_ok.load(Ordering::Relaxed);
        let failed = live.requests_failed.load(Ordering::Relaxed);
        let secs = every.as_secs_f64();
        let items_per_s = (items - last_items) as f64 / secs;
        let requests_per_s = (requests - last_requests) as f64 / secs;
        let t = start.elapsed().as_secs_f64();
        if json {
            eprintln!(
                "{}",
                serde_json::json!({
                    "t_s": t, "items_sent": items, "requests_sent": requests,
                    "requests_failed": failed, "items_per_s": items_per_s,
                    "requests_per_s": requests_per_s,
                })
            );
        } else {
            eprintln!(
                "[{t:6.1}s] {items_per_s:10.0} items/s  {requests_per_s:8.1} req/s  sent {items}  failed requests {failed}"
            );
        }
        last_items = items;
        last_requests = requests;
    }
}
