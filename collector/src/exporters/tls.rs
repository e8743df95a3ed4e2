//! Client TLS settings shared by the `otlp` and `otlphttp` exporters (otelcol's
//! `configtls.ClientConfig`, the `tls:` block).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;

use crate::config::{ConfigError, Ignored, ignored};
use crate::tls::{self, Pem};

/// `tls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientConfig {
    /// Plain-text connection (no TLS). Default false, as in otelcol.
    #[serde(default)]
    pub insecure: bool,
    /// Do not verify the server's certificate (TLS still encrypts). Default false.
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
    /// Lowest TLS version: `1.2` or `1.3`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version: `1.2` or `1.3`.
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

impl TlsClientConfig {
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let at = |k: &str| ignored::join(path, k);
        let has_cert = self.cert().is_set();
        if has_cert != self.key().is_set() {
            errors.push(ConfigError::new(
                path,
                "a client certificate and key must be set together (cert_file/cert_pem and key_file/key_pem)",
            ));
        }
        for pem in [self.ca_source(), self.cert(), self.key()] {
            errors.extend(pem.check(path));
        }
        if self.insecure && (self.ca_source().is_set() || has_cert) {
            errors.push(ConfigError::new(at("insecure"), "insecure: true turns TLS off; remove the certificate settings or set insecure: false"));
        }
        errors.extend(tls::check_versions(
            self.min_version.as_deref(),
            self.max_version.as_deref(),
            path,
        ));
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
        if let Some(ca) = self.ca()? {
            let cert =
                reqwest::Certificate::from_pem(&ca).map_err(|e| format!("tls.ca_file: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some((mut cert, key)) = self.identity()? {
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

    fn ca_source(&self) -> Pem<'_> {
        Pem::new("ca", &self.ca_file, &self.ca_pem)
    }

    fn cert(&self) -> Pem<'_> {
        Pem::new("cert", &self.cert_file, &self.cert_pem)
    }

    fn key(&self) -> Pem<'_> {
        Pem::new("key", &self.key_file, &self.key_pem)
    }

    /// The CA certificate PEM, from `ca_file` or `ca_pem`.
    pub fn ca(&self) -> Result<Option<Vec<u8>>, String> {
        self.ca_source().bytes().map_err(|e| format!("tls.{e}"))
    }

    /// The client certificate and key PEM, when both are set.
    pub fn identity(&self) -> Result<Option<Identity>, String> {
        let cert = self.cert().bytes().map_err(|e| format!("tls.{e}"))?;
        let key = self.key().bytes().map_err(|e| format!("tls.{e}"))?;
        Ok(cert.zip(key))
    }

    /// The rustls client config of the block (the gRPC exporter's TLS): the system
    /// roots plus the CA, the client identity, the version bounds, `alpn`, and no
    /// certificate check under `insecure_skip_verify`.
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&tls::versions(
                self.min_version.as_deref(),
                self.max_version.as_deref(),
            )?)
            .map_err(|e| format!("tls versions: {e}"))?;
        let mut roots = RootCertStore::empty();
        // A system root that cannot be read is skipped, as Go's loader does.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        for c in self
            .ca_source()
            .certificates()
            .map_err(|e| format!("tls.{e}"))?
        {
            roots.add(c).map_err(|e| format!("tls.ca_file: {e}"))?;
        }
        let builder = builder.with_root_certificates(roots);
        let mut config = match (
            self.cert().certificates().map_err(|e| format!("tls.{e}"))?,
            self.key().private_key().map_err(|e| format!("tls.{e}"))?,
        ) {
            (certs, Some(key)) if !certs.is_empty() => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("tls client identity: {e}"))?,
            _ => builder.with_no_client_auth(),
        };
        if self.insecure_skip_verify {
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(SkipVerify(provider)));
        }
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// A client certificate chain and its key, PEM.
pub type Identity = (Vec<u8>, Vec<u8>);

/// `insecure_skip_verify`: any server certificate is accepted; the handshake's
/// signatures are still checked, so the connection is encrypted to whoever holds the
/// certificate's key.
#[derive(Debug)]
struct SkipVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
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
