//! The `otlphttp` exporter: OTLP over HTTP, protobuf (default) or JSON bodies.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use async_trait::async_trait;
use pdata::{Batch, Signal};
use serde::Deserialize;

use super::queue::QueueConfig;
use super::retry::RetryConfig;
use super::tls::TlsClientConfig;
use super::{SendError, Sender};
use crate::config::{ComponentConfig, ConfigError};

/// `exporters.otlphttp`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpExporterConfig {
    /// Base URL; `/v1/traces`, `/v1/logs`, `/v1/metrics` are appended.
    #[serde(default)]
    pub endpoint: String,
    /// Full URL for traces, overriding `endpoint`.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    /// Full URL for logs, overriding `endpoint`.
    #[serde(default)]
    pub logs_endpoint: Option<String>,
    /// Full URL for metrics, overriding `endpoint`.
    #[serde(default)]
    pub metrics_endpoint: Option<String>,
    /// `proto` (default) or `json`.
    #[serde(default)]
    pub encoding: HttpEncoding,
    /// `gzip` (default), `zstd` or `none`.
    #[serde(default)]
    pub compression: super::otlp::Compression,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-request timeout. Default `30s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default)]
    pub tls: TlsClientConfig,
    #[serde(default)]
    pub sending_queue: QueueConfig,
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HttpEncoding {
    #[default]
    Proto,
    Json,
}

impl ComponentConfig for OtlpHttpExporterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let any_specific = self.traces_endpoint.is_some()
            || self.logs_endpoint.is_some()
            || self.metrics_endpoint.is_some();
        if self.endpoint.is_empty() && !any_specific {
            errors.push(ConfigError::new(
                "endpoint",
                "is required, e.g. `http://backend:4318`",
            ));
        }
        for (key, url) in [
            ("endpoint", Some(&self.endpoint).filter(|e| !e.is_empty())),
            ("traces_endpoint", self.traces_endpoint.as_ref()),
            ("logs_endpoint", self.logs_endpoint.as_ref()),
            ("metrics_endpoint", self.metrics_endpoint.as_ref()),
        ] {
            if let Some(u) = url
                && reqwest::Url::parse(u)
                    .map(|p| !matches!(p.scheme(), "http" | "https"))
                    .unwrap_or(true)
            {
                errors.push(ConfigError::new(
                    key,
                    format!("{u:?} is not an http:// or https:// URL"),
                ));
            }
        }
        errors.extend(self.tls.validate("tls"));
        errors.extend(self.sending_queue.validate("sending_queue"));
        errors.extend(self.retry_on_failure.validate("retry_on_failure"));
        errors
    }
}

pub struct OtlpHttpSender {
    client: reqwest::Client,
    url: String,
    cfg: OtlpHttpExporterConfig,
    signal: Signal,
}

impl OtlpHttpSender {
    pub fn new(cfg: &OtlpHttpExporterConfig, signal: Signal) -> Result<OtlpHttpSender, String> {
        let specific = match signal {
            Signal::Traces => &cfg.traces_endpoint,
            Signal::Logs => &cfg.logs_endpoint,
            Signal::Metrics => &cfg.metrics_endpoint,
        };
        let url = match specific {
            Some(u) => u.clone(),
            None => format!(
                "{}/v1/{}",
                cfg.endpoint.trim_end_matches('/'),
                signal.as_str()
            ),
        };
        let mut builder = reqwest::Client::builder().timeout(cfg.timeout);
        let io = |e: std::io::Error| e.to_string();
        if let Some(ca) = TlsClientConfig::read(&cfg.tls.ca_file).map_err(io)? {
            let cert =
                reqwest::Certificate::from_pem(&ca).map_err(|e| format!("tls.ca_file: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        if let (Some(mut cert), Some(key)) = (
            TlsClientConfig::read(&cfg.tls.cert_file).map_err(io)?,
            TlsClientConfig::read(&cfg.tls.key_file).map_err(io)?,
        ) {
            cert.extend_from_slice(&key);
            let id = reqwest::Identity::from_pem(&cert)
                .map_err(|e| format!("tls client identity: {e}"))?;
            builder = builder.identity(id);
        }
        let client = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(OtlpHttpSender {
            client,
            url,
            cfg: cfg.clone(),
            signal,
        })
    }
}

#[async_trait]
impl Sender for OtlpHttpSender {
    async fn send(&self, batch: &Batch) -> Result<usize, SendError> {
        let (content_type, body) = match self.cfg.encoding {
            HttpEncoding::Proto => ("application/x-protobuf", batch.to_protobuf().to_vec()),
            HttpEncoding::Json => ("application/json", batch.clone().to_json().into_bytes()),
        };
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", content_type);
        let body = match self.cfg.compression {
            super::otlp::Compression::Gzip => {
                req = req.header("content-encoding", "gzip");
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&body)
                    .and_then(|()| enc.finish())
                    .map_err(|e| SendError::Permanent(format!("gzip: {e}")))?
            }
            super::otlp::Compression::Zstd => {
                req = req.header("content-encoding", "zstd");
                zstd::encode_all(&body[..], 1)
                    .map_err(|e| SendError::Permanent(format!("zstd: {e}")))?
            }
            super::otlp::Compression::None => body,
        };
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Retryable {
                message: format!("POST {}: {e}", self.url),
                after: None,
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let is_json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            if is_json {
                return Ok(rejected_from_json(&bytes));
            }
            return Ok(super::otlp::rejected_items(self.signal, bytes));
        }
        let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
        let message = format!("POST {} returned {status}: {detail}", self.url);
        // The OTLP/HTTP spec's retryable statuses.
        match status.as_u16() {
            429 | 502 | 503 | 504 => Err(SendError::Retryable {
                message,
                after: retry_after,
            }),
            _ => Err(SendError::Permanent(message)),
        }
    }
}

fn rejected_from_json(bytes: &[u8]) -> usize {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let p = &v["partialSuccess"];
    ["rejectedSpans", "rejectedLogRecords", "rejectedDataPoints"]
        .iter()
        .find_map(|k| {
            p[*k]
                .as_i64()
                .or_else(|| p[*k].as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}
