//! Config sources (`--config FILE`, `file:`, `env:`, `yaml:`) and `--set`, merged in
//! order the way otelcol merges them: maps merge key by key, anything else is replaced
//! by the later source.

use serde_yaml::{Mapping, Value};

use super::locate::LineIndex;
use super::{ConfigError, ConfigErrors};

/// Where one part of the merged config came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub lines: LineIndex,
}

/// The merged YAML document and its sources, in order.
#[derive(Debug, Clone)]
pub struct Merged {
    pub value: Value,
    pub sources: Vec<Source>,
}

impl Merged {
    /// Fills in the source and line of an error from the last source that defines
    /// the deepest part of its path.
    pub fn locate(&self, mut error: ConfigError) -> ConfigError {
        let mut best: Option<(usize, &Source, usize)> = None;
        for src in &self.sources {
            if let Some((len, line)) = src.lines.locate(&error.path)
                && best.is_none_or(|(l, _, _)| len >= l)
            {
                best = Some((len, src, line));
            }
        }
        if let Some((_, src, line)) = best {
            error.source.get_or_insert_with(|| src.name.clone());
            error.line.get_or_insert(line);
        } else if self.sources.len() == 1 {
            error
                .source
                .get_or_insert_with(|| self.sources[0].name.clone());
        }
        error
    }
}

/// Reads and merges the sources, then applies each `--set key=value`.
pub fn load(configs: &[String], sets: &[String]) -> Result<Merged, ConfigErrors> {
    let mut merged = Merged {
        value: Value::Mapping(Mapping::new()),
        sources: Vec::new(),
    };
    let mut errors = Vec::new();
    for uri in configs {
        match read(uri) {
            Ok((name, text, value)) => {
                merge(&mut merged.value, value);
                merged.sources.push(Source {
                    name,
                    lines: LineIndex::build(&text),
                });
            }
            Err(e) => errors.push(e),
        }
    }
    for set in sets {
        match parse_set(set) {
            Ok(v) => merge(&mut merged.value, v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn read(uri: &str) -> Result<(String, String, Value), ConfigError> {
    let source_err = |msg: String| ConfigError {
        source: Some(uri.to_string()),
        path: String::new(),
        line: None,
        message: msg,
    };
    let (name, text) = if let Some(var) = uri.strip_prefix("env:") {
        let text = std::env::var(var)
            .map_err(|_| source_err(format!("environment variable `{var}` is not set")))?;
        (uri.to_string(), text)
    } else if let Some(yaml) = uri.strip_prefix("yaml:") {
        let value: Value = parse_text(uri, yaml)?;
        let Value::Mapping(map) = value else {
            return Err(source_err(
                "a `yaml:` source must be `key::path: value`".to_string(),
            ));
        };
        let mut out = Value::Mapping(Mapping::new());
        for (k, v) in map {
            let key = super::expand::key_str(&k);
            let parts: Vec<&str> = key.split("::").collect();
            merge(&mut out, nest(parts.into_iter(), v));
        }
        return Ok((uri.to_string(), yaml.to_string(), out));
    } else if uri.starts_with("http:") || uri.starts_with("https:") {
        return Err(source_err(
            "config sources over http(s) are not supported; use a file, `env:` or `yaml:`"
                .to_string(),
        ));
    } else {
        let path = uri.strip_prefix("file:").unwrap_or(uri);
        let text = std::fs::read_to_string(path)
            .map_err(|e| source_err(format!("cannot read config file: {e}")))?;
        (path.to_string(), text)
    };
    let value = parse_text(&name, &text)?;
    let value = match value {
        Value::Null => Value::Mapping(Mapping::new()),
        Value::Mapping(_) => value,
        _ => {
            return Err(source_err(
                "the configuration must be a YAML mapping at the top level".to_string(),
            ));
        }
    };
    Ok((name, text, value))
}

fn parse_text(name: &str, text: &str) -> Result<Value, ConfigError> {
    serde_yaml::from_str(text).map_err(|e| ConfigError {
        source: Some(name.to_string()),
        path: String::new(),
        line: e.location().map(|l| l.line()),
        message: format!("invalid YAML: {e}"),
    })
}

fn parse_set(set: &str) -> Result<Value, ConfigError> {
    let err = |msg: String| ConfigError {
        source: Some("--set".to_string()),
        path: String::new(),
        line: None,
        message: msg,
    };
    let (key, value) = set
        .split_once('=')
        .ok_or_else(|| err(format!("`{set}` is not of the form key.path=value")))?;
    if key.is_empty() {
        return Err(err(format!("`{set}` has an empty key")));
    }
    let value: Value = serde_yaml::from_str(value)
        .map_err(|e| err(format!("`{set}`: the value is not valid YAML: {e}")))?;
    // otelcol separates levels with `::`; plain dots are accepted when no `::` is used.
    let parts: Vec<&str> = if key.contains("::") {
        key.split("::").collect()
    } else {
        key.split('.').collect()
    };
    Ok(nest(parts.into_iter(), value))
}

fn nest<'a>(mut parts: impl DoubleEndedIterator<Item = &'a str>, leaf: Value) -> Value {
    let mut v = leaf;
    while let Some(p) = parts.next_back() {
        let mut m = Mapping::new();
        m.insert(Value::String(p.to_string()), v);
        v = Value::Mapping(m);
    }
    v
}

/// Merges `src` over `dst`: maps key by key, everything else replaced.
pub fn merge(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Mapping(d), Value::Mapping(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (dst, src) => *dst = src,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_and_set_override() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &a,
            "processors:\n  batch:\n    timeout: 1s\n    send_batch_size: 10\n",
        )
        .expect("write");
        std::fs::write(&b, "processors:\n  batch:\n    timeout: 2s\n").expect("write");
        let merged = load(
            &[
                a.display().to_string(),
                b.display().to_string(),
                "yaml:processors::batch::send_batch_max_size: 20".to_string(),
            ],
            &["processors.batch.send_batch_size=30".to_string()],
        )
        .expect("loads");
        let batch = &merged.value["processors"]["batch"];
        assert_eq!(batch["timeout"], Value::String("2s".into()));
        assert_eq!(batch["send_batch_size"], Value::Number(30.into()));
        assert_eq!(batch["send_batch_max_size"], Value::Number(20.into()));
        let located = merged.locate(ConfigError::new("processors.batch.timeout", "x"));
        assert_eq!(
            located.source.as_deref(),
            Some(b.display().to_string().as_str())
        );
        assert_eq!(located.line, Some(3));
    }

    #[test]
    fn yaml_syntax_error_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("bad.yaml");
        std::fs::write(&a, "receivers:\n  otlp:\n    protocols: [grpc\n").expect("write");
        let errors = load(&[a.display().to_string()], &[]).expect_err("bad yaml");
        let e = &errors.0[0];
        assert!(e.to_string().starts_with(&a.display().to_string()), "{e}");
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("invalid YAML"), "{e}");
    }

    #[test]
    fn missing_file_and_bad_set_are_errors() {
        let errors = load(
            &["/nonexistent/tracemend.yaml".to_string()],
            &["novalue".to_string()],
        )
        .expect_err("errors");
        assert_eq!(errors.0.len(), 2);
        assert!(errors.0[0].message.contains("cannot read config file"));
        assert!(errors.0[1].message.contains("key.path=value"));
    }
}
