//! The first-party `symbolize` processor: ties spans and log records to
//! code. For each span with an `exception` event (and each log record with
//! `exception.*` attributes) it parses `exception.stacktrace` with the
//! `stacktrace` crate, decides which frames are the application's with the
//! symbol index of the row's service and commit, and adds the top in-app
//! frame as `code.function.name`/`code.file.path`/`code.line.number`, its
//! stable symbol id, the file's owners, the commit, the frames and a
//! grouping fingerprint. Rows without an exception that carry `code.*`
//! attributes get the symbol id and owners. Anything that cannot be resolved
//! passes unchanged and is counted. Configuration and every attribute:
//! `docs/symbolize.md`.
//!
//! ```yaml
//! processors:
//!   wasm/symbolize:
//!     module: builtin:symbolize
//!     config:
//!       indexes:
//!         - { service: shop, commit: 4f2a...e1, data: shop_4f2a }
//!         - { service: shop, commit: 9c0d...7b, data: shop_9c0d }
//!     grants:
//!       data: { shop_4f2a: /var/lib/symbols/shop-4f2a.idx, shop_9c0d: /var/lib/symbols/shop-9c0d.idx }
//! ```

mod attributes;
mod config;
mod enrich;
mod indexes;
mod outcome;
#[cfg(test)]
mod testdata;

use tracemend_sdk::{Batch, Edits, Processor, Value, export_processor, host};

use crate::attributes::{
    CODE_FILE, CODE_FUNCTION, CODE_LINE, OLD_CODE_FILE, OLD_CODE_FUNCTION, OLD_CODE_LINE,
};
use crate::config::Config;
use crate::enrich::{CodeInput, RowInput, Symbolizer};
use crate::outcome::Tally;

/// The span event that carries an exception (OpenTelemetry semantic
/// conventions), and its stack trace attribute.
const EXCEPTION_EVENT: &str = "exception";
const STACKTRACE: &str = "exception.stacktrace";

struct Symbolize {
    core: Symbolizer,
}

impl Processor for Symbolize {
    fn configure(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        Ok(Symbolize {
            core: Symbolizer::new(config, Box::new(host::data)),
        })
    }

    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut tally = Tally::default();
        for span in batch.spans() {
            // The last exception event is the one that ended the span.
            let trace = span
                .events()
                .filter(|e| e.name() == EXCEPTION_EVENT)
                .filter_map(|e| e.attribute(STACKTRACE).and_then(|v| v.as_str()))
                .last();
            let code = code_input(|k| span.attribute(k));
            if trace.is_none() && code.file.is_none() && code.function.is_none() {
                continue; // The common case: no resource lookups at all.
            }
            let res = span.resource();
            let input = row_input(&self.core, |k| res.attribute(k), trace, code);
            for (key, value) in self.core.enrich(&input, &mut tally) {
                edits.set_attribute(&span, key, value);
            }
        }
        tally.flush(host::counter_add);
        Ok(())
    }

    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut tally = Tally::default();
        for log in batch.logs() {
            let trace = log.attribute(STACKTRACE).and_then(|v| v.as_str());
            let code = code_input(|k| log.attribute(k));
            if trace.is_none() && code.file.is_none() && code.function.is_none() {
                continue;
            }
            let res = log.resource();
            let input = row_input(&self.core, |k| res.attribute(k), trace, code);
            for (key, value) in self.core.enrich(&input, &mut tally) {
                edits.set_attribute(&log, key, value);
            }
        }
        tally.flush(host::counter_add);
        Ok(())
    }
}

/// A row's input from its resource's attributes (`resource`), its stack
/// trace and its code attributes.
fn row_input<'a>(
    core: &Symbolizer,
    resource: impl Fn(&str) -> Option<Value<'a>>,
    stacktrace: Option<&'a str>,
    code: CodeInput<'a>,
) -> RowInput<'a> {
    let text = |k: &str| {
        resource(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    RowInput {
        service: text("service.name"),
        commit: core.commit_attributes().iter().find_map(|k| text(k)),
        language: text("telemetry.sdk.language"),
        stacktrace,
        code,
    }
}

/// The `code.*` attributes of a row (`get` reads one), the current names
/// first, else the older ones. A line may be an int or a decimal string.
fn code_input<'a>(get: impl Fn(&str) -> Option<Value<'a>>) -> CodeInput<'a> {
    let text = |new: &str, old: &str| {
        get(new)
            .or_else(|| get(old))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let line = get(CODE_LINE).or_else(|| get(OLD_CODE_LINE)).and_then(|v| {
        v.as_int()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    });
    CodeInput {
        file: text(CODE_FILE, OLD_CODE_FILE),
        line,
        function: text(CODE_FUNCTION, OLD_CODE_FUNCTION),
    }
}

export_processor!(Symbolize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_input_reads_current_names_then_old_ones() {
        let current = |k: &str| match k {
            "code.file.path" => Some(Value::String("a/b.py")),
            "code.filepath" => Some(Value::String("old/b.py")),
            "code.line.number" => Some(Value::Int(12)),
            "code.function.name" => Some(Value::String("f")),
            _ => None,
        };
        let c = code_input(current);
        assert_eq!(
            (c.file, c.line, c.function),
            (Some("a/b.py"), Some(12), Some("f"))
        );
        let old = |k: &str| match k {
            "code.filepath" => Some(Value::String("old/b.py")),
            "code.lineno" => Some(Value::String(" 7 ")),
            "code.function" => Some(Value::String("g")),
            _ => None,
        };
        let c = code_input(old);
        assert_eq!(
            (c.file, c.line, c.function),
            (Some("old/b.py"), Some(7), Some("g"))
        );
        let bad = |k: &str| match k {
            "code.lineno" => Some(Value::Int(-3)),
            "code.filepath" => Some(Value::String("")),
            _ => None,
        };
        let c = code_input(bad);
        assert_eq!((c.file, c.line, c.function), (None, None, None));
    }
}
