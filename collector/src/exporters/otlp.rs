//! The `otlp` exporter: OTLP over gRPC. Batches are sent as their protobuf bytes (the
//! received bytes when nothing changed them), gzip-compressed by default as in otelcol.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use http::uri::PathAndQuery;
use pdata::{Batch, Signal};
use prost::Message;
use serde::Deserialize;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::grpc_tls;
use super::queue::QueueConfig;
use super::retry::RetryConfig;
use super::tls::TlsClientConfig;
use super::{SendError, Sender};
use crate::config::auth::{self, AuthConfig};
use crate::config::{ComponentConfig, ConfigError};
use crate::config::{Ignored, ignored};
use crate::grpc_codec::RawCodec;

/// `exporters.otlp`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpExporterConfig {
    /// `host:port` or a URL (`http://` is plain text, `https://` TLS). Required.
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub tls: TlsClientConfig,
    /// Extra gRPC metadata sent with every request (numbers are taken as text).
    #[serde(default, deserialize_with = "crate::config::lenient::string_map")]
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default), `zstd` or `none`.
    #[serde(default)]
    pub compression: Compression,
    /// Per-request timeout. Default `5s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default)]
    pub sending_queue: QueueConfig,
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
    /// HTTP/2 pings on the connection.
    #[serde(default)]
    pub keepalive: Option<ClientKeepalive>,
    /// Refused: needs an authenticator extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub read_buffer_size: Ignored,
    #[serde(default)]
    pub write_buffer_size: Ignored,
    #[serde(default)]
    pub wait_for_ready: Ignored,
    #[serde(default)]
    pub balancer_name: Ignored,
    #[serde(default)]
    pub authority: Ignored,
    #[serde(default)]
    pub middlewares: Ignored,
    /// otelcol's deprecated exporter-side batching.
    #[serde(default)]
    pub batcher: Ignored,
}

/// `keepalive` of a gRPC client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientKeepalive {
    /// Ping after this long without activity.
    #[serde(default, with = "humantime_serde")]
    pub time: Option<Duration>,
    /// Close the connection when a ping is not answered within this.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Ping even with no request in flight. Default false.
    #[serde(default)]
    pub permit_without_stream: bool,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

impl OtlpExporterConfig {
    /// Keys accepted without effect, relative to the exporter.
    pub(crate) fn ignored(&self) -> Vec<ConfigError> {
        let mut w = ignored::warnings(
            "",
            &[
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
                (
                    "wait_for_ready",
                    &self.wait_for_ready,
                    "a request waits for the connection (within `timeout`) and is retried",
                ),
                (
                    "balancer_name",
                    &self.balancer_name,
                    "one connection to the endpoint is used (use the loadbalancing exporter to spread)",
                ),
                (
                    "authority",
                    &self.authority,
                    "the :authority is the endpoint's host",
                ),
                (
                    "middlewares",
                    &self.middlewares,
                    "tracemend has no middleware extensions",
                ),
                (
                    "batcher",
                    &self.batcher,
                    "the exporter does not batch; add the `batch` processor to the pipeline",
                ),
            ],
        );
        w.extend(self.tls.warnings("tls"));
        w.extend(self.sending_queue.warnings("sending_queue"));
        w
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    #[serde(alias = "")]
    None,
}

impl ComponentConfig for OtlpExporterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.endpoint.is_empty() {
            errors.push(ConfigError::new(
                "endpoint",
                "is required, e.g. `backend:4317`",
            ));
        } else if let Err(e) = self.uri() {
            errors.push(ConfigError::new("endpoint", e));
        }
        for k in self.headers.keys() {
            if MetadataKey::<tonic::metadata::Ascii>::from_bytes(k.to_ascii_lowercase().as_bytes())
                .is_err()
            {
                errors.push(ConfigError::new(
                    format!("headers.{k}"),
                    "is not a valid gRPC metadata key",
                ));
            }
        }
        errors.extend(self.tls.validate("tls"));
        errors.extend(auth::refuse(&self.auth, "auth"));
        errors.extend(self.sending_queue.validate("sending_queue"));
        errors.extend(self.retry_on_failure.validate("retry_on_failure"));
        errors
    }
}

impl OtlpExporterConfig {
    pub(crate) fn uri(&self) -> Result<String, String> {
        let e = self.endpoint.trim();
        let uri = if e.starts_with("http://") || e.starts_with("https://") {
            e.to_string()
        } else if self.tls.insecure {
            format!("http://{e}")
        } else {
            format!("https://{e}")
        };
        let parsed: http::Uri = uri
            .parse()
            .map_err(|err| format!("invalid endpoint {e:?}: {err}"))?;
        if parsed.host().is_none() {
            return Err(format!("endpoint {e:?} has no host"));
        }
        Ok(uri)
    }
}

pub struct OtlpSender {
    channel: Channel,
    path: PathAndQuery,
    metadata: MetadataMap,
    compression: Compression,
    signal: Signal,
}

impl OtlpSender {
    pub fn new(cfg: &OtlpExporterConfig, signal: Signal) -> Result<OtlpSender, String> {
        let uri = cfg.uri()?;
        let tls = uri.starts_with("https://");
        let base = if tls {
            grpc_tls::endpoint(&uri)?
        } else {
            Endpoint::from_shared(uri.clone()).map_err(|e| format!("invalid endpoint: {e}"))?
        };
        let mut endpoint = base.timeout(cfg.timeout).connect_timeout(cfg.timeout);
        if let Some(k) = &cfg.keepalive {
            if let Some(t) = k.time {
                endpoint = endpoint.http2_keep_alive_interval(t);
            }
            if let Some(t) = k.timeout {
                endpoint = endpoint.keep_alive_timeout(t);
            }
            endpoint = endpoint.keep_alive_while_idle(k.permit_without_stream);
        }
        let channel = if tls {
            grpc_tls::channel(&endpoint, &uri, &cfg.tls)?
        } else {
            endpoint.connect_lazy()
        };
        let mut metadata = MetadataMap::new();
        for (k, v) in &cfg.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|e| format!("header {k:?}: {e}"))?;
            let value =
                MetadataValue::try_from(v.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            metadata.insert(key, value);
        }
        let path = match signal {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        };
        Ok(OtlpSender {
            channel,
            path: PathAndQuery::from_static(path),
            metadata,
            compression: cfg.compression,
            signal,
        })
    }
}

#[async_trait]
impl Sender for OtlpSender {
    async fn send(&self, batch: &Batch) -> Result<usize, SendError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc = match self.compression {
            Compression::Gzip => grpc.send_compressed(CompressionEncoding::Gzip),
            Compression::Zstd => grpc.send_compressed(CompressionEncoding::Zstd),
            Compression::None => grpc,
        };
        grpc.ready().await.map_err(|e| SendError::Retryable {
            message: format!("connection not ready: {e}"),
            after: None,
        })?;
        let mut request = tonic::Request::new(batch.to_chunks());
        *request.metadata_mut() = self.metadata.clone();
        let response = grpc
            .unary(
                request,
                self.path.clone(),
                RawCodec::<Vec<bytes::Bytes>>::default(),
            )
            .await
            .map_err(classify)?;
        Ok(rejected_items(self.signal, response.into_inner()))
    }
}

/// The OTLP spec's list of retryable gRPC codes; RESOURCE_EXHAUSTED only with RetryInfo.
fn classify(status: Status) -> SendError {
    let message = format!("{}: {}", code_name(status.code()), status.message());
    let retry_info = bytes_contain(status.details(), b"google.rpc.RetryInfo");
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => SendError::Retryable {
            message,
            after: None,
        },
        Code::ResourceExhausted if retry_info => SendError::Retryable {
            message,
            after: None,
        },
        _ => SendError::Permanent(message),
    }
}

fn code_name(c: Code) -> String {
    format!("{c:?}")
}

fn bytes_contain(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Items the server reported rejected in its partial success.
pub(crate) fn rejected_items(signal: Signal, body: bytes::Bytes) -> usize {
    use pdata::otlp::collector::{logs, metrics, trace};
    let n = match signal {
        Signal::Traces => trace::v1::ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_spans),
        Signal::Logs => logs::v1::ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_log_records),
        Signal::Metrics => metrics::v1::ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_data_points),
    };
    usize::try_from(n.unwrap_or(0)).unwrap_or(0)
}

super::queued_exporter!(OtlpExporterConfig, OtlpSender);

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use pdata::{ConsumeError, Consumer};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::receivers::otlp::GrpcConfig;
    use crate::receivers::{Consumers, Ingest};
    use crate::telemetry::SelfMetrics;
    use crate::testenv::logs;

    /// The pipeline behind the test server: records what arrives, or refuses it.
    struct Sink {
        received: Mutex<Vec<usize>>,
        refuse: Option<fn() -> ConsumeError>,
    }

    #[async_trait]
    impl Consumer for Sink {
        async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
            if let Some(refuse) = self.refuse {
                return Err(refuse());
            }
            self.received
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(batch.item_count());
            Ok(())
        }
    }

    /// The collector's own OTLP gRPC receiver on a loopback port, feeding `sink`.
    async fn server(sink: Arc<Sink>, stop: &CancellationToken) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut consumers = Consumers::default();
        consumers.set(Signal::Logs, sink);
        let ingest = Arc::new(Ingest::new("otlp", "grpc", consumers, &SelfMetrics::new()));
        crate::receivers::otlp::grpc::serve_listener(
            listener,
            &GrpcConfig::default(),
            ingest,
            stop.clone(),
        )
        .expect("plain-text server");
        addr
    }

    fn sender(addr: SocketAddr, compression: Compression) -> OtlpSender {
        let cfg = OtlpExporterConfig {
            endpoint: addr.to_string(),
            tls: TlsClientConfig {
                insecure: true,
                ..Default::default()
            },
            compression,
            headers: [("X-Tenant".to_string(), "a".to_string())].into(),
            timeout: Duration::from_secs(10),
            ..Default::default()
        };
        OtlpSender::new(&cfg, Signal::Logs).expect("sender")
    }

    #[tokio::test]
    async fn batches_reach_a_grpc_server_with_each_compression() {
        let stop = CancellationToken::new();
        let sink = Arc::new(Sink {
            received: Mutex::new(Vec::new()),
            refuse: None,
        });
        let addr = server(sink.clone(), &stop).await;
        for (n, compression) in [
            (1, Compression::None),
            (2, Compression::Gzip),
            (3, Compression::Zstd),
        ] {
            let rejected = sender(addr, compression)
                .send(&logs(n))
                .await
                .expect("sent");
            assert_eq!(rejected, 0);
        }
        assert_eq!(
            *sink.received.lock().unwrap_or_else(|e| e.into_inner()),
            [1, 2, 3]
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn a_refusal_is_retryable_or_permanent_as_the_server_says() {
        let stop = CancellationToken::new();
        let busy: fn() -> ConsumeError = || ConsumeError::retryable("busy");
        let bad: fn() -> ConsumeError = || ConsumeError::permanent("bad data");
        for (refuse, retryable) in [(busy, true), (bad, false)] {
            let sink = Arc::new(Sink {
                received: Mutex::new(Vec::new()),
                refuse: Some(refuse),
            });
            let addr = server(sink, &stop).await;
            let err = sender(addr, Compression::None)
                .send(&logs(1))
                .await
                .expect_err("refused");
            assert_eq!(
                matches!(err, SendError::Retryable { .. }),
                retryable,
                "{err}"
            );
        }
        stop.cancel();
    }

    #[tokio::test]
    async fn no_server_is_retryable() {
        // Bound and closed: nothing listens there now.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("addr");
        let err = sender(addr, Compression::None)
            .send(&logs(1))
            .await
            .expect_err("no server");
        assert!(matches!(err, SendError::Retryable { .. }), "{err}");
    }

    #[test]
    fn the_otlp_spec_lists_which_codes_are_retryable() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(
                matches!(
                    classify(Status::new(code, "x")),
                    SendError::Retryable { .. }
                ),
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Unimplemented,
            Code::ResourceExhausted,
        ] {
            assert!(
                matches!(classify(Status::new(code, "x")), SendError::Permanent(_)),
                "{code:?}"
            );
        }
        let throttled = Status::with_details(
            Code::ResourceExhausted,
            "slow down",
            bytes::Bytes::from_static(b"type.googleapis.com/google.rpc.RetryInfo"),
        );
        let err = classify(throttled);
        assert!(matches!(err, SendError::Retryable { .. }));
        assert_eq!(err.to_string(), "ResourceExhausted: slow down");
    }

    #[test]
    fn endpoints_become_uris_by_tls_setting() {
        let mut cfg = OtlpExporterConfig {
            endpoint: "backend:4317".into(),
            ..Default::default()
        };
        assert_eq!(cfg.uri().as_deref(), Ok("https://backend:4317"));
        cfg.tls.insecure = true;
        assert_eq!(cfg.uri().as_deref(), Ok("http://backend:4317"));
        cfg.endpoint = "https://b:1".into();
        assert_eq!(cfg.uri().as_deref(), Ok("https://b:1"));
        cfg.endpoint = "http://".into();
        assert!(cfg.uri().is_err());
    }

    #[test]
    fn validation_names_each_key() {
        let cfg = OtlpExporterConfig {
            headers: [("bad key".to_string(), "v".to_string())].into(),
            ..Default::default()
        };
        let paths: Vec<String> = cfg.validate().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["endpoint", "headers.bad key"]);
    }
}
