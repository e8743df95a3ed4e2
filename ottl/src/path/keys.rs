//! Keys: reading and writing inside maps and lists (`attributes["a"][0]`).

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

use super::KeyValueRef;
use crate::error::EvalError;
use crate::value::Value;

/// Reads `keys` inside `v`: a missing map key is `Nil`; an index out of range or a
/// key of the wrong kind is an error (as otelcol's `GetMapValue`).
pub(crate) fn index(mut v: Value, keys: &[KeyValueRef<'_>]) -> Result<Value, EvalError> {
    for k in keys {
        v = match (v, k) {
            (Value::Map(m), KeyValueRef::Str(s)) => m
                .into_iter()
                .find(|(key, _)| key == s)
                .map_or(Value::Nil, |(_, v)| v),
            (Value::List(mut l), KeyValueRef::Int(i)) => {
                let len = l.len();
                let at = usize::try_from(*i)
                    .ok()
                    .filter(|i| *i < len)
                    .ok_or_else(|| {
                        EvalError::new(format!("index {i} out of bounds (length {len})"))
                    })?;
                l.swap_remove(at)
            }
            (Value::Nil, _) => Value::Nil,
            (other, KeyValueRef::Str(s)) => {
                return Err(EvalError::new(format!(
                    "cannot index a {} with the string key {s:?}",
                    other.type_name()
                )));
            }
            (other, KeyValueRef::Int(i)) => {
                return Err(EvalError::new(format!(
                    "cannot index a {} with the integer {i}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(v)
}

/// Reads `kvs[keys[0]]...` without converting the whole list.
pub(crate) fn get_in_kvs(kvs: &[KeyValue], keys: &[KeyValueRef<'_>]) -> Result<Value, EvalError> {
    match keys.split_first() {
        None => Ok(Value::from_attributes(kvs)),
        Some((KeyValueRef::Str(k), rest)) => {
            let found = kvs
                .iter()
                .find(|kv| &kv.key == k)
                .map(|kv| Value::from_any(kv.value.as_ref()));
            index(found.unwrap_or(Value::Nil), rest)
        }
        Some((KeyValueRef::Int(i), _)) => Err(EvalError::new(format!(
            "cannot index a map with the integer {i}"
        ))),
    }
}

/// Writes `v` at `keys` inside a key-value list, creating maps on the way for string
/// keys that are missing.
pub(crate) fn set_in_kvs(
    kvs: &mut Vec<KeyValue>,
    keys: &[KeyValueRef<'_>],
    v: Value,
) -> Result<(), EvalError> {
    let Some((first, rest)) = keys.split_first() else {
        return match v {
            Value::Map(m) => {
                *kvs = crate::value::into_attributes(m);
                Ok(())
            }
            other => Err(EvalError::new(format!(
                "a map takes a map, got {}",
                other.type_name()
            ))),
        };
    };
    let KeyValueRef::Str(k) = first else {
        return Err(EvalError::new("cannot index a map with an integer"));
    };
    let pos = match kvs.iter().position(|kv| &kv.key == k) {
        Some(p) => p,
        None => {
            kvs.push(KeyValue {
                key: k.to_string(),
                value: Some(AnyValue { value: None }),
                ..Default::default()
            });
            kvs.len() - 1
        }
    };
    let slot = kvs[pos].value.get_or_insert(AnyValue { value: None });
    set_in_any(slot, rest, v)
}

/// Writes `v` at `keys` inside an `AnyValue`.
pub(crate) fn set_in_any(
    slot: &mut AnyValue,
    keys: &[KeyValueRef<'_>],
    v: Value,
) -> Result<(), EvalError> {
    let Some((first, rest)) = keys.split_first() else {
        *slot = v.into_any();
        return Ok(());
    };
    match first {
        KeyValueRef::Str(_) => {
            if slot.value.is_none() {
                slot.value = Some(any_value::Value::KvlistValue(Default::default()));
            }
            match &mut slot.value {
                Some(any_value::Value::KvlistValue(kv)) => set_in_kvs(&mut kv.values, keys, v),
                _ => Err(EvalError::new(format!(
                    "cannot index a {} with a string key",
                    Value::from_any(Some(slot)).type_name()
                ))),
            }
        }
        KeyValueRef::Int(i) => match &mut slot.value {
            Some(any_value::Value::ArrayValue(a)) => {
                let len = a.values.len();
                let item = usize::try_from(*i)
                    .ok()
                    .and_then(|i| a.values.get_mut(i))
                    .ok_or_else(|| {
                        EvalError::new(format!("index {i} out of bounds (length {len})"))
                    })?;
                set_in_any(item, rest, v)
            }
            _ => Err(EvalError::new(format!(
                "cannot index a {} with an integer",
                Value::from_any(Some(slot)).type_name()
            ))),
        },
    }
}
