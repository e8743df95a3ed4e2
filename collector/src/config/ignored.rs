//! Keys otelcol accepts that mean nothing here (a Go runtime knob, a buffer size tracemend
//! does not expose): they load, so a config written for otelcol works unchanged, and each
//! one that is set becomes a warning naming the key and why it has no effect. None is
//! dropped silently.

use serde::Deserialize;
use serde_yaml::Value;

use super::ConfigError;

/// The value of a key accepted for otelcol compatibility and not acted on. Any YAML
/// value is accepted; only whether the key is present matters (`batch:` with nothing
/// after it turns a feature on in otelcol, so it counts as set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ignored(Option<Value>);

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Called only for a key that is present; a missing key is `Default`.
        Value::deserialize(d).map(|v| Ignored(Some(v)))
    }
}

impl Ignored {
    /// Whether the key is present.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The value given (`Null` for `key:` alone).
    pub fn value(&self) -> Option<&Value> {
        self.0.as_ref()
    }
}

/// A warning for each key of `keys` (name, value, why it has no effect) that is set,
/// at `prefix.name` (relative to the component).
pub fn warnings(prefix: &str, keys: &[(&str, &Ignored, &str)]) -> Vec<ConfigError> {
    keys.iter()
        .filter(|(_, v, _)| v.is_set())
        .map(|(name, _, why)| ConfigError::new(join(prefix, name), ignored_message(why)))
        .collect()
}

/// The message of a key accepted and ignored.
pub fn ignored_message(why: &str) -> String {
    format!("accepted for otelcol compatibility and ignored: {why}")
}

/// `prefix.key`, or `key` when `prefix` is empty.
pub fn join(prefix: &str, key: &str) -> String {
    super::expand::join(prefix, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default)]
        a: Ignored,
        #[serde(default)]
        b: Ignored,
        #[serde(default)]
        c: Ignored,
    }

    #[test]
    fn only_present_keys_warn() {
        let t: T = serde_yaml::from_str("a: {x: 1}\nb:\n").expect("parses");
        assert!(t.a.is_set());
        assert!(
            t.b.is_set(),
            "`b:` alone is present (it enables a feature in otelcol)"
        );
        assert_eq!(t.b.value(), Some(&Value::Null));
        assert!(!t.c.is_set());
        let w = warnings(
            "tls",
            &[("a", &t.a, "why a"), ("b", &t.b, "why b"), ("c", &t.c, "c")],
        );
        let paths: Vec<&str> = w.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["tls.a", "tls.b"]);
        assert_eq!(
            w[0].message,
            "accepted for otelcol compatibility and ignored: why a"
        );
    }
}
