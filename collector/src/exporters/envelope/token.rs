//! The engine's bearer token: from an environment variable (read once at start)
//! or a file (read on every send, so a rotated token is picked up without a
//! restart). Never from the YAML.

use std::path::PathBuf;

/// The default variable when neither `token_env` nor `token_file` is set.
pub const DEFAULT_TOKEN_ENV: &str = "TRACEMEND_ENGINE_TOKEN";

/// Where the token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The value of a variable, read at start.
    Env { name: String, value: String },
    /// A file's content, trimmed, read per request.
    File(PathBuf),
}

/// Why there is no token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "environment variable {0} is not set or empty: set it to the repair engine's bearer token"
    )]
    EnvMissing(String),
    #[error("token_file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token_file {0} is empty")]
    FileEmpty(String),
}

impl TokenSource {
    /// Resolves the configured source, checking now that a token is there.
    pub fn resolve(env: Option<&str>, file: Option<&PathBuf>) -> Result<Self, TokenError> {
        let source = match (env, file) {
            (_, Some(path)) => TokenSource::File(path.clone()),
            (name, None) => {
                let name = name.unwrap_or(DEFAULT_TOKEN_ENV).to_owned();
                let value = std::env::var(&name)
                    .ok()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| TokenError::EnvMissing(name.clone()))?;
                TokenSource::Env { name, value }
            }
        };
        source.token()?;
        Ok(source)
    }

    /// The token now.
    pub fn token(&self) -> Result<String, TokenError> {
        match self {
            TokenSource::Env { value, .. } => Ok(value.clone()),
            TokenSource::File(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
                    path: shown.clone(),
                    source,
                })?;
                let t = text.trim();
                if t.is_empty() {
                    return Err(TokenError::FileEmpty(shown));
                }
                Ok(t.to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_token_is_trimmed_and_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").expect("write");
        let src = TokenSource::resolve(None, Some(&path)).expect("resolves");
        assert_eq!(src.token().expect("token"), "first");
        std::fs::write(&path, "second").expect("write");
        assert_eq!(src.token().expect("token"), "second");
        std::fs::write(&path, "  \n").expect("write");
        assert!(matches!(src.token(), Err(TokenError::FileEmpty(_))));
        let missing = dir.path().join("nope");
        let e = TokenSource::resolve(None, Some(&missing)).expect_err("missing");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let e = TokenSource::resolve(Some("TRACEMEND_TEST_NO_SUCH_TOKEN_VAR"), None)
            .expect_err("unset");
        assert!(
            e.to_string().contains("TRACEMEND_TEST_NO_SUCH_TOKEN_VAR"),
            "{e}"
        );
    }
}
