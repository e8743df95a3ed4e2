//! The decision for one span or log record, independent of the batch
//! encoding (so it is tested natively): find the index of its service and
//! commit, then either parse its exception's stack trace or resolve its
//! `code.*` attributes, and return the attributes to add. Every way to fail
//! is a [`Reason`] counted in the tally; the row then passes unchanged.

use std::cell::Cell;

use stacktrace::{Normalizer, Parser, fingerprint};
use symbols::{Definition, File, Index};
use tracemend_sdk::NewValue;

use crate::attributes::{self as a, Attrs, SharedAttrs};
use crate::config::Config;
use crate::indexes::{Indexes, Loader};
use crate::outcome::{ENRICHED_CODE, ENRICHED_EXCEPTION, Reason, Tally};
use crate::recent::{Recent, Seen};

/// What one row says about where it happened.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RowInput<'a> {
    /// The resource's `service.name`.
    pub(crate) service: Option<&'a str>,
    /// The first configured commit attribute present on the resource.
    pub(crate) commit: Option<&'a str>,
    /// The resource's `telemetry.sdk.language`, the parser's runtime hint.
    pub(crate) language: Option<&'a str>,
    /// The exception's `exception.stacktrace`, when the row has one.
    pub(crate) stacktrace: Option<&'a str>,
    /// The row's own `code.*` attributes.
    pub(crate) code: CodeInput<'a>,
}

/// A row's `code.*` attributes (current names, else the older ones).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CodeInput<'a> {
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
    pub(crate) function: Option<&'a str>,
}

impl CodeInput<'_> {
    fn is_empty(&self) -> bool {
        self.file.is_none() && self.function.is_none()
    }
}

/// The processor's state: configuration and the indexes.
pub(crate) struct Symbolizer {
    indexes: Indexes,
    commit_attributes: Vec<String>,
    normalizer: Normalizer,
    min_path_components: usize,
    max_frames: usize,
    recent: Recent,
}

impl Symbolizer {
    /// A symbolizer reading blobs through `loader`.
    pub(crate) fn new(config: Config, loader: Loader) -> Self {
        Symbolizer {
            indexes: Indexes::new(config.indexes, loader),
            commit_attributes: config.commit_attributes,
            normalizer: config.normalizer,
            min_path_components: config.min_path_components,
            max_frames: config.max_frames,
            recent: Recent::default(),
        }
    }

    /// The resource attributes the commit is read from, in order.
    pub(crate) fn commit_attributes(&self) -> &[String] {
        &self.commit_attributes
    }

    /// The attributes to add to this row (empty when it has nothing to
    /// symbolize or passes unchanged); the outcome is counted in `tally`.
    pub(crate) fn enrich(&mut self, row: &RowInput<'_>, tally: &mut Tally) -> SharedAttrs {
        if row.stacktrace.is_none() && row.code.is_empty() {
            return SharedAttrs::default();
        }
        match self.try_enrich(row, tally) {
            Ok(attrs) => {
                tally.add(if row.stacktrace.is_some() {
                    ENRICHED_EXCEPTION
                } else {
                    ENRICHED_CODE
                });
                attrs
            }
            Err(reason) => {
                tally.add(reason.counter());
                SharedAttrs::default()
            }
        }
    }

    fn try_enrich(&mut self, row: &RowInput<'_>, tally: &mut Tally) -> Result<SharedAttrs, Reason> {
        let service = row.service.ok_or(Reason::NoService)?;
        let commit = row.commit.ok_or(Reason::NoCommit)?;
        let at = self.indexes.find(service, commit)?;
        if let Some(text) = row.stacktrace
            && let Some(seen) = self.recent.get(at, row.language, text)
        {
            for p in &seen.problems {
                tally.problem(*p);
            }
            return seen.outcome.clone();
        }
        let full = self.indexes.commit(at).to_owned();
        let index = self.indexes.get(at, tally)?;
        match row.stacktrace {
            Some(text) => {
                let seen = exception(
                    &index,
                    text,
                    row.language,
                    &self.normalizer,
                    self.max_frames,
                    &full,
                );
                for p in &seen.problems {
                    tally.problem(*p);
                }
                let outcome = seen.outcome.clone();
                self.recent.put(at, row.language, text, seen);
                outcome
            }
            None => code(
                &index,
                &row.code,
                &self.normalizer,
                self.min_path_components,
                &full,
            )
            .map(SharedAttrs::new),
        }
    }
}

/// Parses the trace with the index as the in-app predicate and describes the
/// failure's top in-app frame; the parse problems go with the outcome so a
/// replay from [`Recent`] counts them again.
fn exception(
    index: &Index<'_>,
    text: &str,
    language: Option<&str>,
    normalizer: &Normalizer,
    max_frames: usize,
    commit: &str,
) -> Seen {
    let corrupt = Cell::new(false);
    let in_repo = |path: &str| {
        index.contains_file(path).unwrap_or_else(|_| {
            corrupt.set(true);
            false
        })
    };
    let parsed = Parser::new()
        .normalizer(normalizer.clone())
        .in_app(&in_repo)
        .parse(text, language);
    let outcome =
        symbolize_failure(&parsed, corrupt.get(), index, max_frames, commit).map(SharedAttrs::new);
    Seen {
        outcome,
        problems: parsed.problems,
    }
}

/// The attributes of a parsed trace's failure.
fn symbolize_failure(
    parsed: &stacktrace::Parsed,
    corrupt: bool,
    index: &Index<'_>,
    max_frames: usize,
    commit: &str,
) -> Result<Attrs, Reason> {
    if corrupt {
        return Err(Reason::CorruptBlob);
    }
    let failure = parsed
        .failure()
        .filter(|e| !e.frames.is_empty())
        .ok_or(Reason::UnparsableTrace)?;
    let top = failure.top_in_app().ok_or(Reason::NoInAppFrame)?;
    let file = top.file.as_deref().ok_or(Reason::NoInAppFrame)?;
    let line = top.line.ok_or(Reason::OutsideIndex)?;
    let def = index
        .definition_at(file, line)
        .map_err(|_| Reason::CorruptBlob)?
        .ok_or(Reason::OutsideIndex)?;
    let mut attrs = Attrs::with_capacity(12);
    attrs.push((a::CODE_FUNCTION, def.qualified_name.into()));
    attrs.push((a::CODE_FILE, file.into()));
    attrs.push((a::CODE_LINE, i64::from(line).into()));
    if let Some(col) = top.column {
        attrs.push((a::CODE_COLUMN, i64::from(col).into()));
    }
    a::symbol(&mut attrs, index, file, Some(&def), commit);
    attrs.push((a::FRAMES, a::frames(&failure.frames, index, max_frames)));
    attrs.push((
        a::FINGERPRINT,
        NewValue::from(fingerprint(failure, &[]).to_string()),
    ));
    Ok(attrs)
}

/// Resolves a row's own `code.*` attributes: the file by its longest indexed
/// suffix, then the definition by line, else by function name.
fn code(
    index: &Index<'_>,
    code: &CodeInput<'_>,
    normalizer: &Normalizer,
    min_components: usize,
    commit: &str,
) -> Result<Attrs, Reason> {
    let corrupt = |_| Reason::CorruptBlob;
    let (path, def) = match code.file {
        Some(file) => {
            let normalized = normalizer.normalize(file);
            let f = index
                .resolve_path(&normalized, min_components)
                .map_err(corrupt)?
                .ok_or(Reason::OutsideIndex)?;
            let def = match (code.line, code.function) {
                (Some(line), _) => Some(
                    index
                        .definition_at(f.path, line)
                        .map_err(corrupt)?
                        .ok_or(Reason::OutsideIndex)?,
                ),
                (None, Some(function)) => by_function(index, &f, function)?,
                (None, None) => None,
            };
            (f.path, def)
        }
        None => {
            let function = code.function.ok_or(Reason::OutsideIndex)?;
            let defs = index
                .definitions_by_qualified_name(function)
                .map_err(corrupt)?;
            match defs.as_slice() {
                [d] => (d.path, Some(*d)),
                _ => return Err(Reason::OutsideIndex),
            }
        }
    };
    let mut attrs = Attrs::with_capacity(6);
    a::symbol(&mut attrs, index, path, def.as_ref(), commit);
    Ok(attrs)
}

/// The one definition of file `f` named `function` (its qualified name, or
/// a dotted or `::` tail of it such as `Order.total`); `None` when there is
/// no such definition or several, so the row still gets the file's owners.
fn by_function<'a>(
    index: &Index<'a>,
    f: &File<'a>,
    function: &str,
) -> Result<Option<Definition<'a>>, Reason> {
    let defs = index.file_definitions(f).map_err(|_| Reason::CorruptBlob)?;
    let mut found = defs.iter().filter(|d| {
        d.qualified_name == function
            || d.qualified_name
                .strip_suffix(function)
                .is_some_and(|head| head.ends_with('.') || head.ends_with("::"))
    });
    Ok(match (found.next(), found.next()) {
        (Some(d), None) => Some(*d),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
