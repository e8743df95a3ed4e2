//! The Failure Envelope: one failed request, de-identified, as the edge collector sends it
//! to the repair engine.
//!
//! This crate is the contract both sides share and nothing else: the typed envelope
//! ([`Envelope`] and its parts), the JSON Schema (`config/envelope.schema.json`, compiled
//! into the crate once), and [`parse`], which checks a document against the schema and
//! the rules a schema cannot say, then returns the typed value. Every violation names the
//! JSON pointer of the offending value. It depends on neither the collector nor the
//! engine (no async runtime, no store), so the collector's envelope exporter and the
//! engine's intake link the same code.
//!
//! ```
//! let bytes = include_bytes!("../../config/examples/envelopes/minimal.json");
//! let envelope = envelope::parse(bytes).expect("a valid envelope");
//! assert_eq!(envelope.schema_version, envelope::SCHEMA_VERSION);
//! ```

#![deny(missing_docs)]

mod schema;
mod types;

pub use schema::{
    EnvelopeError, SCHEMA_JSON, SCHEMA_VERSION, Violation, from_value, parse, validate_value,
};
pub use types::{
    Envelope, Environment, Exception, Frame, Identity, Inputs, QueryValue, Runtime, Service,
    SpanTiming, State, Symptom, Timing,
};
