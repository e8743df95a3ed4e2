//! The function table: every editor and converter, its parameters (matched by
//! position or name when a statement is compiled) and its implementation.

pub(crate) mod convert;
mod converters;
mod editors;
mod glob;

use regex::Regex;

use crate::compiled::{CArg, CPath};
use crate::context::TransformContext;
use crate::error::EvalError;
use crate::eval;
use crate::value::Value;

/// How a parameter's argument is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// Any value expression, evaluated when the function runs.
    Value,
    /// A path the editor writes (or reads and writes).
    Target,
    /// A regular expression given as a string literal.
    Regex,
    /// A one-argument converter named without a call (`SHA256`).
    Function,
}

/// A parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub optional: bool,
}

/// The implementation: the arguments in parameter order (`CArg::Absent` for optional
/// ones not given). Editors return `Nil`.
pub(crate) type RunFn = fn(&[CArg], &mut TransformContext<'_>) -> Result<Value, EvalError>;

/// A function.
pub(crate) struct FuncDef {
    pub name: &'static str,
    /// Editors change the item; converters return a value.
    pub editor: bool,
    pub params: &'static [Param],
    pub run: RunFn,
}

impl std::fmt::Debug for FuncDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const fn p(name: &'static str, kind: ParamKind) -> Param {
    Param {
        name,
        kind,
        optional: false,
    }
}

const fn opt(name: &'static str, kind: ParamKind) -> Param {
    Param {
        name,
        kind,
        optional: true,
    }
}

use ParamKind::{Function as F, Regex as R, Target as T, Value as V};

/// Every function, editors first.
pub(crate) static FUNCTIONS: &[FuncDef] = &[
    FuncDef {
        name: "set",
        editor: true,
        params: &[p("target", T), p("value", V)],
        run: editors::set,
    },
    FuncDef {
        name: "delete_key",
        editor: true,
        params: &[p("target", T), p("key", V)],
        run: editors::delete_key,
    },
    FuncDef {
        name: "delete_matching_keys",
        editor: true,
        params: &[p("target", T), p("pattern", R)],
        run: editors::delete_matching_keys,
    },
    FuncDef {
        name: "keep_keys",
        editor: true,
        params: &[p("target", T), p("keys", V)],
        run: editors::keep_keys,
    },
    FuncDef {
        name: "keep_matching_keys",
        editor: true,
        params: &[p("target", T), p("pattern", R)],
        run: editors::keep_matching_keys,
    },
    FuncDef {
        name: "replace_pattern",
        editor: true,
        params: &[
            p("target", T),
            p("regex", R),
            p("replacement", V),
            opt("function", F),
            opt("replacement_format", V),
        ],
        run: editors::replace_pattern,
    },
    FuncDef {
        name: "replace_all_patterns",
        editor: true,
        params: &[
            p("target", T),
            p("mode", V),
            p("regex", R),
            p("replacement", V),
            opt("function", F),
            opt("replacement_format", V),
        ],
        run: editors::replace_all_patterns,
    },
    FuncDef {
        name: "replace_match",
        editor: true,
        params: &[
            p("target", T),
            p("pattern", V),
            p("replacement", V),
            opt("function", F),
            opt("replacement_format", V),
        ],
        run: editors::replace_match,
    },
    FuncDef {
        name: "replace_all_matches",
        editor: true,
        params: &[
            p("target", T),
            p("pattern", V),
            p("replacement", V),
            opt("function", F),
            opt("replacement_format", V),
        ],
        run: editors::replace_all_matches,
    },
    FuncDef {
        name: "truncate_all",
        editor: true,
        params: &[p("target", T), p("limit", V)],
        run: editors::truncate_all,
    },
    FuncDef {
        name: "limit",
        editor: true,
        params: &[p("target", T), p("limit", V), p("priority_keys", V)],
        run: editors::limit,
    },
    FuncDef {
        name: "merge_maps",
        editor: true,
        params: &[p("target", T), p("source", V), p("strategy", V)],
        run: editors::merge_maps,
    },
    FuncDef {
        name: "append",
        editor: true,
        params: &[p("target", T), opt("value", V), opt("values", V)],
        run: editors::append,
    },
    FuncDef {
        name: "flatten",
        editor: true,
        params: &[p("target", T), opt("prefix", V), opt("depth", V)],
        run: editors::flatten,
    },
    FuncDef {
        name: "Concat",
        editor: false,
        params: &[p("vals", V), p("delimiter", V)],
        run: converters::concat,
    },
    FuncDef {
        name: "IsMatch",
        editor: false,
        params: &[p("target", V), p("pattern", R)],
        run: converters::is_match,
    },
    FuncDef {
        name: "ParseJSON",
        editor: false,
        params: &[p("target", V)],
        run: converters::parse_json,
    },
    FuncDef {
        name: "SHA256",
        editor: false,
        params: &[p("value", V)],
        run: converters::sha256,
    },
    FuncDef {
        name: "Int",
        editor: false,
        params: &[p("value", V)],
        run: converters::int,
    },
    FuncDef {
        name: "Double",
        editor: false,
        params: &[p("value", V)],
        run: converters::double,
    },
    FuncDef {
        name: "String",
        editor: false,
        params: &[p("value", V)],
        run: converters::string,
    },
    FuncDef {
        name: "Bool",
        editor: false,
        params: &[p("value", V)],
        run: converters::boolean,
    },
    FuncDef {
        name: "Len",
        editor: false,
        params: &[p("target", V)],
        run: converters::len,
    },
    FuncDef {
        name: "IsString",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_string,
    },
    FuncDef {
        name: "IsInt",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_int,
    },
    FuncDef {
        name: "IsDouble",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_double,
    },
    FuncDef {
        name: "IsBool",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_bool,
    },
    FuncDef {
        name: "IsMap",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_map,
    },
    FuncDef {
        name: "IsList",
        editor: false,
        params: &[p("value", V)],
        run: converters::is_list,
    },
    FuncDef {
        name: "ToLowerCase",
        editor: false,
        params: &[p("target", V)],
        run: converters::to_lower,
    },
    FuncDef {
        name: "ToUpperCase",
        editor: false,
        params: &[p("target", V)],
        run: converters::to_upper,
    },
    FuncDef {
        name: "Substring",
        editor: false,
        params: &[p("target", V), p("start", V), p("length", V)],
        run: converters::substring,
    },
    FuncDef {
        name: "Split",
        editor: false,
        params: &[p("target", V), p("delimiter", V)],
        run: converters::split,
    },
    FuncDef {
        name: "HasPrefix",
        editor: false,
        params: &[p("target", V), p("prefix", V)],
        run: converters::has_prefix,
    },
    FuncDef {
        name: "HasSuffix",
        editor: false,
        params: &[p("target", V), p("suffix", V)],
        run: converters::has_suffix,
    },
    FuncDef {
        name: "TraceID",
        editor: false,
        params: &[p("bytes", V)],
        run: converters::trace_id,
    },
    FuncDef {
        name: "SpanID",
        editor: false,
        params: &[p("bytes", V)],
        run: converters::span_id,
    },
    FuncDef {
        name: "Hex",
        editor: false,
        params: &[p("value", V)],
        run: converters::hex,
    },
];

/// The function named `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The names of every editor and converter, for documentation and errors.
pub fn names() -> impl Iterator<Item = (&'static str, bool)> {
    FUNCTIONS.iter().map(|f| (f.name, f.editor))
}

// ---- argument access

fn value(args: &[CArg], i: usize, tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    match args.get(i) {
        Some(CArg::Value(e)) => eval::eval(e, tc),
        Some(CArg::Target(p)) => eval::get_path(p, tc),
        _ => Ok(Value::Nil),
    }
}

fn given(args: &[CArg], i: usize) -> bool {
    !matches!(args.get(i), None | Some(CArg::Absent))
}

fn target(args: &[CArg], i: usize) -> Result<&CPath, EvalError> {
    match args.get(i) {
        Some(CArg::Target(p)) => Ok(p),
        _ => Err(EvalError::new("internal: target argument missing")),
    }
}

fn regex(args: &[CArg], i: usize) -> Result<&Regex, EvalError> {
    match args.get(i) {
        Some(CArg::Regex(r)) => Ok(r),
        _ => Err(EvalError::new("internal: regex argument missing")),
    }
}

fn function(args: &[CArg], i: usize) -> Option<&'static FuncDef> {
    match args.get(i) {
        Some(CArg::Func(f)) => Some(f),
        _ => None,
    }
}

fn string_arg(what: &str, v: Value) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(EvalError::new(format!(
            "{what} must be a string, got {}",
            other.type_name()
        ))),
    }
}

fn int_arg(what: &str, v: Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(EvalError::new(format!(
            "{what} must be an int, got {}",
            other.type_name()
        ))),
    }
}

/// Applies a one-argument converter to a value (the `function` parameter of the
/// replace editors).
fn apply(f: &FuncDef, v: Value, tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    (f.run)(&[CArg::Value(crate::compiled::CExpr::Lit(v))], tc)
}
