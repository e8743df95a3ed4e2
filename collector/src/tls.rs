//! What server TLS (the `otlp` receiver) and client TLS (the exporters) read the same
//! way: certificates and keys from a file or inline PEM (`X_file` / `X_pem`, one of
//! them), and the protocol versions from `min_version`/`max_version` as otelcol writes
//! them.

use std::path::PathBuf;

use rustls::SupportedProtocolVersion;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, ignored};

/// A PEM source: `NAME_file` or `NAME_pem`.
#[derive(Debug, Clone, Copy)]
pub struct Pem<'a> {
    /// `cert`, `key`, `ca`, `client_ca`: the keys are `{name}_file` and `{name}_pem`.
    pub name: &'a str,
    pub file: &'a Option<PathBuf>,
    pub pem: &'a Option<String>,
}

impl<'a> Pem<'a> {
    /// The source named `name` read from its `{name}_file` and `{name}_pem` keys.
    pub fn new(name: &'a str, file: &'a Option<PathBuf>, pem: &'a Option<String>) -> Self {
        Pem { name, file, pem }
    }

    /// Whether either key is set.
    pub fn is_set(&self) -> bool {
        self.file.is_some() || self.pem.is_some()
    }

    /// The error for both keys set, at `path`.
    pub fn check(&self, path: &str) -> Option<ConfigError> {
        (self.file.is_some() && self.pem.is_some()).then(|| {
            ConfigError::new(
                ignored::join(path, &format!("{}_pem", self.name)),
                format!("set either {0}_file or {0}_pem, not both", self.name),
            )
        })
    }

    /// The PEM text, `None` when neither key is set; errors name the key and file.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(p) = self.pem {
            return Ok(Some(p.clone().into_bytes()));
        }
        self.file
            .as_ref()
            .map(|p| {
                std::fs::read(p).map_err(|e| format!("{}_file {}: {e}", self.name, p.display()))
            })
            .transpose()
    }

    /// Every certificate in the PEM (none when neither key is set).
    pub fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let Some(bytes) = self.bytes()? else {
            return Ok(Vec::new());
        };
        CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", self.origin()))
    }

    /// The private key in the PEM.
    pub fn private_key(&self) -> Result<Option<PrivateKeyDer<'static>>, String> {
        let Some(bytes) = self.bytes()? else {
            return Ok(None);
        };
        PrivateKeyDer::from_pem_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", self.origin()))
    }

    fn origin(&self) -> String {
        match (self.pem, self.file) {
            (Some(_), _) => format!("{}_pem", self.name),
            (None, Some(f)) => format!("{}_file {}", self.name, f.display()),
            (None, None) => format!("{}_file", self.name),
        }
    }
}

/// A TLS version as otelcol writes it: `1.2` or `1.3` (`1.0` and `1.1` are refused).
pub fn version(v: &str) -> Result<&'static SupportedProtocolVersion, String> {
    match v {
        "1.2" => Ok(&rustls::version::TLS12),
        "1.3" => Ok(&rustls::version::TLS13),
        "1.0" | "1.1" => Err(format!(
            "TLS {v} is not supported (it is insecure): use 1.2 or 1.3"
        )),
        other => Err(format!(
            "unknown TLS version {other:?}, expected 1.2 or 1.3"
        )),
    }
}

/// The versions between `min` and `max` (each optional).
pub fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = min.map(version).transpose()?;
    let max = max.map(version).transpose()?;
    let rank = |v: &SupportedProtocolVersion| u16::from(v.version);
    Ok([&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| min.is_none_or(|m| rank(v) >= rank(m)))
        .filter(|v| max.is_none_or(|m| rank(v) <= rank(m)))
        .collect())
}

/// The errors of `min_version`/`max_version` at `path`.
pub fn check_versions(min: Option<&str>, max: Option<&str>, path: &str) -> Vec<ConfigError> {
    let at = |k: &str| ignored::join(path, k);
    let mut errors = Vec::new();
    for (key, v) in [("min_version", min), ("max_version", max)] {
        if let Some(Err(e)) = v.map(version) {
            errors.push(ConfigError::new(at(key), e));
        }
    }
    if errors.is_empty() && versions(min, max).is_ok_and(|v| v.is_empty()) {
        errors.push(ConfigError::new(
            at("min_version"),
            "is above max_version: no TLS version is left",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_their_errors() {
        assert_eq!(versions(None, None).expect("all").len(), 2);
        assert_eq!(
            versions(Some("1.3"), None).expect("1.3"),
            [&rustls::version::TLS13]
        );
        assert!(
            check_versions(Some("1.3"), Some("1.2"), "tls")[0]
                .message
                .contains("no TLS version")
        );
        let e = check_versions(Some("1.0"), None, "tls");
        assert_eq!(e[0].path, "tls.min_version");
        assert!(e[0].message.contains("insecure"));
    }

    #[test]
    fn pem_sources_name_their_key() {
        let file = Some(PathBuf::from("/nonexistent/ca.pem"));
        let none = None;
        let p = Pem {
            name: "ca",
            file: &file,
            pem: &none,
        };
        assert!(
            p.bytes()
                .expect_err("missing")
                .starts_with("ca_file /nonexistent/ca.pem")
        );
        let inline = Some("not pem".to_owned());
        let p = Pem {
            name: "cert",
            file: &file,
            pem: &inline,
        };
        assert_eq!(p.check("tls").expect("both").path, "tls.cert_pem");
        assert!(p.certificates().expect("no blocks").is_empty());
        let p = Pem {
            name: "key",
            file: &None,
            pem: &inline,
        };
        assert!(p.private_key().expect_err("no key").starts_with("key_pem"));
    }
}
