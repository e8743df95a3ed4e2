//! The guest's configuration: which granted index blob serves which
//! `(service.name, commit)`, where the commit is read from, and how frame
//! paths are normalized. Every error names the YAML key under `config:`.

use serde::Deserialize;
use stacktrace::Normalizer;

/// The resource attribute the commit is read from when none is configured:
/// the OpenTelemetry VCS convention.
pub(crate) const DEFAULT_COMMIT_ATTRIBUTE: &str = "vcs.ref.head.revision";

/// Shortest commit prefix that matches a configured commit (git's default
/// abbreviation length).
pub(crate) const MIN_COMMIT_PREFIX: usize = 7;

/// The YAML `config:` block as the host hands it over (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// One entry per deployed `(service, commit)`.
    indexes: Vec<RawIndex>,
    /// Resource attributes holding the commit, tried in order; the first
    /// present wins. Default: `[vcs.ref.head.revision]`.
    #[serde(default)]
    commit_attributes: Option<Vec<String>>,
    /// Path prefixes cut from frame paths before the index is asked, tried
    /// before the built-in container prefixes (`/app/`, `/usr/src/app/`, ...).
    #[serde(default)]
    strip_prefixes: Vec<String>,
    /// Fewest `/`-separated components a `code.file.path` suffix must have
    /// to match an indexed file. Default: 2 (a bare `models.py` is not enough).
    #[serde(default)]
    min_path_components: Option<usize>,
    /// Most frames written into `tracemend.exception.frames`. Default: 64.
    #[serde(default)]
    max_frames: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    /// `service.name` of the spans this index serves.
    service: String,
    /// The full commit sha the index was built at.
    commit: String,
    /// The name of the blob under the processor's `grants.data`.
    data: String,
}

/// One configured index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// `service.name`.
    pub(crate) service: String,
    /// Full commit sha, lower case.
    pub(crate) commit: String,
    /// The grant name.
    pub(crate) data: String,
}

/// The validated configuration.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) indexes: Vec<IndexEntry>,
    pub(crate) commit_attributes: Vec<String>,
    pub(crate) normalizer: Normalizer,
    pub(crate) min_path_components: usize,
    pub(crate) max_frames: usize,
}

impl Config {
    /// Parses and validates the JSON config, gathering every error.
    pub(crate) fn parse(json: &str) -> Result<Config, String> {
        let raw: RawConfig =
            serde_json::from_str(json).map_err(|e| format!("symbolize config: {e}"))?;
        let mut errors = Vec::new();
        if raw.indexes.is_empty() {
            errors.push("indexes: at least one `{service, commit, data}` entry is required".into());
        }
        let mut indexes: Vec<IndexEntry> = Vec::with_capacity(raw.indexes.len());
        for (i, e) in raw.indexes.into_iter().enumerate() {
            let commit = e.commit.trim().to_ascii_lowercase();
            if e.service.trim().is_empty() {
                errors.push(format!("indexes[{i}].service: must not be empty"));
            }
            if commit.len() < MIN_COMMIT_PREFIX || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                errors.push(format!(
                    "indexes[{i}].commit: {:?} is not a commit sha (at least {MIN_COMMIT_PREFIX} hex digits)",
                    e.commit
                ));
            }
            if e.data.is_empty() {
                errors.push(format!(
                    "indexes[{i}].data: must name a blob under grants.data"
                ));
            }
            let entry = IndexEntry {
                service: e.service,
                commit,
                data: e.data,
            };
            if let Some(j) = indexes
                .iter()
                .position(|o| o.service == entry.service && o.commit == entry.commit)
            {
                errors.push(format!(
                    "indexes[{i}]: service {:?} at commit {} is already served by indexes[{j}]",
                    entry.service, entry.commit
                ));
            }
            indexes.push(entry);
        }
        let commit_attributes = raw
            .commit_attributes
            .unwrap_or_else(|| vec![DEFAULT_COMMIT_ATTRIBUTE.to_owned()]);
        if commit_attributes.is_empty() {
            errors.push("commit_attributes: must name at least one resource attribute".into());
        }
        for (i, a) in commit_attributes.iter().enumerate() {
            if a.is_empty() {
                errors.push(format!("commit_attributes[{i}]: must not be empty"));
            }
        }
        let mut normalizer = Normalizer::default();
        // `with_prefix` puts each one first; reversed so the YAML order is
        // the order they are tried in.
        for (i, p) in raw.strip_prefixes.iter().enumerate().rev() {
            if p.trim_matches('/').is_empty() {
                errors.push(format!(
                    "strip_prefixes[{i}]: {p:?} would cut nothing or everything"
                ));
            }
            normalizer = normalizer.with_prefix(p);
        }
        let min_path_components = raw.min_path_components.unwrap_or(2);
        if min_path_components == 0 {
            errors.push("min_path_components: must be at least 1".into());
        }
        let max_frames = raw.max_frames.unwrap_or(64);
        if !(1..=1024).contains(&max_frames) {
            errors.push(format!("max_frames: {max_frames} is outside 1..=1024"));
        }
        if !errors.is_empty() {
            return Err(format!("symbolize config: {}", errors.join("; ")));
        }
        Ok(Config {
            indexes,
            commit_attributes,
            normalizer,
            min_path_components,
            max_frames,
        })
    }
}

/// Whether a commit value from telemetry names the configured full sha:
/// equal, or a prefix of it at least [`MIN_COMMIT_PREFIX`] long (SDKs and
/// build systems often record the short sha). Case-insensitive.
pub(crate) fn commit_matches(configured: &str, seen: &str) -> bool {
    let seen = seen.trim();
    seen.len() >= MIN_COMMIT_PREFIX
        && configured.len() >= seen.len()
        && configured.as_bytes()[..seen.len()].eq_ignore_ascii_case(seen.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn err(json: &str) -> String {
        match Config::parse(json) {
            Ok(_) => panic!("expected an error for {json}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults() {
        let c = Config::parse(&format!(
            r#"{{"indexes":[{{"service":"shop","commit":"{SHA}","data":"shop_a"}}]}}"#
        ))
        .expect("valid");
        assert_eq!(c.commit_attributes, [DEFAULT_COMMIT_ATTRIBUTE]);
        assert_eq!(c.min_path_components, 2);
        assert_eq!(c.max_frames, 64);
        assert_eq!(c.normalizer.normalize("/app/shop/x.py"), "shop/x.py");
        assert_eq!(c.indexes[0].data, "shop_a");
    }

    #[test]
    fn strip_prefixes_are_tried_in_yaml_order_before_the_defaults() {
        let c = Config::parse(&format!(
            r#"{{"indexes":[{{"service":"s","commit":"{SHA}","data":"d"}}],
                "strip_prefixes":["/srv/a/b","/srv/a"]}}"#
        ))
        .expect("valid");
        assert_eq!(c.normalizer.normalize("/srv/a/b/x.py"), "x.py");
        assert_eq!(c.normalizer.normalize("/srv/a/y.py"), "y.py");
        assert_eq!(c.normalizer.normalize("/app/z.py"), "z.py");
    }

    #[test]
    fn every_rule_is_reported_with_its_key() {
        let e = err(r#"{"indexes":[]}"#);
        assert!(e.contains("indexes: at least one"), "{e}");
        let e = err(r#"{"indexes":[{"service":"","commit":"xyz","data":""}],
                "commit_attributes":[],"min_path_components":0,"max_frames":0,
                "strip_prefixes":["/"]}"#);
        for key in [
            "indexes[0].service",
            "indexes[0].commit",
            "indexes[0].data",
            "commit_attributes: must",
            "min_path_components",
            "max_frames",
            "strip_prefixes[0]",
        ] {
            assert!(e.contains(key), "{key} missing in {e}");
        }
        let e = err(&format!(
            r#"{{"indexes":[{{"service":"s","commit":"{SHA}","data":"a"}},
                           {{"service":"s","commit":"{}","data":"b"}}]}}"#,
            SHA.to_uppercase()
        ));
        assert!(e.contains("indexes[1]: service \"s\""), "{e}");
        let e = err(r#"{"indexes":[],"bogus":1}"#);
        assert!(e.contains("unknown field `bogus`"), "{e}");
        let e = err("{}");
        assert!(e.contains("missing field `indexes`"), "{e}");
    }

    #[test]
    fn commits_match_by_prefix_of_at_least_seven() {
        assert!(commit_matches(SHA, SHA));
        assert!(commit_matches(SHA, "0123456"));
        assert!(commit_matches(SHA, "0123456789ABCDEF"));
        assert!(!commit_matches(SHA, "012345"));
        assert!(!commit_matches(SHA, "1123456"));
        assert!(!commit_matches(SHA, &format!("{SHA}0")));
    }
}
