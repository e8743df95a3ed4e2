//! Rows of interest: tell the host which rows this processor needs, and it
//! shows the processor only those (the `row-interest` interface of
//! `wit/types.wit`).
//!
//! ```ignore
//! use tracemend_sdk::Interest;
//!
//! // In `Processor::configure`:
//! Interest::new()
//!     .span_event("exception")
//!     .span_attribute_prefix("code.")
//!     .log_attribute_prefix("exception.")
//!     .declare()?;
//! ```
//!
//! A processor that never declares one sees every row. One that does sees,
//! in each batch, only the spans (log records) that match one of its rules,
//! with all their attributes, events and links and the resources and scopes
//! they are in; rows are numbered within what it sees, and edits address
//! them as always. The rows it does not see pass unchanged, and a batch
//! with none of its rows is not passed to it at all: a signal without rules
//! is never passed (add [`Interest::all_logs`] to keep every log record).
//! The host finds the rows with a cheap test on the received bytes, so the
//! rows not shown cost it almost nothing: declare an interest whenever a
//! processor acts on a small share of the rows.

use crate::processor::bindings::tracemend::plugin::row_interest as imp;

/// The rules of a declaration, built up and then [declared](Interest::declare).
#[derive(Debug, Clone, Default)]
pub struct Interest {
    rules: Vec<imp::Rule>,
}

impl Interest {
    /// No rules yet: declared as is, the processor is passed no batch.
    pub fn new() -> Self {
        Interest::default()
    }

    /// Spans with an event of exactly this name (e.g. `exception`).
    pub fn span_event(mut self, name: &str) -> Self {
        self.rules.push(imp::Rule::SpanEvent(name.to_owned()));
        self
    }

    /// Spans with an attribute whose key starts with `prefix` (e.g. `code.`).
    pub fn span_attribute_prefix(mut self, prefix: &str) -> Self {
        self.rules
            .push(imp::Rule::SpanAttributePrefix(prefix.to_owned()));
        self
    }

    /// Every span.
    pub fn all_spans(mut self) -> Self {
        self.rules.push(imp::Rule::AllSpans);
        self
    }

    /// Log records with an attribute whose key starts with `prefix` (e.g.
    /// `exception.`).
    pub fn log_attribute_prefix(mut self, prefix: &str) -> Self {
        self.rules
            .push(imp::Rule::LogAttributePrefix(prefix.to_owned()));
        self
    }

    /// Log records whose `event_name` is exactly `name`.
    pub fn log_event_name(mut self, name: &str) -> Self {
        self.rules.push(imp::Rule::LogEventName(name.to_owned()));
        self
    }

    /// Every log record.
    pub fn all_logs(mut self) -> Self {
        self.rules.push(imp::Rule::AllLogs);
        self
    }

    /// Tells the host, replacing any earlier declaration; call it from
    /// [`Processor::configure`](crate::Processor::configure). `Err`: the
    /// host refused it (more than 64 rules, a string over 256 bytes) and
    /// nothing changed.
    ///
    /// A processor that calls this needs a host with `row-interest`; an
    /// older one refuses to load it ("unknown import").
    pub fn declare(&self) -> Result<(), String> {
        imp::declare_interest(&self.rules)
    }
}
