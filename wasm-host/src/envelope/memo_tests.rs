//! Dedupe before assembly ([`super::memo`]) with the real `builtin:envelope`
//! guest, whose calls are counted: same evidence is counted without the guest,
//! anything the fingerprint reads that changes is assembled, and the
//! occurrences the next envelope carries stay true.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::Event;

use super::tests::{
    STACK, WINDOW, builtin_envelope, count, exception_record, kv, logs, server_span, traces,
};
use super::*;

/// The real guest, its calls counted.
struct Counted {
    guest: WasmAssembler,
    calls: Arc<AtomicUsize>,
}

impl Assemble for Counted {
    fn assemble(
        &self,
        trace: &ExportTraceServiceRequest,
        logs: &ExportLogsServiceRequest,
    ) -> Result<Option<String>, AssembleFault> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Assemble::assemble(&self.guest, trace, logs)
    }

    fn assemble_encoded(&self, trace: &[u8], logs: &[u8]) -> Result<Option<String>, AssembleFault> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Assemble::assemble_encoded(&self.guest, trace, logs)
    }
}

struct Rig {
    holder: Holder,
    sent: Arc<Mutex<Vec<String>>>,
    metrics: EnvelopeMetrics,
    calls: Arc<AtomicUsize>,
}

impl Rig {
    /// A holder with a 60 s dedupe window, deduplicating before assembly with
    /// the built-in's evidence when `before`.
    fn new(before: bool) -> Rig {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let sink = sent.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let metrics = EnvelopeMetrics::default();
        let settings = HolderSettings {
            join_window: WINDOW,
            dedupe_window: Duration::from_secs(60),
            dedupe_before_assembly: before
                .then(|| Evidence::builtin(&[COMMIT_ATTRIBUTE.to_owned()])),
            ..HolderSettings::default()
        };
        let holder = Holder::new(
            "envelope",
            settings,
            Box::new(Counted {
                guest: builtin_envelope(),
                calls: calls.clone(),
            }),
            &metrics,
            Arc::new(move |e| sink.lock().expect("sink").push(e)),
        );
        Rig {
            holder,
            sent,
            metrics,
            calls,
        }
    }

    /// Holds each span as its own trace at `at`, then lets them go.
    fn run(&self, spans: Vec<Span>, at: Instant) {
        for span in spans {
            self.holder
                .consume_spans_at(&traces(vec![span], true), at)
                .expect("takes");
        }
        self.holder.tick_at(at + WINDOW);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    fn sent(&self) -> Vec<envelope::Envelope> {
        let sent = self.sent.lock().expect("sent").clone();
        sent.iter()
            .map(|e| envelope::parse(e.as_bytes()).expect("a valid envelope"))
            .collect()
    }

    /// (deduplicated, of them before assembly)
    fn deduplicated(&self) -> (u64, u64) {
        (
            count(&self.metrics.deduplicated),
            count(&self.metrics.deduplicated_unassembled),
        )
    }
}

/// A failing server span of trace `t` whose exception has `stack` and whose
/// route is `route`.
fn failing(t: u8, stack: &str, route: &str) -> Span {
    let mut span = server_span(t, true);
    for a in span.events.iter_mut().flat_map(|e| e.attributes.iter_mut()) {
        if a.key == "exception.stacktrace" {
            *a = kv("exception.stacktrace", stack);
        }
    }
    for a in &mut span.attributes {
        if a.key == "http.route" {
            *a = kv("http.route", route);
        }
    }
    span
}

const ROUTE: &str = "/orders/{id}";

#[test]
fn same_evidence_is_counted_without_the_guest_and_the_next_envelope_carries_it() {
    let rig = Rig::new(true);
    let t0 = Instant::now();
    // Three traces: other ids and times, the same evidence.
    let mut spans: Vec<Span> = [9, 10, 11].map(|t| server_span(t, true)).into();
    spans[2].start_time_unix_nano += 7;
    rig.run(spans, t0);
    assert_eq!(rig.calls(), 1, "the guest assembled the first trace only");
    assert_eq!(rig.deduplicated(), (2, 2));
    assert_eq!(count(&rig.metrics.assembled), 1);
    assert_eq!(rig.sent().len(), 1);

    // After the window the evidence is known but the envelope is due: assembled,
    // carrying the two occurrences counted before assembly.
    let later = t0 + Duration::from_secs(61);
    rig.run(vec![server_span(12, true)], later);
    assert_eq!(rig.calls(), 2);
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].occurrences, None);
    assert_eq!(sent[1].occurrences, Some(3));
    assert_eq!(sent[0].symptom.fingerprint, sent[1].symptom.fingerprint);
    // And inside the new window, counted again without the guest.
    rig.run(vec![server_span(13, true)], later + Duration::from_secs(1));
    assert_eq!((rig.calls(), rig.deduplicated()), (2, (3, 3)));
}

#[test]
fn a_changed_stack_trace_or_route_is_assembled() {
    let rig = Rig::new(true);
    let t0 = Instant::now();
    rig.run(vec![failing(20, STACK, ROUTE)], t0);
    assert_eq!(rig.calls(), 1);
    // Lines moved: other evidence, so assembled; the guest's fingerprint ignores
    // line numbers, so the envelope is deduplicated after assembly.
    let moved = STACK.replace("line 12", "line 13");
    rig.run(vec![failing(21, &moved, ROUTE)], t0);
    assert_eq!((rig.calls(), rig.deduplicated()), (2, (1, 0)));
    // Another route: assembled, another fingerprint, sent.
    rig.run(vec![failing(22, STACK, "/orders/{id}/items")], t0);
    assert_eq!(rig.calls(), 3);
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].symptom.fingerprint, sent[1].symptom.fingerprint);
    // Another function in the stack: assembled, another fingerprint.
    let other = STACK.replace("in get_order", "in list_orders");
    rig.run(vec![failing(23, &other, ROUTE)], t0);
    assert_eq!((rig.calls(), rig.sent().len()), (4, 3));
    // Each evidence now known: all four again are counted without the guest.
    rig.run(
        vec![
            failing(24, STACK, ROUTE),
            failing(25, &moved, ROUTE),
            failing(26, STACK, "/orders/{id}/items"),
            failing(27, &other, ROUTE),
        ],
        t0,
    );
    assert_eq!((rig.calls(), rig.deduplicated()), (4, (5, 4)));
}

#[test]
fn which_exception_came_first_is_evidence() {
    let rig = Rig::new(true);
    let t0 = Instant::now();
    // Two exceptions on the failing span; the guest takes the earliest.
    let two = |t: u8, value_error_first: bool| {
        let mut span = server_span(t, true);
        let event = |ty: &str, time: u64| Event {
            name: "exception".into(),
            time_unix_nano: time,
            attributes: vec![kv("exception.type", ty), kv("exception.stacktrace", STACK)],
            ..Default::default()
        };
        span.events = vec![event("KeyError", 10), event("ValueError", 20)];
        if value_error_first {
            span.events[1].time_unix_nano = 5;
        }
        span
    };
    rig.run(vec![two(30, false)], t0);
    rig.run(vec![two(31, true)], t0);
    assert_eq!(rig.calls(), 2, "the other order is other evidence");
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    let types: Vec<&str> = sent
        .iter()
        .map(|e| e.symptom.exception.exception_type.as_str())
        .collect();
    assert_eq!(types, ["KeyError", "ValueError"]);
    // Times that keep the order are the same evidence.
    let mut same = two(32, false);
    same.events[0].time_unix_nano = 11;
    rig.run(vec![same], t0);
    assert_eq!((rig.calls(), rig.deduplicated()), (2, (1, 1)));
}

#[test]
fn exception_log_records_are_evidence() {
    let rig = Rig::new(true);
    let t0 = Instant::now();
    for t in [40, 41] {
        rig.holder
            .consume_spans_at(&traces(vec![server_span(t, false)], true), t0)
            .expect("takes");
        rig.holder
            .consume_logs_at(&logs(vec![exception_record(t)]), t0)
            .expect("takes");
    }
    // The same record, with another exception type.
    let mut other = exception_record(42);
    other.attributes[0] = kv("exception.type", "LookupError");
    rig.holder
        .consume_spans_at(&traces(vec![server_span(42, false)], true), t0)
        .expect("takes");
    rig.holder
        .consume_logs_at(&logs(vec![other]), t0)
        .expect("takes");
    rig.holder.tick_at(t0 + WINDOW);
    assert_eq!(rig.calls(), 2);
    assert_eq!(rig.deduplicated(), (1, 1));
    assert_eq!(rig.sent().len(), 2);
}

#[test]
fn without_the_opt_in_every_failing_trace_is_assembled() {
    let rig = Rig::new(false);
    let t0 = Instant::now();
    rig.run([50, 51, 52].map(|t| server_span(t, true)).into(), t0);
    assert_eq!(rig.calls(), 3);
    assert_eq!(rig.deduplicated(), (2, 0));
    assert_eq!(rig.sent().len(), 1);
}

#[test]
fn an_envelope_the_contract_refuses_does_not_stand_for_its_evidence() {
    let mut fields: std::collections::BTreeMap<String, Label> = contract::DEFAULT_FIELDS
        .iter()
        .map(|(p, l)| ((*p).to_owned(), *l))
        .collect();
    fields.insert("/inputs/path".into(), Label::Sensitive);
    let calls = Arc::new(AtomicUsize::new(0));
    let metrics = EnvelopeMetrics::default();
    let holder = Holder::new(
        "envelope",
        HolderSettings {
            join_window: WINDOW,
            dedupe_before_assembly: Some(Evidence::builtin(&[COMMIT_ATTRIBUTE.to_owned()])),
            contract: Contract::compile(&ContractConfig { fields }).expect("compiles"),
            ..HolderSettings::default()
        },
        Box::new(Counted {
            guest: builtin_envelope(),
            calls: calls.clone(),
        }),
        &metrics,
        Arc::new(|_| {}),
    );
    let t0 = Instant::now();
    for t in [60, 61] {
        holder
            .consume_spans_at(&traces(vec![server_span(t, true)], true), t0)
            .expect("takes");
    }
    holder.tick_at(t0 + WINDOW);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(count(&metrics.refused), 2);
    assert_eq!(count(&metrics.deduplicated), 0);
}
