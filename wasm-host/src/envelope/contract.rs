//! The data contract: which envelope fields may leave the edge, each with a
//! sensitivity label. The last gate before an envelope is queued: fields the
//! contract does not name are dropped; a field labelled `sensitive` must hold
//! only tokens (`tok_v<N>_<16 hex>`, the redaction processor's) or hashes
//! (`sha256:<64 hex>`), or the whole envelope is refused.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// How a field may leave the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Not personal data (ids, types, stack frames, timings): sent as is.
    Public,
    /// Passed the redaction processor (free text, request inputs): sent as
    /// the processor left it, tokenized or pseudonymized.
    Redacted,
    /// Must be a token or a hash: every string in it has that shape, and no
    /// number is allowed, or the envelope is refused.
    Sensitive,
}

/// The `contract` YAML: `fields` maps JSON pointers into the envelope
/// (`/inputs/body`; `*` matches any key or array index) to labels. A pointer
/// covers the value there and everything under it; the longest matching
/// pointer decides. Absent: [`Contract::default`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    /// Pointer to label.
    pub fields: BTreeMap<String, Label>,
}

/// A compiled contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Pointer tokens and label, longest pointer first.
    fields: Vec<(Vec<String>, Label)>,
}

/// Why a contract cannot be compiled.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("contract.fields.{pointer:?}: {reason}")]
pub struct ContractError {
    /// The offending pointer.
    pub pointer: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why an envelope was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{pointer} is labelled sensitive but holds {found}, not a token or a hash")]
pub struct Refusal {
    /// JSON pointer of the offending value.
    pub pointer: String,
    /// What it holds (a kind, never the value itself).
    pub found: &'static str,
}

/// The shipped contract: identity, the exception's type and frames, the
/// fingerprint, environment and timing (each field named, so a contract can
/// leave one out) are public; the message, the inputs
/// and fixtures passed the redaction processor; the message hash must be a
/// hash.
pub const DEFAULT_FIELDS: &[(&str, Label)] = &[
    ("/schema_version", Label::Public),
    ("/envelope_id", Label::Public),
    ("/occurrences", Label::Public),
    ("/identity", Label::Public),
    ("/symptom/exception/type", Label::Public),
    ("/symptom/exception/frames", Label::Public),
    ("/symptom/exception/message_redacted", Label::Redacted),
    ("/symptom/exception/message_hash", Label::Sensitive),
    ("/symptom/fingerprint", Label::Public),
    ("/symptom/status_code", Label::Public),
    ("/inputs", Label::Redacted),
    ("/state", Label::Redacted),
    ("/environment", Label::Public),
    ("/timing/start_time", Label::Public),
    ("/timing/duration_ms", Label::Public),
    ("/timing/spans/*/span_id", Label::Public),
    ("/timing/spans/*/parent_span_id", Label::Public),
    ("/timing/spans/*/name", Label::Public),
    ("/timing/spans/*/duration_ms", Label::Public),
    ("/timing/spans/*/critical_path", Label::Public),
    // Each span's `service.name` and error mark (the engine's cross-service
    // signal): an engine older than these fields refuses envelopes that carry
    // them, so a contract for such an engine leaves these two out.
    ("/timing/spans/*/service", Label::Public),
    ("/timing/spans/*/error", Label::Public),
];

impl Default for Contract {
    fn default() -> Self {
        let fields = DEFAULT_FIELDS
            .iter()
            .map(|(p, l)| ((*p).to_owned(), *l))
            .collect();
        match Contract::compile(&ContractConfig { fields }) {
            Ok(c) => c,
            // The shipped pointers are well-formed (tested).
            Err(_) => Contract { fields: Vec::new() },
        }
    }
}

impl Contract {
    /// Compiles `config`, refusing malformed pointers.
    pub fn compile(config: &ContractConfig) -> Result<Self, ContractError> {
        let mut fields = Vec::with_capacity(config.fields.len());
        for (pointer, label) in &config.fields {
            let Some(rest) = pointer.strip_prefix('/') else {
                return Err(ContractError {
                    pointer: pointer.clone(),
                    reason: "a JSON pointer starts with `/`".into(),
                });
            };
            let tokens: Vec<String> = rest
                .split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect();
            if tokens.iter().any(String::is_empty) {
                return Err(ContractError {
                    pointer: pointer.clone(),
                    reason: "has an empty segment".into(),
                });
            }
            fields.push((tokens, *label));
        }
        fields.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Ok(Contract { fields })
    }

    /// The label covering `path` (the longest pointer that is a prefix of it).
    fn label(&self, path: &[String]) -> Option<Label> {
        self.fields
            .iter()
            .find(|(t, _)| t.len() <= path.len() && matches(t, &path[..t.len()]))
            .map(|(_, l)| *l)
    }

    /// Whether some pointer names a field below `path`.
    fn leads_below(&self, path: &[String]) -> bool {
        self.fields
            .iter()
            .any(|(t, _)| t.len() > path.len() && matches(&t[..path.len()], path))
    }

    /// The envelope with only the contract's fields, or why it is refused.
    pub fn apply(&self, envelope: Value) -> Result<Value, Refusal> {
        let mut path = Vec::new();
        Ok(self
            .walk(envelope, &mut path)?
            .unwrap_or(Value::Object(Map::new())))
    }

    fn walk(&self, value: Value, path: &mut Vec<String>) -> Result<Option<Value>, Refusal> {
        let label = self.label(path);
        // A longer pointer below this one decides for its part: descend.
        let descend = self.leads_below(path) && (value.is_object() || value.is_array());
        if !descend {
            return match label {
                Some(l) => {
                    if l == Label::Sensitive {
                        check_sensitive(&value, path)?;
                    }
                    Ok(Some(value))
                }
                None => Ok(None),
            };
        }
        let kept = match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    path.push(k.clone());
                    let kept = self.walk(v, path)?;
                    path.pop();
                    if let Some(v) = kept {
                        out.insert(k, v);
                    }
                }
                (!out.is_empty() || label.is_some()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, v) in items.into_iter().enumerate() {
                    path.push(i.to_string());
                    let kept = self.walk(v, path)?;
                    path.pop();
                    out.extend(kept);
                }
                (!out.is_empty() || label.is_some()).then_some(Value::Array(out))
            }
            // A scalar where the contract expected structure: not named, dropped.
            _ => None,
        };
        Ok(kept)
    }
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    pattern.iter().zip(path).all(|(p, s)| p == "*" || p == s)
}

fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn check_sensitive(value: &Value, path: &mut Vec<String>) -> Result<(), Refusal> {
    match value {
        Value::Null | Value::Bool(_) => Ok(()),
        Value::String(s) if is_token(s) || is_hash(s) => Ok(()),
        Value::String(_) => Err(Refusal {
            pointer: pointer(path),
            found: "clear text",
        }),
        Value::Number(_) => Err(Refusal {
            pointer: pointer(path),
            found: "a number",
        }),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                check_sensitive(v, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                check_sensitive(v, path)?;
                path.pop();
            }
            Ok(())
        }
    }
}

/// `tok_v<N>_<16 lowercase hex>`, the redaction processor's token.
pub fn is_token(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("tok_v") else {
        return false;
    };
    let Some((version, mac)) = rest.split_once('_') else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
        && mac.len() == 16
        && mac.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `sha256:<64 lowercase hex>`.
pub fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contract(fields: &[(&str, Label)]) -> Contract {
        Contract::compile(&ContractConfig {
            fields: fields.iter().map(|(p, l)| ((*p).into(), *l)).collect(),
        })
        .expect("compiles")
    }

    #[test]
    fn fields_outside_the_contract_are_dropped() {
        let c = contract(&[
            ("/a", Label::Public),
            ("/b/keep", Label::Redacted),
            ("/list/*/name", Label::Public),
        ]);
        let out = c
            .apply(json!({
                "a": {"x": 1},
                "b": {"keep": "t", "drop": "secret"},
                "c": "secret",
                "list": [{"name": "n", "pii": "x"}, {"pii": "y"}]
            }))
            .expect("applies");
        assert_eq!(
            out,
            json!({"a": {"x": 1}, "b": {"keep": "t"}, "list": [{"name": "n"}]})
        );
    }

    #[test]
    fn sensitive_fields_must_hold_tokens_or_hashes() {
        let c = contract(&[("/s", Label::Sensitive), ("/p", Label::Public)]);
        let hash = format!("sha256:{}", "ab".repeat(32));
        let ok = json!({"s": {"t": "tok_v1_0123456789abcdef", "h": hash, "f": false}, "p": "x"});
        assert_eq!(c.apply(ok.clone()).expect("passes"), ok);
        let refused = c
            .apply(json!({"s": {"list": ["tok_v2_0123456789abcdef", "jane@example.com"]}}))
            .expect_err("clear text");
        assert_eq!(refused.pointer, "/s/list/1");
        assert_eq!(refused.found, "clear text");
        assert!(!refused.to_string().contains("jane"));
        let number = c
            .apply(json!({"s": 4111111111111111u64}))
            .expect_err("number");
        assert_eq!((number.pointer.as_str(), number.found), ("/s", "a number"));
        for bad in [
            "tok_v1_0123",
            "tok_vx_0123456789abcdef",
            "sha256:ab",
            "tok_v1_0123456789ABCDEF",
        ] {
            assert!(!is_token(bad) && !is_hash(bad), "{bad}");
        }
    }

    #[test]
    fn longest_pointer_decides_and_bad_pointers_are_refused() {
        let c = contract(&[
            ("/inputs", Label::Redacted),
            ("/inputs/query/card", Label::Sensitive),
        ]);
        assert!(
            c.apply(json!({"inputs": {"query": {"card": "4111"}}}))
                .is_err()
        );
        assert!(c.apply(json!({"inputs": {"query": {"q": "4111"}}})).is_ok());
        for bad in ["inputs", "/a//b"] {
            let e = Contract::compile(&ContractConfig {
                fields: [(bad.to_owned(), Label::Public)].into(),
            })
            .expect_err("refused");
            assert_eq!(e.pointer, bad);
        }
    }

    #[test]
    fn the_default_contract_keeps_a_valid_example_whole() {
        let example: Value = serde_json::from_str(include_str!(
            "../../../config/examples/envelopes/checkout-keyerror.json"
        ))
        .expect("json");
        assert_eq!(DEFAULT_FIELDS.len(), Contract::default().fields.len());
        assert_eq!(
            Contract::default().apply(example.clone()).expect("passes"),
            example
        );
    }

    /// The default keeps each span's service and error mark; the default without
    /// those two pointers (a contract for an engine older than them) withholds them
    /// and keeps every other timing field.
    #[test]
    fn span_service_and_error_can_be_withheld() {
        let mut example: Value = serde_json::from_str(include_str!(
            "../../../config/examples/envelopes/checkout-keyerror.json"
        ))
        .expect("json");
        let span = &mut example["timing"]["spans"][0];
        span["service"] = json!("checkout");
        span["error"] = json!(true);
        assert_eq!(
            Contract::default().apply(example.clone()).expect("passes"),
            example
        );
        let older = contract(
            &DEFAULT_FIELDS
                .iter()
                .copied()
                .filter(|(p, _)| !p.ends_with("/service") && !p.ends_with("/error"))
                .collect::<Vec<_>>(),
        );
        let out = older.apply(example.clone()).expect("passes");
        let mut expected = example;
        if let Some(span) = expected["timing"]["spans"][0].as_object_mut() {
            span.remove("service");
            span.remove("error");
        }
        assert_eq!(out, expected);
        assert!(envelope::from_value(out).is_ok());
    }
}
