//! The `otlp` receiver: OTLP over gRPC (`protocols.grpc`, default `localhost:4317`) and
//! HTTP (`protocols.http`, default `localhost:4318`, protobuf and JSON bodies).
//!
//! Each request is decoded and validated; items that can never be valid are rejected
//! with an OTLP partial success, the rest is pushed into the pipelines. When a pipeline
//! refuses data retryably (memory limit, full queue) the client gets the retryable status
//! the OTLP spec names: gRPC `UNAVAILABLE`, HTTP 503 with `Retry-After`.

pub mod cors;
pub(crate) mod grpc;
mod http;
pub mod keepalive;
mod response;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Consumers, Ingest};
use crate::config::auth::{self, AuthConfig};
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
use crate::factory::{Receiver, Running};
use crate::telemetry::SelfMetrics;

/// `receivers.otlp`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// At least one of `grpc` and `http`; a protocol listed without settings uses its defaults.
    #[serde(default)]
    pub protocols: Protocols,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<GrpcConfig>,
    #[serde(default, deserialize_with = "present")]
    pub http: Option<HttpConfig>,
}

/// `grpc:` with no value enables the protocol with defaults, as in otelcol.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(|o| Some(o.unwrap_or_default()))
}

/// `protocols.grpc`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Listen address. Default `localhost:4317`.
    #[serde(default = "default_grpc_endpoint")]
    pub endpoint: String,
    /// Largest accepted message after decompression, in MiB. Default 4.
    #[serde(default = "default_max_recv_msg_size_mib")]
    pub max_recv_msg_size_mib: u64,
    /// Concurrent HTTP/2 streams per connection. Default: unlimited.
    #[serde(default)]
    pub max_concurrent_streams: Option<u32>,
    /// Serve TLS (and mTLS with `client_ca_file`). Default: plain text.
    #[serde(default)]
    pub tls: Option<tls::ServerTlsConfig>,
    /// HTTP/2 pings and connection age.
    #[serde(default)]
    pub keepalive: Option<keepalive::KeepaliveConfig>,
    /// `tcp` (the default) only.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Refused: needs an authenticator extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Client metadata is not kept with the data (so `batch.metadata_keys` has none).
    #[serde(default)]
    pub include_metadata: Ignored,
    #[serde(default)]
    pub read_buffer_size: Ignored,
    #[serde(default)]
    pub write_buffer_size: Ignored,
    #[serde(default)]
    pub middlewares: Ignored,
}

fn default_transport() -> String {
    "tcp".to_string()
}

/// The checks both protocols share: transport, auth.
fn check_transport(transport: &str, path: &str, errors: &mut Vec<ConfigError>) {
    if transport != "tcp" {
        errors.push(ConfigError::new(
            format!("{path}.transport"),
            format!("transport {transport:?} is not supported: tracemend listens on tcp"),
        ));
    }
}

const INCLUDE_METADATA: &str =
    "request metadata is not kept with the data, so processors cannot group by it";
const BUFFER_SIZE: &str = "socket buffer sizes are left to the operating system";
const MIDDLEWARES: &str = "tracemend has no middleware extensions";

fn default_grpc_endpoint() -> String {
    "localhost:4317".to_string()
}
fn default_max_recv_msg_size_mib() -> u64 {
    4
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: default_grpc_endpoint(),
            max_recv_msg_size_mib: default_max_recv_msg_size_mib(),
            max_concurrent_streams: None,
            tls: None,
            keepalive: None,
            transport: default_transport(),
            auth: None,
            include_metadata: Ignored::default(),
            read_buffer_size: Ignored::default(),
            write_buffer_size: Ignored::default(),
            middlewares: Ignored::default(),
        }
    }
}

impl GrpcConfig {
    fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let mut w = ignored::warnings(
            path,
            &[
                ("include_metadata", &self.include_metadata, INCLUDE_METADATA),
                ("read_buffer_size", &self.read_buffer_size, BUFFER_SIZE),
                ("write_buffer_size", &self.write_buffer_size, BUFFER_SIZE),
                ("middlewares", &self.middlewares, MIDDLEWARES),
            ],
        );
        if let Some(t) = &self.tls {
            w.extend(t.warnings(&format!("{path}.tls")));
        }
        if let Some(k) = &self.keepalive {
            w.extend(k.warnings(&format!("{path}.keepalive")));
        }
        w
    }
}

/// `protocols.http`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address. Default `localhost:4318`.
    #[serde(default = "default_http_endpoint")]
    pub endpoint: String,
    /// Largest accepted request body in bytes, compressed or not. Default 20 MiB.
    #[serde(default = "default_max_request_body_size")]
    pub max_request_body_size: u64,
    /// Default `/v1/traces`.
    #[serde(default = "default_traces_path")]
    pub traces_url_path: String,
    /// Default `/v1/logs`.
    #[serde(default = "default_logs_path")]
    pub logs_url_path: String,
    /// Default `/v1/metrics`.
    #[serde(default = "default_metrics_path")]
    pub metrics_url_path: String,
    /// Serve TLS (and mTLS with `client_ca_file`). Default: plain text.
    #[serde(default)]
    pub tls: Option<tls::ServerTlsConfig>,
    /// Let browsers send from these origins.
    #[serde(default)]
    pub cors: Option<cors::CorsConfig>,
    /// Headers added to every answer.
    #[serde(default, deserialize_with = "crate::config::lenient::string_map")]
    pub response_headers: BTreeMap<String, String>,
    /// `tcp` (the default) only.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Refused: needs an authenticator extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Client metadata is not kept with the data.
    #[serde(default)]
    pub include_metadata: Ignored,
    /// Which request encodings are accepted: gzip, zstd and deflate always are.
    #[serde(default)]
    pub compression_algorithms: Ignored,
    #[serde(default)]
    pub read_timeout: Ignored,
    #[serde(default)]
    pub read_header_timeout: Ignored,
    #[serde(default)]
    pub write_timeout: Ignored,
    #[serde(default)]
    pub idle_timeout: Ignored,
    #[serde(default)]
    pub keep_alives_enabled: Ignored,
    #[serde(default)]
    pub middlewares: Ignored,
}

fn default_http_endpoint() -> String {
    "localhost:4318".to_string()
}
fn default_max_request_body_size() -> u64 {
    20 * 1024 * 1024
}
fn default_traces_path() -> String {
    "/v1/traces".to_string()
}
fn default_logs_path() -> String {
    "/v1/logs".to_string()
}
fn default_metrics_path() -> String {
    "/v1/metrics".to_string()
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: default_http_endpoint(),
            max_request_body_size: default_max_request_body_size(),
            traces_url_path: default_traces_path(),
            logs_url_path: default_logs_path(),
            metrics_url_path: default_metrics_path(),
            tls: None,
            cors: None,
            response_headers: BTreeMap::new(),
            transport: default_transport(),
            auth: None,
            include_metadata: Ignored::default(),
            compression_algorithms: Ignored::default(),
            read_timeout: Ignored::default(),
            read_header_timeout: Ignored::default(),
            write_timeout: Ignored::default(),
            idle_timeout: Ignored::default(),
            keep_alives_enabled: Ignored::default(),
            middlewares: Ignored::default(),
        }
    }
}

impl HttpConfig {
    fn warnings(&self, path: &str) -> Vec<ConfigError> {
        let timeouts =
            "the HTTP server's own timeouts apply (requests are bounded by max_request_body_size)";
        let mut w = ignored::warnings(
            path,
            &[
                ("include_metadata", &self.include_metadata, INCLUDE_METADATA),
                (
                    "compression_algorithms",
                    &self.compression_algorithms,
                    "gzip, zstd and deflate request bodies are always accepted",
                ),
                ("read_timeout", &self.read_timeout, timeouts),
                ("read_header_timeout", &self.read_header_timeout, timeouts),
                ("write_timeout", &self.write_timeout, timeouts),
                ("idle_timeout", &self.idle_timeout, timeouts),
                (
                    "keep_alives_enabled",
                    &self.keep_alives_enabled,
                    "HTTP keep-alive is always on",
                ),
                ("middlewares", &self.middlewares, MIDDLEWARES),
            ],
        );
        if let Some(t) = &self.tls {
            w.extend(t.warnings(&format!("{path}.tls")));
        }
        w
    }
}

impl ComponentConfig for OtlpReceiverConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            errors.push(ConfigError::new(
                "protocols",
                "at least one protocol (grpc or http) must be enabled",
            ));
        }
        if let Some(g) = &self.protocols.grpc {
            if let Err(e) = crate::net::check_endpoint(&g.endpoint) {
                errors.push(ConfigError::new("protocols.grpc.endpoint", e));
            }
            if g.max_recv_msg_size_mib == 0 {
                errors.push(ConfigError::new(
                    "protocols.grpc.max_recv_msg_size_mib",
                    "must be greater than 0",
                ));
            }
            check_transport(&g.transport, "protocols.grpc", &mut errors);
            errors.extend(auth::refuse(&g.auth, "protocols.grpc.auth"));
            if let Some(t) = &g.tls {
                errors.extend(t.validate("protocols.grpc.tls"));
            }
            if let Some(k) = &g.keepalive {
                errors.extend(k.validate("protocols.grpc.keepalive"));
            }
        }
        if let Some(h) = &self.protocols.http {
            if let Err(e) = crate::net::check_endpoint(&h.endpoint) {
                errors.push(ConfigError::new("protocols.http.endpoint", e));
            }
            check_transport(&h.transport, "protocols.http", &mut errors);
            errors.extend(auth::refuse(&h.auth, "protocols.http.auth"));
            if let Some(t) = &h.tls {
                errors.extend(t.validate("protocols.http.tls"));
            }
            if let Some(c) = &h.cors {
                errors.extend(c.validate("protocols.http.cors"));
            }
            for k in h.response_headers.keys() {
                if axum::http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    errors.push(ConfigError::new(
                        format!("protocols.http.response_headers.{k}"),
                        "is not a valid header name",
                    ));
                }
            }
            if h.max_request_body_size == 0 {
                errors.push(ConfigError::new(
                    "protocols.http.max_request_body_size",
                    "must be greater than 0",
                ));
            }
            for (key, p) in [
                ("traces_url_path", &h.traces_url_path),
                ("logs_url_path", &h.logs_url_path),
                ("metrics_url_path", &h.metrics_url_path),
            ] {
                if !p.starts_with('/') {
                    errors.push(ConfigError::new(
                        format!("protocols.http.{key}"),
                        format!("{p:?} must start with `/`"),
                    ));
                }
            }
        }
        errors
    }
}

/// A started receiver; `stop` stops accepting and waits for in-flight requests.
pub struct RunningReceiver {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningReceiver {
    pub async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl AnyConfig for OtlpReceiverConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let mut w = Vec::new();
        if let Some(g) = &self.protocols.grpc {
            w.extend(g.warnings("protocols.grpc"));
        }
        if let Some(h) = &self.protocols.http {
            w.extend(h.warnings("protocols.http"));
        }
        w
    }
}

#[async_trait]
impl Receiver for OtlpReceiverConfig {
    async fn start(
        &self,
        id: &ComponentId,
        consumers: Consumers,
        metrics: &SelfMetrics,
    ) -> anyhow::Result<Box<dyn Running>> {
        Ok(Box::new(
            start(&id.to_string(), self, consumers, metrics).await?,
        ))
    }
}

#[async_trait]
impl Running for RunningReceiver {
    async fn stop(self: Box<Self>) {
        RunningReceiver::stop(*self).await;
    }
}

/// Binds the configured protocols and starts serving.
pub async fn start(
    id: &str,
    cfg: &OtlpReceiverConfig,
    consumers: Consumers,
    metrics: &SelfMetrics,
) -> std::io::Result<RunningReceiver> {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    if let Some(g) = &cfg.protocols.grpc {
        let ingest = Arc::new(Ingest::new(id, "grpc", consumers.clone(), metrics));
        tasks.push(grpc::serve(g, ingest, stop.clone()).await?);
        let tls = g.tls.is_some();
        tracing::info!(receiver = id, endpoint = %g.endpoint, tls, "Started OTLP gRPC receiver.");
    }
    if let Some(h) = &cfg.protocols.http {
        let ingest = Arc::new(Ingest::new(id, "http", consumers.clone(), metrics));
        tasks.push(http::serve(h, ingest, stop.clone()).await?);
        let tls = h.tls.is_some();
        tracing::info!(receiver = id, endpoint = %h.endpoint, tls, "Started OTLP HTTP receiver.");
    }
    Ok(RunningReceiver { stop, tasks })
}
