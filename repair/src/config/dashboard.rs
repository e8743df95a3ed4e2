//! Settings of the dashboard (`/ui/`): an optional read-only login token, the session
//! lifetime and when the session cookie is marked `Secure`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// The dashboard served under `/ui/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Serve the dashboard. Default true.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Environment variable holding a second token that logs into the dashboard only
    /// (never accepted by the JSON API).
    #[serde(default)]
    pub read_token_env: Option<String>,
    /// File holding that token.
    #[serde(default)]
    pub read_token_file: Option<PathBuf>,
    /// How long a login lasts (server-side expiry). Default `12h`.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// When the session cookie carries `Secure`. Default `auto`.
    #[serde(default)]
    pub secure_cookie: SecureCookie,
}

/// When the session cookie is marked `Secure`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SecureCookie {
    /// When the login request arrived over HTTPS: the engine serves plain HTTP, so
    /// this is a TLS-terminating proxy's `X-Forwarded-Proto: https`.
    #[default]
    Auto,
    /// Always (the engine is only reached through HTTPS).
    Always,
    /// Never.
    Never,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            read_token_env: None,
            read_token_file: None,
            session_ttl: default_session_ttl(),
            secure_cookie: SecureCookie::default(),
        }
    }
}

fn default_enabled() -> bool {
    true
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

impl DashboardConfig {
    /// Appends every problem, each with its YAML path.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.read_token_env.is_some() && self.read_token_file.is_some() {
            errors.push("dashboard: set only one of read_token_env, read_token_file".to_string());
        }
        if self.read_token_env.as_deref().is_some_and(str::is_empty) {
            errors.push("dashboard.read_token_env: must not be empty".to_string());
        }
        if self.session_ttl < Duration::from_secs(60)
            || self.session_ttl > Duration::from_secs(30 * 24 * 3600)
        {
            errors.push("dashboard.session_ttl: must be between 1m and 30d".to_string());
        }
    }

    /// The read-only token, when one is configured.
    pub fn read_token(&self) -> Result<Option<String>, ConfigError> {
        let token = if let Some(var) = &self.read_token_env {
            std::env::var(var).map_err(|_| {
                ConfigError::Token(format!(
                    "dashboard.read_token_env: environment variable {var} is not set"
                ))
            })?
        } else if let Some(file) = &self.read_token_file {
            std::fs::read_to_string(file).map_err(|e| {
                ConfigError::Token(format!(
                    "dashboard.read_token_file: {}: {e}",
                    file.display()
                ))
            })?
        } else {
            return Ok(None);
        };
        let token = token.trim().to_string();
        if token.len() < 16 {
            return Err(ConfigError::Token(
                "the dashboard's read-only token must be at least 16 characters".to_string(),
            ));
        }
        Ok(Some(token))
    }
}
