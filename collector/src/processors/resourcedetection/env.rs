//! The `env` detector: `OTEL_RESOURCE_ATTRIBUTES` (and the older `OTEL_RESOURCE`), a
//! comma-separated list of `key=value` with percent-encoded values, as the SDKs and
//! otelcol read it.

use super::Detected;

/// Parses the variable's value; a malformed entry is an error naming it.
pub fn parse(text: &str) -> Result<Detected, String> {
    let mut out = Detected::new();
    for entry in text.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!("entry `{}` is not key=value", entry.trim()));
        };
        let key = k.trim();
        if key.is_empty() {
            return Err(format!("entry `{}` has an empty key", entry.trim()));
        }
        let value =
            percent_decode(v.trim()).map_err(|e| format!("entry `{}`: {e}", entry.trim()))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`: `%XX` escapes and `+` as a space.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid escape at byte {i}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "escapes do not decode to UTF-8".to_owned())
}

/// What the detector adds: the variable's attributes, or nothing when unset.
pub fn detect() -> Result<Detected, String> {
    for var in ["OTEL_RESOURCE_ATTRIBUTES", "OTEL_RESOURCE"] {
        if let Ok(text) = std::env::var(var) {
            return parse(&text).map_err(|e| format!("{var}: {e}"));
        }
    }
    Ok(Detected::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_trimmed_and_decoded() {
        let d = parse(" service.name = checkout ,team=pay%20ments,note=a+b,, ").expect("valid");
        let pairs: Vec<(&str, &str)> = d.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("service.name", "checkout"),
                ("team", "pay ments"),
                ("note", "a b")
            ]
        );
    }

    #[test]
    fn malformed_entries_are_named() {
        assert!(parse("a=1,oops").expect_err("no =").contains("`oops`"));
        assert!(parse("=1").expect_err("empty key").contains("empty key"));
        assert!(
            parse("a=%zz")
                .expect_err("escape")
                .contains("invalid escape")
        );
    }
}
