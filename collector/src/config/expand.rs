//! `${env:VAR}`, `${VAR}` and `${env:VAR:-default}` expansion in string values, after
//! parsing, as otelcol does: a value that is exactly one reference takes the type of what
//! it expands to (`${env:PORT}` can be a number), `$$` is a literal `$`.

use serde_yaml::Value;

use super::ConfigError;

/// Expands every string in `value`; `path` names the value in errors.
pub fn expand(value: &mut Value, path: &str, errors: &mut Vec<ConfigError>) {
    match value {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match expand_str(s) {
                Ok(Expanded::Typed(v)) => *value = v,
                Ok(Expanded::Text(t)) => *s = t,
                Err(msg) => errors.push(ConfigError::new(path, msg)),
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = key_str(k);
                expand(v, &join(path, &key), errors);
            }
        }
        Value::Sequence(seq) => {
            for (i, v) in seq.iter_mut().enumerate() {
                expand(v, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Tagged(t) => expand(&mut t.value, path, errors),
        _ => {}
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else if key.is_empty() {
        path.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

enum Expanded {
    Text(String),
    Typed(Value),
}

fn expand_str(s: &str) -> Result<Expanded, String> {
    // A whole-value reference is typed by what it expands to, as in otelcol.
    if s.starts_with("${") && s.ends_with('}') && s[2..].find('}') == Some(s.len() - 3) {
        let resolved = resolve(&s[2..s.len() - 1])?;
        let typed = serde_yaml::from_str::<Value>(&resolved)
            .ok()
            .filter(|v| !matches!(v, Value::Mapping(_) | Value::Sequence(_) | Value::Null))
            .filter(|v| keeps_text(v, &resolved))
            .unwrap_or(Value::String(resolved));
        return Ok(Expanded::Typed(typed));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {s:?}"))?;
            out.push_str(&resolve(&inner[..end])?);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Expanded::Text(out))
}

/// Whether typing `text` as `v` loses nothing: an integer whose text is not its
/// canonical form (`007`, `+5`, `0x1F`) stays a string, so an API key of digits keeps its
/// leading zeros. Strings where otelcol expects strings also take numbers
/// ([`super::lenient`]).
fn keeps_text(v: &Value, text: &str) -> bool {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string() == text.trim(),
        _ => true,
    }
}

fn resolve(reference: &str) -> Result<String, String> {
    // `NAME:-default` has no scheme; `scheme:rest` does.
    let (scheme, body) = match reference.split_once(':') {
        Some((scheme, body)) if !body.starts_with('-') => (scheme, body),
        _ => ("env", reference),
    };
    if scheme != "env" {
        return Err(format!(
            "unsupported config provider `{scheme}` in `${{{reference}}}`: only `env` is supported"
        ));
    }
    let (name, default) = match body.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (body, None),
    };
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!(
            "invalid environment variable name {name:?} in `${{{reference}}}`"
        ));
    }
    match std::env::var(name) {
        Ok(v) if !v.is_empty() || default.is_none() => Ok(v),
        _ => match default {
            Some(d) => Ok(d.to_string()),
            None => {
                tracing::warn!(
                    variable = name,
                    "Environment variable is not set; expanding to an empty string."
                );
                Ok(String::new())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Value, Vec<ConfigError>) {
        let mut v: Value = serde_yaml::from_str(yaml).expect("yaml");
        let mut errors = Vec::new();
        expand(&mut v, "", &mut errors);
        (v, errors)
    }

    #[test]
    fn expands_all_forms() {
        crate::testenv::set("TM_EXPAND_A", "4317");
        let (v, errors) = run(
            "a: ${env:TM_EXPAND_A}\nb: host:${TM_EXPAND_A}\nc: ${env:TM_EXPAND_UNSET:-dflt}\nd: $$HOME\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(v["a"], Value::Number(4317.into()));
        assert_eq!(v["b"], Value::String("host:4317".into()));
        assert_eq!(v["c"], Value::String("dflt".into()));
        assert_eq!(v["d"], Value::String("$HOME".into()));
    }

    #[test]
    fn an_integer_that_would_change_stays_text() {
        crate::testenv::set("TM_EXPAND_ZEROS", "007");
        crate::testenv::set("TM_EXPAND_PLAIN", "12345");
        let (v, errors) = run("a: ${env:TM_EXPAND_ZEROS}\nb: ${env:TM_EXPAND_PLAIN}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(v["a"], Value::String("007".into()));
        assert_eq!(v["b"], Value::Number(12345.into()));
    }

    #[test]
    fn unknown_provider_is_an_error_with_path() {
        let (_, errors) = run("x:\n  y: ${file:/etc/passwd}\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "x.y");
        assert!(
            errors[0]
                .message
                .contains("unsupported config provider `file`")
        );
    }
}
