//! The schema side of the contract: the one compiled validator, the checks a schema
//! cannot express, and parsing into the typed [`Envelope`].
//!
//! Validation runs against the schema first, so every violation is reported with the JSON
//! pointer of the offending value; only a valid document is turned into [`Envelope`].

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use crate::types::Envelope;

/// The schema text, exactly as shipped in `config/envelope.schema.json`.
pub const SCHEMA_JSON: &str = include_str!("../../config/envelope.schema.json");

/// The contract version this crate reads and writes.
pub const SCHEMA_VERSION: &str = "1";

/// Why a document is not a valid envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The bytes are not JSON at all.
    #[error("body is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The JSON breaks the schema; every violation is listed, sorted by path.
    #[error("envelope violates the schema at {}: {}", .0[0].path, .0[0].message)]
    Schema(Vec<Violation>),
    /// The schema itself does not compile (a build defect, not bad input).
    #[error("envelope schema does not compile: {0}")]
    BadSchema(String),
}

/// One schema violation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending value (`/` for the document itself).
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

fn validator() -> Result<&'static jsonschema::Validator, EnvelopeError> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
            jsonschema::draft202012::new(&schema).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EnvelopeError::BadSchema(e.clone()))
}

/// Checks a JSON document against the schema and returns every violation, sorted by path.
pub fn validate_value(value: &Value) -> Result<(), EnvelopeError> {
    let validator = validator()?;
    let mut violations: Vec<Violation> = validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().as_str().to_string();
            Violation {
                path: if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                },
                message: e.to_string(),
            }
        })
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    violations.sort_by(|a, b| a.path.cmp(&b.path));
    violations.dedup();
    Err(EnvelopeError::Schema(violations))
}

/// Checks what a pattern in the schema cannot: that the timestamps are real instants
/// (`2026-02-30T25:00:00Z` has the right shape but is no time at all; the sandbox's clock
/// starts at `identity.timestamp`, so it must be refused at intake, not in the stage).
fn check_semantics(value: &Value) -> Result<(), EnvelopeError> {
    let mut violations = Vec::new();
    for pointer in ["/identity/timestamp", "/timing/start_time"] {
        if let Some(text) = value.pointer(pointer).and_then(Value::as_str)
            && let Err(e) = humantime::parse_rfc3339(text)
        {
            violations.push(Violation {
                path: pointer.to_string(),
                message: format!("{text:?} is not a valid RFC 3339 date and time: {e}"),
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(EnvelopeError::Schema(violations))
    }
}

/// Parses raw bytes, validates them and returns the typed envelope: the one parse an
/// envelope needs (the typed value is what is stored and worked on).
pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(EnvelopeError::NotJson)?;
    from_value(value)
}

/// Validates a JSON document (e.g. one the collector assembled) and converts it into the
/// typed envelope.
pub fn from_value(value: Value) -> Result<Envelope, EnvelopeError> {
    validate_value(&value)?;
    check_semantics(&value)?;
    serde_json::from_value(value).map_err(|e| {
        // The schema admits only what the typed view reads; a mismatch here is reported
        // like a schema violation so the sender still learns what to fix.
        EnvelopeError::Schema(vec![Violation {
            path: "/".to_string(),
            message: e.to_string(),
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config/examples/envelopes/checkout-keyerror.json");
    const MINIMAL: &str = include_str!("../../config/examples/envelopes/minimal.json");

    fn example() -> Value {
        serde_json::from_str(EXAMPLE).expect("example is JSON")
    }

    fn violations(value: &Value) -> Vec<Violation> {
        match validate_value(value) {
            Err(EnvelopeError::Schema(v)) => v,
            other => panic!("expected schema violations, got {other:?}"),
        }
    }

    #[test]
    fn shipped_examples_are_valid() {
        let env = parse(EXAMPLE.as_bytes()).expect("example validates");
        assert_eq!(env.identity.service.name, "checkout");
        let top = env
            .symptom
            .exception
            .top_in_app_frame()
            .expect("in-app frame");
        assert_eq!(top.function, "shipping_quote");
        let min = parse(MINIMAL.as_bytes()).expect("minimal validates");
        assert!(min.inputs.body.is_none());
    }

    /// `occurrences` is optional, a positive integer, and round-trips through the type.
    #[test]
    fn occurrences_is_an_optional_positive_count() {
        let mut v: Value = serde_json::from_str(MINIMAL).expect("json");
        assert_eq!(from_value(v.clone()).expect("valid").occurrences, None);
        v["occurrences"] = Value::from(4);
        let env = from_value(v.clone()).expect("valid");
        assert_eq!(env.occurrences, Some(4));
        assert_eq!(serde_json::to_value(&env).expect("json")["occurrences"], 4);
        for bad in [
            Value::from(0),
            Value::from(-1),
            Value::from("2"),
            Value::from(1.5),
        ] {
            v["occurrences"] = bad;
            assert_eq!(violations(&v)[0].path, "/occurrences");
        }
    }

    #[test]
    fn not_json_is_rejected() {
        assert!(matches!(parse(b"{nope"), Err(EnvelopeError::NotJson(_))));
    }

    #[test]
    fn unknown_top_level_field_is_rejected_with_path() {
        let mut v = example();
        v["extra"] = Value::from(1);
        let errs = violations(&v);
        assert_eq!(errs[0].path, "/");
        assert!(errs[0].message.contains("extra"), "{errs:?}");
    }

    #[test]
    fn bad_trace_id_names_its_path() {
        let mut v = example();
        v["identity"]["trace_id"] = Value::from("XYZ");
        let errs = violations(&v);
        assert_eq!(errs[0].path, "/identity/trace_id");
    }

    #[test]
    fn missing_required_field_is_named() {
        let mut v = example();
        v["symptom"]
            .as_object_mut()
            .expect("object")
            .remove("fingerprint");
        let errs = violations(&v);
        assert_eq!(errs[0].path, "/symptom");
        assert!(errs[0].message.contains("fingerprint"), "{errs:?}");
    }

    #[test]
    fn credential_headers_are_not_allowed() {
        let mut v = example();
        v["inputs"]["headers"]["authorization"] = Value::from("Bearer x");
        let errs = violations(&v);
        assert!(
            errs.iter().any(|e| e.path.starts_with("/inputs/headers")),
            "{errs:?}"
        );
    }

    #[test]
    fn wrong_schema_version_is_rejected() {
        let mut v = example();
        v["schema_version"] = Value::from("2");
        assert_eq!(violations(&v)[0].path, "/schema_version");
    }

    #[test]
    fn impossible_timestamps_are_refused_with_their_path() {
        let mut v = example();
        v["identity"]["timestamp"] = Value::from("2026-02-30T25:00:00Z");
        match parse(v.to_string().as_bytes()) {
            Err(EnvelopeError::Schema(errs)) => {
                assert_eq!(errs[0].path, "/identity/timestamp", "{errs:?}")
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn documents_that_are_not_objects_or_too_deep_are_refused() {
        for doc in ["null", "[]", "\"envelope\"", "42"] {
            let v: Value = serde_json::from_str(doc).expect("json");
            assert_eq!(violations(&v)[0].path, "/", "{doc}");
        }
        // serde_json stops at 128 levels: an error, never a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(EnvelopeError::NotJson(_))
        ));
        assert!(matches!(parse(b""), Err(EnvelopeError::NotJson(_))));
        assert!(matches!(
            parse(b"\xff\xfe{}"),
            Err(EnvelopeError::NotJson(_))
        ));
    }

    #[test]
    fn frame_line_must_be_an_integer() {
        let mut v = example();
        v["symptom"]["exception"]["frames"][0]["line"] = Value::from("18");
        assert_eq!(violations(&v)[0].path, "/symptom/exception/frames/0/line");
        // Larger than the typed view holds: still named by its path, not as "/".
        v["symptom"]["exception"]["frames"][0]["line"] = Value::from(5_000_000_000u64);
        assert_eq!(violations(&v)[0].path, "/symptom/exception/frames/0/line");
    }

    /// `timing.spans[].service` and `.error` are optional (the shipped example has
    /// neither), typed, and survive the typed view.
    #[test]
    fn span_service_and_error_are_optional_and_typed() {
        let mut v = example();
        assert!(v["timing"]["spans"][0].get("service").is_none());
        v["timing"]["spans"][0]["service"] = Value::from("checkout");
        v["timing"]["spans"][0]["error"] = Value::from(true);
        let env = from_value(v.clone()).expect("valid");
        let span = &env
            .timing
            .as_ref()
            .and_then(|t| t.spans.clone())
            .expect("spans")[0];
        assert_eq!(
            (span.service.as_deref(), span.error),
            (Some("checkout"), Some(true))
        );
        assert_eq!(serde_json::to_value(&env).expect("json"), v);
        for (field, bad) in [
            ("service", Value::from(7)),
            ("service", Value::from("")),
            ("service", Value::from("s".repeat(257))),
            ("service", Value::Null),
            ("error", Value::from("true")),
            ("error", Value::from(1)),
        ] {
            let mut w = v.clone();
            w["timing"]["spans"][0][field] = bad.clone();
            let errs = violations(&w);
            assert_eq!(
                errs[0].path,
                format!("/timing/spans/0/{field}"),
                "{field} = {bad}: {errs:?}"
            );
            assert!(matches!(
                parse(w.to_string().as_bytes()),
                Err(EnvelopeError::Schema(_))
            ));
        }
        v["timing"]["spans"][0]["service"] = Value::from("s".repeat(256));
        assert!(from_value(v).is_ok());
    }

    #[test]
    fn the_typed_envelope_loses_nothing() {
        // Every field of the full example survives the typed view: what intake stores
        // (the typed envelope, serialized) is what the sender sent.
        let env = parse(EXAMPLE.as_bytes()).expect("example validates");
        assert_eq!(serde_json::to_value(&env).expect("serializes"), example());
        let min = parse(MINIMAL.as_bytes()).expect("minimal validates");
        let text = serde_json::to_string(&min).expect("serializes");
        assert_eq!(parse(text.as_bytes()).expect("still valid"), min);
    }

    #[test]
    fn from_value_validates_like_parse() {
        let mut v = example();
        v["identity"]["span_id"] = Value::from("nope");
        match from_value(v) {
            Err(EnvelopeError::Schema(errs)) => assert_eq!(errs[0].path, "/identity/span_id"),
            other => panic!("expected a violation, got {other:?}"),
        }
        assert!(from_value(example()).is_ok());
    }
}
