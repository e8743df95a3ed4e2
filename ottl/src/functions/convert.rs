//! otelcol's "-like" getters: how converters read an argument of any type as a
//! string, int, double or bool (`StringLikeGetter`, `IntLikeGetter`, ...).

use crate::value::{Value, format_double};

/// A value as a string: bytes in hex, doubles in Go's shortest form, maps and lists
/// as JSON. `None` for `Nil`.
pub(crate) fn string_like(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        other => Some(to_string(other)),
    }
}

/// [`string_like`] with `Nil` as the empty string.
pub(crate) fn to_string(v: &Value) -> String {
    match v {
        Value::Double(d) => format_double(*d),
        other => other.to_string(),
    }
}

/// A value as an int: strings parsed (`None` when they are not an integer), doubles
/// truncated, bools 1/0. Maps, lists and bytes are `Err`.
pub(crate) fn int_like(v: &Value) -> Result<Option<i64>, ()> {
    Ok(match v {
        Value::Nil => None,
        Value::Int(i) => Some(*i),
        Value::Double(d) => Some(d.trunc() as i64),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Str(s) => s.parse().ok(),
        _ => return Err(()),
    })
}

/// A value as a double: strings parsed (`None` when not a number), ints widened,
/// bools 1/0. Maps, lists and bytes are `Err`.
pub(crate) fn double_like(v: &Value) -> Result<Option<f64>, ()> {
    Ok(match v {
        Value::Nil => None,
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(s) => s.parse().ok(),
        _ => return Err(()),
    })
}

/// A value as a bool: strings parsed as Go's `strconv.ParseBool`, numbers non-zero.
pub(crate) fn bool_like(v: &Value) -> Result<Option<bool>, ()> {
    Ok(match v {
        Value::Nil => None,
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Double(d) => Some(*d != 0.0),
        Value::Str(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => return Err(()),
        },
        _ => return Err(()),
    })
}
