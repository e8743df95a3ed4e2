//! gRPC server keepalive (`protocols.grpc.keepalive`, otelcol's
//! `configgrpc.KeepaliveServerConfig`): pings on idle connections and a bound on a
//! connection's age, mapped onto the HTTP/2 server's settings.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Ignored, ignored};

/// `keepalive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveConfig {
    #[serde(default)]
    pub server_parameters: ServerParameters,
    /// What clients' pings may do. The HTTP/2 server answers every ping; this
    /// policy is not enforced.
    #[serde(default)]
    pub enforcement_policy: Ignored,
}

/// `keepalive.server_parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerParameters {
    /// Ping a connection idle this long. Default `30s` (tracemend's; otelcol's is 2h).
    #[serde(default, with = "humantime_serde")]
    pub time: Option<Duration>,
    /// Close a connection whose ping is not answered within this. Default `20s`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Close a connection after this long (clients reconnect, spreading load). Default:
    /// no limit.
    #[serde(default, with = "humantime_serde")]
    pub max_connection_age: Option<Duration>,
    /// How long requests in flight may finish after `max_connection_age`.
    #[serde(default, with = "humantime_serde")]
    pub max_connection_age_grace: Option<Duration>,
    /// Closing idle connections: not offered by the HTTP/2 server.
    #[serde(default)]
    pub max_connection_idle: Ignored,
}

/// tracemend's ping interval when `time` is not set.
pub const DEFAULT_TIME: Duration = Duration::from_secs(30);

impl KeepaliveConfig {
    /// Problems with the values, at paths under `path`.
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let p = &self.server_parameters;
        let mut errors = Vec::new();
        for (key, d) in [("time", p.time), ("timeout", p.timeout)] {
            if d.is_some_and(|d| d.is_zero()) {
                errors.push(ConfigError::new(
                    format!("{path}.server_parameters.{key}"),
                    "must be greater than 0",
                ));
            }
        }
        errors
    }

    /// Keys accepted without effect, at paths under `path`.
    pub fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let mut w = ignored::warnings(
            path,
            &[(
                "enforcement_policy",
                &self.enforcement_policy,
                "the gRPC server answers every client ping; no policy is enforced",
            )],
        );
        w.extend(ignored::warnings(
            &format!("{path}.server_parameters"),
            &[(
                "max_connection_idle",
                &self.server_parameters.max_connection_idle,
                "idle connections are kept open (pinged every `time`)",
            )],
        ));
        w
    }
}
