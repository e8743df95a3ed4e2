//! Metric families, registered once and shared by every component. Names follow otelcol
//! (`otelcol_receiver_accepted_spans`); counters get the `_total` suffix on export, as
//! otelcol's Prometheus endpoint shows them.

use std::sync::Mutex;

use pdata::Signal;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiverLabels {
    pub receiver: String,
    pub transport: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExporterLabels {
    pub exporter: String,
}

/// A `loadbalancing` exporter's backend.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub exporter: String,
    pub endpoint: String,
}

/// A backend's send outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendOutcomeLabels {
    pub exporter: String,
    pub endpoint: String,
    pub success: String,
}

/// A `loadbalancing` exporter's resolver (`static` or `dns`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResolverLabels {
    pub exporter: String,
    pub resolver: String,
}

/// A resolution's outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResolutionLabels {
    pub exporter: String,
    pub resolver: String,
    pub success: String,
}

pub use component::ProcessorLabels;

/// One family per signal, since otelcol names the item in the metric name.
#[derive(Debug, Clone, Default)]
pub struct PerSignal<F>([F; 3]);

impl<F> PerSignal<F> {
    pub fn get(&self, signal: Signal) -> &F {
        &self.0[signal as usize]
    }
}

fn backend_latency_histogram() -> Histogram {
    // Milliseconds, as contrib's `otelcol_loadbalancer_backend_latency`.
    Histogram::new([
        5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
    ])
}

fn batch_size_histogram() -> Histogram {
    Histogram::new([
        10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
        6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
    ])
}

/// Every self-metric of the collector.
pub struct SelfMetrics {
    registry: Mutex<Registry>,
    pub receiver_accepted: PerSignal<Family<ReceiverLabels, Counter>>,
    pub receiver_refused: PerSignal<Family<ReceiverLabels, Counter>>,
    pub exporter_sent: PerSignal<Family<ExporterLabels, Counter>>,
    pub exporter_send_failed: PerSignal<Family<ExporterLabels, Counter>>,
    pub exporter_enqueue_failed: PerSignal<Family<ExporterLabels, Counter>>,
    pub exporter_queue_size: Family<ExporterLabels, Gauge>,
    pub exporter_queue_capacity: Family<ExporterLabels, Gauge>,
    pub processor_incoming: PerSignal<Family<ProcessorLabels, Counter>>,
    pub processor_outgoing: PerSignal<Family<ProcessorLabels, Counter>>,
    pub processor_refused: PerSignal<Family<ProcessorLabels, Counter>>,
    pub batch_send_size: Family<ProcessorLabels, Histogram>,
    pub batch_size_trigger: Family<ProcessorLabels, Counter>,
    pub batch_timeout_trigger: Family<ProcessorLabels, Counter>,
    pub process_memory_rss: Gauge,
    /// `loadbalancing`: items each backend accepted.
    pub lb_backend_sent: PerSignal<Family<BackendLabels, Counter>>,
    /// `loadbalancing`: send attempts per backend by outcome.
    pub lb_backend_outcome: Family<BackendOutcomeLabels, Counter>,
    /// `loadbalancing`: time per send to a backend, milliseconds.
    pub lb_backend_latency: Family<BackendLabels, Histogram>,
    /// `loadbalancing`: backends in the ring now.
    pub lb_num_backends: Family<ResolverLabels, Gauge>,
    /// `loadbalancing`: ring changes.
    pub lb_num_backend_updates: Family<ResolverLabels, Counter>,
    /// `loadbalancing`: resolutions by outcome.
    pub lb_num_resolutions: Family<ResolutionLabels, Counter>,
}

impl SelfMetrics {
    pub fn new() -> SelfMetrics {
        let mut r = Registry::default();
        fn per_signal<
            L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
        >(
            r: &mut Registry,
            prefix: &str,
            suffix: &str,
            help: &str,
        ) -> PerSignal<Family<L, Counter>> {
            let fams: [Family<L, Counter>; 3] = Default::default();
            for s in Signal::ALL {
                r.register(
                    format!("{prefix}_{}", [suffix, s.item_name()].concat()),
                    format!("{help} ({})", s.item_name()),
                    fams[s as usize].clone(),
                );
            }
            PerSignal(fams)
        }
        let receiver_accepted = per_signal(
            &mut r,
            "otelcol_receiver",
            "accepted_",
            "Items successfully pushed into the pipeline",
        );
        let receiver_refused = per_signal(
            &mut r,
            "otelcol_receiver",
            "refused_",
            "Items that could not be pushed into the pipeline",
        );
        let exporter_sent = per_signal(
            &mut r,
            "otelcol_exporter",
            "sent_",
            "Items successfully sent to destination",
        );
        let exporter_send_failed = per_signal(
            &mut r,
            "otelcol_exporter",
            "send_failed_",
            "Items that failed to be sent to destination",
        );
        let exporter_enqueue_failed = per_signal(
            &mut r,
            "otelcol_exporter",
            "enqueue_failed_",
            "Items that failed to be added to the sending queue",
        );
        let processor_incoming = per_signal(
            &mut r,
            "otelcol_processor",
            "incoming_",
            "Items passed to the processor",
        );
        let processor_outgoing = per_signal(
            &mut r,
            "otelcol_processor",
            "outgoing_",
            "Items emitted by the processor",
        );
        let processor_refused = per_signal(
            &mut r,
            "otelcol_processor",
            "refused_",
            "Items refused by the processor",
        );
        let exporter_queue_size = Family::<ExporterLabels, Gauge>::default();
        r.register(
            "otelcol_exporter_queue_size",
            "Current size of the sending queue (requests)",
            exporter_queue_size.clone(),
        );
        let exporter_queue_capacity = Family::<ExporterLabels, Gauge>::default();
        r.register(
            "otelcol_exporter_queue_capacity",
            "Fixed capacity of the sending queue (requests)",
            exporter_queue_capacity.clone(),
        );
        let batch_send_size = Family::<ProcessorLabels, Histogram>::new_with_constructor(
            batch_size_histogram as fn() -> Histogram,
        );
        r.register(
            "otelcol_processor_batch_batch_send_size",
            "Number of items in each batch sent",
            batch_send_size.clone(),
        );
        let batch_size_trigger = Family::<ProcessorLabels, Counter>::default();
        r.register(
            "otelcol_processor_batch_batch_size_trigger_send",
            "Batches sent because they reached send_batch_size",
            batch_size_trigger.clone(),
        );
        let batch_timeout_trigger = Family::<ProcessorLabels, Counter>::default();
        r.register(
            "otelcol_processor_batch_timeout_trigger_send",
            "Batches sent because the timeout fired",
            batch_timeout_trigger.clone(),
        );
        let process_memory_rss = Gauge::default();
        r.register(
            "otelcol_process_memory_rss",
            "Resident set size of the collector process (bytes)",
            process_memory_rss.clone(),
        );
        // The contrib loadbalancing exporter's names, plus items sent per backend.
        let lb_backend_sent = per_signal(
            &mut r,
            "otelcol_loadbalancer_backend",
            "sent_",
            "Items a loadbalancing backend accepted",
        );
        let lb_backend_outcome = Family::<BackendOutcomeLabels, Counter>::default();
        r.register(
            "otelcol_loadbalancer_backend_outcome",
            "Sends to a loadbalancing backend, by success",
            lb_backend_outcome.clone(),
        );
        let lb_backend_latency = Family::<BackendLabels, Histogram>::new_with_constructor(
            backend_latency_histogram as fn() -> Histogram,
        );
        r.register(
            "otelcol_loadbalancer_backend_latency",
            "Time a send to a loadbalancing backend took (milliseconds)",
            lb_backend_latency.clone(),
        );
        let lb_num_backends = Family::<ResolverLabels, Gauge>::default();
        r.register(
            "otelcol_loadbalancer_num_backends",
            "Backends a loadbalancing exporter routes to",
            lb_num_backends.clone(),
        );
        let lb_num_backend_updates = Family::<ResolverLabels, Counter>::default();
        r.register(
            "otelcol_loadbalancer_num_backend_updates",
            "Times the backend set of a loadbalancing exporter changed",
            lb_num_backend_updates.clone(),
        );
        let lb_num_resolutions = Family::<ResolutionLabels, Counter>::default();
        r.register(
            "otelcol_loadbalancer_num_resolutions",
            "Backend resolutions, by success",
            lb_num_resolutions.clone(),
        );
        SelfMetrics {
            registry: Mutex::new(r),
            lb_backend_sent,
            lb_backend_outcome,
            lb_backend_latency,
            lb_num_backends,
            lb_num_backend_updates,
            lb_num_resolutions,
            receiver_accepted,
            receiver_refused,
            exporter_sent,
            exporter_send_failed,
            exporter_enqueue_failed,
            exporter_queue_size,
            exporter_queue_capacity,
            processor_incoming,
            processor_outgoing,
            processor_refused,
            batch_send_size,
            batch_size_trigger,
            batch_timeout_trigger,
            process_memory_rss,
        }
    }

    /// Serves `service.telemetry.resource` as the `target_info` metric (value 1, one label
    /// per attribute, `.` and other characters Prometheus refuses in label names turned
    /// into `_`), as otelcol's Prometheus reader does. Nothing is served for an empty map.
    pub fn set_resource(&self, resource: &std::collections::BTreeMap<String, String>) {
        if resource.is_empty() {
            return;
        }
        let labels: Vec<(String, String)> = resource
            .iter()
            .map(|(k, v)| (prometheus_label(k), v.clone()))
            .collect();
        self.with_registry(|r| {
            r.register(
                "target",
                "Target metadata",
                prometheus_client::metrics::info::Info::new(labels),
            )
        });
    }

    /// Lets a component register metrics of its own (e.g. WASM plugins).
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut reg)
    }

    /// The Prometheus/OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        if let Some(rss) = crate::memory::rss_bytes() {
            self.process_memory_rss.set(rss as i64);
        }
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

/// A Prometheus label name for an attribute key: `[a-zA-Z0-9_]`, not starting with a digit.
fn prometheus_label(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_is_served_as_target_info() {
        let m = SelfMetrics::new();
        m.set_resource(&std::collections::BTreeMap::from([
            ("host.name".to_string(), "node-1".to_string()),
            ("1x".to_string(), "y".to_string()),
        ]));
        let text = m.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with("target_info{"))
            .unwrap_or_else(|| panic!("no target_info in:\n{text}"));
        assert!(line.contains("host_name=\"node-1\""), "{line}");
        assert!(line.contains("_1x=\"y\""), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }

    #[test]
    fn no_resource_serves_no_target_info() {
        let m = SelfMetrics::new();
        m.set_resource(&std::collections::BTreeMap::new());
        assert!(!m.encode().contains("target_info"));
    }
}
