//! The `tail_sampling` processor: buffers spans by trace id, and when a
//! trace's `decision_wait` has passed hands the whole trace to the sampler
//! guest (`guest-crates/guests/tail-sampling`, the contrib policies), then
//! forwards the kept traces.
//!
//! A batch's path through it:
//!
//! 1. [`TailSampling::consume`] splits each batch by trace id. Spans of a
//!    trace already decided follow the decision from the decision cache
//!    (forwarded at once, or dropped), counted as late. Spans without a valid
//!    16-byte trace id cannot be sampled as a trace and are forwarded.
//! 2. The rest are held protobuf-encoded ([`wire`]) under their trace. The
//!    buffer is bounded by `num_traces` and by `max_buffered_bytes`: past
//!    either, the oldest held traces are decided early (with what has
//!    arrived), not dropped, and counted. With `block_on_overflow` the caller
//!    waits for the timer to free space instead. A trace past
//!    `maximum_trace_size_bytes` is decided "not sampled" at once.
//! 3. A tokio timer ([`TailSampling::start`]) decides traces whose first span
//!    is `decision_wait` old: the trace is written as one OTLP request, the
//!    guest answers keep or drop and the policy's name; the decision is
//!    cached so late spans follow it, counted by policy and outcome.
//! 4. Kept traces go to the sink as encoded `ExportTraceServiceRequest`s
//!    ([`Released`]), optionally with `tailsampling.policy` on every span.
//!    A guest fault keeps the trace (nothing is lost for a broken sampler)
//!    and is counted.
//! 5. [`TailSampling::shutdown`] stops the timer and decides everything
//!    held (or drops it, counted, with `drop_pending_traces_on_shutdown`).
//!
//! The guest is called with the buffer's lock held, so one processor makes
//! one decision at a time; a decision is tens of microseconds.

mod buffer;
mod cache;
pub mod config;
pub mod metrics;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tracing::warn;

use crate::wasm::builtin;
use crate::wasm::metrics::ProcessorLabels;
use crate::wasm::sampler::SampleContext;
use crate::wasm::{Decision, LoadError, WasmProcessorConfig, WasmRuntime, WasmSampler};
use buffer::{Charge, Held, State};
pub use config::{ConfigError, DecisionCacheConfig, TailSamplingConfig};
pub use metrics::TailSamplingMetrics;
use metrics::{DecisionLabels, EarlyLabels, LateLabels, outcome};
use wire::{Group, ResourceCtx, ScopeCtx};

/// A trace id.
pub type TraceId = [u8; 16];

/// Decides one complete trace. [`WasmSampler`] is the real one; tests and
/// embedders may supply their own.
pub trait TraceSampler: Send + Sync + 'static {
    /// Keep or drop `trace`, with the deciding policy's name as the reason.
    fn sample(
        &self,
        trace: &ExportTraceServiceRequest,
        context: SampleContext,
    ) -> Result<Decision, String>;
}

impl TraceSampler for WasmSampler {
    fn sample(
        &self,
        trace: &ExportTraceServiceRequest,
        context: SampleContext,
    ) -> Result<Decision, String> {
        self.sample_with(trace, context).map_err(|f| f.to_string())
    }
}

/// Kept spans on their way out: an encoded `ExportTraceServiceRequest`
/// (concatenated requests are one valid request, so this may hold many
/// traces).
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    /// The encoded request.
    pub request: Vec<u8>,
    /// Spans in it.
    pub spans: u64,
}

impl Released {
    /// The request decoded.
    pub fn decode(&self) -> Result<ExportTraceServiceRequest, prost::DecodeError> {
        ExportTraceServiceRequest::decode(&self.request[..])
    }
}

/// Where kept spans go. Called outside the processor's lock, from the
/// caller of `consume` (late spans, early decisions) or the timer task;
/// keep it quick (e.g. a channel send).
pub type Sink = Arc<dyn Fn(Released) + Send + Sync>;

/// Why a tail-sampling processor could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum TailSamplingError {
    /// The YAML is invalid; every problem, each naming its key.
    #[error("invalid tail_sampling config: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
    /// The sampler guest did not load or rejected the policies.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `module` names a built-in guest that does not exist or is not a sampler.
    #[error("module: {0}")]
    Module(String),
    /// `start` was called outside a tokio runtime.
    #[error("tail_sampling: start needs a tokio runtime")]
    NoRuntime,
    /// A batch came after `shutdown`.
    #[error("tail_sampling: processor is shut down")]
    Stopped,
}

/// One loaded sampler shared by several processors (one per pipeline).
impl<T: TraceSampler> TraceSampler for Arc<T> {
    fn sample(
        &self,
        trace: &ExportTraceServiceRequest,
        context: SampleContext,
    ) -> Result<Decision, String> {
        (**self).sample(trace, context)
    }
}

/// The built-in sampler guest's name: `module` defaults to `builtin:tail_sampling`.
pub const BUILTIN_MODULE: &str = "tail_sampling";

/// Loads the sampler guest for `config`, with the policies as its config:
/// `module` if set (a path, or `builtin:<name>` for an embedded guest of the
/// sampler world), else `builtin` when given, else the embedded
/// [`BUILTIN_MODULE`].
pub fn load_sampler(
    name: &str,
    config: &TailSamplingConfig,
    runtime: &WasmRuntime,
    builtin: Option<&[u8]>,
) -> Result<WasmSampler, TailSamplingError> {
    config.validate().map_err(TailSamplingError::Config)?;
    let guest_config =
        serde_json::from_str(&config.guest_config_json()).unwrap_or(serde_json::Value::Null);
    let mut wasm = WasmProcessorConfig::for_module(
        config
            .module
            .clone()
            .unwrap_or_else(|| "builtin:tail_sampling".into()),
    );
    wasm.config = guest_config;
    wasm.limits = config.limits.clone();
    let embedded = match &config.module {
        None => match builtin {
            Some(bytes) => Some(bytes),
            None => Some(embedded_guest(BUILTIN_MODULE)?),
        },
        Some(path) => match path.to_str().and_then(|p| p.strip_prefix(builtin::PREFIX)) {
            Some(name) => Some(embedded_guest(name)?),
            None => None,
        },
    };
    let sampler = match embedded {
        Some(bytes) => WasmSampler::load_bytes(name, &wasm, bytes, runtime)?,
        None => WasmSampler::load(name, &wasm, runtime)?,
    };
    Ok(sampler)
}

/// The bytes of the embedded guest `name`, which must target the sampler world.
fn embedded_guest(name: &str) -> Result<&'static [u8], TailSamplingError> {
    let module = format!("{}{name}", builtin::PREFIX);
    match builtin::resolve(std::path::Path::new(&module)) {
        Ok(builtin::ModuleRef::Builtin(b)) if b.world == builtin::World::Sampler => Ok(b.bytes),
        Ok(builtin::ModuleRef::Builtin(b)) => Err(TailSamplingError::Module(format!(
            "`{module}` is a {} guest, not a sampler",
            b.world.as_str()
        ))),
        Ok(builtin::ModuleRef::File(_)) => Err(TailSamplingError::Module(format!(
            "`{module}` is not a built-in module"
        ))),
        Err(e) => Err(TailSamplingError::Module(e)),
    }
}

/// What the buffer holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Traces held undecided.
    pub traces_held: u64,
    /// Spans held undecided.
    pub spans_held: u64,
    /// Bytes charged against `max_buffered_bytes`.
    pub bytes_held: u64,
    /// Decided trace ids remembered as kept.
    pub sampled_cached: u64,
    /// Decided trace ids remembered as dropped.
    pub not_sampled_cached: u64,
}

/// One `tail_sampling` processor. Cheap to clone (a handle).
#[derive(Clone)]
pub struct TailSampling {
    inner: Arc<Inner>,
}

struct Inner {
    labels: ProcessorLabels,
    config: TailSamplingConfig,
    sampler: Box<dyn TraceSampler>,
    sink: Sink,
    metrics: TailSamplingMetrics,
    state: Mutex<State>,
    /// Signalled whenever decisions free space (for `block_on_overflow`).
    space: tokio::sync::Notify,
    timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Kept spans gathered under the lock, sent after it is released.
#[derive(Default)]
struct Out {
    request: Vec<u8>,
    spans: u64,
}

impl TailSampling {
    /// Builds the processor. `sampler` decides traces; kept spans go to `sink`.
    pub fn new(
        name: &str,
        config: TailSamplingConfig,
        sampler: Box<dyn TraceSampler>,
        metrics: TailSamplingMetrics,
        sink: Sink,
    ) -> Result<Self, TailSamplingError> {
        config.validate().map_err(TailSamplingError::Config)?;
        let expected = usize::try_from(
            config
                .expected_new_traces_per_sec
                .saturating_mul(config.decision_wait.as_secs().max(1))
                .min(config.num_traces),
        )
        .unwrap_or(0);
        let cache = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let state = State::new(
            expected,
            cache(config.decision_cache.sampled_cache_size),
            cache(config.decision_cache.non_sampled_cache_size),
        );
        Ok(TailSampling {
            inner: Arc::new(Inner {
                labels: ProcessorLabels {
                    processor: name.to_owned(),
                },
                config,
                sampler,
                sink,
                metrics,
                state: Mutex::new(state),
                space: tokio::sync::Notify::new(),
                timer: Mutex::new(None),
            }),
        })
    }

    /// Starts the timer that decides traces when their `decision_wait` has
    /// passed. Needs a tokio runtime. Calling it again does nothing.
    pub fn start(&self) -> Result<(), TailSamplingError> {
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| TailSamplingError::NoRuntime)?;
        let mut timer = lock(&self.inner.timer);
        if timer.is_some() {
            return Ok(());
        }
        // A tenth of decision_wait keeps decisions within ~10% of it late.
        let period = (self.inner.config.decision_wait / 10)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        *timer = Some(handle.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                TailSampling { inner }.tick_at(Instant::now());
            }
        }));
        Ok(())
    }

    /// Takes one batch. Waits for space first when `block_on_overflow` is set
    /// and the buffer is full (the timer must be running to make space).
    pub async fn consume(
        &self,
        batch: &ExportTraceServiceRequest,
    ) -> Result<(), TailSamplingError> {
        if self.inner.config.block_on_overflow {
            loop {
                let notified = self.inner.space.notified();
                if !self.full() || lock(&self.inner.state).stopped {
                    break;
                }
                notified.await;
            }
        }
        self.consume_at(batch, Instant::now())
    }

    /// Takes one batch as if it arrived at `now` (a test or an embedder with
    /// its own clock). Never waits: a full buffer decides its oldest traces
    /// early.
    pub fn consume_at(
        &self,
        batch: &ExportTraceServiceRequest,
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        let inner = &self.inner;
        let mut out = Out::default();
        {
            let mut st = lock(&inner.state);
            if st.stopped {
                return Err(TailSamplingError::Stopped);
            }
            for rs in &batch.resource_spans {
                let resource = rs.resource.as_ref().map(Message::encode_to_vec);
                // 64: the context's own allocation, roughly.
                let bytes = resource.as_ref().map_or(0, Vec::len) + rs.schema_url.len() + 64;
                let res = Arc::new(ResourceCtx {
                    resource,
                    schema_url: rs.schema_url.clone(),
                    _charge: Some(Charge::new(&st.contexts, bytes as u64)),
                });
                for ss in &rs.scope_spans {
                    let scope = ss.scope.as_ref().map(Message::encode_to_vec);
                    let bytes = scope.as_ref().map_or(0, Vec::len) + ss.schema_url.len() + 64;
                    let ctx = Arc::new(ScopeCtx {
                        resource: res.clone(),
                        scope,
                        schema_url: ss.schema_url.clone(),
                        _charge: Some(Charge::new(&st.contexts, bytes as u64)),
                    });
                    for (id, spans) in by_trace(&ss.spans) {
                        inner.route(&mut st, id, &ctx, &spans, now, &mut out);
                    }
                }
            }
            inner.publish(&st);
        }
        inner.emit(out);
        Ok(())
    }

    /// Decides every trace whose first span came `decision_wait` or more
    /// before `now`. The timer calls this; tests call it with chosen times.
    pub fn tick_at(&self, now: Instant) {
        let inner = &self.inner;
        let mut out = Out::default();
        {
            let mut st = lock(&inner.state);
            let due = now.checked_sub(inner.config.decision_wait);
            if let Some(due) = due {
                while let Some((id, held)) = st.pop_oldest(Some(due)) {
                    inner.decide(&mut st, id, held, now, &mut out);
                }
            }
            inner.publish(&st);
        }
        inner.space.notify_waiters();
        inner.emit(out);
    }

    /// Stops the timer and decides every trace still held (or drops them,
    /// counted, with `drop_pending_traces_on_shutdown`). Later batches are
    /// refused. Safe to call twice.
    pub async fn shutdown(&self) {
        let timer = lock(&self.inner.timer).take();
        if let Some(t) = timer {
            t.abort();
            let _ = t.await;
        }
        self.shutdown_now(Instant::now());
    }

    /// The synchronous part of [`TailSampling::shutdown`], at `now`.
    pub fn shutdown_now(&self, now: Instant) {
        let inner = &self.inner;
        let mut out = Out::default();
        {
            let mut st = lock(&inner.state);
            st.stopped = true;
            while let Some((id, held)) = st.pop_oldest(None) {
                if inner.config.drop_pending_traces_on_shutdown {
                    inner.count_decided("(shutdown)", false);
                    st.not_sampled.insert(id, ());
                } else {
                    inner.decide(&mut st, id, held, now, &mut out);
                }
            }
            inner.publish(&st);
        }
        inner.space.notify_waiters();
        inner.emit(out);
    }

    /// What the buffer holds now.
    pub fn stats(&self) -> Stats {
        let st = lock(&self.inner.state);
        Stats {
            traces_held: st.traces.len() as u64,
            spans_held: st.spans,
            bytes_held: st.bytes(),
            sampled_cached: st.sampled.len() as u64,
            not_sampled_cached: st.not_sampled.len() as u64,
        }
    }

    fn full(&self) -> bool {
        let st = lock(&self.inner.state);
        st.traces.len() as u64 >= self.inner.config.num_traces
            || st.bytes() >= self.inner.config.max_buffered_bytes
    }
}

/// A poisoned lock means a panic mid-update elsewhere; the state is still
/// counts and buffers, so keep serving rather than cascade the panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The spans of one scope grouped by trace id, in first-seen order; spans
/// without a 16-byte trace id are grouped under `None`.
fn by_trace(spans: &[Span]) -> Vec<(Option<TraceId>, Vec<&Span>)> {
    let mut out: Vec<(Option<TraceId>, Vec<&Span>)> = Vec::new();
    let mut index: std::collections::HashMap<Option<TraceId>, usize> =
        std::collections::HashMap::new();
    for s in spans {
        let id = TraceId::try_from(s.trace_id.as_slice()).ok();
        match index.get(&id) {
            Some(&i) => out[i].1.push(s),
            None => {
                index.insert(id, out.len());
                out.push((id, vec![s]));
            }
        }
    }
    out
}

fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Inner {
    /// Sends one scope's spans of one trace where they belong.
    fn route(
        &self,
        st: &mut State,
        id: Option<TraceId>,
        ctx: &Arc<ScopeCtx>,
        spans: &[&Span],
        now: Instant,
        out: &mut Out,
    ) {
        let Some(id) = id else {
            // No trace to sample them with: forward rather than lose them.
            self.release_spans(ctx, spans, None, out);
            return;
        };
        if let Some(policy) = st.sampled.get(&id).cloned() {
            self.count_late(true, spans.len());
            self.release_spans(ctx, spans, Some(&policy), out);
            return;
        }
        if st.not_sampled.get(&id).is_some() {
            self.count_late(false, spans.len());
            return;
        }
        let is_new = !st.traces.contains_key(&id);
        if is_new {
            while st.traces.len() as u64 >= self.config.num_traces {
                let Some((old, held)) = st.pop_oldest(None) else {
                    break;
                };
                self.count_early("num_traces");
                self.decide(st, old, held, now, out);
            }
        }
        let size = st.append(id, ctx, spans, now);
        let max = self.config.maximum_trace_size_bytes;
        if max > 0 && size > max {
            if st.remove(&id).is_some() {
                self.count_decided("(too_large)", false);
                st.not_sampled.insert(id, ());
            }
            return;
        }
        while st.bytes() > self.config.max_buffered_bytes {
            let Some((old, held)) = st.pop_oldest(None) else {
                break;
            };
            self.count_early("max_buffered_bytes");
            self.decide(st, old, held, now, out);
        }
    }

    /// Decides one held trace and records the outcome.
    fn decide(&self, st: &mut State, id: TraceId, held: Held, now: Instant, out: &mut Out) {
        let started = Instant::now();
        let groups: Vec<&Group> = held.groups.iter().collect();
        let request = wire::encode_request(&groups, &[]);
        let context = SampleContext {
            decision_time_unix_nano: wall_clock_nanos(),
            trace_size_bytes: request.len() as u64,
        };
        let decision = ExportTraceServiceRequest::decode(&request[..])
            .map_err(|e| format!("re-decoding the held trace: {e}"))
            .and_then(|trace| self.sampler.sample(&trace, context));
        let (keep, reason) = match decision {
            Ok(d) => (d.keep, d.reason),
            Err(e) => {
                self.metrics.faults.get_or_create(&self.labels).inc();
                warn!(processor = %self.labels.processor, error = %e, "Tail sampler faulted; keeping the trace.");
                (true, "(fault)".to_owned())
            }
        };
        let l = &self.labels;
        self.metrics
            .decision_duration
            .get_or_create(l)
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .decision_age
            .get_or_create(l)
            .observe(now.saturating_duration_since(held.first_seen).as_secs_f64());
        self.count_decided(&reason, keep);
        if keep {
            let request = if self.config.record_policy && !reason.is_empty() {
                wire::encode_request(&groups, &wire::policy_attribute(&reason))
            } else {
                request
            };
            out.request.extend_from_slice(&request);
            out.spans += held.spans;
            st.sampled.insert(id, Arc::from(reason.as_str()));
        } else {
            st.not_sampled.insert(id, ());
        }
    }

    fn release_spans(
        &self,
        ctx: &Arc<ScopeCtx>,
        spans: &[&Span],
        policy: Option<&str>,
        out: &mut Out,
    ) {
        let mut g = Group {
            ctx: ctx.clone(),
            spans: Vec::new(),
            count: spans.len() as u64,
        };
        for s in spans {
            wire::push_span(&mut g.spans, s);
        }
        let extra = match policy {
            Some(p) if self.config.record_policy && !p.is_empty() => wire::policy_attribute(p),
            _ => Vec::new(),
        };
        out.request
            .extend_from_slice(&wire::encode_request(&[&g], &extra));
        out.spans += g.count;
    }

    fn count_decided(&self, policy: &str, sampled: bool) {
        self.metrics
            .decided
            .get_or_create(&DecisionLabels {
                processor: self.labels.processor.clone(),
                policy: policy.to_owned(),
                outcome: outcome(sampled).to_owned(),
            })
            .inc();
    }

    fn count_early(&self, cause: &str) {
        self.metrics
            .early
            .get_or_create(&EarlyLabels {
                processor: self.labels.processor.clone(),
                cause: cause.to_owned(),
            })
            .inc();
    }

    fn count_late(&self, sampled: bool, spans: usize) {
        self.metrics
            .late_spans
            .get_or_create(&LateLabels {
                processor: self.labels.processor.clone(),
                outcome: outcome(sampled).to_owned(),
            })
            .inc_by(spans as u64);
    }

    fn publish(&self, st: &State) {
        let l = &self.labels;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.metrics
            .traces_held
            .get_or_create(l)
            .set(gauge(st.traces.len() as u64));
        self.metrics
            .spans_held
            .get_or_create(l)
            .set(gauge(st.spans));
        self.metrics
            .bytes_held
            .get_or_create(l)
            .set(gauge(st.bytes()));
    }

    fn emit(&self, out: Out) {
        if out.spans > 0 {
            (self.sink)(Released {
                request: out.request,
                spans: out.spans,
            });
        }
    }
}
