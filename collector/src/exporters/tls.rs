//! Client TLS settings shared by the `otlp` and `otlphttp` exporters (otelcol's
//! `configtls.ClientConfig`, the `tls:` block).

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{ConfigError, Ignored, ignored};

/// `tls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientConfig {
    /// Plain-text connection (no TLS). Default false, as in otelcol.
    #[serde(default)]
    pub insecure: bool,
    /// Do not verify the server's certificate (TLS still encrypts). Default false.
    /// `otlphttp` only; `otlp` refuses it.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// CA certificate (PEM file) to verify the server, trusted besides the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `ca_file` as inline PEM.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Client certificate (PEM file) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// `cert_file` as inline PEM.
    #[serde(default)]
    pub cert_pem: Option<String>,
    /// Client key (PEM file) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `key_file` as inline PEM.
    #[serde(default)]
    pub key_pem: Option<String>,
    /// Server name to verify instead of the endpoint's host.
    #[serde(default)]
    pub server_name_override: Option<String>,
    /// Lowest TLS version: `1.2` or `1.3`. `otlphttp` only; `otlp` refuses it.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version: `1.2` or `1.3`. `otlphttp` only; `otlp` refuses it.
    #[serde(default)]
    pub max_version: Option<String>,
    /// The system roots are always trusted (with `ca_file` added).
    #[serde(default)]
    pub include_system_ca_certs_pool: Ignored,
    #[serde(default)]
    pub cipher_suites: Ignored,
    #[serde(default)]
    pub curve_preferences: Ignored,
    #[serde(default)]
    pub reload_interval: Ignored,
}

/// A TLS version as otelcol writes it: `1.2` or `1.3` (`1.0` and `1.1` are refused).
pub fn check_version(v: &str) -> Result<(), String> {
    match v {
        "1.2" | "1.3" => Ok(()),
        "1.0" | "1.1" => Err(format!(
            "TLS {v} is not supported (it is insecure): use 1.2 or 1.3"
        )),
        other => Err(format!(
            "unknown TLS version {other:?}, expected 1.2 or 1.3"
        )),
    }
}

/// A file's bytes, or inline PEM's, with the key named in the error.
fn read_either(
    file: &Option<PathBuf>,
    pem: &Option<String>,
    key: &str,
) -> std::io::Result<Option<Vec<u8>>> {
    if let Some(p) = pem {
        return Ok(Some(p.clone().into_bytes()));
    }
    file.as_ref()
        .map(|p| {
            std::fs::read(p).map_err(|e| {
                std::io::Error::new(e.kind(), format!("tls.{key} {}: {e}", p.display()))
            })
        })
        .transpose()
}

impl TlsClientConfig {
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let at = |k: &str| ignored::join(path, k);
        let has_cert = self.cert_file.is_some() || self.cert_pem.is_some();
        let has_key = self.key_file.is_some() || self.key_pem.is_some();
        if has_cert != has_key {
            errors.push(ConfigError::new(
                path,
                "a client certificate and key must be set together (cert_file/cert_pem and key_file/key_pem)",
            ));
        }
        for (file, pem, name) in [
            (&self.ca_file, &self.ca_pem, "ca"),
            (&self.cert_file, &self.cert_pem, "cert"),
            (&self.key_file, &self.key_pem, "key"),
        ] {
            if file.is_some() && pem.is_some() {
                errors.push(ConfigError::new(
                    at(&format!("{name}_pem")),
                    format!("set either {name}_file or {name}_pem, not both"),
                ));
            }
        }
        let has_ca = self.ca_file.is_some() || self.ca_pem.is_some();
        if self.insecure && (has_ca || has_cert) {
            errors.push(ConfigError::new(at("insecure"), "insecure: true turns TLS off; remove the certificate settings or set insecure: false"));
        }
        for (key, v) in [
            ("min_version", &self.min_version),
            ("max_version", &self.max_version),
        ] {
            if let Some(v) = v
                && let Err(e) = check_version(v)
            {
                errors.push(ConfigError::new(at(key), e));
            }
        }
        if self.min_version.as_deref() == Some("1.3") && self.max_version.as_deref() == Some("1.2")
        {
            errors.push(ConfigError::new(
                at("min_version"),
                "is above max_version: no TLS version is left",
            ));
        }
        errors
    }

    /// Keys accepted without effect, at paths under `path`.
    pub fn warnings(&self, path: &str) -> Vec<ConfigError> {
        ignored::warnings(
            path,
            &[
                (
                    "include_system_ca_certs_pool",
                    &self.include_system_ca_certs_pool,
                    "the system roots are always trusted, with ca_file added",
                ),
                (
                    "cipher_suites",
                    &self.cipher_suites,
                    "rustls's safe default cipher suites are used",
                ),
                (
                    "curve_preferences",
                    &self.curve_preferences,
                    "rustls's default key exchange groups are used",
                ),
                (
                    "reload_interval",
                    &self.reload_interval,
                    "certificates are read once, at start",
                ),
            ],
        )
    }

    /// Applies the block to an HTTP client: the CA, the client identity,
    /// `insecure_skip_verify` and the version bounds (`otlphttp` and `envelope`).
    pub fn apply_to(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, String> {
        let io = |e: std::io::Error| e.to_string();
        if let Some(ca) = self.ca().map_err(io)? {
            let cert =
                reqwest::Certificate::from_pem(&ca).map_err(|e| format!("tls.ca_file: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some((mut cert, key)) = self.identity().map_err(io)? {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            let id = reqwest::Identity::from_pem(&cert)
                .map_err(|e| format!("tls client identity: {e}"))?;
            builder = builder.identity(id);
        }
        if self.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let version = |v: &str| match v {
            "1.3" => reqwest::tls::Version::TLS_1_3,
            _ => reqwest::tls::Version::TLS_1_2,
        };
        if let Some(v) = &self.min_version {
            builder = builder.min_tls_version(version(v));
        }
        if let Some(v) = &self.max_version {
            builder = builder.max_tls_version(version(v));
        }
        Ok(builder)
    }

    /// The CA certificate PEM, from `ca_file` or `ca_pem`.
    pub fn ca(&self) -> std::io::Result<Option<Vec<u8>>> {
        read_either(&self.ca_file, &self.ca_pem, "ca_file")
    }

    /// The client certificate and key PEM, when both are set.
    pub fn identity(&self) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let cert = read_either(&self.cert_file, &self.cert_pem, "cert_file")?;
        let key = read_either(&self.key_file, &self.key_pem, "key_file")?;
        Ok(cert.zip(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> TlsClientConfig {
        serde_yaml::from_str(yaml).expect("parses")
    }

    #[test]
    fn the_otelcol_client_tls_keys_load() {
        let t = parse(
            "insecure_skip_verify: true\nmin_version: \"1.2\"\nmax_version: \"1.3\"\nca_pem: x\ninclude_system_ca_certs_pool: true\ncipher_suites: [TLS_AES_128_GCM_SHA256]\nreload_interval: 1h\n",
        );
        assert!(t.validate("tls").is_empty(), "{:?}", t.validate("tls"));
        let w: Vec<String> = t.warnings("tls").into_iter().map(|w| w.path).collect();
        assert_eq!(
            w,
            [
                "tls.include_system_ca_certs_pool",
                "tls.cipher_suites",
                "tls.reload_interval"
            ]
        );
        assert_eq!(t.ca().expect("inline").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn conflicts_and_bad_versions_are_errors() {
        let e = parse("cert_pem: a").validate("tls");
        assert!(e[0].message.contains("set together"), "{e:?}");
        let e = parse("ca_file: a\nca_pem: b").validate("tls");
        assert_eq!(e[0].path, "tls.ca_pem");
        let e = parse("min_version: \"1.0\"").validate("tls");
        assert_eq!(e[0].path, "tls.min_version");
        let e = parse("min_version: \"1.3\"\nmax_version: \"1.2\"").validate("tls");
        assert!(e[0].message.contains("no TLS version"), "{e:?}");
    }
}
