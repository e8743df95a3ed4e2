//! The values OTTL expressions produce, their conversion to and from OTLP `AnyValue`,
//! and OTTL's comparison rules (otelcol's `compare.go`: values of different types are
//! never equal, ints and doubles compare as numbers, nil equals only nil).

use std::cmp::Ordering;
use std::fmt;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};

/// A value produced by an OTTL expression or read from a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value: a missing attribute, `nil`, an empty `AnyValue`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A UTF-8 string.
    Str(String),
    /// Bytes (`0x...` literals, ids, `bytes` attributes).
    Bytes(Vec<u8>),
    /// A map in insertion order (attributes, kvlist values, map literals).
    Map(Vec<(String, Value)>),
    /// A list (array values, list literals).
    List(Vec<Value>),
}

/// A comparison operator of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Value {
    /// The OTTL name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Map(_) => "map",
            Value::List(_) => "list",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value a map holds at `key` (`Nil` when absent or when this is not a map).
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts an OTLP value (`None` and an empty value are `Nil`).
    pub fn from_any(v: Option<&AnyValue>) -> Value {
        match v.and_then(|v| v.value.as_ref()) {
            None => Value::Nil,
            Some(any_value::Value::StringValue(s)) => Value::Str(s.clone()),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(b.clone()),
            Some(any_value::Value::ArrayValue(a)) => {
                Value::List(a.values.iter().map(|v| Value::from_any(Some(v))).collect())
            }
            Some(any_value::Value::KvlistValue(kv)) => Value::from_attributes(&kv.values),
            // Dictionary-encoded strings only occur in profiles, which OTTL here does not read.
            Some(any_value::Value::StringValueStrindex(_)) => Value::Nil,
        }
    }

    /// Converts a list of key-values (attributes) into a map.
    pub fn from_attributes(kvs: &[KeyValue]) -> Value {
        Value::Map(
            kvs.iter()
                .map(|kv| (kv.key.clone(), Value::from_any(kv.value.as_ref())))
                .collect(),
        )
    }

    /// Converts to an OTLP value (`Nil` becomes an empty value).
    pub fn to_any(&self) -> AnyValue {
        let value = match self {
            Value::Nil => None,
            Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
            Value::Int(i) => Some(any_value::Value::IntValue(*i)),
            Value::Double(d) => Some(any_value::Value::DoubleValue(*d)),
            Value::Str(s) => Some(any_value::Value::StringValue(s.clone())),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b.clone())),
            Value::List(l) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: l.iter().map(Value::to_any).collect(),
            })),
            Value::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: to_attributes(m),
            })),
        };
        AnyValue { value }
    }

    /// Converts to an OTLP value, moving strings, bytes and containers instead of
    /// copying them.
    pub fn into_any(self) -> AnyValue {
        let value = match self {
            Value::Str(s) => Some(any_value::Value::StringValue(s)),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b)),
            Value::List(l) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: l.into_iter().map(Value::into_any).collect(),
            })),
            Value::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: into_attributes(m),
            })),
            other => return other.to_any(),
        };
        AnyValue { value }
    }

    /// The JSON form (used by `String` on maps and lists, as otelcol's `AsString`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(base64_std(b)),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Converts parsed JSON (`ParseJSON`): every number becomes a double, as in otelcol,
    /// whose JSON decoding yields float64 for every number.
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Double(n.as_f64().unwrap_or(0.0)),
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Converts a map into OTLP key-values.
pub fn to_attributes(m: &[(String, Value)]) -> Vec<KeyValue> {
    m.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(v.to_any()),
            ..Default::default()
        })
        .collect()
}

/// Converts a map into OTLP key-values, moving its contents.
pub fn into_attributes(m: Vec<(String, Value)>) -> Vec<KeyValue> {
    m.into_iter()
        .map(|(key, v)| KeyValue {
            key,
            value: Some(v.into_any()),
            ..Default::default()
        })
        .collect()
}

/// Standard base64 with padding (pcommon's `AsString` of bytes).
fn base64_std(b: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | (u32::from(*byte) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl fmt::Display for Value {
    /// The string form otelcol's `String` converter gives.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => write!(f, "{}", format_double(*d)),
            Value::Str(s) => f.write_str(s),
            Value::Bytes(b) => f.write_str(&hex::encode(b)),
            Value::Map(_) | Value::List(_) => f.write_str(&self.to_json().to_string()),
        }
    }
}

/// Go's `strconv.FormatFloat(d, 'f', -1, 64)`: the shortest exact decimal, no exponent.
pub fn format_double(d: f64) -> String {
    if d.is_finite() && d == d.trunc() && d.abs() < 1e21 {
        format!("{d:.0}")
    } else {
        format!("{d}")
    }
}

impl CmpOp {
    fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Compares two values by OTTL's rules: mismatched types (and orderings of maps and
/// lists) are false for every operator but `!=`.
pub fn compare(a: &Value, b: &Value, op: CmpOp) -> bool {
    let invalid = op == CmpOp::Ne;
    match (a, b) {
        (Value::Nil, Value::Nil) => matches!(op, CmpOp::Eq | CmpOp::Le | CmpOp::Ge),
        (Value::Nil, _) | (_, Value::Nil) => invalid,
        (Value::Bool(x), Value::Bool(y)) => op.holds(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => op.holds(x.cmp(y)),
        (Value::Int(x), Value::Double(y)) => float_cmp(*x as f64, *y, op),
        (Value::Double(x), Value::Int(y)) => float_cmp(*x, *y as f64, op),
        (Value::Double(x), Value::Double(y)) => float_cmp(*x, *y, op),
        (Value::Str(x), Value::Str(y)) => op.holds(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => op.holds(x.cmp(y)),
        (Value::Map(_), Value::Map(_)) | (Value::List(_), Value::List(_)) => match op {
            CmpOp::Eq => deep_eq(a, b),
            CmpOp::Ne => !deep_eq(a, b),
            _ => false,
        },
        _ => invalid,
    }
}

/// Go's float comparison: NaN is unequal and unordered to everything.
fn float_cmp(x: f64, y: f64, op: CmpOp) -> bool {
    match x.partial_cmp(&y) {
        Some(o) => op.holds(o),
        None => op == CmpOp::Ne,
    }
}

/// Map equality ignores key order (pcommon.Map.Equal), lists compare in order.
fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| k2 == k)
                        .is_some_and(|(_, v2)| deep_eq(v, v2))
                })
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| deep_eq(v, w))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_value_round_trips() {
        let v = Value::Map(vec![
            ("a".into(), Value::Int(1)),
            (
                "b".into(),
                Value::List(vec![Value::Str("x".into()), Value::Bytes(vec![1, 2])]),
            ),
            ("c".into(), Value::Nil),
        ]);
        assert_eq!(Value::from_any(Some(&v.to_any())), v);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_std(b"hello"), "aGVsbG8=");
        assert_eq!(base64_std(b"hi"), "aGk=");
        assert_eq!(base64_std(b"abc"), "YWJj");
    }

    #[test]
    fn doubles_print_like_go() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(-0.25), "-0.25");
    }
}
