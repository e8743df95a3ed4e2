//! The attributes the processor writes, and how a definition and the parsed
//! frames become their values. `docs/symbolize.md` documents each one.

use std::rc::Rc;

use stacktrace::{Frame, Origin};
use symbols::{Definition, Index, format_symbol_id};
use tracemend_sdk::NewValue;

/// Current semantic-convention code attributes (written from the top in-app
/// frame of an exception).
pub(crate) const CODE_FUNCTION: &str = "code.function.name";
pub(crate) const CODE_FILE: &str = "code.file.path";
pub(crate) const CODE_LINE: &str = "code.line.number";
pub(crate) const CODE_COLUMN: &str = "code.column.number";
/// What every code attribute's name, current or older, starts with: the
/// cheap first test on each of a row's attributes.
pub(crate) const CODE_PREFIX: &str = "code.";
/// The older names, read as input only.
pub(crate) const OLD_CODE_FUNCTION: &str = "code.function";
pub(crate) const OLD_CODE_FILE: &str = "code.filepath";
pub(crate) const OLD_CODE_LINE: &str = "code.lineno";

/// The definition's stable id (16 hex digits, see `symbols::symbol_id`).
pub(crate) const SYMBOL_ID: &str = "tracemend.symbol.id";
/// The definition's qualified name.
pub(crate) const SYMBOL_NAME: &str = "tracemend.symbol.name";
/// The commit and author time of the last change to the definition's lines.
pub(crate) const LAST_CHANGE_COMMIT: &str = "tracemend.symbol.last_change.commit";
pub(crate) const LAST_CHANGE_TIME: &str = "tracemend.symbol.last_change.time";
/// The file's CODEOWNERS owners (string array).
pub(crate) const OWNERS: &str = "tracemend.code.owners";
/// The full sha of the index that answered.
pub(crate) const COMMIT: &str = "tracemend.code.commit";
/// The failure's frames (array of kvlists, innermost first).
pub(crate) const FRAMES: &str = "tracemend.exception.frames";
/// The grouping fingerprint (32 hex digits).
pub(crate) const FINGERPRINT: &str = "tracemend.exception.fingerprint";

/// Attributes to set on one row.
pub(crate) type Attrs = Vec<(&'static str, NewValue)>;

/// A row's attributes as the processor hands them out: shared, so a stack
/// trace seen again (see `recent`) is answered without copying its frames.
pub(crate) type SharedAttrs = Rc<Attrs>;

/// The symbol, owner and commit attributes of a file and, when known, the
/// definition in it.
pub(crate) fn symbol(
    attrs: &mut Attrs,
    index: &Index<'_>,
    path: &str,
    def: Option<&Definition<'_>>,
    commit: &str,
) {
    if let Some(d) = def {
        attrs.push((SYMBOL_ID, format_symbol_id(d.symbol_id).into()));
        attrs.push((SYMBOL_NAME, d.qualified_name.into()));
        if let Some(c) = d.last_change {
            attrs.push((LAST_CHANGE_COMMIT, c.sha.into()));
            attrs.push((LAST_CHANGE_TIME, c.time.into()));
        }
    }
    // Owners are a convenience: a malformed owners run must not cost the
    // rest of the attributes.
    if let Ok(Some(owners)) = index.owners(path)
        && !owners.is_empty()
    {
        attrs.push((
            OWNERS,
            NewValue::Array(owners.into_iter().map(NewValue::from).collect()),
        ));
    }
    attrs.push((COMMIT, commit.into()));
}

/// The frames as an array of kvlists, innermost first, at most `max`. In-app
/// frames also carry their definition's id and qualified name.
pub(crate) fn frames(frames: &[Frame], index: &Index<'_>, max: usize) -> NewValue {
    NewValue::Array(frames.iter().take(max).map(|f| frame(f, index)).collect())
}

fn frame(f: &Frame, index: &Index<'_>) -> NewValue {
    let mut kv: Vec<(String, NewValue)> = Vec::with_capacity(8);
    let mut put = |k: &str, v: NewValue| kv.push((k.to_owned(), v));
    if let Some(s) = &f.function {
        put("function", s.as_str().into());
    }
    if let Some(s) = &f.module {
        put("module", s.as_str().into());
    }
    if let Some(s) = &f.file {
        put("file", s.as_str().into());
    }
    if let Some(n) = f.line {
        put("line", i64::from(n).into());
    }
    if let Some(n) = f.column {
        put("column", i64::from(n).into());
    }
    put("in_app", f.in_app.into());
    put(
        "origin",
        match f.origin {
            Origin::Runtime => "runtime",
            Origin::Dependency => "dependency",
            Origin::Application => "application",
        }
        .into(),
    );
    if f.in_app
        && let (Some(file), Some(line)) = (&f.file, f.line)
        && let Ok(Some(d)) = index.definition_at(file, line)
    {
        put("symbol_id", format_symbol_id(d.symbol_id).into());
        put("symbol", d.qualified_name.into());
    }
    NewValue::KvList(kv)
}
