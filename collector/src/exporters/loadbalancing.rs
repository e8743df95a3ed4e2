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

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{KeyValue, any_value};
use pdata::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans};
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Deserializer};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use ring::Ring;

use super::otlp::{OtlpExporterConfig, OtlpSender};
use super::queue::{PushError, Queue};
use super::{SendError, Sender};
use crate::config::{ComponentConfig, ConfigError};
use crate::extensions::file_storage::DirStore;
use crate::telemetry::{ExporterLabels, SelfMetrics};

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
        let labels = ExporterLabels {
            exporter: id.to_owned(),
        };
        let initial = match &cfg.resolver.static_ {
            Some(s) => Ring::new(s.hostnames.iter().map(|h| with_port(h))),
            None => Ring::default(),
        };
        let shared = Arc::new(Shared {
            id: id.to_owned(),
            signal,
            routing: cfg.routing_key,
            otlp: cfg.protocol.otlp.clone(),
            ring: RwLock::new(Arc::new(initial)),
            ring_changed: Notify::new(),
            senders: Mutex::new(HashMap::new()),
            closing: CancellationToken::new(),
            sent: metrics
                .exporter_sent
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            send_failed: metrics
                .exporter_send_failed
                .get(signal)
                .get_or_create(&labels)
                .clone(),
            enqueue_failed: metrics
                .exporter_enqueue_failed
                .get(signal)
                .get_or_create(&labels)
                .clone(),
        });
        let mut tasks = Vec::new();
        if let Some(dns) = &cfg.resolver.dns {
            tasks.push(tokio::spawn(resolve_dns(shared.clone(), dns.clone())));
        }
        let queue_cfg = &cfg.protocol.otlp.sending_queue;
        let queue = if queue_cfg.enabled {
            metrics
                .exporter_queue_capacity
                .get_or_create(&labels)
                .set(i64::try_from(queue_cfg.queue_size).unwrap_or(i64::MAX));
            let size = metrics.exporter_queue_size.get_or_create(&labels).clone();
            let q = Arc::new(Queue::new(signal, queue_cfg.queue_size, storage, size)?);
            for _ in 0..queue_cfg.num_consumers {
                let q = q.clone();
                let shared = shared.clone();
                tasks.push(tokio::spawn(async move {
                    while let Some(entry) = q.pop().await {
                        match shared.deliver(entry.batch, q.is_persistent()).await {
                            Outcome::Abandoned => {}
                            Outcome::Done => q.ack(entry.seq),
                        }
                    }
                }));
            }
            Some(q)
        } else {
            None
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
                if addrs.is_empty() {
                    tracing::warn!(exporter = %shared.id, hostname = %dns.hostname, "DNS returned no backends; keeping the previous ones.");
                } else {
                    shared.set_backends(addrs.iter().map(SocketAddr::to_string));
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(exporter = %shared.id, hostname = %dns.hostname, error = %e, "Cannot resolve the backends; keeping the previous ones.")
            }
            Err(_) => {
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
        lock(&self.senders).retain(|e, _| ring.endpoints().contains(e));
        self.ring_changed.notify_waiters();
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
                    let result = match self.sender(&endpoint) {
                        Ok(s) => s.send(&batch).await,
                        Err(e) => Err(SendError::Permanent(e)),
                    };
                    (endpoint, batch, result)
                });
                for (endpoint, batch, result) in join_all(sends).await {
                    let items = batch.item_count() as u64;
                    match result {
                        Ok(rejected) => {
                            let rejected = (rejected as u64).min(items);
                            self.sent.inc_by(items - rejected);
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

/// Splits payloads into one per backend; items of one routing key stay together.
fn split(payloads: Vec<Payload>, ring: &Ring, key: RoutingKey) -> BTreeMap<String, Payload> {
    let mut out: BTreeMap<String, Payload> = BTreeMap::new();
    for p in payloads {
        match p {
            Payload::Traces(req) => {
                for rs in req.resource_spans {
                    for (endpoint, part) in split_resource_spans(rs, ring, key) {
                        let entry = out.entry(endpoint.to_owned()).or_insert_with(|| {
                            Payload::Traces(ExportTraceServiceRequest::default())
                        });
                        if let Payload::Traces(r) = entry {
                            r.resource_spans.push(part);
                        }
                    }
                }
            }
            Payload::Logs(req) => {
                for rl in req.resource_logs {
                    for (endpoint, part) in split_resource_logs(rl, ring, key) {
                        let entry = out
                            .entry(endpoint.to_owned())
                            .or_insert_with(|| Payload::Logs(ExportLogsServiceRequest::default()));
                        if let Payload::Logs(r) = entry {
                            r.resource_logs.push(part);
                        }
                    }
                }
            }
            // Config checks keep `loadbalancing` out of metrics pipelines.
            Payload::Metrics(_) => {}
        }
    }
    out
}

fn service_name(attributes: &[KeyValue]) -> &str {
    attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

fn split_resource_spans<'r>(
    rs: ResourceSpans,
    ring: &'r Ring,
    key: RoutingKey,
) -> Vec<(&'r str, ResourceSpans)> {
    let service = service_name(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]));
    let service_backend = ring.route(service.as_bytes());
    if key == RoutingKey::Service {
        return service_backend.map(|b| (b, rs)).into_iter().collect();
    }
    let mut parts: BTreeMap<&'r str, ResourceSpans> = BTreeMap::new();
    for ss in rs.scope_spans {
        let mut by_backend: BTreeMap<&'r str, Vec<_>> = BTreeMap::new();
        for span in ss.spans {
            // A span without a trace id cannot be part of a sampled trace; keep the
            // service's spans together.
            let b = if span.trace_id.is_empty() {
                service_backend
            } else {
                ring.route(&span.trace_id)
            };
            if let Some(b) = b {
                by_backend.entry(b).or_default().push(span);
            }
        }
        for (b, spans) in by_backend {
            parts
                .entry(b)
                .or_insert_with(|| ResourceSpans {
                    resource: rs.resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: rs.schema_url.clone(),
                })
                .scope_spans
                .push(ScopeSpans {
                    scope: ss.scope.clone(),
                    spans,
                    schema_url: ss.schema_url.clone(),
                });
        }
    }
    parts.into_iter().collect()
}

fn split_resource_logs<'r>(
    rl: ResourceLogs,
    ring: &'r Ring,
    key: RoutingKey,
) -> Vec<(&'r str, ResourceLogs)> {
    let service = service_name(rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]));
    let service_backend = ring.route(service.as_bytes());
    if key == RoutingKey::Service {
        return service_backend.map(|b| (b, rl)).into_iter().collect();
    }
    let mut parts: BTreeMap<&'r str, ResourceLogs> = BTreeMap::new();
    for sl in rl.scope_logs {
        let mut by_backend: BTreeMap<&'r str, Vec<_>> = BTreeMap::new();
        for rec in sl.log_records {
            let b = if rec.trace_id.is_empty() {
                service_backend
            } else {
                ring.route(&rec.trace_id)
            };
            if let Some(b) = b {
                by_backend.entry(b).or_default().push(rec);
            }
        }
        for (b, log_records) in by_backend {
            parts
                .entry(b)
                .or_insert_with(|| ResourceLogs {
                    resource: rl.resource.clone(),
                    scope_logs: Vec::new(),
                    schema_url: rl.schema_url.clone(),
                })
                .scope_logs
                .push(ScopeLogs {
                    scope: sl.scope.clone(),
                    log_records,
                    schema_url: sl.schema_url.clone(),
                });
        }
    }
    parts.into_iter().collect()
}

#[async_trait]
impl Consumer for LoadBalancingExporter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        match &self.queue {
            Some(q) => q.push(batch).map_err(|e| {
                self.shared.enqueue_failed.inc_by(items);
                match e {
                    PushError::Full(_) | PushError::Closed => {
                        ConsumeError::retryable(e.to_string())
                            .with_retry_after(Duration::from_secs(1))
                    }
                    PushError::Storage(_) => ConsumeError::retryable(e.to_string()),
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::logs::v1::LogRecord;
    use pdata::otlp::resource::v1::Resource;
    use pdata::otlp::trace::v1::Span;

    fn parse(yaml: &str) -> Result<LoadBalancingConfig, Vec<ConfigError>> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component(&v, "exporters.loadbalancing")
    }

    #[test]
    fn contrib_readme_example_parses() {
        let c = parse(
            "routing_key: service\nprotocol:\n  otlp:\n    timeout: 1s\n    tls: {insecure: true}\n\
             resolver:\n  static:\n    hostnames: [backend-1:4317, backend-2:4317, backend-3, 10.0.0.1:5317]\n",
        )
        .expect("valid");
        assert_eq!(c.routing_key, RoutingKey::Service);
        let hosts: Vec<String> = c
            .resolver
            .static_
            .expect("static")
            .hostnames
            .iter()
            .map(|h| with_port(h))
            .collect();
        assert_eq!(
            hosts,
            [
                "backend-1:4317",
                "backend-2:4317",
                "backend-3:4317",
                "10.0.0.1:5317"
            ]
        );
        let c = parse("resolver:\n  dns:\n    hostname: otelcol-headless.observability.svc.cluster.local\n    port: \"5317\"\n")
            .expect("valid");
        let dns = c.resolver.dns.expect("dns");
        assert_eq!(
            (dns.port, dns.interval, dns.timeout),
            (5317, Duration::from_secs(5), Duration::from_secs(1))
        );
        assert_eq!(c.routing_key, RoutingKey::TraceId);
    }

    #[test]
    fn rejections_name_the_key() {
        let e = parse("resolver: {}").expect_err("no resolver");
        assert_eq!(e[0].path, "exporters.loadbalancing.resolver");
        let e = parse("resolver: {static: {hostnames: []}, dns: {hostname: x}}").expect_err("both");
        assert!(e.iter().any(|e| e.message.contains("not both")), "{e:?}");
        assert!(
            e.iter()
                .any(|e| e.path == "exporters.loadbalancing.resolver.static.hostnames"),
            "{e:?}"
        );
        let e = parse("resolver: {k8s: {service: x}}").expect_err("k8s");
        assert!(e[0].message.contains("not supported"), "{e:?}");
        let e = parse("routing_key: streamID\nresolver: {static: {hostnames: [a]}}")
            .expect_err("routing");
        assert!(e[0].message.contains("not supported"), "{e:?}");
        let e = parse("resolver: {static: {hostnames: [a]}}\nprotocol: {otlp: {sending_queue: {queue_size: 0}}}")
            .expect_err("queue");
        assert_eq!(
            e[0].path,
            "exporters.loadbalancing.protocol.otlp.sending_queue.queue_size"
        );
    }

    #[test]
    fn bare_ipv6_gets_brackets_and_a_port() {
        assert_eq!(with_port("::1"), "[::1]:4317");
        assert_eq!(with_port("[::1]:9"), "[::1]:9");
    }

    fn traces(spans: &[(u8, &str)]) -> Payload {
        let mut req = ExportTraceServiceRequest::default();
        for (t, svc) in spans {
            req.resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(pdata::otlp::common::v1::AnyValue {
                            value: Some(any_value::Value::StringValue((*svc).into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![*t; 16],
                        span_id: vec![1; 8],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                schema_url: String::new(),
            });
        }
        Payload::Traces(req)
    }

    fn trace_ids(p: &Payload) -> Vec<u8> {
        let Payload::Traces(r) = p else {
            panic!("traces")
        };
        r.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.trace_id[0])
            .collect()
    }

    #[test]
    fn split_keeps_each_trace_on_the_backend_the_ring_gives_it() {
        let ring = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
        let input: Vec<(u8, &str)> = (0..60)
            .map(|t| (t, if t % 2 == 0 { "a" } else { "b" }))
            .collect();
        let parts = split(vec![traces(&input)], &ring, RoutingKey::TraceId);
        assert!(
            parts.len() > 1,
            "60 traces over 3 backends use more than one"
        );
        let mut seen = 0;
        for (endpoint, p) in &parts {
            for t in trace_ids(p) {
                assert_eq!(ring.route(&[t; 16]), Some(endpoint.as_str()));
                seen += 1;
            }
        }
        assert_eq!(seen, 60);

        // By service: every resource of a service on one backend.
        let parts = split(vec![traces(&input)], &ring, RoutingKey::Service);
        for (endpoint, p) in &parts {
            let Payload::Traces(r) = p else { panic!() };
            for rs in &r.resource_spans {
                let svc = service_name(&rs.resource.as_ref().expect("resource").attributes);
                assert_eq!(ring.route(svc.as_bytes()), Some(endpoint.as_str()));
            }
        }
    }

    #[test]
    fn logs_route_by_trace_id_like_their_spans() {
        let ring = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: (0..30u8)
                        .map(|t| LogRecord {
                            trace_id: vec![t; 16],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        for (endpoint, p) in split(vec![Payload::Logs(req)], &ring, RoutingKey::TraceId) {
            let Payload::Logs(r) = p else { panic!("logs") };
            for rec in r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .flat_map(|sl| &sl.log_records)
            {
                assert_eq!(ring.route(&rec.trace_id), Some(endpoint.as_str()));
            }
        }
    }

    #[test]
    fn a_pending_part_moves_when_its_backend_leaves() {
        // What a retry does after the ring changed: the part meant for b2 is re-split
        // over the backends that remain, and none of it is lost.
        let before = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
        let input: Vec<(u8, &str)> = (0..90).map(|t| (t, "svc")).collect();
        let parts = split(vec![traces(&input)], &before, RoutingKey::TraceId);
        let stranded = parts.get("b2:4317").expect("b2 has some").clone();
        let n = trace_ids(&stranded).len();
        let after = Ring::new(["b1:4317".to_owned(), "b3:4317".to_owned()]);
        let moved = split(vec![stranded], &after, RoutingKey::TraceId);
        assert!(!moved.contains_key("b2:4317"));
        assert_eq!(moved.values().map(|p| trace_ids(p).len()).sum::<usize>(), n);
    }

    /// Collects what a real OTLP receiver got.
    #[derive(Default)]
    struct Collect(Mutex<Vec<u8>>);

    #[async_trait]
    impl Consumer for Collect {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            let ids = trace_ids(&batch.into_payload());
            lock(&self.0).extend(ids);
            Ok(())
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }

    #[tokio::test]
    async fn queued_data_of_a_backend_that_dns_drops_goes_to_the_others() {
        let metrics = SelfMetrics::new();
        let live = format!("127.0.0.1:{}", free_port());
        // Nothing listens here: the backend is gone, as after a pod was deleted.
        let gone = format!("127.0.0.1:{}", free_port());
        let got = Arc::new(Collect::default());
        let mut consumers = crate::receivers::Consumers::default();
        consumers.set(Signal::Traces, got.clone());
        let rcfg: crate::receivers::otlp::OtlpReceiverConfig =
            serde_yaml::from_str(&format!("protocols: {{grpc: {{endpoint: \"{live}\"}}}}"))
                .expect("receiver config");
        let receiver = crate::receivers::otlp::start("otlp", &rcfg, consumers, &metrics)
            .await
            .expect("receiver starts");

        let cfg = parse(&format!(
            "protocol: {{otlp: {{tls: {{insecure: true}}, timeout: 1s, \
             retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s}}}}}}\n\
             resolver: {{static: {{hostnames: [\"{live}\", \"{gone}\"]}}}}\n"
        ))
        .expect("valid");
        let lb = LoadBalancingExporter::new("loadbalancing", Signal::Traces, &cfg, None, &metrics)
            .expect("exporter");
        // Trace ids 1..=90 (an all-zero id is invalid and the receiver drops it).
        let input: Vec<(u8, &str)> = (1..=90).map(|t| (t, "svc")).collect();
        lb.consume(Batch::from_payload(traces(&input)))
            .await
            .expect("queued");

        // The live backend's share arrives; the rest waits for the one that is gone.
        let ring = lb.shared.ring();
        let live_share = (1..=90u8)
            .filter(|t| ring.route(&[*t; 16]) == Some(live.as_str()))
            .count();
        assert!(live_share > 0 && live_share < 90, "{live_share}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&got.0).len() < live_share && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(lock(&got.0).len(), live_share, "only the live share so far");

        // DNS stops answering with the gone backend: its pending part moves at once.
        lb.shared.set_backends([live.clone()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&got.0).len() < 90 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut ids = lock(&got.0).clone();
        ids.sort_unstable();
        assert_eq!(
            ids,
            (1..=90).collect::<Vec<u8>>(),
            "every trace delivered once"
        );
        assert_eq!(lb.backends(), [live]);
        lb.shutdown().await;
        receiver.stop().await;
    }
}
