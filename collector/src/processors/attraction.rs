//! The attribute actions shared by the `attributes` and `resource` processors
//! (contrib's `attraction` package): `insert`, `update`, `upsert`, `delete`, `hash`,
//! `extract` and `convert`, checked at load with otelcol's rules and applied in order
//! to one attribute list.

use pdata::otlp::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use regex::Regex;
use serde::Deserialize;
use serde_yaml::Value;
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, ignored};

/// One entry of `actions:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The attribute acted on (optional for `delete`/`hash` with `pattern`).
    #[serde(default)]
    pub key: String,
    /// The value to set (`insert`, `update`, `upsert`).
    #[serde(default)]
    pub value: Option<Value>,
    /// A regex: over keys (`delete`, `hash`) or with named groups over the value
    /// (`extract`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// Copy the value of this attribute.
    #[serde(default)]
    pub from_attribute: Option<String>,
    /// Copy a value of the request's client context (`metadata.*`, `auth.*`,
    /// `client.address`).
    #[serde(default)]
    pub from_context: Option<String>,
    /// `convert` target: `int`, `double` or `string`.
    #[serde(default)]
    pub converted_type: Option<String>,
    /// The action, case-insensitive.
    #[serde(default)]
    pub action: String,
}

/// Where `insert`/`update`/`upsert` take their value from.
#[derive(Debug, Clone)]
enum Source {
    Value(AnyValue),
    Attribute(String),
    /// Receivers keep no client metadata here, so this finds nothing (a load warning
    /// says so) and the action does nothing, as in otelcol when the key is absent.
    Context,
}

/// `convert`'s target type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int,
    Double,
    Str,
}

/// A checked action.
#[derive(Debug, Clone)]
enum Action {
    Insert(String, Source),
    Update(String, Source),
    Upsert(String, Source),
    Delete(Option<String>, Option<Regex>),
    Hash(Option<String>, Option<Regex>),
    Extract(String, Regex),
    Convert(String, Target),
}

/// The compiled `actions:` list.
#[derive(Debug, Clone, Default)]
pub struct Actions(Vec<Action>);

fn regex(pattern: &str, path: &str) -> Result<Regex, ConfigError> {
    Regex::new(pattern).map_err(|e| {
        ConfigError::new(
            ignored::join(path, "pattern"),
            format!("invalid regular expression: {e}"),
        )
    })
}

/// A YAML value as an attribute value, as pcommon's `FromRaw` makes it.
pub fn any_value(v: &Value) -> Result<AnyValue, String> {
    use any_value::Value as V;
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(V::BoolValue(*b)),
        Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => V::IntValue(i),
            (None, Some(f)) => V::DoubleValue(f),
            (None, None) => return Err(format!("number {n} is out of range")),
        }),
        Value::String(s) => Some(V::StringValue(s.clone())),
        Value::Sequence(items) => Some(V::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect::<Result<_, _>>()?,
        })),
        Value::Mapping(m) => {
            let mut values = Vec::with_capacity(m.len());
            for (k, v) in m {
                let Value::String(key) = k else {
                    return Err(format!("map keys must be strings, found {k:?}"));
                };
                values.push(KeyValue {
                    key: key.clone(),
                    value: Some(any_value(v)?),
                    ..Default::default()
                });
            }
            Some(V::KvlistValue(KeyValueList { values }))
        }
        Value::Tagged(t) => return Err(format!("YAML tags ({}) are not values", t.tag)),
    };
    Ok(AnyValue { value })
}

impl ActionConfig {
    fn compile(&self, path: &str) -> Result<Action, ConfigError> {
        let err = |key: &str, msg: String| ConfigError::new(ignored::join(path, key), msg);
        let action = self.action.to_ascii_lowercase();
        let key = (!self.key.is_empty()).then(|| self.key.clone());
        let sources = [
            self.value.is_some(),
            self.from_attribute
                .as_deref()
                .is_some_and(|s| !s.is_empty()),
            self.from_context.as_deref().is_some_and(|s| !s.is_empty()),
        ]
        .into_iter()
        .filter(|s| *s)
        .count();
        let pattern = self.pattern.as_deref().filter(|p| !p.is_empty());
        let converted = self.converted_type.as_deref().filter(|c| !c.is_empty());
        let no_convert = || match converted {
            Some(_) => Err(err(
                "converted_type",
                format!("action `{action}` does not use converted_type"),
            )),
            None => Ok(()),
        };
        let needs_key = || {
            key.clone()
                .ok_or_else(|| err("key", format!("action `{action}` needs a key")))
        };
        match action.as_str() {
            "insert" | "update" | "upsert" => {
                let key = needs_key()?;
                if sources != 1 {
                    return Err(ConfigError::new(
                        path,
                        format!(
                            "action `{action}` needs exactly one of value, from_attribute or from_context ({sources} set)"
                        ),
                    ));
                }
                if pattern.is_some() {
                    return Err(err(
                        "pattern",
                        format!("action `{action}` does not use pattern"),
                    ));
                }
                no_convert()?;
                let source = if let Some(v) = &self.value {
                    Source::Value(any_value(v).map_err(|e| err("value", e))?)
                } else if let Some(a) = self.from_attribute.as_deref().filter(|s| !s.is_empty()) {
                    Source::Attribute(a.to_owned())
                } else {
                    Source::Context
                };
                Ok(match action.as_str() {
                    "insert" => Action::Insert(key, source),
                    "update" => Action::Update(key, source),
                    _ => Action::Upsert(key, source),
                })
            }
            "delete" | "hash" => {
                if key.is_none() && pattern.is_none() {
                    return Err(ConfigError::new(
                        path,
                        format!("action `{action}` needs a key, a pattern or both"),
                    ));
                }
                if sources > 0 {
                    return Err(ConfigError::new(
                        path,
                        format!(
                            "action `{action}` does not use value, from_attribute or from_context"
                        ),
                    ));
                }
                no_convert()?;
                let re = pattern.map(|p| regex(p, path)).transpose()?;
                Ok(if action == "delete" {
                    Action::Delete(key, re)
                } else {
                    Action::Hash(key, re)
                })
            }
            "extract" => {
                let key = needs_key()?;
                if sources > 0 {
                    return Err(ConfigError::new(
                        path,
                        "action `extract` does not use value, from_attribute or from_context",
                    ));
                }
                no_convert()?;
                let Some(p) = pattern else {
                    return Err(err("pattern", "action `extract` needs a pattern".into()));
                };
                let re = regex(p, path)?;
                if re.captures_len() <= 1 {
                    return Err(err(
                        "pattern",
                        "has no named groups (`(?P<name>...)`) to extract into".into(),
                    ));
                }
                if re.capture_names().skip(1).any(|n| n.is_none()) {
                    return Err(err(
                        "pattern",
                        "has an unnamed group: every group must be named (use `(?:...)` to group without capturing)".into(),
                    ));
                }
                Ok(Action::Extract(key, re))
            }
            "convert" => {
                let key = needs_key()?;
                if sources > 0 || pattern.is_some() {
                    return Err(ConfigError::new(
                        path,
                        "action `convert` uses only key and converted_type",
                    ));
                }
                let to = match converted {
                    Some("int") => Target::Int,
                    Some("double") => Target::Double,
                    Some("string") => Target::Str,
                    None => {
                        return Err(err(
                            "converted_type",
                            "action `convert` needs converted_type: int, double or string".into(),
                        ));
                    }
                    Some(other) => {
                        return Err(err(
                            "converted_type",
                            format!("unknown type `{other}`, expected int, double or string"),
                        ));
                    }
                };
                Ok(Action::Convert(key, to))
            }
            "" => Err(err(
                "action",
                "required: insert, update, upsert, delete, hash, extract or convert".into(),
            )),
            other => Err(err(
                "action",
                format!(
                    "unknown action `{other}`, expected insert, update, upsert, delete, hash, extract or convert"
                ),
            )),
        }
    }
}

/// Compiles `actions` at `path` (e.g. `actions`), every bad entry reported.
pub fn compile(actions: &[ActionConfig], path: &str) -> Result<Actions, Vec<ConfigError>> {
    let mut out = Vec::with_capacity(actions.len());
    let mut errors = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        match a.compile(&format!("{path}[{i}]")) {
            Ok(a) => out.push(a),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(Actions(out))
    } else {
        Err(errors)
    }
}

/// Warnings for `from_context` actions, which find nothing here.
pub fn warnings(actions: &[ActionConfig], path: &str) -> Vec<ConfigError> {
    actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.from_context.as_deref().is_some_and(|s| !s.is_empty()))
        .map(|(i, _)| {
            ConfigError::new(
                format!("{path}[{i}].from_context"),
                "receivers keep no client metadata in tracemend, so this finds no value and the action does nothing",
            )
        })
        .collect()
}

fn position(attrs: &[KeyValue], key: &str) -> Option<usize> {
    attrs.iter().position(|kv| kv.key == key)
}

fn put(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match position(attrs, key) {
        Some(i) => attrs[i].value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

fn source_value(source: &Source, attrs: &[KeyValue]) -> Option<AnyValue> {
    match source {
        Source::Value(v) => Some(v.clone()),
        Source::Attribute(a) => {
            position(attrs, a).map(|i| attrs[i].value.clone().unwrap_or_default())
        }
        Source::Context => None,
    }
}

fn str_value(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

/// SHA-256 of the value's bytes as otelcol feeds them (strings as UTF-8, bools as one
/// byte, ints and doubles as 8 little-endian bytes), in lowercase hex; other types
/// become the empty string, as there.
fn hash(v: &mut AnyValue) {
    use any_value::Value as V;
    let bytes: Vec<u8> = match &v.value {
        Some(V::StringValue(s)) => s.as_bytes().to_vec(),
        Some(V::BoolValue(b)) => vec![u8::from(*b)],
        Some(V::IntValue(i)) => i.to_le_bytes().to_vec(),
        Some(V::DoubleValue(d)) => d.to_bits().to_le_bytes().to_vec(),
        _ => Vec::new(),
    };
    let hashed = if bytes.is_empty() {
        String::new()
    } else {
        hex::encode(Sha256::digest(&bytes))
    };
    *v = str_value(hashed);
}

/// The value as otelcol's `AsString` writes it.
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => ottl::Value::from_any(Some(v)).to_string(),
    }
}

/// `convert`: values that cannot be converted stay as they are (logged at debug).
fn convert(key: &str, v: &mut AnyValue, to: Target) {
    use any_value::Value as V;
    let new = match (to, &v.value) {
        (Target::Str, Some(V::StringValue(_))) => return,
        (Target::Str, _) => V::StringValue(as_string(v)),
        (Target::Int, Some(V::IntValue(_))) | (Target::Double, Some(V::DoubleValue(_))) => {
            return;
        }
        (Target::Int, Some(V::DoubleValue(d))) => V::IntValue(*d as i64),
        (Target::Int, Some(V::BoolValue(b))) => V::IntValue(i64::from(*b)),
        (Target::Int, Some(V::StringValue(s))) => match s.parse::<i64>() {
            Ok(i) => V::IntValue(i),
            Err(e) => {
                tracing::debug!(key, value = %s, error = %e, "string could not be converted to int");
                return;
            }
        },
        (Target::Double, Some(V::IntValue(i))) => V::DoubleValue(*i as f64),
        (Target::Double, Some(V::BoolValue(b))) => V::DoubleValue(f64::from(u8::from(*b))),
        (Target::Double, Some(V::StringValue(s))) => match s.parse::<f64>() {
            Ok(d) => V::DoubleValue(d),
            Err(_) => {
                tracing::debug!(key, value = %s, "string could not be converted to double");
                return;
            }
        },
        _ => {
            tracing::debug!(key, ?to, "value of this type cannot be converted");
            return;
        }
    };
    v.value = Some(new);
}

fn matching_keys(re: &Option<Regex>, attrs: &[KeyValue]) -> Vec<String> {
    match re {
        Some(re) => attrs
            .iter()
            .filter(|kv| re.is_match(&kv.key))
            .map(|kv| kv.key.clone())
            .collect(),
        None => Vec::new(),
    }
}

impl Actions {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies every action, in order, to one attribute list.
    pub fn apply(&self, attrs: &mut Vec<KeyValue>) {
        for action in &self.0 {
            match action {
                Action::Insert(key, source) => {
                    if position(attrs, key).is_none()
                        && let Some(v) = source_value(source, attrs)
                    {
                        put(attrs, key, v);
                    }
                }
                Action::Update(key, source) => {
                    if let Some(i) = position(attrs, key)
                        && let Some(v) = source_value(source, attrs)
                    {
                        attrs[i].value = Some(v);
                    }
                }
                Action::Upsert(key, source) => {
                    if let Some(v) = source_value(source, attrs) {
                        put(attrs, key, v);
                    }
                }
                Action::Delete(key, re) => {
                    if let Some(k) = key {
                        attrs.retain(|kv| &kv.key != k);
                    }
                    if let Some(re) = re {
                        attrs.retain(|kv| !re.is_match(&kv.key));
                    }
                }
                Action::Hash(key, re) => {
                    let mut keys = matching_keys(re, attrs);
                    keys.extend(key.iter().cloned());
                    for kv in attrs.iter_mut().filter(|kv| keys.contains(&kv.key)) {
                        hash(kv.value.get_or_insert_with(AnyValue::default));
                    }
                }
                Action::Extract(key, re) => {
                    let Some(Some(any_value::Value::StringValue(s))) = position(attrs, key)
                        .map(|i| attrs[i].value.as_ref().and_then(|v| v.value.clone()))
                    else {
                        continue;
                    };
                    let Some(caps) = re.captures(&s) else {
                        continue;
                    };
                    for (i, name) in re.capture_names().enumerate().skip(1) {
                        let text = caps.get(i).map_or("", |m| m.as_str());
                        if let Some(name) = name {
                            put(attrs, name, str_value(text.to_owned()));
                        }
                    }
                }
                Action::Convert(key, to) => {
                    if let Some(i) = position(attrs, key) {
                        convert(
                            key,
                            attrs[i].value.get_or_insert_with(AnyValue::default),
                            *to,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "attraction_tests.rs"]
mod tests;
