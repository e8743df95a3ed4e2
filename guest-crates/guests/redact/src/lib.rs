//! The first-party `redact` processor: PII and secret redaction for spans
//! and logs, with deterministic HMAC tokens and prompt-injection defusal.
//! The rules live in `redact-core` (so they also run natively); this crate
//! walks a batch, applies the engine to every string it may hold, and turns
//! the results into edits, counters and summary attributes.
//!
//! What it looks at: resource, scope, span and event attributes (nested
//! kvlist/array values included), span status messages, log record
//! attributes and every string inside log bodies. Documented, with its
//! config, in `docs/redaction.md`.
//!
//! ```yaml
//! processors:
//!   wasm/redact:
//!     module: builtin:redact
//!     config:
//!       hash: { current: v2, keys: { v2: hmac_key_v2, v1: hmac_key_v1 } }
//!       rules: { email: { action: hash } }
//!       summary: true
//!     grants:
//!       data: { hmac_key_v2: env:REDACT_KEY_V2, hmac_key_v1: /etc/tracemend/hmac_v1 }
//! ```

use redact_core::{Engine, Hits, InjectionKind, KeyOutcome, KeyVerdict};
use tracemend_sdk::{
    Batch, Edits, NewValue, Processor, Row, StatusCode, Value, export_processor, host,
};

/// Attribute keys of the summary and the prompt-injection flag.
const SUMMARY_KEYS: &str = "redaction.redacted.keys";
const SUMMARY_RULES: &str = "redaction.redacted.rules";
const SUMMARY_COUNT: &str = "redaction.redacted.count";
const INJECTION_FLAG: &str = "redaction.prompt_injection";

struct Redact {
    engine: Engine,
}

/// What happened on one row, for its summary and flag.
#[derive(Default)]
struct RowReport {
    keys: Vec<String>,
    rules: Vec<usize>,
    count: i64,
    injection: Vec<InjectionKind>,
}

impl RowReport {
    /// Empties the report for the next row, keeping its buffers: a row is
    /// walked per span, and most rows have nothing to report.
    fn clear(&mut self) {
        self.keys.clear();
        self.rules.clear();
        self.count = 0;
        self.injection.clear();
    }

    fn note(&mut self, key: &str, rules: &[usize], summary: bool) {
        self.count += 1;
        if summary {
            if !self.keys.iter().any(|k| k == key) {
                self.keys.push(key.to_owned());
            }
            for r in rules {
                if !self.rules.contains(r) {
                    self.rules.push(*r);
                }
            }
        }
    }
}

/// What one call accumulates, and a buffer reused across its strings.
#[derive(Default)]
struct Work {
    hits: Hits,
    /// The rules that fired on the string being scanned.
    touched: Vec<usize>,
}

/// A change to one value.
enum Change {
    Remove,
    Set(NewValue),
}

/// Text form of a scalar or tree, for key rules that mask, replace or hash
/// a whole non-string value.
fn text_of(v: &Value<'_>) -> String {
    match v {
        Value::String(s) => (*s).to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::Empty => String::new(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|x| text_of(&x)).collect();
            format!("[{}]", parts.join(","))
        }
        Value::KvList(kv) => {
            let parts: Vec<String> = kv
                .iter()
                .map(|(k, x)| format!("{k}={}", text_of(&x)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

impl Redact {
    /// Decides the change to attribute (or nested entry) `key` = `value`.
    /// `defuse` is true inside log bodies.
    #[inline(always)]
    fn value(
        &self,
        key: &str,
        value: Value<'_>,
        defuse: bool,
        w: &mut Work,
        rep: &mut RowReport,
    ) -> Option<Change> {
        let verdict = self.engine.key_verdict(key);
        match verdict {
            KeyVerdict::Allow => None,
            // Most attributes: a string to scan. Handled here without the
            // value going anywhere by reference, so the guest keeps the
            // string in locals instead of writing the whole `Value` to its
            // stack first (which every attribute paid when the other cases
            // were in this function too).
            KeyVerdict::Scan {
                skip,
                defuse: defuse_key,
                pseudo,
            } if let Value::String(s) = value => self
                .scan_str(key, s, skip.into(), pseudo, defuse || defuse_key, w, rep)
                .map(Change::Set),
            _ => self.value_other(key, value, verdict, defuse, w, rep),
        }
    }

    /// [`Redact::value`] for a key rule, or a value that is not a string.
    #[inline(never)]
    fn value_other(
        &self,
        key: &str,
        value: Value<'_>,
        verdict: KeyVerdict,
        defuse: bool,
        w: &mut Work,
        rep: &mut RowReport,
    ) -> Option<Change> {
        let (skip, defuse_key, pseudo) = match verdict {
            KeyVerdict::Allow => return None,
            KeyVerdict::Rule(rule) => {
                if matches!(value, Value::Empty) {
                    return None;
                }
                return match self
                    .engine
                    .apply_key_rule(rule, &text_of(&value), &mut w.hits)
                {
                    KeyOutcome::Keep => None,
                    KeyOutcome::Remove => {
                        rep.note(key, &[rule], self.engine.summary());
                        Some(Change::Remove)
                    }
                    KeyOutcome::Set(s) => {
                        rep.note(key, &[rule], self.engine.summary());
                        Some(Change::Set(NewValue::String(s)))
                    }
                };
            }
            KeyVerdict::Scan {
                skip,
                defuse,
                pseudo,
            } => (skip.into(), defuse, pseudo),
        };
        self.scan(key, value, skip, pseudo, defuse || defuse_key, w, rep)
            .map(Change::Set)
    }

    /// Scans one string; `None` when nothing in it changed. `pseudo`
    /// pseudonymizes what it finds (a request input, see the verdict).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn scan_str(
        &self,
        key: &str,
        s: &str,
        skip: u128,
        pseudo: bool,
        defuse: bool,
        w: &mut Work,
        rep: &mut RowReport,
    ) -> Option<NewValue> {
        w.touched.clear();
        let redacted = self
            .engine
            .redact_text(s, skip, pseudo, &mut w.hits, &mut w.touched);
        if redacted.is_some() {
            rep.note(key, &w.touched, self.engine.summary());
        }
        let cur = redacted.as_deref().unwrap_or(s);
        let defused = if defuse {
            self.engine.defuse(cur, &mut w.hits)
        } else {
            None
        };
        match defused {
            Some((text, kinds)) => {
                for k in kinds {
                    if !rep.injection.contains(&k) {
                        rep.injection.push(k);
                    }
                }
                Some(NewValue::String(text))
            }
            None => redacted.map(NewValue::String),
        }
    }

    /// Scans a value tree; `None` when nothing in it changed.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        key: &str,
        value: Value<'_>,
        skip: u128,
        pseudo: bool,
        defuse: bool,
        w: &mut Work,
        rep: &mut RowReport,
    ) -> Option<NewValue> {
        match value {
            Value::String(s) => self.scan_str(key, s, skip, pseudo, defuse, w, rep),
            Value::KvList(kv) => {
                let mut changed: Vec<Option<Change>> = Vec::with_capacity(kv.len());
                let mut any = false;
                for (k, v) in kv.iter() {
                    let c = self.value(k, v, defuse, w, rep);
                    any |= c.is_some();
                    changed.push(c);
                }
                any.then(|| {
                    NewValue::KvList(
                        kv.iter()
                            .zip(changed)
                            .filter_map(|((k, v), c)| match c {
                                None => Some((k.to_owned(), NewValue::from(v))),
                                Some(Change::Set(n)) => Some((k.to_owned(), n)),
                                Some(Change::Remove) => None,
                            })
                            .collect(),
                    )
                })
            }
            Value::Array(a) => {
                let mut changed: Vec<Option<NewValue>> = Vec::with_capacity(a.len());
                let mut any = false;
                for v in a.iter() {
                    let c = self.scan(key, v, skip, pseudo, defuse, w, rep);
                    any |= c.is_some();
                    changed.push(c);
                }
                any.then(|| {
                    NewValue::Array(
                        a.iter()
                            .zip(changed)
                            .map(|(v, c)| c.unwrap_or_else(|| NewValue::from(v)))
                            .collect(),
                    )
                })
            }
            _ => None,
        }
    }

    /// Redacts every attribute of `row` and records the edits.
    fn attributes<'a>(
        &self,
        row: &impl Row,
        attrs: impl Iterator<Item = (&'a str, Value<'a>)>,
        edits: &mut Edits,
        w: &mut Work,
        rep: &mut RowReport,
    ) {
        for (k, v) in attrs {
            match self.value(k, v, false, w, rep) {
                None => {}
                Some(Change::Remove) => edits.remove_attribute(row, k),
                Some(Change::Set(n)) => edits.set_attribute(row, k, n),
            }
        }
    }

    /// Writes the summary and the injection flag onto a touched row.
    fn finish(&self, row: &impl Row, rep: &RowReport, edits: &mut Edits) {
        if self.engine.summary() && rep.count > 0 {
            let rules: Vec<&str> = rep
                .rules
                .iter()
                .map(|r| self.engine.rule_name(*r))
                .collect();
            edits.set_attribute(row, SUMMARY_KEYS, rep.keys.join(","));
            edits.set_attribute(row, SUMMARY_RULES, rules.join(","));
            edits.set_attribute(row, SUMMARY_COUNT, rep.count);
        }
        if !rep.injection.is_empty() {
            let kinds: Vec<&str> = rep.injection.iter().map(|k| k.name()).collect();
            edits.set_attribute(row, INJECTION_FLAG, kinds.join(","));
        }
    }

    /// Resource and scope attributes, shared by both signals.
    fn resources_and_scopes(
        &self,
        batch: &Batch<'_>,
        edits: &mut Edits,
        w: &mut Work,
        rep: &mut RowReport,
    ) {
        for r in batch.resources() {
            rep.clear();
            self.attributes(&r, r.attributes(), edits, w, rep);
            self.finish(&r, rep, edits);
        }
        for s in batch.scopes() {
            rep.clear();
            self.attributes(&s, s.attributes(), edits, w, rep);
            self.finish(&s, rep, edits);
        }
    }

    /// Reports this call's counts through the host's counters.
    fn report(&self, hits: &Hits) {
        for (rule, n) in hits.by_rule.iter().enumerate() {
            if *n > 0 {
                host::counter_add(&format!("redacted.{}", self.engine.rule_name(rule)), *n);
            }
        }
        if hits.defused > 0 {
            host::counter_add("defused.prompt_injection", hits.defused);
        }
    }
}

impl Processor for Redact {
    fn configure(config: &str) -> Result<Self, String> {
        let engine =
            Engine::from_json(config, &|name| host::data(name)).map_err(|e| e.to_string())?;
        Ok(Redact { engine })
    }

    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut w = Work::default();
        let mut rep = RowReport::default();
        let mut erep = RowReport::default();
        self.resources_and_scopes(&batch, edits, &mut w, &mut rep);
        for span in batch.spans() {
            rep.clear();
            self.attributes(&span, span.attributes(), edits, &mut w, &mut rep);
            let msg = span.status_message();
            if !msg.is_empty()
                && let Some(NewValue::String(new)) = self.scan(
                    "status.message",
                    Value::String(msg),
                    0,
                    false,
                    true,
                    &mut w,
                    &mut rep,
                )
            {
                let code = match span.status_code() {
                    1 => StatusCode::Ok,
                    2 => StatusCode::Error,
                    _ => StatusCode::Unset,
                };
                edits.set_status(&span, code, &new);
            }
            for ev in span.events() {
                erep.clear();
                self.attributes(&ev, ev.attributes(), edits, &mut w, &mut erep);
                // The span carries the flag too: tools look at spans first.
                for k in &erep.injection {
                    if !rep.injection.contains(k) {
                        rep.injection.push(*k);
                    }
                }
                self.finish(&ev, &erep, edits);
            }
            self.finish(&span, &rep, edits);
        }
        self.report(&w.hits);
        Ok(())
    }

    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut w = Work::default();
        let mut rep = RowReport::default();
        self.resources_and_scopes(&batch, edits, &mut w, &mut rep);
        for log in batch.logs() {
            rep.clear();
            self.attributes(&log, log.attributes(), edits, &mut w, &mut rep);
            if let Some(body) = log.body()
                && let Some(new) = self.scan("body", body, 0, false, true, &mut w, &mut rep)
            {
                edits.set_body(&log, new);
            }
            self.finish(&log, &rep, edits);
        }
        self.report(&w.hits);
        Ok(())
    }
}

export_processor!(Redact);
