//! The `envelope` exporter: ends a traces pipeline and a logs pipeline (one id in
//! both), holds their spans and log records by trace id, turns each failing trace into
//! Failure Envelopes with an assembler guest (`builtin:envelope` unless `assembler.module`
//! names a component file), and forwards them to the repair engine's
//! `POST /v1/envelopes` through a sending queue (optionally on `file_storage`) with
//! `retry_on_failure`.
//!
//! The holding, the assembler call, the data contract, the schema check and dedupe are
//! `wasm_host::envelope` (the holder shares the tail-sampling buffer); this module is
//! the YAML, the wiring of the two signals to one holder, and the HTTP side
//! ([`sender`]). Envelopes wait in the queue as one-record log batches, so the queue, its
//! persistence and its retries are the ones every network exporter uses.

mod assembler;
pub mod sender;
pub mod token;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::wasm_host::envelope::{
    COMMIT_ATTRIBUTES_KEY, Contract, ContractConfig, EnvelopeMetrics, Evidence, Holder,
    HolderSettings, commit_attributes,
};
use ::wasm_host::wasm::Limits;
use async_trait::async_trait;
use bytes::Bytes;
use pdata::wire::index::RequestIndex;
use pdata::{Batch, ConsumeError, Consumer, Signal};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::QueuedExporter;
use super::queue::QueueConfig;
use super::retry::RetryConfig;
use super::tls::TlsClientConfig;
use crate::config::{AnyConfig, ComponentConfig, ConfigError};
use crate::factory::{Exporter, ExporterContext};
use sender::{EngineSender, HealthSlot};
use token::TokenSource;

/// How long shutdown waits for the forwarder to queue the last envelopes.
const FORWARD_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The default assembler guest.
pub const DEFAULT_ASSEMBLER: &str = "builtin:envelope";

/// `exporters.envelope`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeExporterConfig {
    /// The repair engine's base URL; envelopes go to `{endpoint}/v1/envelopes`.
    #[serde(default)]
    pub endpoint: String,
    /// Environment variable holding the bearer token. Default
    /// `TRACEMEND_ENGINE_TOKEN` when `token_file` is not set.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the bearer token (re-read on every request).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The assembler guest, its settings and limits.
    #[serde(default)]
    pub assembler: AssemblerConfig,
    /// How long a trace is held after its first span or record. Default `10s`.
    #[serde(default = "default_join_window", with = "humantime_serde")]
    pub join_window: Duration,
    /// Most traces held. Default 50000.
    #[serde(default = "default_num_traces")]
    pub num_traces: u64,
    /// Most bytes held. Default 128 MiB.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: u64,
    /// At most one envelope per fingerprint per window; `0s` turns dedupe off.
    /// Default `1m`.
    #[serde(default = "default_dedupe_window", with = "humantime_serde")]
    pub dedupe_window: Duration,
    /// Dedupe before assembly: a failing trace with the same evidence (the
    /// attributes and structure the fingerprint is computed from, without ids
    /// or times: docs/envelopes.md) as one assembled before, whose fingerprint's
    /// `dedupe_window` is open, is counted as an occurrence without calling the
    /// assembler. Default: on for `builtin:envelope`, off for a component file
    /// (its fingerprint may read more: turn it on only when it reads nothing but
    /// that evidence and `dedupe_evidence`).
    #[serde(default)]
    pub dedupe_before_assembly: Option<bool>,
    /// Attribute names (resource, span, exception event or record) a
    /// third-party assembler's fingerprint reads besides the built-in's, added to
    /// the evidence. Default none.
    #[serde(default)]
    pub dedupe_evidence: Vec<String>,
    /// The data contract; absent: the shipped default.
    #[serde(default)]
    pub contract: Option<ContractConfig>,
    /// Per-request timeout. Default `30s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default)]
    pub tls: TlsClientConfig,
    #[serde(default)]
    pub sending_queue: QueueConfig,
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
    /// The one running instance the traces and logs pipelines share.
    #[serde(skip)]
    instance: Instance,
}

/// `assembler`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssemblerConfig {
    /// `builtin:NAME` or a component file of the `envelope-assembler` world. Default
    /// `builtin:envelope`.
    #[serde(default = "default_module")]
    pub module: String,
    /// The guest's settings, passed to its `configure` as JSON. Default `{}`.
    #[serde(default)]
    pub config: serde_json::Value,
    /// Resource limits of each guest instance.
    #[serde(default)]
    pub limits: Limits,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            module: default_module(),
            config: serde_json::Value::Null,
            limits: Limits::default(),
        }
    }
}

fn default_module() -> String {
    DEFAULT_ASSEMBLER.to_owned()
}
fn default_join_window() -> Duration {
    Duration::from_secs(10)
}
fn default_num_traces() -> u64 {
    50_000
}
fn default_max_buffered_bytes() -> u64 {
    128 << 20
}
fn default_dedupe_window() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Default for EnvelopeExporterConfig {
    fn default() -> Self {
        EnvelopeExporterConfig {
            endpoint: String::new(),
            token_env: None,
            token_file: None,
            assembler: AssemblerConfig::default(),
            join_window: default_join_window(),
            num_traces: default_num_traces(),
            max_buffered_bytes: default_max_buffered_bytes(),
            dedupe_window: default_dedupe_window(),
            dedupe_before_assembly: None,
            dedupe_evidence: Vec::new(),
            contract: None,
            timeout: default_timeout(),
            tls: TlsClientConfig::default(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
            instance: Instance::default(),
        }
    }
}

/// What dedupe before assembly reads, if it is on: by default for the built-in
/// assembler only (a component file's fingerprint may read more).
fn evidence(cfg: &EnvelopeExporterConfig, commit_attributes: &[String]) -> Option<Evidence> {
    cfg.dedupe_before_assembly
        .unwrap_or(cfg.assembler.module == DEFAULT_ASSEMBLER)
        .then(|| Evidence::builtin(commit_attributes).with_extra(&cfg.dedupe_evidence))
}

/// The running exporter, made by the first pipeline built and shared by the other.
#[derive(Clone, Default)]
struct Instance(Arc<Mutex<Option<Arc<Running>>>>);

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Instance")
    }
}

impl ComponentConfig for EnvelopeExporterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push(ConfigError::new(
                "endpoint",
                "is required: the repair engine's URL, e.g. `http://repair:8080`",
            ));
        } else if reqwest::Url::parse(&self.endpoint)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            errors.push(ConfigError::new(
                "endpoint",
                format!("{:?} is not an http:// or https:// URL", self.endpoint),
            ));
        }
        if self.token_env.is_some() && self.token_file.is_some() {
            errors.push(ConfigError::new(
                "token_file",
                "set token_env or token_file, not both",
            ));
        }
        if let Err(e) = assembler::check(&self.assembler.module) {
            errors.push(ConfigError::new("assembler.module", e));
        }
        // The guest checks its whole config when it starts; this key is read by the
        // holder as well, so its errors are named here, before anything runs.
        if let Err(e) = commit_attributes(&self.assembler.config) {
            errors.push(ConfigError::new(
                format!("assembler.config.{COMMIT_ATTRIBUTES_KEY}"),
                e,
            ));
        }
        if self.dedupe_evidence.iter().any(|a| a.trim().is_empty()) {
            errors.push(ConfigError::new(
                "dedupe_evidence",
                "holds an empty attribute name",
            ));
        }
        if self.join_window.is_zero() {
            errors.push(ConfigError::new("join_window", "must be greater than 0"));
        }
        if self.num_traces == 0 {
            errors.push(ConfigError::new("num_traces", "must be greater than 0"));
        }
        if self.max_buffered_bytes == 0 {
            errors.push(ConfigError::new(
                "max_buffered_bytes",
                "must be greater than 0",
            ));
        }
        if let Some(c) = &self.contract
            && let Err(e) = Contract::compile(c)
        {
            errors.push(ConfigError::new(
                format!("contract.fields.{}", e.pointer),
                e.reason,
            ));
        }
        errors.extend(self.tls.validate("tls"));
        errors.extend(self.sending_queue.validate("sending_queue"));
        errors.extend(self.retry_on_failure.validate("retry_on_failure"));
        errors
    }
}

impl AnyConfig for EnvelopeExporterConfig {
    /// The holder splits every batch by trace and reads each item's error markers: from
    /// the receiver's index when it has one.
    fn reads_item_index(&self) -> bool {
        true
    }

    fn queue_storage(&self) -> Option<(&'static str, &str)> {
        self.sending_queue
            .persistent_storage()
            .map(|s| ("sending_queue", s))
    }
}

impl Exporter for EnvelopeExporterConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        if ctx.signal == Signal::Metrics {
            anyhow::bail!("the envelope exporter takes traces and logs only");
        }
        let mut slot = self.instance.0.lock().unwrap_or_else(|e| e.into_inner());
        let running = match &*slot {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(Running::start(self, &ctx)?);
                *slot = Some(r.clone());
                r
            }
        };
        running.ends.lock().unwrap_or_else(|e| e.into_inner()).0 += 1;
        Ok(Arc::new(SignalEnd {
            signal: ctx.signal,
            running,
        }))
    }
}

/// The holder, the queue behind it, and the task between them.
struct Running {
    id: String,
    holder: Holder,
    queue: Arc<QueuedExporter>,
    /// The channel's sending side, dropped at shutdown so the forwarder ends.
    outlet: Arc<Mutex<Option<mpsc::UnboundedSender<String>>>>,
    forwarder: Mutex<Option<JoinHandle<()>>>,
    /// Signal ends built and shut down; the last to shut down drains.
    ends: Mutex<(usize, usize)>,
}

impl Running {
    fn start(cfg: &EnvelopeExporterConfig, ctx: &ExporterContext<'_>) -> anyhow::Result<Self> {
        let id = ctx.id.to_string();
        let token = TokenSource::resolve(cfg.token_env.as_deref(), cfg.token_file.as_ref())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let metrics = ctx.metrics.with_registry(EnvelopeMetrics::register);
        let labels = ::wasm_host::envelope::EnvelopeLabels {
            exporter: id.clone(),
        };
        let health = Some(Arc::new(HealthSlot {
            health: ctx.health.clone(),
        }));
        let sender = EngineSender {
            id: id.clone(),
            client: EngineSender::client(&cfg.tls, cfg.timeout).map_err(|e| anyhow::anyhow!(e))?,
            url: format!("{}/v1/envelopes", cfg.endpoint.trim_end_matches('/')),
            token,
            health,
            sent: metrics.sent.get_or_create(&labels).clone(),
            failed: metrics.failed.get_or_create(&labels).clone(),
        };
        let queue = Arc::new(QueuedExporter::new(
            &id,
            Signal::Logs,
            Arc::new(sender),
            &cfg.sending_queue,
            &cfg.retry_on_failure,
            ctx.storage.clone(),
            ctx.metrics,
        )?);
        let guest = assembler::load(&id, cfg)?;
        let commit_attributes = commit_attributes(&cfg.assembler.config)
            .map_err(|e| anyhow::anyhow!("assembler.config.{COMMIT_ATTRIBUTES_KEY}: {e}"))?;
        let settings = HolderSettings {
            join_window: cfg.join_window,
            num_traces: cfg.num_traces,
            max_buffered_bytes: cfg.max_buffered_bytes,
            dedupe_window: cfg.dedupe_window,
            dedupe_before_assembly: evidence(cfg, &commit_attributes),
            contract: match &cfg.contract {
                Some(c) => Contract::compile(c).map_err(|e| anyhow::anyhow!("{e}"))?,
                None => Contract::default(),
            },
            // The guest's list, so the holder skips exactly the traces it cannot read a
            // commit from.
            commit_attributes,
        };
        // The holder's sink runs on its blocking threads: a channel to the forwarder.
        let (tx, rx) = mpsc::unbounded_channel::<String>();
        let outlet = Arc::new(Mutex::new(Some(tx)));
        let sink_outlet = outlet.clone();
        let sink_id = id.clone();
        let holder = Holder::new(
            &id,
            settings,
            Box::new(guest),
            &metrics,
            Arc::new(move |envelope| {
                let tx = sink_outlet.lock().unwrap_or_else(|e| e.into_inner());
                if tx.as_ref().is_none_or(|tx| tx.send(envelope).is_err()) {
                    tracing::error!(exporter = %sink_id, "An envelope was built after shutdown; it is lost.");
                }
            }),
        );
        holder.start().map_err(|e| anyhow::anyhow!("{e}"))?;
        let forwarder = tokio::spawn(forward(id.clone(), rx, queue.clone()));
        tracing::info!(exporter = %id, assembler = %cfg.assembler.module, endpoint = %cfg.endpoint, "Envelope exporter started.");
        Ok(Running {
            id,
            holder,
            queue,
            outlet,
            forwarder: Mutex::new(Some(forwarder)),
            ends: Mutex::new((0, 0)),
        })
    }
}

/// Moves envelopes from the holder onto the sending queue, waiting while it is full.
async fn forward(id: String, mut rx: mpsc::UnboundedReceiver<String>, queue: Arc<QueuedExporter>) {
    while let Some(envelope) = rx.recv().await {
        let mut wait = Duration::from_millis(50);
        loop {
            match queue.consume(sender::to_batch(envelope.clone())).await {
                Ok(()) => break,
                Err(e) if e.is_retryable() => {
                    tracing::debug!(exporter = %id, error = %e, "Sending queue refused an envelope; retrying.");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    tracing::error!(exporter = %id, error = %e, "An envelope could not be queued; it is lost.");
                    break;
                }
            }
        }
    }
}

/// One pipeline's end: the traces or the logs side of the shared exporter.
struct SignalEnd {
    signal: Signal,
    running: Arc<Running>,
}

impl SignalEnd {
    /// Takes a batch's received requests; the holder keeps ranges of them, no copy,
    /// and takes each apart with the receiver's side index when it has one.
    fn take(&self, chunks: Vec<(Bytes, Option<Arc<RequestIndex>>)>) -> Result<(), ConsumeError> {
        let r = &self.running;
        for (request, index) in chunks {
            let index = index.as_deref();
            let taken = match self.signal {
                Signal::Traces => r.holder.consume_span_bytes_indexed(request, index),
                _ => r.holder.consume_log_bytes_indexed(request, index),
            };
            taken.map_err(|e| ConsumeError::permanent(e.to_string()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Consumer for SignalEnd {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        // Each chunk is a whole request (merged batches are concatenated requests).
        let chunks = batch.indexed_chunks();
        // Guest calls for traces let go early (bounds) run here: off the async workers.
        let end = SignalEnd {
            signal: self.signal,
            running: self.running.clone(),
        };
        tokio::task::spawn_blocking(move || end.take(chunks))
            .await
            .map_err(|e| ConsumeError::retryable(format!("envelope holder task: {e}")))?
    }

    async fn shutdown(&self) {
        let r = &self.running;
        let last = {
            let mut ends = r.ends.lock().unwrap_or_else(|e| e.into_inner());
            ends.1 += 1;
            // The holder drains once, after both pipelines have stopped sending.
            ends.1 >= ends.0
        };
        if !last {
            return;
        }
        r.holder.shutdown().await;
        // Every envelope is in the channel now; closing it ends the forwarder once it
        // has queued them.
        r.outlet.lock().unwrap_or_else(|e| e.into_inner()).take();
        let forwarder = r.forwarder.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut f) = forwarder
            && tokio::time::timeout(FORWARD_DRAIN_LIMIT, &mut f)
                .await
                .is_err()
        {
            f.abort();
            tracing::error!(exporter = %r.id, "The sending queue stayed full at shutdown; envelopes not yet queued are lost.");
        }
        r.queue.shutdown().await;
        tracing::info!(exporter = %r.id, "Envelope exporter stopped.");
    }
}

#[cfg(test)]
mod evidence_tests {
    use super::*;

    #[test]
    fn dedupe_before_assembly_is_on_for_the_builtin_and_opt_in_for_a_file() {
        let commit = ["vcs.ref.head.revision".to_owned()];
        let builtin = EnvelopeExporterConfig::default();
        assert_eq!(
            evidence(&builtin, &commit),
            Some(Evidence::builtin(&commit))
        );
        let off = EnvelopeExporterConfig {
            dedupe_before_assembly: Some(false),
            ..EnvelopeExporterConfig::default()
        };
        assert_eq!(evidence(&off, &commit), None);
        let mut file = EnvelopeExporterConfig::default();
        file.assembler.module = "/opt/assemblers/mine.wasm".into();
        assert_eq!(evidence(&file, &commit), None);
        file.dedupe_before_assembly = Some(true);
        file.dedupe_evidence = vec!["db.system".into()];
        let read = evidence(&file, &commit).expect("opted in");
        assert!(read.span.contains(&"db.system".to_owned()));
        assert!(read.resource.contains(&"vcs.ref.head.revision".to_owned()));
        file.dedupe_evidence = vec![" ".into()];
        assert!(
            file.validate()
                .iter()
                .any(|e| e.to_string().contains("dedupe_evidence"))
        );
    }
}
