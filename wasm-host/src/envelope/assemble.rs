//! From a failing trace to queued envelopes: the commit check, dedupe before
//! assembly when the exporter has it ([`super::memo`]), the assembler guest,
//! then for each envelope it returns the data contract, the schema and
//! dedupe.

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::Value;
use tracing::{debug, warn};

use super::dedupe::Dedupe;
use super::memo::{self, Evidence, Memo};
use super::metrics::FaultLabels;
use super::signals::resource_has_commit;
use super::{Assemble, Contract, EnvelopeLabels, EnvelopeMetrics, EnvelopeSink, UNDECODABLE};
use crate::tail_sampling::buffer::{Held, Item};
use crate::tail_sampling::wire;
use crate::tail_sampling::{TraceId, lock};

/// The counters of one exporter, looked up once.
pub(super) struct Counters {
    assembled: Counter,
    refused: Counter,
    invalid: Counter,
    deduplicated: Counter,
    unassembled: Counter,
    queued: Counter,
    no_commit: Counter,
    /// By kind, made on the first fault of each (faults are rare).
    faults: Family<FaultLabels, Counter>,
    exporter: String,
}

impl Counters {
    pub(super) fn new(m: &EnvelopeMetrics, labels: &EnvelopeLabels) -> Self {
        let c = |f: &Family<EnvelopeLabels, Counter>| f.get_or_create(labels).clone();
        Counters {
            assembled: c(&m.assembled),
            refused: c(&m.refused),
            invalid: c(&m.invalid),
            deduplicated: c(&m.deduplicated),
            unassembled: c(&m.deduplicated_unassembled),
            queued: c(&m.queued),
            no_commit: c(&m.no_commit),
            faults: m.faults.clone(),
            exporter: labels.exporter.clone(),
        }
    }

    fn fault(&self, kind: &str) {
        self.faults
            .get_or_create(&FaultLabels {
                exporter: self.exporter.clone(),
                kind: kind.to_owned(),
            })
            .inc();
    }
}

/// Everything after the buffer.
pub(super) struct Assembly {
    pub(super) name: String,
    pub(super) assembler: Box<dyn Assemble>,
    pub(super) contract: Contract,
    pub(super) commit_attributes: Vec<String>,
    pub(super) dedupe: Mutex<Dedupe>,
    /// Dedupe before assembly: what the key reads, and the keys seen.
    pub(super) memo: Option<(Evidence, Mutex<Memo>)>,
    pub(super) sink: EnvelopeSink,
    pub(super) counters: Counters,
}

impl Assembly {
    /// Assembles each failing trace of `traces` (no lock held).
    pub(super) fn run(&self, traces: Vec<(TraceId, Held)>, now: Instant) {
        for (id, held) in traces {
            self.one(&id, &held, now);
        }
    }

    fn one(&self, id: &TraceId, held: &Held, now: Instant) {
        let trace_id = hex::encode(id);
        if !has_commit(held, &self.commit_attributes) {
            self.counters.no_commit.inc();
            let attribute = self.commit_attributes.join("` or `");
            warn!(
                exporter = %self.name,
                trace_id,
                attribute,
                "A failing trace has no commit: set the resource attribute `{attribute}` to the commit the service runs; no envelope is built without it."
            );
            return;
        }
        // A trace whose evidence was assembled before into a fingerprint whose
        // window is open is an occurrence of it: counted, not assembled. A
        // key that cannot be read (a malformed item) is assembled, and faults
        // there as it would have.
        let key = self
            .memo
            .as_ref()
            .and_then(|(evidence, _)| memo::key(held, evidence).ok());
        if let (Some((_, memo)), Some(key)) = (&self.memo, &key) {
            let known = lock(memo).get(key);
            if let Some(fingerprint) = known
                && lock(&self.dedupe).suppress(&fingerprint, now)
            {
                self.counters.deduplicated.inc();
                self.counters.unassembled.inc();
                return;
            }
        }
        let spans = wire::encode_request(&held.of(Item::Span), &[]);
        let logs = wire::encode_request(&held.of(Item::Log), &[]);
        // The guest's view is built from the held bytes: the trace is never decoded.
        let output = match self.assembler.assemble_encoded(&spans, &logs) {
            Ok(Some(text)) => text,
            Ok(None) => {
                debug!(exporter = %self.name, trace_id, "The assembler built no envelope for a failing trace.");
                return;
            }
            Err(e) if e.kind == UNDECODABLE => {
                self.counters.fault(e.kind);
                warn!(exporter = %self.name, trace_id, error = %e.message, "A held trace does not decode; it is dropped.");
                return;
            }
            Err(e) => {
                self.counters.fault(e.kind);
                warn!(exporter = %self.name, trace_id, kind = e.kind, error = %e.message, "The envelope assembler faulted; the trace yields no envelope (other traces are not affected).");
                return;
            }
        };
        let envelopes = match serde_json::from_str::<Value>(&output) {
            Ok(Value::Array(items)) => items,
            Ok(one @ Value::Object(_)) => vec![one],
            Ok(other) => {
                self.counters.invalid.inc();
                warn!(exporter = %self.name, trace_id, path = "/", found = json_kind(&other), "The assembler returned neither an envelope object nor an array of them; nothing is sent.");
                return;
            }
            Err(e) => {
                self.counters.invalid.inc();
                warn!(exporter = %self.name, trace_id, path = "/", error = %e, "The assembler returned text that is not JSON; nothing is sent.");
                return;
            }
        };
        let one = envelopes.len() == 1;
        for envelope in envelopes {
            self.counters.assembled.inc();
            let fingerprint = self.gate(&trace_id, envelope, now);
            // Only a trace that gave one envelope, which passed the contract and
            // the schema, stands for its evidence: a trace with several
            // envelopes, or whose envelope was refused, is assembled each time.
            if let (true, Some(fp), Some((_, memo)), Some(key)) =
                (one, fingerprint, &self.memo, &key)
            {
                lock(memo).insert(key.clone(), &fp);
            }
        }
    }

    /// Contract, schema, dedupe; then the sink. The envelope's fingerprint
    /// when it reached dedupe (sent or suppressed).
    fn gate(&self, trace_id: &str, envelope: Value, now: Instant) -> Option<String> {
        let kept = match self.contract.apply(envelope) {
            Ok(v) => v,
            Err(refusal) => {
                self.counters.refused.inc();
                warn!(exporter = %self.name, trace_id, path = %refusal.pointer, found = refusal.found, "The data contract refused an envelope: a field labelled sensitive is not a token or a hash. Tokenize it in the redaction processor, or relabel it in `contract`.");
                return None;
            }
        };
        let mut typed = match envelope::from_value(kept) {
            Ok(e) => e,
            Err(e) => {
                self.counters.invalid.inc();
                let paths = match &e {
                    envelope::EnvelopeError::Schema(v) => v
                        .iter()
                        .map(|v| format!("{}: {}", v.path, v.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                warn!(exporter = %self.name, trace_id, violations = %paths, "An assembled envelope breaks the schema; it is not sent.");
                return None;
            }
        };
        let admitted = lock(&self.dedupe).admit(&typed.symptom.fingerprint, now);
        let Some(count) = admitted else {
            self.counters.deduplicated.inc();
            return Some(typed.symptom.fingerprint);
        };
        let total = typed.occurrences.unwrap_or(1) + (count - 1);
        typed.occurrences = (total > 1).then_some(total);
        match serde_json::to_string(&typed) {
            Ok(text) => {
                self.counters.queued.inc();
                (self.sink)(text);
                Some(typed.symptom.fingerprint)
            }
            Err(e) => {
                self.counters.invalid.inc();
                warn!(exporter = %self.name, trace_id, error = %e, "A valid envelope did not serialize; it is not sent.");
                None
            }
        }
    }
}

/// Whether any resource of the trace (its spans' or its logs') names the
/// commit under one of `keys`.
fn has_commit(held: &Held, keys: &[String]) -> bool {
    held.groups.iter().any(|g| {
        g.ctx
            .resource
            .resource
            .as_deref()
            .is_some_and(|r| resource_has_commit(r, keys).unwrap_or(false))
    })
}

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
