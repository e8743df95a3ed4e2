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
mod recent;
#[cfg(test)]
mod testdata;
mod write;

use tracemend_sdk::{Batch, Edits, Interest, Processor, Value, export_processor, host};

use crate::attributes::{
    CODE_FILE, CODE_FUNCTION, CODE_LINE, CODE_PREFIX, OLD_CODE_FILE, OLD_CODE_FUNCTION,
    OLD_CODE_LINE,
};
use crate::config::Config;
use crate::enrich::{CodeInput, RowInput, Symbolizer};
use crate::outcome::Tally;
use crate::write::Writer;

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
        // Only the rows this processor acts on (below): the host shows it
        // no others, so the ~99% of spans without an exception or `code.*`
        // are neither built into its view nor walked here. The tests below
        // still run on every row shown, since rules only narrow it down.
        Interest::new()
            .span_event(EXCEPTION_EVENT)
            .span_attribute_prefix(CODE_PREFIX)
            .log_attribute_prefix(STACKTRACE)
            .log_attribute_prefix(CODE_PREFIX)
            .declare()
            .map_err(|e| format!("declaring the rows this processor needs: {e}"))?;
        Ok(Symbolize {
            core: Symbolizer::new(config, Box::new(host::data)),
        })
    }

    fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut tally = Tally::default();
        let mut out = Writer::new(edits);
        for span in batch.spans() {
            // The last exception event is the one that ended the span.
            let trace = span
                .events()
                .filter(|e| e.name() == EXCEPTION_EVENT)
                .filter_map(|e| e.attribute(STACKTRACE).and_then(|v| v.as_str()))
                .last();
            let code = code_input(span.attributes());
            if trace.is_none() && code.file.is_none() && code.function.is_none() {
                continue; // The common case: no resource lookups at all.
            }
            let res = span.resource();
            let input = row_input(&self.core, |k| res.attribute(k), trace, code);
            let attrs = self.core.enrich(&input, &mut tally);
            out.write(&span, &attrs).map_err(|e| e.to_string())?;
        }
        tally.flush(host::counter_add);
        Ok(())
    }

    fn process_logs(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
        let mut tally = Tally::default();
        let mut out = Writer::new(edits);
        for log in batch.logs() {
            let trace = log.attribute(STACKTRACE).and_then(|v| v.as_str());
            let code = code_input(log.attributes());
            if trace.is_none() && code.file.is_none() && code.function.is_none() {
                continue;
            }
            let res = log.resource();
            let input = row_input(&self.core, |k| res.attribute(k), trace, code);
            let attrs = self.core.enrich(&input, &mut tally);
            out.write(&log, &attrs).map_err(|e| e.to_string())?;
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

/// The `code.*` attributes of a row, read in one pass over its attributes
/// (`attrs`): the current names first, else the older ones, the first
/// attribute of each name counting, as a lookup by key would. A line may be
/// an int or a decimal string. One pass because every span and record is
/// read and only a few carry `code.*`: six lookups by key were six scans of
/// every row's attributes, most of the guest's time.
fn code_input<'a>(attrs: impl Iterator<Item = (&'a str, Value<'a>)>) -> CodeInput<'a> {
    let mut found = CodeAttributes::default();
    for (key, value) in attrs {
        // Most keys fail here, on their first bytes.
        if !key.starts_with(CODE_PREFIX) {
            continue;
        }
        let slot = match key {
            CODE_FILE => &mut found.file,
            OLD_CODE_FILE => &mut found.old_file,
            CODE_LINE => &mut found.line,
            OLD_CODE_LINE => &mut found.old_line,
            CODE_FUNCTION => &mut found.function,
            OLD_CODE_FUNCTION => &mut found.old_function,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let text = |new: Option<Value<'a>>, old: Option<Value<'a>>| {
        new.or(old)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let line = found.line.or(found.old_line).and_then(|v| {
        v.as_int()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    });
    CodeInput {
        file: text(found.file, found.old_file),
        line,
        function: text(found.function, found.old_function),
    }
}

/// The first value of each `code.*` name a row carries.
#[derive(Default)]
struct CodeAttributes<'a> {
    file: Option<Value<'a>>,
    old_file: Option<Value<'a>>,
    line: Option<Value<'a>>,
    old_line: Option<Value<'a>>,
    function: Option<Value<'a>>,
    old_function: Option<Value<'a>>,
}

export_processor!(Symbolize);

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(
        attrs: &[(&'static str, Value<'static>)],
    ) -> (Option<&'static str>, Option<u32>, Option<&'static str>) {
        let c = code_input(attrs.iter().copied());
        (c.file, c.line, c.function)
    }

    #[test]
    fn code_input_reads_current_names_then_old_ones() {
        let current = [
            ("loadgen.attr.0", Value::String("x")),
            ("code.filepath", Value::String("old/b.py")),
            ("code.file.path", Value::String("a/b.py")),
            ("code.line.number", Value::Int(12)),
            ("code.lineno", Value::Int(99)),
            ("code.function.name", Value::String("f")),
        ];
        assert_eq!(code_of(&current), (Some("a/b.py"), Some(12), Some("f")));
        let old = [
            ("code.filepath", Value::String("old/b.py")),
            ("code.lineno", Value::String(" 7 ")),
            ("code.function", Value::String("g")),
        ];
        assert_eq!(code_of(&old), (Some("old/b.py"), Some(7), Some("g")));
        let bad = [
            ("code.lineno", Value::Int(-3)),
            ("code.filepath", Value::String("")),
        ];
        assert_eq!(code_of(&bad), (None, None, None));
    }

    /// As lookups by key: the first attribute of a name counts, a current
    /// name that is present but not usable hides the older one, and other
    /// keys, `code.` ones included, are not read.
    /// The prefix test skips no name the match reads.
    #[test]
    fn every_code_name_has_the_prefix() {
        for name in [
            CODE_FILE,
            OLD_CODE_FILE,
            CODE_LINE,
            OLD_CODE_LINE,
            CODE_FUNCTION,
            OLD_CODE_FUNCTION,
        ] {
            assert!(name.starts_with(CODE_PREFIX), "{name}");
        }
    }

    #[test]
    fn code_input_takes_the_first_of_each_name() {
        let dup = [
            ("code.file.path", Value::String("first.py")),
            ("code.file.path", Value::String("second.py")),
            ("code.line.number", Value::String("nope")),
            ("code.line.number", Value::Int(4)),
        ];
        assert_eq!(code_of(&dup), (Some("first.py"), None, None));
        let hidden = [
            ("code.function.name", Value::Int(1)),
            ("code.function", Value::String("g")),
            ("code.file.path", Value::String("")),
            ("code.filepath", Value::String("old.py")),
        ];
        assert_eq!(code_of(&hidden), (None, None, None));
        let others = [
            ("code", Value::String("a.py")),
            ("code.", Value::String("a.py")),
            ("code.file", Value::String("a.py")),
            ("code.file.path.x", Value::String("a.py")),
            ("xcode.file.path", Value::String("a.py")),
            ("code.column.number", Value::Int(3)),
        ];
        assert_eq!(code_of(&others), (None, None, None));
    }
}
