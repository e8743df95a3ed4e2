//! The first-party envelope assembler (`builtin:envelope`): one error trace
//! and the logs of its trace id in, one Failure Envelope
//! (`config/envelope.schema.json`) out.
//!
//! It finds the failing span and its exception, the request span above it,
//! and fills identity (trace, span, service, commit, time), symptom
//! (exception type, redacted message and its hash, frames parsed from
//! `exception.stacktrace` by the shared `stacktrace` crate, the grouping
//! fingerprint, status), inputs (method, route, path, parsed query,
//! allowlisted headers, body), environment (runtime, locale, time zone,
//! feature flags), state (fixtures) and timing (spans, critical path) from
//! the attributes docs/envelopes.md names. A trace without an error, or
//! without what an envelope needs (no server span, no commit, no method or
//! path), yields none and is counted by reason; a trace with no commit is
//! also logged with the attribute to set. A stack trace that is truncated,
//! garbled or from an unknown runtime yields the frames that could be read.
//!
//! ```yaml
//! exporters:
//!   envelope:
//!     assembler:
//!       module: builtin:envelope
//!       config:
//!         in_app_prefixes: [shop/]
//!         max_frames: 64
//! ```

mod assemble;
mod config;
mod environment;
mod failure;
mod inputs;
mod message;
mod model;
mod outcome;
mod symptom;
#[cfg(test)]
mod tests;
mod time;
mod timing;

use tracemend_sdk::assembler::Assembler;
use tracemend_sdk::{Batch, host};

use crate::config::Config;
use crate::model::Trace;
use crate::outcome::{ASSEMBLED, Outcome, Skip};

struct EnvelopeAssembler {
    config: Config,
}

impl Assembler for EnvelopeAssembler {
    fn configure(config: &str) -> Result<Self, String> {
        Ok(EnvelopeAssembler {
            config: Config::parse(config)?,
        })
    }

    fn assemble(&mut self, trace: Batch<'_>, logs: Batch<'_>) -> Result<Option<String>, String> {
        let model = Trace::from_batches(trace, logs);
        match assemble::assemble(&model, &self.config)? {
            Outcome::Envelope { json, notes } => {
                for note in notes {
                    host::counter_add(note.counter(), 1);
                }
                host::counter_add(ASSEMBLED, 1);
                serde_json::to_string(&json)
                    .map(Some)
                    .map_err(|e| format!("envelope JSON: {e}"))
            }
            Outcome::Skipped { reason, detail } => {
                host::counter_add(reason.counter(), 1);
                if reason != Skip::NoError {
                    let level = if matches!(reason, Skip::NoCommit | Skip::InvalidCommit) {
                        host::Level::Warn
                    } else {
                        host::Level::Info
                    };
                    host::log(
                        level,
                        "no envelope for an error trace",
                        &[("reason", reason.counter()), ("detail", &detail)],
                    );
                }
                Ok(None)
            }
        }
    }
}

tracemend_sdk::export_assembler!(EnvelopeAssembler);
