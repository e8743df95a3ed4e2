//! Which resource attributes carry the commit. The assembler guest's own
//! `commit_attributes` setting is the one source: the holder reads the same list
//! from the guest's config, so a trace it lets through is one the guest can
//! read a commit from, and a trace it skips is counted under the names the
//! operator configured.

use serde_json::Value;

use super::assemble::json_kind;

/// The resource attribute that names the commit by default (semantic
/// conventions); the default of `builtin:envelope`'s `commit_attributes`.
pub const COMMIT_ATTRIBUTE: &str = "vcs.ref.head.revision";

/// The guest config key listing the commit attributes, tried in order.
pub const COMMIT_ATTRIBUTES_KEY: &str = "commit_attributes";

/// The commit attributes named by an assembler guest's config (the JSON its
/// `configure` gets): its `commit_attributes`, or [`COMMIT_ATTRIBUTE`] alone
/// when the key is absent (or the config is not an object, which the guest
/// itself refuses). The error says what is wrong with the key's value.
pub fn commit_attributes(guest_config: &Value) -> Result<Vec<String>, String> {
    let Some(listed) = guest_config.get(COMMIT_ATTRIBUTES_KEY) else {
        return Ok(vec![COMMIT_ATTRIBUTE.to_owned()]);
    };
    let Value::Array(items) = listed else {
        return Err(format!(
            "must be a list of resource attribute names, e.g. [{COMMIT_ATTRIBUTE}], not {}",
            json_kind(listed)
        ));
    };
    if items.is_empty() {
        return Err("at least one attribute name is required".into());
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::String(_) => Err(format!("[{i}] must not be empty")),
            other => Err(format!("[{i}] must be a string, not {}", json_kind(other))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_means_the_semantic_convention_alone() {
        for cfg in [json!({}), Value::Null, json!({"max_frames": 3})] {
            assert_eq!(
                commit_attributes(&cfg),
                Ok(vec![COMMIT_ATTRIBUTE.to_owned()])
            );
        }
    }

    #[test]
    fn the_guest_list_is_taken_in_order() {
        let cfg = json!({"commit_attributes": ["git.commit.sha", COMMIT_ATTRIBUTE]});
        assert_eq!(
            commit_attributes(&cfg),
            Ok(vec![
                "git.commit.sha".to_owned(),
                COMMIT_ATTRIBUTE.to_owned()
            ])
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err =
            |v: Value| commit_attributes(&json!({ "commit_attributes": v })).expect_err("refused");
        assert!(err(json!("git.commit.sha")).contains("not a string"));
        assert!(err(json!([])).contains("at least one"));
        assert_eq!(err(json!(["a", " "])), "[1] must not be empty");
        assert_eq!(err(json!(["a", 7])), "[1] must be a string, not a number");
    }
}
