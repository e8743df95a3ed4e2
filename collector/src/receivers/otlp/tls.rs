//! Server TLS for the `otlp` receiver (otelcol's `configtls.ServerConfig`): a certificate
//! and key (files or inline PEM), optionally a client CA that turns on mutual TLS, and the
//! lowest and highest protocol versions. Handshakes run in their own tasks, so a client
//! that never finishes its handshake holds up no one else.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Ignored, ignored};
use crate::tls::{self, Pem};

/// `tls` of `protocols.grpc` or `protocols.http`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// Server certificate chain (PEM file). This or `cert_pem` is required.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Server certificate chain, inline PEM.
    #[serde(default)]
    pub cert_pem: Option<String>,
    /// Server private key (PEM file). This or `key_pem` is required.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Server private key, inline PEM.
    #[serde(default)]
    pub key_pem: Option<String>,
    /// CA (PEM file) client certificates must chain to; setting it requires one (mTLS).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Lowest TLS version accepted: `1.2` (default) or `1.3`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Highest TLS version accepted: `1.2` or `1.3` (default).
    #[serde(default)]
    pub max_version: Option<String>,
    /// A CA for verifying peers, meaningful for clients only; on a server otelcol reads
    /// it and does nothing with it either.
    #[serde(default)]
    pub ca_file: Ignored,
    #[serde(default)]
    pub ca_pem: Ignored,
    #[serde(default)]
    pub include_system_ca_certs_pool: Ignored,
    #[serde(default)]
    pub cipher_suites: Ignored,
    #[serde(default)]
    pub curve_preferences: Ignored,
    #[serde(default)]
    pub reload_interval: Ignored,
    #[serde(default)]
    pub client_ca_file_reload: Ignored,
}

impl ServerTlsConfig {
    /// Problems with the values, at paths under `path`.
    pub fn validate(&self, path: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let at = |k: &str| ignored::join(path, k);
        for (pem, what) in [
            (
                self.cert(),
                "a server certificate is required (cert_file or cert_pem)",
            ),
            (
                self.key(),
                "a private key is required (key_file or key_pem)",
            ),
        ] {
            if !pem.is_set() {
                errors.push(ConfigError::new(at(&format!("{}_file", pem.name)), what));
            }
            errors.extend(pem.check(path));
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
                    "ca_file",
                    &self.ca_file,
                    "a server verifies clients with client_ca_file",
                ),
                (
                    "ca_pem",
                    &self.ca_pem,
                    "a server verifies clients with client_ca_file",
                ),
                (
                    "include_system_ca_certs_pool",
                    &self.include_system_ca_certs_pool,
                    "a server verifies clients with client_ca_file only",
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
                (
                    "client_ca_file_reload",
                    &self.client_ca_file_reload,
                    "the client CA is read once, at start",
                ),
            ],
        )
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
        tls::versions(self.min_version.as_deref(), self.max_version.as_deref())
    }

    fn cert(&self) -> Pem<'_> {
        Pem::new("cert", &self.cert_file, &self.cert_pem)
    }

    fn key(&self) -> Pem<'_> {
        Pem::new("key", &self.key_file, &self.key_pem)
    }

    /// Reads the certificates and key and builds the acceptor; `alpn` lists the
    /// application protocols offered (`h2` for gRPC).
    pub fn acceptor(&self, alpn: &[&[u8]]) -> Result<TlsAcceptor, String> {
        let certs = self.cert().certificates()?;
        if certs.is_empty() {
            return Err("the server certificate PEM holds no certificate".to_string());
        }
        let key = self.key().private_key()?.ok_or("no private key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(f) => {
                let none = None;
                let ca = Pem {
                    name: "client_ca",
                    file: &self.client_ca_file,
                    pem: &none,
                };
                let mut roots = RootCertStore::empty();
                for c in ca.certificates()? {
                    roots
                        .add(c)
                        .map_err(|e| format!("client_ca_file {}: {e}", f.display()))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("client_ca_file {}: {e}", f.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("the certificate and key do not form a usable pair: {e}"))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting to be served.
const READY_CAPACITY: usize = 64;

/// Accepts TCP connections on `listener` until `stop`, runs each TLS handshake in its own
/// task, and yields the connections whose handshake succeeded. A failed handshake is
/// logged at debug level (a port scan is not an error of ours).
pub fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) -> mpsc::Receiver<TlsStream<TcpStream>> {
    let (tx, rx) = mpsc::channel(READY_CAPACITY);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                () = stop.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "Cannot accept a TLS connection.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "Cannot set TCP_NODELAY on a TLS connection.");
            }
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        // The server is gone: nothing left to hand the connection to.
                        let _ = tx.send(tls).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed.")
                    }
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out."),
                }
            });
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> ServerTlsConfig {
        serde_yaml::from_str(yaml).expect("parses")
    }

    #[test]
    fn a_certificate_and_key_are_required_once_each() {
        let e = parse("min_version: \"1.2\"").validate("tls");
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["tls.cert_file", "tls.key_file"]);
        let e = parse("cert_file: a\ncert_pem: b\nkey_file: c").validate("tls");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "tls.cert_pem");
    }

    #[test]
    fn versions_are_checked_and_ordered() {
        let e = parse("cert_file: a\nkey_file: b\nmin_version: \"1.1\"").validate("tls");
        assert!(e[0].message.contains("not supported"), "{e:?}");
        let e = parse("cert_file: a\nkey_file: b\nmin_version: \"1.3\"\nmax_version: \"1.2\"")
            .validate("tls");
        assert!(e[0].message.contains("no TLS version is left"), "{e:?}");
        let only13 = parse("min_version: \"1.3\"").versions().expect("valid");
        assert_eq!(only13.len(), 1);
        assert_eq!(parse("").versions().expect("valid").len(), 2);
    }

    #[test]
    fn a_missing_certificate_file_is_named() {
        let e = parse("cert_file: /nonexistent/c.pem\nkey_file: /nonexistent/k.pem")
            .acceptor(&[])
            .err()
            .expect("no such file");
        assert!(e.contains("cert_file /nonexistent/c.pem"), "{e}");
    }

    #[test]
    fn unused_keys_warn() {
        let w = parse("cert_file: a\nkey_file: b\ncipher_suites: [X]\nreload_interval: 1h")
            .warnings("tls");
        let paths: Vec<&str> = w.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["tls.cipher_suites", "tls.reload_interval"]);
    }
}
