//! The guest's `config:` block (JSON), validated key by key. Every error
//! names the YAML path and, for rules, the rule.

use serde_json::{Map, Value};

use crate::action::{Action, Tokenizer};
use crate::detect::{self, BUILTIN_VALUE_RULES};
use crate::keys::{self, KeyPattern};

/// A config the guest refuses, with the YAML path under `config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config.{path}: {message}")]
pub struct ConfigError {
    /// E.g. `rules.email.action` or `custom_rules[0] (employee_id).pattern`.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

pub(crate) fn err(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

/// Name of the built-in key rule.
pub const SENSITIVE_KEY: &str = "sensitive_key";

/// The keys that carry a request's inputs, which a Failure Envelope
/// replays: matches under them are pseudonymized (shape kept) rather than
/// tokenized, so the replayed request passes the same validation as the
/// original.
///
/// The list follows docs/envelopes.md's attribute contract, older HTTP
/// conventions included.
pub const DEFAULT_PSEUDONYMIZE_KEYS: &[&str] = &[
    "url.full",
    "url.path",
    "url.query",
    "http.url",
    "http.target",
    "http.request.header.*",
    "tracemend.http.request.body",
    "tracemend.fixture.*",
];

/// One rule's settings after parsing.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Rule name (counter and summary label).
    pub name: String,
    /// Off rules never run.
    pub enabled: bool,
    /// The explicit action, if the config set one.
    pub action: Option<Action>,
}

/// A custom value rule.
pub struct CustomValueRule {
    /// Settings.
    pub spec: RuleSpec,
    /// Compiled pattern.
    pub regex: regex::bytes::Regex,
    /// Prefilter keywords (empty: always runs).
    pub keywords: Vec<String>,
}

/// A key rule (built-in `sensitive_key` or a custom one).
pub struct KeyRuleSpec {
    /// Settings.
    pub spec: RuleSpec,
    /// Key patterns.
    pub keys: Vec<KeyPattern>,
}

/// The parsed config.
pub struct Parsed {
    /// Action of rules without their own.
    pub default_action: Option<Action>,
    /// Built-in value rules, indexed as [`BUILTIN_VALUE_RULES`].
    pub builtins: Vec<RuleSpec>,
    /// `sensitive_key` then `key_rules`.
    pub key_rules: Vec<KeyRuleSpec>,
    /// `custom_rules`.
    pub custom: Vec<CustomValueRule>,
    /// Extra allowed keys.
    pub allow_keys: Vec<String>,
    /// Keys whose matches are pseudonymized (request inputs).
    pub pseudonymize_keys: Vec<String>,
    /// Keep the built-in allow-list.
    pub default_allow_keys: bool,
    /// Redact private/loopback addresses too.
    pub redact_private_ips: bool,
    /// `rules.high_entropy.min_length`.
    pub min_entropy_len: usize,
    /// Prompt-injection defusal on.
    pub defuse: bool,
    /// Attribute keys whose strings are defused (log bodies always are).
    pub defuse_keys: Vec<String>,
    /// Add the summary attributes.
    pub summary: bool,
    /// The hash action's keys, if configured.
    pub tokenizer: Option<Tokenizer>,
}

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object().ok_or_else(|| err(path, "must be a map"))
}

fn only(m: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            return Err(err(
                p,
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn boolean(
    m: &Map<String, Value>,
    k: &str,
    path: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match m.get(k) {
        None => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err(join(path, k), "must be true or false")),
    }
}

fn strings(m: &Map<String, Value>, k: &str, path: &str) -> Result<Vec<String>, ConfigError> {
    match m.get(k) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        err(
                            format!("{}[{i}]", join(path, k)),
                            "must be a non-empty string",
                        )
                    })
            })
            .collect(),
        Some(_) => Err(err(join(path, k), "must be a list of strings")),
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_owned()
    } else {
        format!("{path}.{k}")
    }
}

/// Parses an action from `action` / `keep_last` / `with` fields of `m`.
fn action(m: &Map<String, Value>, path: &str) -> Result<Option<Action>, ConfigError> {
    let Some(a) = m.get("action") else {
        if m.contains_key("keep_last") || m.contains_key("with") {
            return Err(err(
                path,
                "keep_last and with need an action (mask or replace)",
            ));
        }
        return Ok(None);
    };
    let name = a.as_str().ok_or_else(|| {
        err(
            join(path, "action"),
            "must be remove, mask, replace, hash or pseudonymize",
        )
    })?;
    let keep_last = match m.get("keep_last") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n <= 64)
                .ok_or_else(|| err(join(path, "keep_last"), "must be a number from 0 to 64"))?
                as usize,
        ),
    };
    let with = match m.get("with") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| err(join(path, "with"), "must be a string"))?
                .to_owned(),
        ),
    };
    let act = match name {
        "remove" => Action::Remove,
        "mask" => Action::Mask {
            keep_last: keep_last.unwrap_or(4),
        },
        "replace" => Action::Replace(with.clone().unwrap_or_default()),
        "hash" => Action::Hash,
        "pseudonymize" => Action::Pseudonymize,
        other => {
            return Err(err(
                join(path, "action"),
                format!(
                    "unknown action `{other}` (expected remove, mask, replace, hash or pseudonymize)"
                ),
            ));
        }
    };
    if keep_last.is_some() && name != "mask" {
        return Err(err(join(path, "keep_last"), "only applies to action mask"));
    }
    if with.is_some() && name != "replace" {
        return Err(err(join(path, "with"), "only applies to action replace"));
    }
    Ok(Some(act))
}

/// Parses and validates the JSON config. `blob` reads a granted data blob
/// (the host's `grants.data`).
pub fn parse(json: &str, blob: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<Parsed, ConfigError> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| err("", format!("not valid JSON: {e}")))?;
    let root = if root.is_null() {
        Value::Object(Map::new())
    } else {
        root
    };
    let m = obj(&root, "")?;
    only(
        m,
        "",
        &[
            "default_action",
            "hash",
            "rules",
            "custom_rules",
            "key_rules",
            "allow_keys",
            "pseudonymize_keys",
            "default_allow_keys",
            "redact_private_ips",
            "prompt_injection",
            "summary",
        ],
    )?;
    let default_action = match m.get("default_action") {
        None => None,
        Some(Value::String(s)) => {
            let mut one = Map::new();
            one.insert("action".into(), Value::String(s.clone()));
            action(&one, "default_action")?
        }
        Some(v) => {
            let dm = obj(v, "default_action")?;
            only(dm, "default_action", &["action", "keep_last", "with"])?;
            action(dm, "default_action")?
        }
    };
    let mut builtins: Vec<RuleSpec> = BUILTIN_VALUE_RULES
        .iter()
        .map(|n| RuleSpec {
            name: (*n).to_owned(),
            enabled: true,
            action: None,
        })
        .collect();
    let mut sensitive = KeyRuleSpec {
        spec: RuleSpec {
            name: SENSITIVE_KEY.into(),
            enabled: true,
            action: None,
        },
        keys: keys::DEFAULT_SENSITIVE
            .iter()
            .filter_map(|k| KeyPattern::parse(k))
            .collect(),
    };
    let mut min_entropy_len = 20;
    if let Some(rules) = m.get("rules") {
        for (name, rv) in obj(rules, "rules")? {
            let path = format!("rules.{name}");
            let rm = obj(rv, &path)?;
            let spec = if name == SENSITIVE_KEY {
                only(
                    rm,
                    &path,
                    &["enabled", "action", "keep_last", "with", "keys"],
                )?;
                for (i, k) in strings(rm, "keys", &path)?.iter().enumerate() {
                    sensitive.keys.push(KeyPattern::parse(k).ok_or_else(|| {
                        err(
                            format!("{path}.keys[{i}]"),
                            "at most one `*`, and some letters",
                        )
                    })?);
                }
                &mut sensitive.spec
            } else if let Some(i) = BUILTIN_VALUE_RULES.iter().position(|n| n == name) {
                if name == "high_entropy" {
                    only(
                        rm,
                        &path,
                        &["enabled", "action", "keep_last", "with", "min_length"],
                    )?;
                    if let Some(v) = rm.get("min_length") {
                        min_entropy_len =
                            v.as_u64()
                                .filter(|n| (8..=256).contains(n))
                                .ok_or_else(|| {
                                    err(
                                        format!("{path}.min_length"),
                                        "must be a number from 8 to 256",
                                    )
                                })? as usize;
                    }
                } else {
                    only(rm, &path, &["enabled", "action", "keep_last", "with"])?;
                }
                &mut builtins[i]
            } else {
                return Err(err(
                    path,
                    format!(
                        "unknown rule `{name}` (built-in rules: {SENSITIVE_KEY}, {}; define new ones under custom_rules or key_rules)",
                        BUILTIN_VALUE_RULES.join(", ")
                    ),
                ));
            };
            spec.enabled = boolean(rm, "enabled", &path, true)?;
            spec.action = action(rm, &path)?;
        }
    }
    let mut names: Vec<String> = builtins.iter().map(|r| r.name.clone()).collect();
    names.push(SENSITIVE_KEY.into());
    let mut check_name = |v: &Map<String, Value>, path: &str| -> Result<String, ConfigError> {
        let n = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            })
            .ok_or_else(|| {
                err(
                    join(path, "name"),
                    "required: letters, digits, `_`, `-`, `.`",
                )
            })?
            .to_owned();
        if names.contains(&n) {
            return Err(err(
                join(path, "name"),
                format!("rule `{n}` is already defined"),
            ));
        }
        names.push(n.clone());
        Ok(n)
    };
    let mut custom = Vec::new();
    if let Some(list) = m.get("custom_rules") {
        let list = list
            .as_array()
            .ok_or_else(|| err("custom_rules", "must be a list"))?;
        for (i, v) in list.iter().enumerate() {
            let at = format!("custom_rules[{i}]");
            let cm = obj(v, &at)?;
            let name = check_name(cm, &at)?;
            let path = format!("custom_rules[{i}] ({name})");
            only(
                cm,
                &path,
                &[
                    "name",
                    "pattern",
                    "keywords",
                    "enabled",
                    "action",
                    "keep_last",
                    "with",
                ],
            )?;
            let pattern = cm
                .get("pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| err(join(&path, "pattern"), "required: a regular expression"))?;
            let regex = detect::compile_user(pattern).map_err(|e| {
                err(
                    join(&path, "pattern"),
                    format!("invalid regular expression: {e}"),
                )
            })?;
            let keywords = strings(cm, "keywords", &path)?;
            custom.push(CustomValueRule {
                spec: RuleSpec {
                    name,
                    enabled: boolean(cm, "enabled", &path, true)?,
                    action: action(cm, &path)?,
                },
                regex,
                keywords,
            });
        }
    }
    let mut key_rules = vec![sensitive];
    if let Some(list) = m.get("key_rules") {
        let list = list
            .as_array()
            .ok_or_else(|| err("key_rules", "must be a list"))?;
        for (i, v) in list.iter().enumerate() {
            let at = format!("key_rules[{i}]");
            let km = obj(v, &at)?;
            let name = check_name(km, &at)?;
            let path = format!("key_rules[{i}] ({name})");
            only(
                km,
                &path,
                &["name", "keys", "enabled", "action", "keep_last", "with"],
            )?;
            let raw = strings(km, "keys", &path)?;
            if raw.is_empty() {
                return Err(err(
                    join(&path, "keys"),
                    "required: a non-empty list of key names or patterns",
                ));
            }
            let mut keys = Vec::new();
            for (j, k) in raw.iter().enumerate() {
                keys.push(KeyPattern::parse(k).ok_or_else(|| {
                    err(
                        format!("{path}.keys[{j}]"),
                        "at most one `*`, and some letters",
                    )
                })?);
            }
            key_rules.push(KeyRuleSpec {
                spec: RuleSpec {
                    name,
                    enabled: boolean(km, "enabled", &path, true)?,
                    action: action(km, &path)?,
                },
                keys,
            });
        }
    }
    let (defuse, defuse_keys) = match m.get("prompt_injection") {
        None => (true, vec!["exception.message".to_owned()]),
        Some(v) => {
            let pm = obj(v, "prompt_injection")?;
            only(pm, "prompt_injection", &["enabled", "keys"])?;
            let keys = if pm.contains_key("keys") {
                strings(pm, "keys", "prompt_injection")?
            } else {
                vec!["exception.message".to_owned()]
            };
            (boolean(pm, "enabled", "prompt_injection", true)?, keys)
        }
    };
    let tokenizer = match m.get("hash") {
        None => None,
        Some(v) => Some(tokenizer(v, blob)?),
    };
    // A hash or pseudonymize action without a key is refused here, naming
    // the rule.
    let keyed = |a: &Action| matches!(a, Action::Hash | Action::Pseudonymize);
    let uses_hash = |a: &Option<Action>| match a {
        Some(a) => keyed(a),
        None => default_action.as_ref().is_some_and(keyed),
    };
    if tokenizer.is_none() {
        let offenders = builtins
            .iter()
            .chain(custom.iter().map(|c| &c.spec))
            .chain(key_rules.iter().map(|k| &k.spec))
            .filter(|r| r.enabled && uses_hash(&r.action));
        if let Some(r) = offenders.into_iter().next() {
            let verb = match r.action.as_ref().or(default_action.as_ref()) {
                Some(Action::Pseudonymize) => "pseudonymizes",
                _ => "hashes",
            };
            return Err(err(
                format!("rules.{}.action", r.name),
                format!(
                    "rule `{}` {verb}, but no key is configured: set config.hash (current version and the granted data blob holding each key, e.g. hash: {{ current: v1, keys: {{ v1: hmac_key_v1 }} }} with grants.data.hmac_key_v1: env:REDACT_KEY_V1)",
                    r.name
                ),
            ));
        }
    }
    Ok(Parsed {
        default_action,
        builtins,
        key_rules,
        custom,
        allow_keys: strings(m, "allow_keys", "")?,
        pseudonymize_keys: if m.contains_key("pseudonymize_keys") {
            strings(m, "pseudonymize_keys", "")?
        } else {
            DEFAULT_PSEUDONYMIZE_KEYS
                .iter()
                .map(|k| (*k).to_owned())
                .collect()
        },
        default_allow_keys: boolean(m, "default_allow_keys", "", true)?,
        redact_private_ips: boolean(m, "redact_private_ips", "", false)?,
        min_entropy_len,
        defuse,
        defuse_keys,
        summary: boolean(m, "summary", "", false)?,
        tokenizer,
    })
}

fn tokenizer(v: &Value, blob: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<Tokenizer, ConfigError> {
    let hm = obj(v, "hash")?;
    only(hm, "hash", &["current", "keys"])?;
    let version = |label: &str, path: &str| -> Result<u32, ConfigError> {
        label
            .strip_prefix('v')
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| {
                err(
                    path,
                    format!("`{label}` is not a key version: use v1, v2, ..."),
                )
            })
    };
    let keys = obj(
        hm.get("keys")
            .ok_or_else(|| err("hash.keys", "required: version -> granted data blob name"))?,
        "hash.keys",
    )?;
    if keys.is_empty() {
        return Err(err(
            "hash.keys",
            "required: at least one version -> granted data blob name",
        ));
    }
    let current = hm.get("current").and_then(Value::as_str).ok_or_else(|| {
        err(
            "hash.current",
            "required: the key version new tokens use, e.g. v2",
        )
    })?;
    let cur = version(current, "hash.current")?;
    let mut known = Vec::new();
    let mut key = None;
    for (label, name) in keys {
        let path = format!("hash.keys.{label}");
        let ver = version(label, &path)?;
        let name = name
            .as_str()
            .ok_or_else(|| err(&path, "must be the name of a granted data blob"))?;
        let bytes = blob(name).ok_or_else(|| {
            err(&path, format!("no data blob `{name}` is granted: add grants.data.{name} (env:VAR or a file path) to the processor"))
        })?;
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < 16 {
            return Err(err(
                &path,
                format!(
                    "the key in blob `{name}` is {} bytes; use at least 16",
                    trimmed.len()
                ),
            ));
        }
        if ver == cur {
            key = Some(trimmed.to_vec());
        }
        known.push(ver);
    }
    let key = key.ok_or_else(|| {
        err(
            "hash.current",
            format!("`{current}` is not one of hash.keys"),
        )
    })?;
    Ok(Tokenizer::new(cur, &key, known))
}
