//! Converters: functions that return a value (`Concat`, `IsMatch`, `SHA256`, `Int`, ...).
//! Semantics follow otelcol-contrib's `pkg/ottl/ottlfuncs/func_*.go`.

use sha2::{Digest, Sha256};

use super::convert::{bool_like, double_like, int_like, string_like};
use super::{int_arg, regex, string_arg, value};
use crate::compiled::CArg;
use crate::context::TransformContext;
use crate::error::EvalError;
use crate::value::Value;

type R = Result<Value, EvalError>;

fn not_convertible(f: &str, v: &Value) -> EvalError {
    EvalError::new(format!("{f} cannot convert a {}", v.type_name()))
}

pub(super) fn concat(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let vals = match value(args, 0, tc)? {
        Value::List(l) => l,
        other => {
            return Err(EvalError::new(format!(
                "Concat's vals must be a list, got {}",
                other.type_name()
            )));
        }
    };
    let delim = string_arg("Concat's delimiter", value(args, 1, tc)?)?;
    let parts: Vec<String> = vals
        .iter()
        .map(|v| string_like(v).unwrap_or_else(|| "<nil>".to_owned()))
        .collect();
    Ok(Value::Str(parts.join(&delim)))
}

pub(super) fn is_match(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(Value::Bool(match string_like(&v) {
        Some(s) => regex(args, 1)?.is_match(&s),
        None => false,
    }))
}

pub(super) fn parse_json(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("ParseJSON's target", value(args, 0, tc)?)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| EvalError::new(format!("ParseJSON: {e}")))?;
    match parsed {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => Ok(Value::from_json(&parsed)),
        _ => Err(EvalError::new(
            "ParseJSON: the target must be a JSON object or array",
        )),
    }
}

pub(super) fn sha256(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    let Some(s) = string_like(&v) else {
        return Err(EvalError::new("SHA256 needs a value, got nil"));
    };
    Ok(Value::Str(hex::encode(Sha256::digest(s.as_bytes()))))
}

pub(super) fn int(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(int_like(&v)
        .map_err(|()| not_convertible("Int", &v))?
        .map_or(Value::Nil, Value::Int))
}

pub(super) fn double(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(double_like(&v)
        .map_err(|()| not_convertible("Double", &v))?
        .map_or(Value::Nil, Value::Double))
}

pub(super) fn boolean(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(bool_like(&v)
        .map_err(|()| not_convertible("Bool", &v))?
        .map_or(Value::Nil, Value::Bool))
}

pub(super) fn string(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(string_like(&v).map_or(Value::Nil, Value::Str))
}

pub(super) fn len(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let n = match value(args, 0, tc)? {
        // Go's len of a string counts bytes.
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        other => {
            return Err(EvalError::new(format!(
                "Len cannot measure a {}",
                other.type_name()
            )));
        }
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn is(args: &[CArg], tc: &mut TransformContext<'_>, f: fn(&Value) -> bool) -> R {
    Ok(Value::Bool(f(&value(args, 0, tc)?)))
}

pub(super) fn is_string(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::Str(_)))
}

pub(super) fn is_int(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::Int(_)))
}

pub(super) fn is_double(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::Double(_)))
}

pub(super) fn is_bool(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::Bool(_)))
}

pub(super) fn is_map(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::Map(_)))
}

pub(super) fn is_list(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    is(args, tc, |v| matches!(v, Value::List(_)))
}

pub(super) fn to_lower(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("ToLowerCase's target", value(args, 0, tc)?)?;
    Ok(Value::Str(s.to_lowercase()))
}

pub(super) fn to_upper(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("ToUpperCase's target", value(args, 0, tc)?)?;
    Ok(Value::Str(s.to_uppercase()))
}

pub(super) fn substring(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("Substring's target", value(args, 0, tc)?)?;
    let start = int_arg("Substring's start", value(args, 1, tc)?)?;
    let length = int_arg("Substring's length", value(args, 2, tc)?)?;
    if start < 0 {
        return Err(EvalError::new(format!(
            "invalid start for substring function, {start} cannot be negative"
        )));
    }
    if length <= 0 {
        return Err(EvalError::new(format!(
            "invalid length for substring function, {length} cannot be negative or zero"
        )));
    }
    let (start, length) = (start as usize, length as usize);
    match s.get(start..start.saturating_add(length)) {
        Some(sub) => Ok(Value::Str(sub.to_owned())),
        None => Err(EvalError::new(format!(
            "invalid range for substring function, {start}:{} cannot be greater than the length of target string({})",
            start.saturating_add(length),
            s.len()
        ))),
    }
}

pub(super) fn split(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    let delim = string_arg("Split's delimiter", value(args, 1, tc)?)?;
    let Some(s) = string_like(&v) else {
        return Ok(Value::Nil);
    };
    Ok(Value::List(
        s.split(delim.as_str())
            .map(|p| Value::Str(p.to_owned()))
            .collect(),
    ))
}

pub(super) fn has_prefix(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("HasPrefix's target", value(args, 0, tc)?)?;
    let p = string_arg("HasPrefix's prefix", value(args, 1, tc)?)?;
    Ok(Value::Bool(s.starts_with(&p)))
}

pub(super) fn has_suffix(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let s = string_arg("HasSuffix's target", value(args, 0, tc)?)?;
    let p = string_arg("HasSuffix's suffix", value(args, 1, tc)?)?;
    Ok(Value::Bool(s.ends_with(&p)))
}

fn id(args: &[CArg], tc: &mut TransformContext<'_>, what: &str, len: usize) -> R {
    match value(args, 0, tc)? {
        Value::Bytes(b) if b.len() == len => Ok(Value::Bytes(b)),
        Value::Bytes(b) => Err(EvalError::new(format!(
            "{what} needs {len} bytes, got {}",
            b.len()
        ))),
        other => Err(EvalError::new(format!(
            "{what} needs bytes, got {}",
            other.type_name()
        ))),
    }
}

pub(super) fn trace_id(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    id(args, tc, "TraceID", 16)
}

pub(super) fn span_id(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    id(args, tc, "SpanID", 8)
}

pub(super) fn hex(args: &[CArg], tc: &mut TransformContext<'_>) -> R {
    let v = value(args, 0, tc)?;
    Ok(Value::Str(match v {
        Value::Bytes(b) => hex::encode(b),
        Value::Str(s) => hex::encode(s.as_bytes()),
        Value::Int(i) => hex::encode(i.to_be_bytes()),
        Value::Double(d) => hex::encode(d.to_bits().to_be_bytes()),
        Value::Bool(b) => hex::encode([u8::from(b)]),
        other => return Err(not_convertible("Hex", &other)),
    }))
}
