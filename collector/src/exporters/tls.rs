//! Client TLS settings shared by the `otlp` and `otlphttp` exporters (otelcol's `tls:`).

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::ConfigError;

/// `tls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientConfig {
    /// Plain-text connection (no TLS). Default false, as in otelcol.
    #[serde(default)]
    pub insecure: bool,
    /// CA certificate (PEM) to verify the server; default: the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Server name to verify instead of the endpoint's host.
    #[serde(default)]
    pub server_name_override: Option<String>,
}

impl TlsClientConfig {
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.cert_file.is_some() != self.key_file.is_some() {
            errors.push(ConfigError::new(
                path,
                "cert_file and key_file must be set together",
            ));
        }
        if self.insecure && (self.ca_file.is_some() || self.cert_file.is_some()) {
            errors.push(ConfigError::new(format!("{path}.insecure"), "insecure: true turns TLS off; remove the certificate settings or set insecure: false"));
        }
        errors
    }

    pub fn read(p: &Option<PathBuf>) -> std::io::Result<Option<Vec<u8>>> {
        p.as_ref()
            .map(|p| {
                std::fs::read(p)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
            })
            .transpose()
    }
}
