//! The `tail_sampling` processor: buffers spans by trace id, and when a
//! trace's `decision_wait` has passed hands the whole trace to the sampler
//! guest (`guest-crates/guests/tail-sampling`, the contrib policies), then
//! forwards the kept traces.
//!
//! A batch's path through it:
//!
//! 1. [`TailSampling::consume_encoded`] splits each encoded request by trace
//!    id without decoding it ([`wire::split`]: only the framing and each
//!    span's `trace_id` are read). Spans of a trace already decided follow
//!    the decision from the decision cache (forwarded at once, or dropped),
//!    counted as late. Spans without a valid 16-byte trace id cannot be
//!    sampled as a trace and are forwarded.
//! 2. The rest are held protobuf-encoded, as they came, under their trace.
//!    The buffer is bounded by `num_traces` and by `max_buffered_bytes`: past
//!    either, the oldest held traces are decided early (with what has
//!    arrived), not dropped, and counted. With `block_on_overflow` the caller
//!    waits for the timer to free space instead. A trace past
//!    `maximum_trace_size_bytes` is decided "not sampled" at once.
//! 3. A tokio timer ([`TailSampling::start`]) decides traces whose first span
//!    is `decision_wait` old, on a blocking thread so the receivers keep
//!    running: the trace is written as one encoded OTLP request, the sampler
//!    answers keep or drop and the policy's name; the decision is cached so
//!    late spans follow it, counted by policy and outcome.
//! 4. Kept traces go to the sink as encoded `ExportTraceServiceRequest`s
//!    ([`Released`]), optionally with `tailsampling.policy` on every span.
//!    A sampler fault keeps the trace (nothing is lost for a broken sampler)
//!    and is counted.
//! 5. [`TailSampling::shutdown`] stops the timer and decides everything
//!    held (or drops it, counted, with `drop_pending_traces_on_shutdown`).
//!
//! The sampler is called without the buffer's lock: traces to decide are
//! taken out of the buffer under the lock (a few at a time), decided, and
//! the outcomes recorded under the lock again. Spans of a trace being
//! decided wait beside it and follow its decision like late spans. So
//! receivers are never blocked behind a guest call, and decisions from
//! several threads (the timer, receivers deciding early) run in parallel on
//! the sampler's instance pool.

mod buffer;
mod cache;
pub mod config;
pub mod metrics;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prost::Message;
use tracing::warn;

use crate::wasm::builtin;
use crate::wasm::metrics::ProcessorLabels;
use crate::wasm::sampler::SampleContext;
use crate::wasm::{Decision, LoadError, WasmProcessorConfig, WasmRuntime, WasmSampler};
use buffer::{Charge, ContextBytes, Held, State};
pub use config::{ConfigError, DecisionCacheConfig, TailSamplingConfig};
pub use metrics::TailSamplingMetrics;
use metrics::{DecisionLabels, EarlyLabels, LateLabels, outcome};
pub use wire::WireError;
use wire::{Group, ResourceCtx, ScopeCtx};

/// A trace id.
pub type TraceId = [u8; 16];

/// Traces taken out of the buffer per lock hold to be decided: small enough
/// that the first kept ones leave soon and the spans waiting beside them
/// stay few, large enough that the lock is not taken per trace.
const DECIDE_CHUNK: usize = 128;

/// Decides one complete trace. [`WasmSampler`] is the real one; tests and
/// embedders may supply their own.
pub trait TraceSampler: Send + Sync + 'static {
    /// Keep or drop `trace`, an encoded `ExportTraceServiceRequest` holding
    /// every span of one trace, with the deciding policy's name as the
    /// reason.
    fn sample(&self, trace: &[u8], context: SampleContext) -> Result<Decision, String>;
}

impl TraceSampler for WasmSampler {
    fn sample(&self, trace: &[u8], context: SampleContext) -> Result<Decision, String> {
        // The guest's view is built from the held bytes: the trace is never decoded.
        self.sample_encoded(trace, context)
            .map_err(|e| e.to_string())
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
    /// An encoded request whose structure is broken.
    #[error(transparent)]
    Malformed(#[from] WireError),
}

/// One loaded sampler shared by several processors (one per pipeline).
impl<T: TraceSampler> TraceSampler for Arc<T> {
    fn sample(&self, trace: &[u8], context: SampleContext) -> Result<Decision, String> {
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
    /// This processor's metrics, looked up once: a lookup by labels costs
    /// allocations and a hash per decision.
    handles: Handles,
    state: Mutex<State>,
    /// The state's context byte count, so contexts are built outside the lock.
    contexts: Arc<ContextBytes>,
    /// Signalled when the last decision in progress outside the lock is
    /// done (shutdown waits for it).
    idle: Condvar,
    /// Signalled whenever decisions free space (for `block_on_overflow`).
    space: tokio::sync::Notify,
    timer: Mutex<Option<Timer>>,
}

/// Metric handles of one processor (clones share the registered metric).
struct Handles {
    duration: Histogram,
    age: Histogram,
    /// `traces_decided` by policy: not sampled, sampled.
    decided: Mutex<HashMap<String, [Option<Counter>; 2]>>,
}

impl Handles {
    fn new(metrics: &TailSamplingMetrics, labels: &ProcessorLabels) -> Self {
        Handles {
            duration: metrics.decision_duration.get_or_create(labels).clone(),
            age: metrics.decision_age.get_or_create(labels).clone(),
            decided: Mutex::default(),
        }
    }
}

/// The running decision timer.
struct Timer {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

/// Work gathered under the lock, done after it is released: kept spans to
/// send and traces to decide.
#[derive(Default)]
struct Out {
    request: Vec<u8>,
    spans: u64,
    /// Traces taken out of the buffer (and entered in `State::deciding`).
    decide: Vec<(TraceId, Held)>,
}

impl Out {
    fn release(&mut self, request: Vec<u8>, spans: u64) {
        if self.request.is_empty() {
            self.request = request;
        } else {
            self.request.extend_from_slice(&request);
        }
        self.spans += spans;
    }
}

/// One trace decided outside the lock, to be recorded under it.
struct Verdict {
    id: TraceId,
    keep: bool,
    reason: Arc<str>,
    /// The kept trace as it leaves (with the policy attribute if asked).
    release: Option<(Vec<u8>, u64)>,
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
        let labels = ProcessorLabels {
            processor: name.to_owned(),
        };
        Ok(TailSampling {
            inner: Arc::new(Inner {
                handles: Handles::new(&metrics, &labels),
                labels,
                config,
                sampler,
                sink,
                metrics,
                contexts: state.contexts.clone(),
                state: Mutex::new(state),
                idle: Condvar::new(),
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
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = handle.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.notified() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                let ts = TailSampling { inner };
                // A tick's decisions are milliseconds of CPU: on a blocking
                // thread, the async workers (receivers) keep running.
                let run = tokio::task::spawn_blocking(move || ts.tick_at(Instant::now()));
                if run.await.is_err() {
                    return;
                }
            }
        });
        *timer = Some(Timer { task, stop });
        Ok(())
    }

    /// Takes one batch. Waits for space first when `block_on_overflow` is set
    /// and the buffer is full (the timer must be running to make space).
    pub async fn consume(
        &self,
        batch: &ExportTraceServiceRequest,
    ) -> Result<(), TailSamplingError> {
        self.consume_encoded(&batch.encode_to_vec()).await
    }

    /// Takes one batch, an encoded `ExportTraceServiceRequest` (as received:
    /// it is never decoded here). Waits for space first as
    /// [`TailSampling::consume`].
    pub async fn consume_encoded(&self, request: &[u8]) -> Result<(), TailSamplingError> {
        if self.inner.config.block_on_overflow {
            loop {
                let notified = self.inner.space.notified();
                if !self.full() || lock(&self.inner.state).stopped {
                    break;
                }
                notified.await;
            }
        }
        self.consume_encoded_at(request, Instant::now())
    }

    /// Takes one batch as if it arrived at `now` (a test or an embedder with
    /// its own clock). Never waits: a full buffer decides its oldest traces
    /// early.
    pub fn consume_at(
        &self,
        batch: &ExportTraceServiceRequest,
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        self.consume_encoded_at(&batch.encode_to_vec(), now)
    }

    /// [`TailSampling::consume_at`] for an encoded request.
    pub fn consume_encoded_at(
        &self,
        request: &[u8],
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        let inner = &self.inner;
        // Splitting and building the contexts need no lock.
        let canonical;
        let parts = match wire::split(request) {
            Ok(parts) => parts,
            Err(e) => {
                // The split reads only what OTLP writes; prost also accepts a few
                // encodings it does not (e.g. unknown fields of the deprecated group
                // type). Such a request is held as prost re-encodes it.
                let Ok(decoded) = ExportTraceServiceRequest::decode(request) else {
                    return Err(e.into());
                };
                canonical = decoded.encode_to_vec();
                wire::split(&canonical)?
            }
        };
        let mut scopes = Vec::new();
        for rs in parts {
            // 64: the context's own allocation, roughly.
            let bytes = rs.resource.as_ref().map_or(0, Vec::len) + rs.schema_url.len() + 64;
            let res = Arc::new(ResourceCtx {
                resource: rs.resource,
                schema_url: rs.schema_url.to_owned(),
                _charge: Some(Charge::new(&inner.contexts, bytes as u64)),
            });
            for ss in rs.scopes {
                let bytes = ss.scope.as_ref().map_or(0, Vec::len) + ss.schema_url.len() + 64;
                let ctx = Arc::new(ScopeCtx {
                    resource: res.clone(),
                    scope: ss.scope,
                    schema_url: ss.schema_url.to_owned(),
                    _charge: Some(Charge::new(&inner.contexts, bytes as u64)),
                });
                scopes.push((ctx, ss.traces));
            }
        }
        let mut out = Out::default();
        {
            let mut st = lock(&inner.state);
            if st.stopped {
                return Err(TailSamplingError::Stopped);
            }
            for (ctx, traces) in &scopes {
                for (id, spans) in traces {
                    inner.route(&mut st, *id, ctx, spans, now, &mut out);
                }
            }
            inner.begin(&mut st, &out);
            inner.publish(&mut st);
        }
        inner.finish(out, now);
        Ok(())
    }

    /// Decides every trace whose first span came `decision_wait` or more
    /// before `now`. The timer calls this; tests call it with chosen times.
    pub fn tick_at(&self, now: Instant) {
        let inner = &self.inner;
        if let Some(due) = now.checked_sub(inner.config.decision_wait) {
            while inner.decide_some(Some(due), now) {}
        }
        inner.space.notify_waiters();
    }

    /// Stops the timer and decides every trace still held (or drops them,
    /// counted, with `drop_pending_traces_on_shutdown`). Later batches are
    /// refused. Safe to call twice.
    pub async fn shutdown(&self) {
        let timer = lock(&self.inner.timer).take();
        if let Some(t) = timer {
            // Let a tick in progress finish rather than abandon its thread.
            t.stop.notify_one();
            let _ = t.task.await;
        }
        self.shutdown_now(Instant::now());
    }

    /// The synchronous part of [`TailSampling::shutdown`], at `now`. Returns
    /// once every decision in progress elsewhere has been sent on too.
    pub fn shutdown_now(&self, now: Instant) {
        let inner = &self.inner;
        lock(&inner.state).stopped = true;
        if inner.config.drop_pending_traces_on_shutdown {
            let mut st = lock(&inner.state);
            while let Some((id, _held)) = st.pop_oldest(None) {
                inner.count_decided("(shutdown)", false);
                st.not_sampled.insert(id, ());
            }
            inner.publish(&mut st);
        } else {
            while inner.decide_some(None, now) {}
        }
        {
            let mut st = lock(&inner.state);
            while st.in_flight > 0 {
                st = inner.idle.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            inner.publish(&mut st);
        }
        inner.space.notify_waiters();
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
        spans: &[&[u8]],
        now: Instant,
        out: &mut Out,
    ) {
        let Some(id) = id else {
            // No trace to sample them with: forward rather than lose them.
            let (request, n) = self.release_spans(ctx, spans, None);
            out.release(request, n);
            return;
        };
        if let Some(policy) = st.sampled.get(&id).cloned() {
            self.count_late(true, spans.len() as u64);
            let (request, n) = self.release_spans(ctx, spans, Some(&policy));
            out.release(request, n);
            return;
        }
        if st.not_sampled.get(&id).is_some() {
            self.count_late(false, spans.len() as u64);
            return;
        }
        if let Some(waiting) = st.deciding.get_mut(&id) {
            // Being decided outside the lock: follow that decision.
            let mut g = Group {
                ctx: ctx.clone(),
                spans: Vec::new(),
                count: spans.len() as u64,
            };
            for s in spans {
                wire::push_span(&mut g.spans, s);
            }
            waiting.push(g);
            return;
        }
        let is_new = !st.traces.contains_key(&id);
        if is_new {
            while st.traces.len() as u64 >= self.config.num_traces {
                let Some((old, held)) = st.pop_oldest(None) else {
                    break;
                };
                self.count_early("num_traces");
                take(st, old, held, out);
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
            take(st, old, held, out);
        }
    }

    /// Takes up to [`DECIDE_CHUNK`] of the oldest held traces (only those
    /// first seen at or before `due`, if given), decides them and sends the
    /// kept ones on. False when there was nothing more to take.
    fn decide_some(&self, due: Option<Instant>, now: Instant) -> bool {
        let mut out = Out::default();
        {
            let mut st = lock(&self.state);
            while out.decide.len() < DECIDE_CHUNK {
                let Some((id, held)) = st.pop_oldest(due) else {
                    break;
                };
                take(&mut st, id, held, &mut out);
            }
            if out.decide.is_empty() {
                return false;
            }
            self.begin(&mut st, &out);
            self.publish(&mut st);
        }
        self.finish(out, now);
        true
    }

    /// Notes, under the lock, that `out` has decisions to make outside it.
    fn begin(&self, st: &mut State, out: &Out) {
        if !out.decide.is_empty() {
            st.in_flight += 1;
        }
    }

    /// Without the lock: decides the traces in `out`, records the outcomes,
    /// and sends what is kept.
    fn finish(&self, mut out: Out, now: Instant) {
        let deciding = !out.decide.is_empty();
        if deciding {
            let verdicts: Vec<Verdict> = std::mem::take(&mut out.decide)
                .into_iter()
                .map(|(id, held)| self.judge(id, held, now))
                .collect();
            let mut st = lock(&self.state);
            for v in verdicts {
                self.record(&mut st, v, &mut out);
            }
            self.publish(&mut st);
        }
        if out.spans > 0 {
            (self.sink)(Released {
                request: out.request,
                spans: out.spans,
            });
        }
        if deciding {
            let mut st = lock(&self.state);
            st.in_flight -= 1;
            if st.in_flight == 0 {
                self.idle.notify_all();
            }
            drop(st);
            self.space.notify_waiters();
        }
    }

    /// Decides one trace taken out of the buffer (no lock held).
    fn judge(&self, id: TraceId, held: Held, now: Instant) -> Verdict {
        let started = Instant::now();
        let groups: Vec<&Group> = held.groups.iter().collect();
        let request = wire::encode_request(&groups, &[]);
        let context = SampleContext {
            decision_time_unix_nano: wall_clock_nanos(),
            trace_size_bytes: request.len() as u64,
        };
        let (keep, reason) = match self.sampler.sample(&request, context) {
            Ok(d) => (d.keep, d.reason),
            Err(e) => {
                self.metrics.faults.get_or_create(&self.labels).inc();
                warn!(processor = %self.labels.processor, error = %e, "Tail sampler faulted; keeping the trace.");
                (true, "(fault)".to_owned())
            }
        };
        self.handles
            .duration
            .observe(started.elapsed().as_secs_f64());
        self.handles
            .age
            .observe(now.saturating_duration_since(held.first_seen).as_secs_f64());
        self.count_decided(&reason, keep);
        let release = keep.then(|| {
            let request = if self.config.record_policy && !reason.is_empty() {
                wire::encode_request(&groups, &wire::policy_attribute(&reason))
            } else {
                request
            };
            (request, held.spans)
        });
        Verdict {
            id,
            keep,
            reason: Arc::from(reason),
            release,
        }
    }

    /// Records a decision under the lock: the cache, and the spans that
    /// arrived while it was being made.
    fn record(&self, st: &mut State, v: Verdict, out: &mut Out) {
        if let Some((request, spans)) = v.release {
            out.release(request, spans);
        }
        for g in st.deciding.remove(&v.id).unwrap_or_default() {
            self.count_late(v.keep, g.count);
            if v.keep {
                let extra = self.policy_extra(Some(&v.reason));
                out.release(wire::encode_request(&[&g], &extra), g.count);
            }
        }
        if v.keep {
            st.sampled.insert(v.id, v.reason);
        } else {
            st.not_sampled.insert(v.id, ());
        }
    }

    /// `spans` of one scope as an encoded request, with the policy attribute
    /// if asked; and their count.
    fn release_spans(
        &self,
        ctx: &Arc<ScopeCtx>,
        spans: &[&[u8]],
        policy: Option<&str>,
    ) -> (Vec<u8>, u64) {
        let mut g = Group {
            ctx: ctx.clone(),
            spans: Vec::new(),
            count: spans.len() as u64,
        };
        for s in spans {
            wire::push_span(&mut g.spans, s);
        }
        (
            wire::encode_request(&[&g], &self.policy_extra(policy)),
            g.count,
        )
    }

    /// The encoded policy attribute for spans kept by `policy`, or nothing.
    fn policy_extra(&self, policy: Option<&str>) -> Vec<u8> {
        match policy {
            Some(p) if self.config.record_policy && !p.is_empty() => wire::policy_attribute(p),
            _ => Vec::new(),
        }
    }

    fn count_decided(&self, policy: &str, sampled: bool) {
        let mut decided = lock(&self.handles.decided);
        if let Some(c) = decided
            .get(policy)
            .and_then(|c| c[usize::from(sampled)].as_ref())
        {
            c.inc();
            return;
        }
        let c = self
            .metrics
            .decided
            .get_or_create(&DecisionLabels {
                processor: self.labels.processor.clone(),
                policy: policy.to_owned(),
                outcome: outcome(sampled).to_owned(),
            })
            .clone();
        c.inc();
        decided.entry(policy.to_owned()).or_default()[usize::from(sampled)] = Some(c);
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

    fn count_late(&self, sampled: bool, spans: u64) {
        self.metrics
            .late_spans
            .get_or_create(&LateLabels {
                processor: self.labels.processor.clone(),
                outcome: outcome(sampled).to_owned(),
            })
            .inc_by(spans);
    }

    /// Moves the held gauges by what this buffer's holdings changed since
    /// it last published: the same processor id in two pipelines is two
    /// buffers under one label, and the gauges show their sum.
    fn publish(&self, st: &mut State) {
        let now = [st.traces.len() as u64, st.spans, st.bytes()].map(gauge);
        let before = std::mem::replace(&mut st.published, now);
        let l = &self.labels;
        let m = &self.metrics;
        for (i, family) in [&m.traces_held, &m.spans_held, &m.bytes_held]
            .into_iter()
            .enumerate()
        {
            let delta = now[i] - before[i];
            if delta != 0 {
                family.get_or_create(l).inc_by(delta);
            }
        }
    }
}

impl Drop for Inner {
    /// Takes this buffer's share out of the held gauges (zero after a
    /// shutdown, not after an abandoned buffer).
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let l = &self.labels;
        let m = &self.metrics;
        for (i, family) in [&m.traces_held, &m.spans_held, &m.bytes_held]
            .into_iter()
            .enumerate()
        {
            if st.published[i] != 0 {
                family.get_or_create(l).dec_by(st.published[i]);
            }
        }
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Takes a trace out of the buffer to be decided outside the lock; spans
/// that arrive for it meanwhile wait in `State::deciding`.
fn take(st: &mut State, id: TraceId, held: Held, out: &mut Out) {
    st.deciding.insert(id, Vec::new());
    out.decide.push((id, held));
}
