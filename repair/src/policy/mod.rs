//! The policy gate: every candidate fix is checked against Rego policies (evaluated with
//! `regorus`, so teams can reuse OPA policies) before verification. The default policy
//! (`config/policy/default.rego`, built in) bounds the changed lines, keeps fixes inside
//! the allowed paths, away from migrations, auth, secrets, CI files and dependency
//! manifests, refuses new third-party imports and requires a test. Users extend it with
//! their own `.rego` files (package `tracemend.patch`, rules `deny contains msg if ...`)
//! or replace it. Each `deny` message is recorded with the refused candidate.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::patch::{Candidate, PolicyDecision};

/// The built-in default policy.
pub const DEFAULT_POLICY: &str = include_str!("../../../config/policy/default.rego");
/// The rule whose members are the refusals.
const DENY_RULE: &str = "data.tracemend.patch.deny";

/// `patch.policy` in the config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Load the built-in default policy. Default true; false replaces it with `files`.
    #[serde(default = "yes")]
    pub default_policy: bool,
    /// Further `.rego` files (package `tracemend.patch`).
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Most lines a fix may add plus remove. Default 30.
    #[serde(default = "default_max_changed_lines")]
    pub max_changed_lines: u32,
    /// Globs of the paths fixes and tests may touch. Default `["**"]`.
    #[serde(default = "default_allowed_paths")]
    pub allowed_paths: Vec<String>,
}

fn yes() -> bool {
    true
}
fn default_max_changed_lines() -> u32 {
    30
}
fn default_allowed_paths() -> Vec<String> {
    vec!["**".into()]
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            default_policy: true,
            files: Vec::new(),
            max_changed_lines: default_max_changed_lines(),
            allowed_paths: default_allowed_paths(),
        }
    }
}

/// A policy that cannot be loaded or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A policy file cannot be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A policy does not compile.
    #[error("policy {path} is not valid Rego: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The compiler's message.
        message: String,
    },
    /// Evaluation failed (a runtime error in a rule).
    #[error("evaluating the patch policy failed: {0}")]
    Eval(String),
    /// `deny` is not a set of strings.
    #[error("{DENY_RULE} must be a set of strings; it is {0}")]
    Shape(String),
}

/// The loaded policies.
#[derive(Clone)]
pub struct PolicyGate {
    engine: regorus::Engine,
    config: PolicyConfig,
}

impl std::fmt::Debug for PolicyGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyGate")
            .field("config", &self.config)
            .finish()
    }
}

impl PolicyGate {
    /// Loads the default policy (unless disabled) and the configured files.
    pub fn new(config: &PolicyConfig) -> Result<Self, PolicyError> {
        let mut engine = regorus::Engine::new();
        if config.default_policy {
            engine
                .add_policy("default.rego".into(), DEFAULT_POLICY.into())
                .map_err(|e| PolicyError::Invalid {
                    path: "default.rego (built in)".into(),
                    message: e.to_string(),
                })?;
        }
        for path in &config.files {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
                path: shown.clone(),
                source,
            })?;
            engine
                .add_policy(shown.clone(), text)
                .map_err(|e| PolicyError::Invalid {
                    path: shown,
                    message: e.to_string(),
                })?;
        }
        Ok(Self {
            engine,
            config: config.clone(),
        })
    }

    /// The decision on `candidate`; `new_imports` are modules the fix imports that the
    /// repository did not import anywhere before.
    pub fn evaluate(
        &self,
        candidate: &Candidate,
        new_imports: &[String],
    ) -> Result<PolicyDecision, PolicyError> {
        let files: Vec<_> = [&candidate.fix, &candidate.test]
            .into_iter()
            .map(|f| {
                json!({"path": f.path, "kind": f.kind, "new_file": f.new_file,
                       "added": f.added, "removed": f.removed})
            })
            .collect();
        let input = json!({
            "files": files,
            "changed_lines": candidate.fix.added + candidate.fix.removed,
            "new_imports": new_imports,
            "config": {
                "max_changed_lines": self.config.max_changed_lines,
                "allowed_paths": self.config.allowed_paths,
            },
        });
        let mut engine = self.engine.clone();
        engine
            .set_input_json(&input.to_string())
            .map_err(|e| PolicyError::Eval(e.to_string()))?;
        let value = engine
            .eval_rule(DENY_RULE.into())
            .map_err(|e| PolicyError::Eval(e.to_string()))?;
        let mut denials = Vec::new();
        // No `deny` rule at all (a replacing policy that defines none) denies nothing.
        if value != regorus::Value::Undefined {
            let set = value
                .as_set()
                .map_err(|_| PolicyError::Shape(value.to_string()))?;
            for v in set.iter() {
                let s = v
                    .as_string()
                    .map_err(|_| PolicyError::Shape(v.to_string()))?;
                denials.push(s.to_string());
            }
        }
        denials.sort();
        Ok(PolicyDecision {
            allowed: denials.is_empty(),
            denials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{ChangeKind, FileChange, Origin};

    fn change(path: &str, kind: ChangeKind, added: u32) -> FileChange {
        FileChange {
            path: path.into(),
            kind,
            new_file: kind == ChangeKind::Test,
            content: String::new(),
            diff: String::new(),
            added,
            removed: 0,
        }
    }

    fn candidate(fix: &str, lines: u32) -> Candidate {
        Candidate {
            id: 1,
            origin: Origin::Template,
            template: "t".into(),
            hypothesis_rank: None,
            description: String::new(),
            invariant: String::new(),
            fix: change(fix, ChangeKind::Fix, lines),
            test: change("test_x.py", ChangeKind::Test, 40),
            policy: PolicyDecision {
                allowed: true,
                denials: vec![],
            },
        }
    }

    #[test]
    fn default_policy_allows_a_small_fix_and_refuses_the_rest() {
        let gate = PolicyGate::new(&PolicyConfig::default()).expect("loads");
        let ok = gate.evaluate(&candidate("app.py", 3), &[]).expect("eval");
        assert!(ok.allowed, "{ok:?}");
        let d = gate.evaluate(&candidate("app.py", 31), &[]).expect("eval");
        assert_eq!(
            d.denials,
            vec!["the fix changes 31 lines; the policy allows at most 30"]
        );
        for (path, word) in [
            ("db/migrations/0001.py", "migrations"),
            ("app/auth.py", "authentication"),
            ("config/secrets.py", "secrets"),
            (".github/workflows/ci.yml", "CI"),
            ("requirements.txt", "dependencies"),
        ] {
            let d = gate.evaluate(&candidate(path, 1), &[]).expect("eval");
            assert!(
                !d.allowed && d.denials.iter().any(|m| m.contains(word)),
                "{path}: {d:?}"
            );
        }
        let d = gate
            .evaluate(&candidate("app.py", 1), &["requests".into()])
            .expect("eval");
        assert_eq!(
            d.denials,
            vec!["the fix imports requests, which the repository does not use yet"]
        );
        let mut no_test = candidate("app.py", 1);
        no_test.test.kind = ChangeKind::Fix;
        let d = gate.evaluate(&no_test, &[]).expect("eval");
        assert!(
            d.denials.iter().any(|m| m.contains("adds no test")),
            "{d:?}"
        );
    }

    #[test]
    fn user_policies_extend_or_replace_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let own = dir.path().join("own.rego");
        std::fs::write(
            &own,
            "package tracemend.patch\nimport rego.v1\ndeny contains \"payments code needs a human\" if {\n  some f in input.files\n  startswith(f.path, \"payments/\")\n}\n",
        )
        .expect("write");
        let config = PolicyConfig {
            files: vec![own.clone()],
            ..PolicyConfig::default()
        };
        let gate = PolicyGate::new(&config).expect("loads");
        let d = gate
            .evaluate(&candidate("payments/fee.py", 1), &[])
            .expect("eval");
        assert_eq!(d.denials, vec!["payments code needs a human"]);
        let only = PolicyConfig {
            default_policy: false,
            files: vec![own],
            max_changed_lines: 1,
            ..PolicyConfig::default()
        };
        let gate = PolicyGate::new(&only).expect("loads");
        assert!(
            gate.evaluate(&candidate("app.py", 99), &[])
                .expect("eval")
                .allowed
        );
        let bad = dir.path().join("bad.rego");
        std::fs::write(&bad, "package tracemend.patch\ndeny contains x if {").expect("write");
        let err = PolicyGate::new(&PolicyConfig {
            files: vec![bad],
            ..PolicyConfig::default()
        })
        .expect_err("invalid");
        assert!(
            err.to_string().contains("bad.rego is not valid Rego"),
            "{err}"
        );
        let missing = PolicyGate::new(&PolicyConfig {
            files: vec!["/nonexistent.rego".into()],
            ..PolicyConfig::default()
        })
        .expect_err("missing");
        assert!(
            missing
                .to_string()
                .contains("cannot read policy /nonexistent.rego")
        );
    }
}
