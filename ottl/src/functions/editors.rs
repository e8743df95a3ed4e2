//! Editors: functions that change the item (`set`, `delete_key`, `replace_pattern`, ...).
//! Semantics follow otelcol-contrib's `pkg/ottl/ottlfuncs/func_*.go`.

use regex::Regex;

use super::{FuncDef, apply, function, given, int_arg, regex, string_arg, target, value};
use crate::compiled::{CArg, CPath};
use crate::context::TransformContext;
use crate::error::EvalError;
use crate::eval;
use crate::value::Value;

type Map = Vec<(String, Value)>;

pub(super) fn set(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let v = value(args, 1, tc)?;
    eval::set_path(target(args, 0)?, tc, v)?;
    Ok(Value::Nil)
}

/// Reads the target map, lets `f` change it, and writes it back when `f` says so.
fn edit_map(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
    what: &str,
    f: impl FnOnce(&mut Map) -> Result<bool, EvalError>,
) -> Result<Value, EvalError> {
    let t: &CPath = target(args, 0)?;
    let mut m = match eval::get_path(t, tc)? {
        Value::Map(m) => m,
        other => {
            return Err(EvalError::new(format!(
                "{what} needs a map target, got {}",
                other.type_name()
            )));
        }
    };
    if f(&mut m)? {
        eval::set_path(t, tc, Value::Map(m))?;
    }
    Ok(Value::Nil)
}

pub(super) fn delete_key(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let key = string_arg("delete_key's key", value(args, 1, tc)?)?;
    edit_map(args, tc, "delete_key", |m| {
        let before = m.len();
        m.retain(|(k, _)| *k != key);
        Ok(m.len() != before)
    })
}

pub(super) fn delete_matching_keys(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let re = regex(args, 1)?.clone();
    edit_map(args, tc, "delete_matching_keys", |m| {
        let before = m.len();
        m.retain(|(k, _)| !re.is_match(k));
        Ok(m.len() != before)
    })
}

pub(super) fn keep_keys(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let keys = string_list("keep_keys's keys", value(args, 1, tc)?)?;
    edit_map(args, tc, "keep_keys", |m| {
        let before = m.len();
        m.retain(|(k, _)| keys.contains(k));
        Ok(m.len() != before)
    })
}

pub(super) fn keep_matching_keys(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let re = regex(args, 1)?.clone();
    edit_map(args, tc, "keep_matching_keys", |m| {
        let before = m.len();
        m.retain(|(k, _)| re.is_match(k));
        Ok(m.len() != before)
    })
}

fn string_list(what: &str, v: Value) -> Result<Vec<String>, EvalError> {
    match v {
        Value::List(l) => l.into_iter().map(|v| string_arg(what, v)).collect(),
        other => Err(EvalError::new(format!(
            "{what} must be a list of strings, got {}",
            other.type_name()
        ))),
    }
}

/// The replacement options shared by the replace editors: the replacement
/// template, an optional converter applied to it, and the `%s` format of the result.
struct Replacement {
    template: String,
    func: Option<&'static FuncDef>,
    format: Option<String>,
}

impl Replacement {
    /// Reads arguments `i` (replacement), `i + 1` (function), `i + 2` (format).
    fn from_args(
        args: &[CArg],
        i: usize,
        tc: &mut TransformContext<'_>,
    ) -> Result<Replacement, EvalError> {
        let template = string_arg("the replacement", value(args, i, tc)?)?;
        let format = if given(args, i + 2) {
            let f = string_arg("replacement_format", value(args, i + 2, tc)?)?;
            if !f.contains("%s") {
                return Err(EvalError::new(format!(
                    "replacement_format must contain %s, got {f:?}"
                )));
            }
            Some(f)
        } else {
            None
        };
        Ok(Replacement {
            template,
            func: function(args, i + 1),
            format,
        })
    }

    /// The text for one replacement (the template already expanded).
    fn finish(&self, expanded: String, tc: &mut TransformContext<'_>) -> Result<String, EvalError> {
        let Some(f) = self.func else {
            return Ok(expanded);
        };
        let hashed = match apply(f, Value::Str(expanded), tc)? {
            Value::Str(s) => s,
            other => super::convert::to_string(&other),
        };
        Ok(match &self.format {
            Some(fmt) => fmt.replacen("%s", &hashed, 1),
            None => hashed,
        })
    }

    /// Replaces every match of `re` in `s` (Go's `ReplaceAllString`, `$1` expansion).
    fn regex_all(
        &self,
        re: &Regex,
        s: &str,
        tc: &mut TransformContext<'_>,
    ) -> Result<String, EvalError> {
        if self.func.is_none() {
            return Ok(re.replace_all(s, self.template.as_str()).into_owned());
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for caps in re.captures_iter(s) {
            let Some(m) = caps.get(0) else { continue };
            out.push_str(&s[last..m.start()]);
            let mut expanded = String::new();
            caps.expand(&self.template, &mut expanded);
            out.push_str(&self.finish(expanded, tc)?);
            last = m.end();
        }
        out.push_str(&s[last..]);
        Ok(out)
    }
}

pub(super) fn replace_pattern(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let t = target(args, 0)?;
    let re = regex(args, 1)?;
    let rep = Replacement::from_args(args, 2, tc)?;
    // Only strings are replaced in; other values are left as they are.
    let Value::Str(s) = eval::get_path(t, tc)? else {
        return Ok(Value::Nil);
    };
    let new = rep.regex_all(re, &s, tc)?;
    if new != s {
        eval::set_path(t, tc, Value::Str(new))?;
    }
    Ok(Value::Nil)
}

pub(super) fn replace_all_patterns(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let mode = string_arg("replace_all_patterns's mode", value(args, 1, tc)?)?;
    let by_key = match mode.as_str() {
        "key" => true,
        "value" => false,
        _ => {
            return Err(EvalError::new(format!(
                "invalid mode {mode:?}, must be \"key\" or \"value\""
            )));
        }
    };
    let re = regex(args, 2)?;
    let rep = Replacement::from_args(args, 3, tc)?;
    let t = target(args, 0)?;
    let Value::Map(mut m) = eval::get_path(t, tc)? else {
        return Err(EvalError::new("replace_all_patterns needs a map target"));
    };
    let mut changed = false;
    for (k, v) in m.iter_mut() {
        if by_key {
            let new = rep.regex_all(re, k, tc)?;
            changed |= new != *k;
            *k = new;
        } else if let Value::Str(s) = v {
            let new = rep.regex_all(re, s, tc)?;
            changed |= new != *s;
            *s = new;
        }
    }
    if by_key && changed {
        // A renamed key that collides with another keeps the later value, as a map put would.
        let mut dedup: Map = Vec::with_capacity(m.len());
        for (k, v) in m {
            match dedup.iter_mut().find(|(d, _)| *d == k) {
                Some(slot) => slot.1 = v,
                None => dedup.push((k, v)),
            }
        }
        m = dedup;
    }
    if changed {
        eval::set_path(t, tc, Value::Map(m))?;
    }
    Ok(Value::Nil)
}

pub(super) fn replace_match(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let pattern = string_arg("replace_match's pattern", value(args, 1, tc)?)?;
    let glob = super::glob::compile(&pattern)?;
    let rep = Replacement::from_args(args, 2, tc)?;
    let t = target(args, 0)?;
    let Value::Str(s) = eval::get_path(t, tc)? else {
        return Ok(Value::Nil);
    };
    if glob.is_match(&s) {
        let new = rep.finish(rep.template.clone(), tc)?;
        eval::set_path(t, tc, Value::Str(new))?;
    }
    Ok(Value::Nil)
}

pub(super) fn replace_all_matches(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let pattern = string_arg("replace_all_matches's pattern", value(args, 1, tc)?)?;
    let glob = super::glob::compile(&pattern)?;
    let rep = Replacement::from_args(args, 2, tc)?;
    let new = rep.finish(rep.template.clone(), tc)?;
    edit_map(args, tc, "replace_all_matches", |m| {
        let mut changed = false;
        for (_, v) in m.iter_mut() {
            if let Value::Str(s) = v
                && glob.is_match(s)
            {
                *s = new.clone();
                changed = true;
            }
        }
        Ok(changed)
    })
}

pub(super) fn truncate_all(
    args: &[CArg],
    tc: &mut TransformContext<'_>,
) -> Result<Value, EvalError> {
    let limit = int_arg("truncate_all's limit", value(args, 1, tc)?)?;
    let limit = usize::try_from(limit).map_err(|_| {
        EvalError::new(format!(
            "invalid limit for truncate_all function, {limit} cannot be negative"
        ))
    })?;
    edit_map(args, tc, "truncate_all", |m| {
        let mut changed = false;
        for (_, v) in m.iter_mut() {
            if let Value::Str(s) = v
                && s.len() > limit
            {
                // Cut at a character boundary so the result stays valid UTF-8.
                let mut at = limit;
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                s.truncate(at);
                changed = true;
            }
        }
        Ok(changed)
    })
}

pub(super) fn limit(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let limit = int_arg("limit's limit", value(args, 1, tc)?)?;
    if limit < 0 {
        return Err(EvalError::new(format!(
            "invalid limit for limit function, {limit} cannot be negative"
        )));
    }
    let keep = string_list("limit's priority_keys", value(args, 2, tc)?)?;
    if keep.len() as i64 > limit {
        return Err(EvalError::new(format!(
            "invalid limit for limit function, {limit} cannot be less than the number of priority keys {}",
            keep.len()
        )));
    }
    edit_map(args, tc, "limit", |m| {
        if m.len() as i64 <= limit {
            return Ok(false);
        }
        let mut count = m.iter().filter(|(k, _)| keep.contains(k)).count() as i64;
        m.retain(|(k, _)| {
            if keep.contains(k) {
                return true;
            }
            if count < limit {
                count += 1;
                return true;
            }
            false
        });
        Ok(true)
    })
}

pub(super) fn merge_maps(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let source = match value(args, 1, tc)? {
        Value::Map(m) => m,
        other => {
            return Err(EvalError::new(format!(
                "merge_maps's source must be a map, got {}",
                other.type_name()
            )));
        }
    };
    let strategy = string_arg("merge_maps's strategy", value(args, 2, tc)?)?;
    let (insert, update) = match strategy.as_str() {
        "insert" => (true, false),
        "update" => (false, true),
        "upsert" => (true, true),
        _ => {
            return Err(EvalError::new(format!(
                "invalid value for strategy, {strategy:?}, must be 'insert', 'update' or 'upsert'"
            )));
        }
    };
    edit_map(args, tc, "merge_maps", |m| {
        let mut changed = false;
        for (k, v) in source {
            match m.iter_mut().find(|(t, _)| *t == k) {
                Some(slot) if update => {
                    slot.1 = v;
                    changed = true;
                }
                None if insert => {
                    m.push((k, v));
                    changed = true;
                }
                _ => {}
            }
        }
        Ok(changed)
    })
}

pub(super) fn append(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    if !given(args, 1) && !given(args, 2) {
        return Err(EvalError::new(
            "append needs at least one of `value` and `values`",
        ));
    }
    let mut add = Vec::new();
    if given(args, 1) {
        add.push(value(args, 1, tc)?);
    }
    if given(args, 2) {
        match value(args, 2, tc)? {
            Value::List(l) => add.extend(l),
            other => {
                return Err(EvalError::new(format!(
                    "append's values must be a list, got {}",
                    other.type_name()
                )));
            }
        }
    }
    let t = target(args, 0)?;
    let mut list = match eval::get_path(t, tc)? {
        Value::Nil => Vec::new(),
        Value::List(l) => l,
        scalar => vec![scalar],
    };
    list.extend(add);
    eval::set_path(t, tc, Value::List(list))?;
    Ok(Value::Nil)
}

pub(super) fn flatten(args: &[CArg], tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let prefix = if given(args, 1) {
        Some(string_arg("flatten's prefix", value(args, 1, tc)?)?)
    } else {
        None
    };
    let depth = if given(args, 2) {
        int_arg("flatten's depth", value(args, 2, tc)?)?
    } else {
        i64::MAX
    };
    if depth < 0 {
        return Err(EvalError::new(format!(
            "invalid depth for flatten function, {depth} cannot be negative"
        )));
    }
    edit_map(args, tc, "flatten", |m| {
        let mut out = Vec::with_capacity(m.len());
        flatten_into(std::mem::take(m), prefix.as_deref(), 0, depth, &mut out);
        *m = out;
        Ok(true)
    })
}

fn flatten_into(m: Map, prefix: Option<&str>, level: i64, depth: i64, out: &mut Map) {
    for (k, v) in m {
        let key = match prefix {
            Some(p) => format!("{p}.{k}"),
            None => k,
        };
        match v {
            Value::Map(inner) if level < depth => {
                flatten_into(inner, Some(&key), level + 1, depth, out)
            }
            Value::List(items) if level < depth => {
                let as_map = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v))
                    .collect();
                flatten_into(as_map, Some(&key), level + 1, depth, out);
            }
            v => out.push((key, v)),
        }
    }
}
