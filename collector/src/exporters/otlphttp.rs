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
use crate::config::auth::{self, AuthConfig};
use crate::config::{ComponentConfig, ConfigError, Ignored, ignored};

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
    /// Headers sent with every request (numbers are taken as text).
    #[serde(default, deserialize_with = "crate::config::lenient::string_map")]
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
    /// HTTP(S) proxy every request goes through, e.g. `http://proxy:3128`.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Idle connections kept per host. Default: the HTTP client's.
    #[serde(default)]
    pub max_idle_conns_per_host: Option<usize>,
    /// Close a pooled connection idle this long. Default `90s`.
    #[serde(default, with = "humantime_serde")]
    pub idle_conn_timeout: Option<Duration>,
    /// Refused: needs an authenticator extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Profiles are not handled (no profiles pipelines).
    #[serde(default)]
    pub profiles_endpoint: Ignored,
    #[serde(default)]
    pub compression_params: Ignored,
    #[serde(default)]
    pub read_buffer_size: Ignored,
    #[serde(default)]
    pub write_buffer_size: Ignored,
    #[serde(default)]
    pub max_idle_conns: Ignored,
    #[serde(default)]
    pub max_conns_per_host: Ignored,
    #[serde(default)]
    pub disable_keep_alives: Ignored,
    #[serde(default)]
    pub http2_read_idle_timeout: Ignored,
    #[serde(default)]
    pub http2_ping_timeout: Ignored,
    #[serde(default)]
    pub force_attempt_http2: Ignored,
    #[serde(default)]
    pub cookies: Ignored,
    #[serde(default)]
    pub middlewares: Ignored,
}

impl OtlpHttpExporterConfig {
    fn ignored(&self) -> Vec<ConfigError> {
        let pool = "the HTTP client's connection pool manages this";
        let mut w = ignored::warnings(
            "",
            &[
                (
                    "profiles_endpoint",
                    &self.profiles_endpoint,
                    "tracemend has no profiles pipelines",
                ),
                (
                    "compression_params",
                    &self.compression_params,
                    "each compression runs at its fast level",
                ),
                (
                    "read_buffer_size",
                    &self.read_buffer_size,
                    "socket buffer sizes are left to the operating system",
                ),
                (
                    "write_buffer_size",
                    &self.write_buffer_size,
                    "socket buffer sizes are left to the operating system",
                ),
                ("max_idle_conns", &self.max_idle_conns, pool),
                ("max_conns_per_host", &self.max_conns_per_host, pool),
                ("disable_keep_alives", &self.disable_keep_alives, pool),
                (
                    "http2_read_idle_timeout",
                    &self.http2_read_idle_timeout,
                    "requests use HTTP/1.1",
                ),
                (
                    "http2_ping_timeout",
                    &self.http2_ping_timeout,
                    "requests use HTTP/1.1",
                ),
                (
                    "force_attempt_http2",
                    &self.force_attempt_http2,
                    "requests use HTTP/1.1",
                ),
                (
                    "cookies",
                    &self.cookies,
                    "cookies are not kept between requests",
                ),
                (
                    "middlewares",
                    &self.middlewares,
                    "tracemend has no middleware extensions",
                ),
            ],
        );
        if self.tls.server_name_override.is_some() {
            w.push(ConfigError::new(
                "tls.server_name_override",
                crate::config::ignored::ignored_message(
                    "the HTTP exporter verifies the URL's host name",
                ),
            ));
        }
        w.extend(self.tls.warnings("tls"));
        w.extend(self.sending_queue.warnings("sending_queue"));
        w
    }
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
        if let Some(p) = &self.proxy_url
            && reqwest::Proxy::all(p).is_err()
        {
            errors.push(ConfigError::new(
                "proxy_url",
                format!("{p:?} is not a proxy URL"),
            ));
        }
        errors.extend(auth::refuse(&self.auth, "auth"));
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
        builder = cfg.tls.apply_to(builder)?;
        if let Some(p) = &cfg.proxy_url {
            let proxy = reqwest::Proxy::all(p).map_err(|e| format!("proxy_url: {e}"))?;
            builder = builder.proxy(proxy);
        }
        if let Some(n) = cfg.max_idle_conns_per_host {
            builder = builder.pool_max_idle_per_host(n);
        }
        if let Some(t) = cfg.idle_conn_timeout {
            builder = builder.pool_idle_timeout(t);
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

super::queued_exporter!(OtlpHttpExporterConfig, OtlpHttpSender);

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use pdata::otlp::collector::logs::v1::{
        ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
    };
    use prost::Message;

    use super::*;
    use crate::exporters::otlp::Compression;
    use crate::testenv::logs;

    /// One request as the server saw it, its body decompressed.
    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        content_type: String,
        encoding: Option<String>,
        tenant: Option<String>,
        body: Vec<u8>,
    }

    /// What the server answers: status, `Retry-After`, body and its content type.
    #[derive(Clone)]
    struct Answer {
        status: StatusCode,
        retry_after: Option<&'static str>,
        body: Vec<u8>,
        content_type: &'static str,
    }

    #[derive(Clone)]
    struct Server {
        seen: Arc<Mutex<Vec<Seen>>>,
        answer: Answer,
    }

    async fn handle(
        State(s): State<Server>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let header = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let encoding = header("content-encoding");
        let body = match encoding.as_deref() {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .map(|_| out)
                    .unwrap_or_default()
            }
            Some("zstd") => zstd::decode_all(&body[..]).unwrap_or_default(),
            _ => body.to_vec(),
        };
        s.seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
            path: uri.path().to_string(),
            content_type: header("content-type").unwrap_or_default(),
            encoding,
            tenant: header("x-tenant"),
            body,
        });
        let mut response = axum::response::Response::new(axum::body::Body::from(s.answer.body));
        *response.status_mut() = s.answer.status;
        let h = response.headers_mut();
        h.insert(
            "content-type",
            s.answer.content_type.parse().expect("value"),
        );
        if let Some(r) = s.answer.retry_after {
            h.insert("retry-after", r.parse().expect("value"));
        }
        response
    }

    /// An HTTP server on a loopback port that answers every request with `answer`.
    async fn server(answer: Answer) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(Server {
                seen: seen.clone(),
                answer,
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, seen)
    }

    fn ok_rejecting(n: i64) -> Answer {
        Answer {
            status: StatusCode::OK,
            retry_after: None,
            body: ExportLogsServiceResponse {
                partial_success: Some(ExportLogsPartialSuccess {
                    rejected_log_records: n,
                    error_message: String::new(),
                }),
            }
            .encode_to_vec(),
            content_type: "application/x-protobuf",
        }
    }

    fn sender(cfg: OtlpHttpExporterConfig) -> OtlpHttpSender {
        OtlpHttpSender::new(&cfg, Signal::Logs).expect("sender")
    }

    fn config(addr: SocketAddr, compression: Compression) -> OtlpHttpExporterConfig {
        OtlpHttpExporterConfig {
            endpoint: format!("http://{addr}/"),
            compression,
            headers: [("X-Tenant".to_string(), "a".to_string())].into(),
            timeout: Duration::from_secs(10),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn protobuf_batches_arrive_compressed_with_headers_and_partial_success_counts() {
        let (addr, seen) = server(ok_rejecting(2)).await;
        for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let rejected = sender(config(addr, compression))
                .send(&logs(3))
                .await
                .expect("sent");
            assert_eq!(rejected, 2);
        }
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let encodings: Vec<Option<&str>> = seen.iter().map(|s| s.encoding.as_deref()).collect();
        assert_eq!(encodings, [Some("gzip"), Some("zstd"), None]);
        for s in &seen {
            assert_eq!(s.path, "/v1/logs");
            assert_eq!(s.content_type, "application/x-protobuf");
            assert_eq!(s.tenant.as_deref(), Some("a"));
            let request = ExportLogsServiceRequest::decode(&s.body[..]).expect("protobuf");
            assert_eq!(request.resource_logs[0].scope_logs[0].log_records.len(), 3);
        }
    }

    #[tokio::test]
    async fn json_encoding_and_a_signal_endpoint_override() {
        let (addr, seen) = server(Answer {
            status: StatusCode::OK,
            retry_after: None,
            body: br#"{"partialSuccess":{"rejectedLogRecords":"1"}}"#.to_vec(),
            content_type: "application/json",
        })
        .await;
        let cfg = OtlpHttpExporterConfig {
            encoding: HttpEncoding::Json,
            logs_endpoint: Some(format!("http://{addr}/custom/logs")),
            ..config(addr, Compression::None)
        };
        assert_eq!(sender(cfg).send(&logs(2)).await.expect("sent"), 1);
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(seen[0].path, "/custom/logs");
        assert_eq!(seen[0].content_type, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
        assert!(json["resourceLogs"].is_array(), "{json}");
    }

    #[tokio::test]
    async fn the_otlp_http_spec_statuses_decide_retrying() {
        for (status, retry_after, retryable, after) in [
            (StatusCode::SERVICE_UNAVAILABLE, Some("7"), true, Some(7)),
            (StatusCode::TOO_MANY_REQUESTS, None, true, None),
            (StatusCode::BAD_GATEWAY, None, true, None),
            (StatusCode::GATEWAY_TIMEOUT, None, true, None),
            (StatusCode::BAD_REQUEST, None, false, None),
            (StatusCode::UNAUTHORIZED, None, false, None),
            (StatusCode::INTERNAL_SERVER_ERROR, None, false, None),
        ] {
            let (addr, _) = server(Answer {
                status,
                retry_after,
                body: b"no".to_vec(),
                content_type: "text/plain",
            })
            .await;
            let err = sender(config(addr, Compression::None))
                .send(&logs(1))
                .await
                .expect_err("refused");
            match err {
                SendError::Retryable { message, after: a } => {
                    assert!(retryable, "{status}: {message}");
                    assert_eq!(a, after.map(Duration::from_secs), "{status}");
                    assert!(message.contains(status.as_str()), "{message}");
                }
                SendError::Permanent(message) => {
                    assert!(!retryable, "{status}: {message}");
                    assert!(message.ends_with(": no"), "{message}");
                }
            }
        }
    }

    #[tokio::test]
    async fn no_server_is_retryable() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("addr");
        let err = sender(config(addr, Compression::None))
            .send(&logs(1))
            .await
            .expect_err("no server");
        assert!(matches!(err, SendError::Retryable { .. }), "{err}");
    }
}
