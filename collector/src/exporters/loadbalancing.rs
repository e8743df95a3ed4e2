//! `loadbalancing`: routes each trace (or each service) to one of a set of backend
//! collectors by consistent hashing, so a first tier can feed a second tier that does
//! tail sampling. The contrib exporter's schema: `routing_key: traceID|service`,
//! `protocol.otlp` (every `otlp` exporter setting except `endpoint`), and
//! `resolver.static.hostnames` or `resolver.dns` (`hostname`, `port`, `interval`,
//! `timeout`). Traces and logs; a log record routes by its trace id like its spans.
//!
//! Routing happens when a batch is sent, not when it is queued: the sending queue
//! (`protocol.otlp.sending_queue`, optionally persisted) holds batches as they came, and
//! each attempt splits what is still unsent by the ring of that moment, sends each part
//! to its backend, and keeps only the parts that failed for the next attempt. So when DNS
//! drops a backend, its pending data is re-hashed to the remaining ones at the next
//! attempt (woken at once by the ring change), and a batch persisted before a restart is
//! routed by the ring after it. Nothing queued belongs to a backend that can go away.
//!
//! Delivery is at least once: a persisted batch that was partly delivered when the
//! process stopped is sent whole after the restart.

mod ring;
mod split;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use serde::{Deserialize, Deserializer};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use ring::Ring;
use split::split;

use super::otlp::{OtlpExporterConfig, OtlpSender};
use super::queue::{self, Queue, QueueConfig};
use super::retry::RetryConfig;
use super::{Counters, SendError, Sender};
use crate::config::{AnyConfig, ComponentConfig, ConfigError};
use crate::factory::{Exporter, ExporterContext};
use crate::storage::DirStore;
use crate::telemetry::{
    BackendLabels, BackendOutcomeLabels, ResolutionLabels, ResolverLabels, SelfMetrics,
};

/// The port a backend is given when its hostname has none (OTLP/gRPC's).
const DEFAULT_PORT: u16 = 4317;

/// How long an in-memory queue keeps trying at shutdown before reporting data lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// `exporters.loadbalancing`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancingConfig {
    /// `traceID` (default): every span and log record of a trace goes to one backend;
    /// `service`: everything of a resource's `service.name` goes to one backend.
    #[serde(default)]
    pub routing_key: RoutingKey,
    /// How to reach the backends.
    #[serde(default)]
    pub protocol: ProtocolConfig,
    /// Where the backends' addresses come from. Required: `static` or `dns`.
    #[serde(default)]
    pub resolver: ResolverConfig,
    /// contrib's exporter-level `timeout`: when given, the time one send to a backend may
    /// take, in place of `protocol.otlp.timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// contrib's exporter-level queue: when given, used in place of
    /// `protocol.otlp.sending_queue` (there is one queue either way, routed at send time).
    #[serde(default)]
    pub sending_queue: Option<QueueConfig>,
    /// contrib's exporter-level retry: when given, used in place of
    /// `protocol.otlp.retry_on_failure`.
    #[serde(default)]
    pub retry_on_failure: Option<RetryConfig>,
}

impl LoadBalancingConfig {
    /// The `otlp` settings every backend gets: `protocol.otlp`, with the exporter-level
    /// `timeout`, `sending_queue` and `retry_on_failure` in place of its own when given.
    pub fn backend_otlp(&self) -> OtlpExporterConfig {
        let mut otlp = self.protocol.otlp.clone();
        if let Some(t) = self.timeout {
            otlp.timeout = t;
        }
        if let Some(q) = &self.sending_queue {
            otlp.sending_queue = q.clone();
        }
        if let Some(r) = &self.retry_on_failure {
            otlp.retry_on_failure = r.clone();
        }
        otlp
    }

    /// The queue in effect and its YAML path (for error messages).
    pub fn queue(&self) -> (&'static str, &QueueConfig) {
        match &self.sending_queue {
            Some(q) => ("sending_queue", q),
            None => (
                "protocol.otlp.sending_queue",
                &self.protocol.otlp.sending_queue,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RoutingKey {
    #[default]
    TraceId,
    Service,
}

impl<'de> Deserialize<'de> for RoutingKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "traceID" | "" => Ok(RoutingKey::TraceId),
            "service" => Ok(RoutingKey::Service),
            "resource" | "metric" | "streamID" | "attributes" => {
                Err(serde::de::Error::custom(format!(
                    "routing_key `{s}` is not supported by tracemend yet; supported: traceID, service"
                )))
            }
            _ => Err(serde::de::Error::custom(format!(
                "unknown routing_key `{s}`, expected traceID or service"
            ))),
        }
    }
}

/// `protocol`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolConfig {
    /// The `otlp` exporter's settings for every backend (`endpoint` is ignored: it comes
    /// from the resolver). `sending_queue` and `retry_on_failure` apply to the exporter
    /// as a whole.
    #[serde(default)]
    pub otlp: OtlpExporterConfig,
}

/// `resolver`: exactly one of `static` and `dns`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverConfig {
    #[serde(default, rename = "static")]
    pub static_: Option<StaticResolver>,
    #[serde(default)]
    pub dns: Option<DnsResolver>,
    /// Named so that configs using them get "not supported" rather than "unknown key".
    #[serde(default)]
    pub k8s: Option<serde_yaml::Value>,
    #[serde(default)]
    pub aws_cloud_map: Option<serde_yaml::Value>,
}

/// `resolver.static`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticResolver {
    /// `host:port` of each backend (`:4317` when the port is missing).
    #[serde(default)]
    pub hostnames: Vec<String>,
}

/// `resolver.dns`: every A/AAAA record of `hostname` is a backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsResolver {
    /// The name to resolve, e.g. a Kubernetes headless service. Required.
    #[serde(default)]
    pub hostname: String,
    /// The backends' port. Default `4317`.
    #[serde(default = "default_port", deserialize_with = "port")]
    pub port: u16,
    /// How often to resolve again. Default `5s`.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How long one resolution may take. Default `1s`.
    #[serde(default = "default_dns_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_dns_timeout() -> Duration {
    Duration::from_secs(1)
}

/// contrib writes the port as a string (`port: "4317"`); a number is fine too.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum P {
        N(u16),
        S(String),
    }
    match P::deserialize(d)? {
        P::N(n) => Ok(n),
        P::S(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid port {s:?}"))),
    }
}

/// `host:port`, with the OTLP/gRPC port added when missing.
fn with_port(host: &str) -> String {
    let h = host.trim();
    let has_port = match h.rsplit_once(':') {
        // `[::1]:4317` or `host:4317`; a bare IPv6 address has colons but no brackets.
        Some((left, p)) => p.parse::<u16>().is_ok() && (!left.contains(':') || left.ends_with(']')),
        None => false,
    };
    if has_port {
        h.to_owned()
    } else if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]:{DEFAULT_PORT}")
    } else {
        format!("{h}:{DEFAULT_PORT}")
    }
}

impl ComponentConfig for LoadBalancingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let r = &self.resolver;
        if r.k8s.is_some() {
            errors.push(ConfigError::new(
                "resolver.k8s",
                "the k8s resolver is not supported by tracemend yet; use dns with a headless service",
            ));
        }
        if r.aws_cloud_map.is_some() {
            errors.push(ConfigError::new(
                "resolver.aws_cloud_map",
                "the aws_cloud_map resolver is not supported by tracemend yet; use static or dns",
            ));
        }
        match (&r.static_, &r.dns) {
            (Some(_), Some(_)) => errors.push(ConfigError::new(
                "resolver",
                "set one of `static` and `dns`, not both",
            )),
            (None, None) if r.k8s.is_none() && r.aws_cloud_map.is_none() => {
                errors.push(ConfigError::new(
                    "resolver",
                    "is required: `static: {hostnames: [...]}` or `dns: {hostname: ...}`",
                ))
            }
            _ => {}
        }
        if let Some(s) = &r.static_ {
            if s.hostnames.is_empty() {
                errors.push(ConfigError::new(
                    "resolver.static.hostnames",
                    "needs at least one `host:port`",
                ));
            }
            for (i, h) in s.hostnames.iter().enumerate() {
                let probe = OtlpExporterConfig {
                    endpoint: with_port(h),
                    ..self.protocol.otlp.clone()
                };
                if let Err(e) = probe.uri() {
                    errors.push(ConfigError::new(
                        format!("resolver.static.hostnames[{i}]"),
                        e,
                    ));
                }
            }
        }
        if let Some(d) = &r.dns {
            if d.hostname.trim().is_empty() {
                errors.push(ConfigError::new(
                    "resolver.dns.hostname",
                    "is required, e.g. `otelcol-backends.observability.svc.cluster.local`",
                ));
            }
            if d.interval.is_zero() {
                errors.push(ConfigError::new(
                    "resolver.dns.interval",
                    "must be greater than 0",
                ));
            }
            if d.timeout.is_zero() {
                errors.push(ConfigError::new(
                    "resolver.dns.timeout",
                    "must be greater than 0",
                ));
            }
        }
        // Everything the `otlp` exporter checks, except the endpoint the resolver gives.
        let probe = OtlpExporterConfig {
            endpoint: "backend:4317".into(),
            ..self.protocol.otlp.clone()
        };
        for mut e in probe.validate() {
            e.path = format!("protocol.otlp.{}", e.path);
            errors.push(e);
        }
        if let Some(q) = &self.sending_queue {
            errors.extend(q.validate("sending_queue"));
        }
        if let Some(r) = &self.retry_on_failure {
            errors.extend(r.validate("retry_on_failure"));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            errors.push(ConfigError::new("timeout", "must be greater than 0"));
        }
        errors
    }
}

/// The loadbalancing exporter of one signal.
pub struct LoadBalancingExporter {
    shared: Arc<Shared>,
    queue: Option<Arc<Queue>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    id: String,
    signal: Signal,
    routing: RoutingKey,
    otlp: OtlpExporterConfig,
    ring: RwLock<Arc<Ring>>,
    /// Woken when the ring changes, so data waiting for a backend that left moves now.
    ring_changed: Notify,
    senders: Mutex<HashMap<String, Arc<OtlpSender>>>,
    closing: CancellationToken,
    sent: Counter,
    send_failed: Counter,
    enqueue_failed: Counter,
    backend: BackendMetrics,
}

/// Per-backend and resolver metrics (contrib's `otelcol_loadbalancer_*`).
struct BackendMetrics {
    sent: Family<BackendLabels, Counter>,
    outcome: Family<BackendOutcomeLabels, Counter>,
    latency: Family<BackendLabels, Histogram>,
    num_backends: Gauge,
    backend_updates: Counter,
    resolutions_ok: Counter,
    resolutions_failed: Counter,
}

enum Outcome {
    /// Every part reached a backend, or failed for good (counted and logged).
    Done,
    /// Shutdown interrupted a persisted entry; it stays on disk for the next run.
    Abandoned,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LoadBalancingExporter {
    /// Builds the exporter and starts its resolver and queue workers. Must run inside the
    /// tokio runtime.
    pub fn new(
        id: &str,
        signal: Signal,
        cfg: &LoadBalancingConfig,
        storage: Option<DirStore>,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<LoadBalancingExporter> {
        let initial = match &cfg.resolver.static_ {
            Some(s) => Ring::new(s.hostnames.iter().map(|h| with_port(h))),
            None => Ring::default(),
        };
        let resolver = ResolverLabels {
            exporter: id.to_owned(),
            resolver: if cfg.resolver.dns.is_some() {
                "dns"
            } else {
                "static"
            }
            .to_owned(),
        };
        let resolution = |success: bool| {
            metrics
                .lb_num_resolutions
                .get_or_create(&ResolutionLabels {
                    exporter: id.to_owned(),
                    resolver: resolver.resolver.clone(),
                    success: success.to_string(),
                })
                .clone()
        };
        let backend = BackendMetrics {
            sent: metrics.lb_backend_sent.get(signal).clone(),
            outcome: metrics.lb_backend_outcome.clone(),
            latency: metrics.lb_backend_latency.clone(),
            num_backends: metrics.lb_num_backends.get_or_create(&resolver).clone(),
            backend_updates: metrics
                .lb_num_backend_updates
                .get_or_create(&resolver)
                .clone(),
            resolutions_ok: resolution(true),
            resolutions_failed: resolution(false),
        };
        backend
            .num_backends
            .set(i64::try_from(initial.endpoints().len()).unwrap_or(i64::MAX));
        let otlp = cfg.backend_otlp();
        let Counters {
            sent,
            send_failed,
            enqueue_failed,
        } = Counters::new(id, signal, metrics);
        let shared = Arc::new(Shared {
            id: id.to_owned(),
            signal,
            routing: cfg.routing_key,
            otlp: otlp.clone(),
            ring: RwLock::new(Arc::new(initial)),
            ring_changed: Notify::new(),
            senders: Mutex::new(HashMap::new()),
            closing: CancellationToken::new(),
            sent,
            send_failed,
            enqueue_failed,
            backend,
        });
        let mut tasks = Vec::new();
        if let Some(dns) = &cfg.resolver.dns {
            tasks.push(tokio::spawn(resolve_dns(shared.clone(), dns.clone())));
        }
        let deliver = {
            let shared = shared.clone();
            move |batch: Batch, persistent: bool| {
                let shared = shared.clone();
                async move { matches!(shared.deliver(batch, persistent).await, Outcome::Done) }
            }
        };
        let queue = match queue::start(id, signal, &otlp.sending_queue, storage, metrics, deliver)?
        {
            Some(started) => {
                tasks.extend(started.workers);
                Some(started.queue)
            }
            None => None,
        };
        Ok(LoadBalancingExporter {
            shared,
            queue,
            tasks: Mutex::new(tasks),
        })
    }

    /// The backends routed to now.
    pub fn backends(&self) -> Vec<String> {
        self.shared.ring().endpoints().to_vec()
    }
}

/// Resolves `hostname` every `interval`; a failed or empty answer keeps the last ring
/// (a DNS hiccup must not drop every backend).
async fn resolve_dns(shared: Arc<Shared>, dns: DnsResolver) {
    let target = format!("{}:{}", dns.hostname.trim(), dns.port);
    loop {
        match tokio::time::timeout(dns.timeout, tokio::net::lookup_host(target.clone())).await {
            Ok(Ok(addrs)) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                shared.backend.resolutions_ok.inc();
                if addrs.is_empty() {
                    tracing::warn!(exporter = %shared.id, hostname = %dns.hostname, "DNS returned no backends; keeping the previous ones.");
                } else {
                    shared.set_backends(addrs.iter().map(SocketAddr::to_string));
                }
            }
            Ok(Err(e)) => {
                shared.backend.resolutions_failed.inc();
                tracing::warn!(exporter = %shared.id, hostname = %dns.hostname, error = %e, "Cannot resolve the backends; keeping the previous ones.")
            }
            Err(_) => {
                shared.backend.resolutions_failed.inc();
                tracing::warn!(exporter = %shared.id, hostname = %dns.hostname, timeout = ?dns.timeout, "Resolving the backends timed out; keeping the previous ones.")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(dns.interval) => {}
            () = shared.closing.cancelled() => return,
        }
    }
}

impl Shared {
    fn ring(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the ring when the backend set changed, and wakes data waiting to retry.
    fn set_backends(&self, endpoints: impl IntoIterator<Item = String>) {
        let ring = Ring::new(endpoints);
        {
            let mut current = self.ring.write().unwrap_or_else(|p| p.into_inner());
            if **current == ring {
                return;
            }
            tracing::info!(exporter = %self.id, backends = ?ring.endpoints(), "Backends changed.");
            *current = Arc::new(ring.clone());
        }
        self.backend.backend_updates.inc();
        self.backend
            .num_backends
            .set(i64::try_from(ring.endpoints().len()).unwrap_or(i64::MAX));
        lock(&self.senders).retain(|e, _| ring.endpoints().contains(e));
        self.ring_changed.notify_waiters();
    }

    fn record_send(&self, endpoint: &str, took: Duration, success: bool) {
        let b = &self.backend;
        b.outcome
            .get_or_create(&BackendOutcomeLabels {
                exporter: self.id.clone(),
                endpoint: endpoint.to_owned(),
                success: success.to_string(),
            })
            .inc();
        b.latency
            .get_or_create(&BackendLabels {
                exporter: self.id.clone(),
                endpoint: endpoint.to_owned(),
            })
            .observe(took.as_secs_f64() * 1000.0);
    }

    fn sender(&self, endpoint: &str) -> Result<Arc<OtlpSender>, String> {
        let mut senders = lock(&self.senders);
        if let Some(s) = senders.get(endpoint) {
            return Ok(s.clone());
        }
        let cfg = OtlpExporterConfig {
            endpoint: endpoint.to_owned(),
            ..self.otlp.clone()
        };
        let s = Arc::new(OtlpSender::new(&cfg, self.signal)?);
        senders.insert(endpoint.to_owned(), s.clone());
        Ok(s)
    }

    /// Sends `batch`, each part to the backend the ring gives it now, until every part
    /// is delivered or failed for good. Failed parts are re-split by the ring of the next
    /// attempt, so a backend that left no longer holds them.
    async fn deliver(&self, batch: Batch, persistent: bool) -> Outcome {
        let started = Instant::now();
        let mut backoff = self.otlp.retry_on_failure.backoff();
        let retry = &self.otlp.retry_on_failure;
        let mut pending = vec![batch.into_payload()];
        loop {
            let ring = self.ring();
            let mut last_err = String::from("no backend resolved yet");
            let mut retry_after = None;
            if !ring.is_empty() {
                let parts = split(std::mem::take(&mut pending), &ring, self.routing);
                let sends = parts.into_iter().map(|(endpoint, payload)| async move {
                    let batch = Batch::from_payload(payload);
                    let started = Instant::now();
                    let result = match self.sender(&endpoint) {
                        Ok(s) => s.send(&batch).await,
                        Err(e) => Err(SendError::Permanent(e)),
                    };
                    self.record_send(&endpoint, started.elapsed(), result.is_ok());
                    (endpoint, batch, result)
                });
                for (endpoint, batch, result) in join_all(sends).await {
                    let items = batch.item_count() as u64;
                    match result {
                        Ok(rejected) => {
                            let rejected = (rejected as u64).min(items);
                            self.sent.inc_by(items - rejected);
                            self.backend
                                .sent
                                .get_or_create(&BackendLabels {
                                    exporter: self.id.clone(),
                                    endpoint: endpoint.clone(),
                                })
                                .inc_by(items - rejected);
                            if rejected > 0 {
                                self.send_failed.inc_by(rejected);
                                tracing::warn!(exporter = %self.id, backend = %endpoint, rejected, "The backend rejected some items as invalid.");
                            }
                        }
                        Err(SendError::Permanent(m)) => {
                            self.send_failed.inc_by(items);
                            tracing::error!(exporter = %self.id, backend = %endpoint, items, error = %m, "Exporting failed permanently; dropping data.");
                        }
                        Err(SendError::Retryable { message, after }) => {
                            tracing::debug!(exporter = %self.id, backend = %endpoint, error = %message, "Export failed; will retry.");
                            last_err = format!("{endpoint}: {message}");
                            retry_after = retry_after.max(after);
                            pending.push(batch.into_payload());
                        }
                    }
                }
                if pending.is_empty() {
                    return Outcome::Done;
                }
            }
            let items: usize = pending.iter().map(Payload::item_count).sum();
            let give_up = |why: String| {
                self.send_failed.inc_by(items as u64);
                tracing::error!(exporter = %self.id, signal = %self.signal, items, error = %why, "Exporting failed; dropping data.");
                Outcome::Done
            };
            if !retry.enabled {
                return give_up(last_err);
            }
            let wait = backoff.next_wait().max(retry_after.unwrap_or_default());
            let max = retry.max_elapsed_time;
            if !max.is_zero() && started.elapsed() + wait > max {
                return give_up(format!(
                    "no more retries left after {:?}: {last_err}",
                    started.elapsed()
                ));
            }
            if self.closing.is_cancelled() {
                if persistent {
                    return Outcome::Abandoned;
                }
                if started.elapsed() > DRAIN_LIMIT {
                    return give_up(last_err);
                }
                tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                continue;
            }
            // Listen before looking, so a change between the attempt and now is not missed.
            let changed = self.ring_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !Arc::ptr_eq(&self.ring(), &ring) {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = changed => {}
                () = self.closing.cancelled() => {
                    if persistent {
                        return Outcome::Abandoned;
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Consumer for LoadBalancingExporter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        match &self.queue {
            Some(q) => q.push(batch).map_err(|e| {
                self.shared.enqueue_failed.inc_by(items);
                e.into_consume_error()
            }),
            // Without a queue the caller waits; parts that failed for good are counted.
            None => match self.shared.deliver(batch, false).await {
                Outcome::Done => Ok(()),
                Outcome::Abandoned => Err(ConsumeError::retryable("the exporter is shutting down")),
            },
        }
    }

    async fn shutdown(&self) {
        if let Some(q) = &self.queue {
            q.close();
        }
        self.shared.closing.cancel();
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for t in tasks {
            let _ = t.await;
        }
        if let Some(q) = &self.queue
            && !q.is_empty()
        {
            tracing::info!(exporter = %self.shared.id, batches = q.len(), "Queued data kept in storage for the next start.");
        }
    }
}

impl AnyConfig for LoadBalancingConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let mut w: Vec<ConfigError> = self
            .protocol
            .otlp
            .ignored()
            .into_iter()
            .map(|mut e| {
                e.path = crate::config::ignored::join("protocol.otlp", &e.path);
                e
            })
            .collect();
        if let Some(q) = &self.sending_queue {
            w.extend(q.warnings("sending_queue"));
        }
        w
    }

    fn queue_storage(&self) -> Option<(&'static str, &str)> {
        let (path, queue) = self.queue();
        queue.persistent_storage().map(|s| (path, s))
    }
}

impl Exporter for LoadBalancingConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(LoadBalancingExporter::new(
            &ctx.id.to_string(),
            ctx.signal,
            self,
            ctx.storage,
            ctx.metrics,
        )?))
    }
}

#[cfg(test)]
mod tests;
