//! The envelope exporter's metrics, registered once in the collector's
//! `prometheus-client` registry and labelled by exporter.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `{exporter}`: the component id, e.g. `envelope`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EnvelopeLabels {
    /// Component id.
    pub exporter: String,
}

/// `{exporter, kind}`: an assembler fault by kind (`trap`, `timeout`, `memory`,
/// `guest_error`, `circuit_open`, ...; the WASM host's fault kinds).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// Component id.
    pub exporter: String,
    /// What went wrong.
    pub kind: String,
}

/// Every metric family of the envelope exporters.
#[derive(Clone, Default)]
pub struct EnvelopeMetrics {
    /// Envelopes the assembler returned.
    pub assembled: Family<EnvelopeLabels, Counter>,
    /// Envelopes refused by the data contract.
    pub refused: Family<EnvelopeLabels, Counter>,
    /// Envelopes that are not valid JSON or break the schema.
    pub invalid: Family<EnvelopeLabels, Counter>,
    /// Envelopes suppressed by dedupe (carried as `occurrences`), including
    /// the failing traces deduplicated before assembly.
    pub deduplicated: Family<EnvelopeLabels, Counter>,
    /// Failing traces deduplicated before assembly: their evidence was
    /// assembled before into a fingerprint whose window was open (the guest
    /// was not called; also counted in `deduplicated`).
    pub deduplicated_unassembled: Family<EnvelopeLabels, Counter>,
    /// Envelopes queued for the engine.
    pub queued: Family<EnvelopeLabels, Counter>,
    /// Envelopes the engine accepted.
    pub sent: Family<EnvelopeLabels, Counter>,
    /// Envelopes given up on (the engine refused them, or retries ran out).
    pub failed: Family<EnvelopeLabels, Counter>,
    /// Error traces without any commit attribute (no envelope).
    pub no_commit: Family<EnvelopeLabels, Counter>,
    /// Assembler calls that faulted, by kind (trap, timeout, memory, guest
    /// error, circuit open); also a held trace that no longer decodes
    /// (`undecodable`).
    pub faults: Family<FaultLabels, Counter>,
    /// Items that came after their trace was assembled or let go (dropped).
    pub late_items: Family<EnvelopeLabels, Counter>,
    /// Traces let go before `join_window` because a bound was reached.
    pub early: Family<EnvelopeLabels, Counter>,
    /// Traces held.
    pub traces_held: Family<EnvelopeLabels, Gauge>,
    /// Spans held.
    pub spans_held: Family<EnvelopeLabels, Gauge>,
    /// Log records held.
    pub records_held: Family<EnvelopeLabels, Gauge>,
    /// Bytes held.
    pub bytes_held: Family<EnvelopeLabels, Gauge>,
}

impl EnvelopeMetrics {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        let counters = [
            (
                "assembled",
                "Envelopes the assembler guest returned",
                &m.assembled,
            ),
            (
                "refused",
                "Envelopes refused by the data contract (a sensitive field in clear text)",
                &m.refused,
            ),
            (
                "invalid",
                "Envelopes that are not JSON or break config/envelope.schema.json (never sent)",
                &m.invalid,
            ),
            (
                "deduplicated",
                "Envelopes suppressed within dedupe_window (their count rides on the next one as occurrences)",
                &m.deduplicated,
            ),
            (
                "deduplicated_unassembled",
                "Failing traces deduplicated before assembly: same evidence as a trace assembled into a fingerprint whose dedupe_window was open (the guest was not called; also in deduplicated)",
                &m.deduplicated_unassembled,
            ),
            ("queued", "Envelopes put on the sending queue", &m.queued),
            ("sent", "Envelopes the repair engine accepted", &m.sent),
            (
                "failed",
                "Envelopes given up on: refused by the engine (400, 401, 403) or out of retries",
                &m.failed,
            ),
            (
                "traces_without_commit",
                "Error traces whose resource has none of the commit attributes (no envelope)",
                &m.no_commit,
            ),
            (
                "late_items",
                "Spans and log records that came after their trace was assembled or let go (dropped)",
                &m.late_items,
            ),
            (
                "early_releases",
                "Traces let go before join_window because num_traces or max_buffered_bytes was reached",
                &m.early,
            ),
        ];
        for (name, help, family) in counters {
            registry.register(format!("tracemend_envelope_{name}"), help, family.clone());
        }
        registry.register(
            "tracemend_envelope_assembler_faults",
            "Assembler guest calls that faulted (trap, timeout, memory, guest_error, circuit_open, ...), by kind; the trace yields no envelope",
            m.faults.clone(),
        );
        registry.register(
            "tracemend_envelope_traces_held",
            "Traces held waiting for join_window",
            m.traces_held.clone(),
        );
        registry.register(
            "tracemend_envelope_spans_held",
            "Spans held waiting for join_window",
            m.spans_held.clone(),
        );
        registry.register(
            "tracemend_envelope_log_records_held",
            "Log records held waiting for join_window",
            m.records_held.clone(),
        );
        registry.register(
            "tracemend_envelope_bytes_held",
            "Bytes held (spans, log records, bookkeeping)",
            m.bytes_held.clone(),
        );
        m
    }
}
