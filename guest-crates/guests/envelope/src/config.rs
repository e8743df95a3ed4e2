//! The guest's configuration (the YAML `config:` block, as JSON). Every error
//! names the key under `config:`.

use serde::Deserialize;
use stacktrace::{DEFAULT_PACKAGE_DIRS, DEFAULT_STRIP_PREFIXES, Normalizer};

/// The resource attribute the commit is read from by default: the
/// OpenTelemetry VCS convention.
pub(crate) const DEFAULT_COMMIT_ATTRIBUTE: &str = "vcs.ref.head.revision";
/// The span attribute the capture package records the request body under.
pub(crate) const DEFAULT_BODY_ATTRIBUTE: &str = "tracemend.http.request.body";
/// The schema's limit on `symptom.exception.frames`.
pub(crate) const SCHEMA_MAX_FRAMES: usize = 256;
/// The schema's limit on `timing.spans`.
pub(crate) const SCHEMA_MAX_SPANS: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    in_app_prefixes: Vec<String>,
    #[serde(default)]
    strip_prefixes: Vec<String>,
    #[serde(default)]
    max_frames: Option<usize>,
    #[serde(default)]
    max_spans: Option<usize>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    commit_attributes: Option<Vec<String>>,
    #[serde(default)]
    body_attribute: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Repository-relative path prefixes of the service's own code; when
    /// empty, the runtimes' conventions decide in-app.
    pub(crate) in_app_prefixes: Vec<String>,
    /// Frame path normalization (the configured strip prefixes first).
    pub(crate) normalizer: Normalizer,
    /// Most frames in `symptom.exception.frames`.
    pub(crate) max_frames: usize,
    /// Most spans in `timing.spans`.
    pub(crate) max_spans: usize,
    /// Longest body (bytes of the attribute's text) carried in `inputs.body`.
    pub(crate) max_body_bytes: usize,
    /// Resource attributes holding the commit, tried in order.
    pub(crate) commit_attributes: Vec<String>,
    /// The span attribute holding the request body; `.encoding` and
    /// `.truncated` after it name its companions.
    pub(crate) body_attribute: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            in_app_prefixes: Vec::new(),
            normalizer: Normalizer::default(),
            max_frames: 64,
            max_spans: SCHEMA_MAX_SPANS,
            max_body_bytes: 64 * 1024,
            commit_attributes: vec![DEFAULT_COMMIT_ATTRIBUTE.to_owned()],
            body_attribute: DEFAULT_BODY_ATTRIBUTE.to_owned(),
        }
    }
}

impl Config {
    /// Parses and validates the JSON config, gathering every error.
    pub(crate) fn parse(json: &str) -> Result<Config, String> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let raw: RawConfig =
            serde_json::from_str(json).map_err(|e| format!("envelope assembler config: {e}"))?;
        let defaults = Config::default();
        let mut errors = Vec::new();
        let mut bounded = |key: &str, value: Option<usize>, default: usize, max: usize| {
            let v = value.unwrap_or(default);
            if v == 0 || v > max {
                errors.push(format!("{key}: {v} is out of range (1 to {max})"));
            }
            v
        };
        let max_frames = bounded(
            "max_frames",
            raw.max_frames,
            defaults.max_frames,
            SCHEMA_MAX_FRAMES,
        );
        let max_spans = bounded(
            "max_spans",
            raw.max_spans,
            defaults.max_spans,
            SCHEMA_MAX_SPANS,
        );
        let max_body_bytes = bounded(
            "max_body_bytes",
            raw.max_body_bytes,
            defaults.max_body_bytes,
            16 << 20,
        );
        for (i, p) in raw.in_app_prefixes.iter().enumerate() {
            if p.trim().is_empty() || p.starts_with('/') {
                errors.push(format!(
                    "in_app_prefixes[{i}]: {p:?} must be a non-empty repository-relative path (no leading `/`)"
                ));
            }
        }
        for (i, p) in raw.strip_prefixes.iter().enumerate() {
            if p.trim().is_empty() {
                errors.push(format!("strip_prefixes[{i}]: must not be empty"));
            }
        }
        let commit_attributes = raw.commit_attributes.unwrap_or(defaults.commit_attributes);
        if commit_attributes.is_empty() {
            errors.push("commit_attributes: at least one attribute name is required".into());
        }
        for (i, a) in commit_attributes.iter().enumerate() {
            if a.trim().is_empty() {
                errors.push(format!("commit_attributes[{i}]: must not be empty"));
            }
        }
        let body_attribute = raw.body_attribute.unwrap_or(defaults.body_attribute);
        if body_attribute.trim().is_empty() {
            errors.push("body_attribute: must not be empty".into());
        }
        if !errors.is_empty() {
            return Err(format!("envelope assembler config: {}", errors.join("; ")));
        }
        let normalizer = Normalizer::new(
            raw.strip_prefixes
                .iter()
                .map(String::as_str)
                .chain(DEFAULT_STRIP_PREFIXES.iter().copied()),
            DEFAULT_PACKAGE_DIRS.iter().copied(),
        );
        Ok(Config {
            in_app_prefixes: raw
                .in_app_prefixes
                .into_iter()
                .map(|p| p.trim_start_matches("./").to_owned())
                .collect(),
            normalizer,
            max_frames,
            max_spans,
            max_body_bytes,
            commit_attributes,
            body_attribute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Config::parse(json) {
            Ok(_) => panic!("expected an error for {json}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_and_empty() {
        for json in ["", "{}", " "] {
            let c = Config::parse(json).unwrap_or_else(|e| panic!("{json:?}: {e}"));
            assert_eq!(c.max_frames, 64);
            assert_eq!(c.commit_attributes, ["vcs.ref.head.revision"]);
            assert_eq!(c.body_attribute, "tracemend.http.request.body");
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err(r#"{"max_frames":0}"#).contains("max_frames: 0 is out of range (1 to 256)"));
        assert!(err(r#"{"max_spans":5000}"#).contains("max_spans"));
        assert!(err(r#"{"in_app_prefixes":["/abs"]}"#).contains("in_app_prefixes[0]"));
        assert!(err(r#"{"commit_attributes":[]}"#).contains("commit_attributes"));
        assert!(err(r#"{"bogus":1}"#).contains("unknown field `bogus`"));
        assert!(err(r#"{"max_frames":"ten"}"#).contains("envelope assembler config"));
        assert!(err("[1,2").contains("envelope assembler config"));
        // Every problem at once.
        let e = err(r#"{"max_frames":0,"body_attribute":" "}"#);
        assert!(
            e.contains("max_frames") && e.contains("body_attribute"),
            "{e}"
        );
    }
}
