//! otelcol's `auth` block (`configauth`): it names an authenticator extension. tracemend
//! has no authenticator extensions, so the block is refused with the extension's name
//! rather than ignored: ignoring it would serve an endpoint open to anyone, or send
//! without the credentials the backend needs.

use serde::Deserialize;

use super::{ConfigError, Ignored};

/// `auth` on a receiver's protocol or an exporter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The authenticator extension's id.
    #[serde(default)]
    pub authenticator: String,
    /// Server side: which request parameters reach the authenticator.
    #[serde(default)]
    pub request_params: Ignored,
}

impl AuthConfig {
    /// The error for `auth` at `path`.
    pub fn refuse(&self, path: &str) -> ConfigError {
        let ext = if self.authenticator.is_empty() {
            "(none named)".to_string()
        } else {
            format!("`{}`", self.authenticator)
        };
        ConfigError::new(
            path,
            format!(
                "authentication needs the authenticator extension {ext}, and tracemend has no authenticator extensions; remove `auth` (use `headers` for a static credential)"
            ),
        )
    }
}

/// The error for a set `auth` block, if any.
pub fn refuse(auth: &Option<AuthConfig>, path: &str) -> Option<ConfigError> {
    auth.as_ref().map(|a| a.refuse(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_extension() {
        let a: AuthConfig = serde_yaml::from_str("authenticator: sigv4auth").expect("parses");
        let e = refuse(&Some(a), "exporters.otlphttp.auth").expect("refused");
        assert_eq!(e.path, "exporters.otlphttp.auth");
        assert!(e.message.contains("extension `sigv4auth`"), "{e}");
        assert!(refuse(&None, "x").is_none());
    }
}
