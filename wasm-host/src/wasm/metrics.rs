//! The WASM host's own metrics, registered once per [`WasmRuntime`] in the
//! collector's `prometheus-client` registry and labelled by processor.
//!
//! [`WasmRuntime`]: super::WasmRuntime

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `{processor}`, the label set the collector's own processor metrics use too.
pub use component::ProcessorLabels;

/// `{processor, kind}` for faults.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// Component id.
    pub processor: String,
    /// Fault kind, e.g. `trap`, `timeout`.
    pub kind: String,
}

/// `{processor, reason}` for dropped items.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// Component id.
    pub processor: String,
    /// `edit` (the guest dropped it) or `on_error` (the batch was dropped).
    pub reason: String,
}

/// `{processor, name}` for guest-defined metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuestLabels {
    /// Component id.
    pub processor: String,
    /// Name the guest chose.
    pub name: String,
}

fn call_histogram() -> Histogram {
    // 5 µs .. ~5 s: a no-op call is a few µs, a timeout is capped at 60 s.
    Histogram::new(exponential_buckets(5e-6, 4.0, 11))
}

fn guest_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-3, 4.0, 12))
}

/// Every metric family of the WASM host.
#[derive(Clone)]
pub struct WasmMetrics {
    pub(crate) calls: Family<ProcessorLabels, Counter>,
    pub(crate) faults: Family<FaultLabels, Counter>,
    pub(crate) duration: Family<ProcessorLabels, Histogram, fn() -> Histogram>,
    pub(crate) edits: Family<ProcessorLabels, Counter>,
    pub(crate) spans_dropped: Family<DropLabels, Counter>,
    pub(crate) logs_dropped: Family<DropLabels, Counter>,
    pub(crate) instances: Family<ProcessorLabels, Counter>,
    pub(crate) circuit_open: Family<ProcessorLabels, Gauge>,
    pub(crate) guest_counters: Family<GuestLabels, Counter>,
    pub(crate) guest_histograms: Family<GuestLabels, Histogram, fn() -> Histogram>,
}

impl WasmMetrics {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::unregistered();
        registry.register(
            "tracemend_wasm_calls",
            "Batches handed to a WASM processor",
            m.calls.clone(),
        );
        registry.register(
            "tracemend_wasm_faults",
            "Faulted WASM processor calls by kind (trap, timeout, memory, invalid_edit, guest_error, instantiate, host_panic, circuit_open)",
            m.faults.clone(),
        );
        registry.register(
            "tracemend_wasm_call_duration_seconds",
            "Time per WASM processor call, view building and edit application included",
            m.duration.clone(),
        );
        registry.register(
            "tracemend_wasm_edits_applied",
            "Edits applied to batches on behalf of WASM processors",
            m.edits.clone(),
        );
        registry.register(
            "tracemend_wasm_spans_dropped",
            "Spans dropped by WASM processors (reason: edit or on_error)",
            m.spans_dropped.clone(),
        );
        registry.register(
            "tracemend_wasm_logs_dropped",
            "Log records dropped by WASM processors (reason: edit or on_error)",
            m.logs_dropped.clone(),
        );
        registry.register(
            "tracemend_wasm_instances_created",
            "WASM instances built (first use and rebuilds after faults)",
            m.instances.clone(),
        );
        registry.register(
            "tracemend_wasm_circuit_open",
            "1 while the processor's circuit breaker is open",
            m.circuit_open.clone(),
        );
        registry.register(
            "tracemend_wasm_guest_counter",
            "Counters defined by WASM guests",
            m.guest_counters.clone(),
        );
        registry.register(
            "tracemend_wasm_guest_histogram",
            "Histograms defined by WASM guests",
            m.guest_histograms.clone(),
        );
        m
    }

    /// Families that are not exported anywhere (tests, benchmarks).
    pub fn unregistered() -> Self {
        WasmMetrics {
            calls: Family::default(),
            faults: Family::default(),
            duration: Family::new_with_constructor(call_histogram),
            edits: Family::default(),
            spans_dropped: Family::default(),
            logs_dropped: Family::default(),
            instances: Family::default(),
            circuit_open: Family::default(),
            guest_counters: Family::default(),
            guest_histograms: Family::new_with_constructor(guest_histogram),
        }
    }

    /// Handles bound to one processor's labels, so the hot path does no
    /// label hashing for the common series.
    pub(crate) fn for_processor(&self, processor: &str) -> PluginMetrics {
        let l = ProcessorLabels {
            processor: processor.to_owned(),
        };
        let d = |reason: &str| DropLabels {
            processor: processor.to_owned(),
            reason: reason.into(),
        };
        // One statement per series: `get_or_create` returns a read guard on
        // the family, and a second call on the same family while the first
        // guard lives (one struct expression) deadlocks on its write lock.
        let calls = self.calls.get_or_create(&l).clone();
        let duration = self.duration.get_or_create(&l).clone();
        let edits = self.edits.get_or_create(&l).clone();
        let spans_dropped_edit = self.spans_dropped.get_or_create(&d("edit")).clone();
        let spans_dropped_on_error = self.spans_dropped.get_or_create(&d("on_error")).clone();
        let logs_dropped_edit = self.logs_dropped.get_or_create(&d("edit")).clone();
        let logs_dropped_on_error = self.logs_dropped.get_or_create(&d("on_error")).clone();
        let instances = self.instances.get_or_create(&l).clone();
        let circuit_open = self.circuit_open.get_or_create(&l).clone();
        PluginMetrics {
            processor: processor.to_owned(),
            calls,
            duration,
            edits,
            spans_dropped_edit,
            spans_dropped_on_error,
            logs_dropped_edit,
            logs_dropped_on_error,
            instances,
            circuit_open,
            families: self.clone(),
        }
    }
}

/// One processor's series.
#[derive(Clone)]
pub(crate) struct PluginMetrics {
    processor: String,
    pub(crate) calls: Counter,
    pub(crate) duration: Histogram,
    pub(crate) edits: Counter,
    pub(crate) spans_dropped_edit: Counter,
    pub(crate) spans_dropped_on_error: Counter,
    pub(crate) logs_dropped_edit: Counter,
    pub(crate) logs_dropped_on_error: Counter,
    pub(crate) instances: Counter,
    pub(crate) circuit_open: Gauge,
    families: WasmMetrics,
}

impl PluginMetrics {
    pub(crate) fn fault(&self, kind: &str) {
        self.families
            .faults
            .get_or_create(&FaultLabels {
                processor: self.processor.clone(),
                kind: kind.into(),
            })
            .inc();
    }

    pub(crate) fn guest_counter(&self, name: &str, value: u64) {
        self.families
            .guest_counters
            .get_or_create(&GuestLabels {
                processor: self.processor.clone(),
                name: name.into(),
            })
            .inc_by(value);
    }

    pub(crate) fn guest_histogram(&self, name: &str, value: f64) {
        self.families
            .guest_histograms
            .get_or_create(&GuestLabels {
                processor: self.processor.clone(),
                name: name.into(),
            })
            .observe(value);
    }

    /// Current fault count of `kind` (tests and health reporting).
    pub(crate) fn fault_count(&self, kind: &str) -> u64 {
        self.families
            .faults
            .get_or_create(&FaultLabels {
                processor: self.processor.clone(),
                kind: kind.into(),
            })
            .get()
    }
}
