//! The `tail_sampling` processor: buffers spans by trace id, and when a
//! trace's `decision_wait` has passed hands the whole trace to the sampler
//! guest (`guest-crates/guests/tail-sampling`, the contrib policies), then
//! forwards the kept traces.
//!
//! The parts: `intake` splits batches and routes each trace's spans (held,
//! late, or forwarded), `buffer` holds them, `decide` takes traces out and
//! asks the sampler, `lifecycle` starts the timer (`timer`, shared with the
//! envelope holder) and shuts down, `counts`
//! keeps the metrics, `load` loads the sampler guest, `wire` reads and writes
//! the held bytes, `held` is how they are held.
//!
//! A batch's path through it:
//!
//! 1. [`TailSampling::consume_bytes`] splits each encoded request by trace
//!    id without decoding it ([`wire::split`]: only the framing and each
//!    span's `trace_id` are read). Spans of a trace already decided follow
//!    the decision from the decision cache (forwarded at once, or dropped),
//!    counted as late. Spans without a valid 16-byte trace id cannot be
//!    sampled as a trace and are forwarded.
//! 2. The rest are held protobuf-encoded under their trace: as byte ranges
//!    of the received request, which is held once and charged whole while
//!    any range of it is held ([`held`]).
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

pub(crate) mod buffer;
mod cache;
pub mod config;
mod counts;
mod decide;
pub(crate) mod held;
mod intake;
mod lifecycle;
mod load;
pub mod metrics;
mod ottl_condition;
pub(crate) mod timer;
pub(crate) mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prost::Message;

use crate::wasm::metrics::ProcessorLabels;
use crate::wasm::sampler::SampleContext;
use crate::wasm::{Decision, LoadError, WasmSampler};
use buffer::{ContextBytes, State};
pub use config::{ConfigError, DecisionCacheConfig, TailSamplingConfig};
pub use load::{BUILTIN_MODULE, load_sampler};
pub use metrics::TailSamplingMetrics;
pub use ottl_condition::OttlPolicies;
pub use wire::WireError;

/// A trace id.
pub use pdata::group::TraceId;

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
    /// The `ottl_condition` policies, evaluated here before each guest call.
    ottl: OttlPolicies,
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
    timer: timer::Timer,
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

/// A poisoned lock means a panic mid-update elsewhere; the state is still
/// counts and buffers, so keep serving rather than cascade the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
