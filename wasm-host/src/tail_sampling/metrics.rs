//! The tail-sampling processor's metrics, registered once in the
//! collector's `prometheus-client` registry and labelled by processor.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::wasm::metrics::ProcessorLabels;

/// `{processor, policy, outcome}` for decided traces.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// Component id, e.g. `tail_sampling`.
    pub processor: String,
    /// Name of the deciding policy; empty when no policy decided; `(fault)`,
    /// `(too_large)` or `(shutdown)` when the host decided.
    pub policy: String,
    /// `sampled` or `not_sampled`.
    pub outcome: String,
}

/// `{processor, cause}` for early decisions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EarlyLabels {
    /// Component id.
    pub processor: String,
    /// `num_traces` or `max_buffered_bytes`: which bound was reached.
    pub cause: String,
}

/// `{processor, outcome}` for late spans.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LateLabels {
    /// Component id.
    pub processor: String,
    /// `sampled` (forwarded) or `not_sampled` (dropped): the cached decision
    /// the span followed.
    pub outcome: String,
}

fn seconds_histogram() -> Histogram {
    // 10 µs .. ~40 s: one guest call is tens of µs; the age of a trace at
    // its decision is around decision_wait (seconds).
    Histogram::new(exponential_buckets(1e-5, 4.0, 12))
}

/// Every metric family of the tail-sampling processors.
#[derive(Clone)]
pub struct TailSamplingMetrics {
    pub(crate) decided: Family<DecisionLabels, Counter>,
    pub(crate) early: Family<EarlyLabels, Counter>,
    pub(crate) late_spans: Family<LateLabels, Counter>,
    pub(crate) faults: Family<ProcessorLabels, Counter>,
    pub(crate) traces_held: Family<ProcessorLabels, Gauge>,
    pub(crate) spans_held: Family<ProcessorLabels, Gauge>,
    pub(crate) bytes_held: Family<ProcessorLabels, Gauge>,
    pub(crate) decision_duration: Family<ProcessorLabels, Histogram, fn() -> Histogram>,
    pub(crate) decision_age: Family<ProcessorLabels, Histogram, fn() -> Histogram>,
}

impl TailSamplingMetrics {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::unregistered();
        registry.register(
            "tracemend_tail_sampling_traces_decided",
            "Traces decided, by deciding policy and outcome (sampled, not_sampled)",
            m.decided.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_early_decisions",
            "Traces decided before decision_wait because a bound was reached (cause: num_traces, max_buffered_bytes)",
            m.early.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_late_spans",
            "Spans that arrived after their trace's decision and followed it (outcome: sampled, not_sampled)",
            m.late_spans.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_decision_faults",
            "Decisions whose sampler call faulted; those traces are kept",
            m.faults.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_traces_held",
            "Traces held undecided",
            m.traces_held.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_spans_held",
            "Spans held undecided",
            m.spans_held.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_bytes_held",
            "Bytes of spans held undecided (protobuf size plus bookkeeping)",
            m.bytes_held.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_decision_duration_seconds",
            "Time to decide one trace (encode, sampler call)",
            m.decision_duration.clone(),
        );
        registry.register(
            "tracemend_tail_sampling_decision_age_seconds",
            "Time from a trace's first span to its decision",
            m.decision_age.clone(),
        );
        m
    }

    /// The families without a registry (tests, embedding).
    pub fn unregistered() -> Self {
        TailSamplingMetrics {
            decided: Family::default(),
            early: Family::default(),
            late_spans: Family::default(),
            faults: Family::default(),
            traces_held: Family::default(),
            spans_held: Family::default(),
            bytes_held: Family::default(),
            decision_duration: Family::new_with_constructor(seconds_histogram),
            decision_age: Family::new_with_constructor(seconds_histogram),
        }
    }

    /// Traces decided by `policy` with `sampled` so far (for tests and
    /// health reports).
    pub fn decided(&self, processor: &str, policy: &str, sampled: bool) -> u64 {
        self.decided
            .get_or_create(&DecisionLabels {
                processor: processor.to_owned(),
                policy: policy.to_owned(),
                outcome: outcome(sampled).to_owned(),
            })
            .get()
    }

    /// Early decisions so far for `cause` (`num_traces` or `max_buffered_bytes`).
    pub fn early_decisions(&self, processor: &str, cause: &str) -> u64 {
        self.early
            .get_or_create(&EarlyLabels {
                processor: processor.to_owned(),
                cause: cause.to_owned(),
            })
            .get()
    }

    /// The held gauges of `processor` now: traces, spans, bytes (summed over
    /// every buffer of that id, e.g. one per pipeline).
    pub fn held(&self, processor: &str) -> [i64; 3] {
        let l = ProcessorLabels {
            processor: processor.to_owned(),
        };
        [&self.traces_held, &self.spans_held, &self.bytes_held].map(|f| f.get_or_create(&l).get())
    }

    /// Late spans so far that followed a `sampled` (or not) decision.
    pub fn late_spans(&self, processor: &str, sampled: bool) -> u64 {
        self.late_spans
            .get_or_create(&LateLabels {
                processor: processor.to_owned(),
                outcome: outcome(sampled).to_owned(),
            })
            .get()
    }
}

pub(crate) fn outcome(sampled: bool) -> &'static str {
    if sampled { "sampled" } else { "not_sampled" }
}
