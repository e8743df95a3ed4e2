//! OTLP/HTTP: `POST` protobuf or JSON bodies, optionally gzip/zstd/deflate compressed.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::{Listener, ListenerExt};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use pdata::{ErrorKind, Signal};
use prost::Message;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::HttpConfig;
use super::response::{ExportResponse, RpcStatus};
use crate::receivers::{Ingest, ReceiveError};

#[derive(Clone)]
struct Shared {
    ingest: Arc<Ingest>,
    max_body: usize,
}

pub async fn serve(
    cfg: &HttpConfig,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let listener = crate::net::bind(&cfg.endpoint).await?;
    let shared = Shared {
        ingest,
        max_body: usize::try_from(cfg.max_request_body_size).unwrap_or(usize::MAX),
    };
    let mut app = Router::new()
        .route(
            &cfg.traces_url_path,
            post(|s, h, b| export(Signal::Traces, s, h, b)),
        )
        .route(
            &cfg.logs_url_path,
            post(|s, h, b| export(Signal::Logs, s, h, b)),
        )
        .route(
            &cfg.metrics_url_path,
            post(|s, h, b| export(Signal::Metrics, s, h, b)),
        )
        .with_state(shared);
    if !cfg.response_headers.is_empty() {
        let mut extra = HeaderMap::new();
        for (k, v) in &cfg.response_headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| {
                std::io::Error::other(format!("protocols.http.response_headers.{k}: {e}"))
            })?;
            let value = HeaderValue::from_str(v).map_err(|e| {
                std::io::Error::other(format!("protocols.http.response_headers.{k}: {e}"))
            })?;
            extra.insert(name, value);
        }
        app = app.layer(middleware::from_fn_with_state(Arc::new(extra), add_headers));
    }
    if let Some(c) = cfg.cors.clone().filter(super::cors::CorsConfig::enabled) {
        app = app.layer(middleware::from_fn_with_state(
            Arc::new(c),
            super::cors::layer,
        ));
    }
    if let Some(tls) = &cfg.tls {
        let acceptor = tls
            .acceptor(&[b"http/1.1"])
            .map_err(|e| std::io::Error::other(format!("protocols.http.tls: {e}")))?;
        let addr = listener.local_addr()?;
        let ready = super::tls::accept(listener, acceptor, stop.clone());
        return Ok(tokio::spawn(run(TlsListener { ready, addr }, app, stop)));
    }
    // TCP_NODELAY, as on the gRPC receiver: a small response must not wait for an ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "Cannot set TCP_NODELAY on an OTLP HTTP connection.");
        }
    });
    Ok(tokio::spawn(run(listener, app, stop)))
}

async fn run<L>(listener: L, app: Router, stop: CancellationToken)
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "OTLP HTTP server failed.");
    }
}

/// `response_headers` on every answer.
async fn add_headers(State(extra): State<Arc<HeaderMap>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    for (k, v) in extra.iter() {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

/// Connections whose TLS handshake finished, as axum's listener.
struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
    addr: SocketAddr,
}

impl Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => {
                let peer = conn.get_ref().0.peer_addr().unwrap_or(self.addr);
                (conn, peer)
            }
            // The accept task ended (shutdown): graceful shutdown ends the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// An error answered with a `google.rpc.Status` body in the request's encoding.
fn error(encoding: Encoding, status: StatusCode, grpc_code: i32, message: String) -> Response {
    let body = RpcStatus {
        code: grpc_code,
        message,
    };
    let bytes = match encoding {
        Encoding::Protobuf => body.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&body).unwrap_or_default(),
    };
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        bytes,
    )
        .into_response()
}

const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;
const UNAVAILABLE: i32 = 14;

async fn export(
    signal: Signal,
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            let msg = format!(
                "unsupported content type {content_type:?}: send application/x-protobuf or application/json"
            );
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, msg).into_response();
        }
    };
    if !s.ingest.accepts(signal) {
        return error(
            encoding,
            StatusCode::NOT_FOUND,
            UNIMPLEMENTED,
            format!("no {signal} pipeline uses this receiver"),
        );
    }
    let too_large = || {
        error(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            RESOURCE_EXHAUSTED,
            format!(
                "request body exceeds max_request_body_size ({} bytes)",
                s.max_body
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.max_body as u64) {
        return too_large();
    }
    let raw = match Limited::new(body, s.max_body).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(e) => {
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                format!("failed to read request body: {e}"),
            );
        }
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = match decompress(&content_encoding, raw, s.max_body) {
        Ok(b) => b,
        Err(Decompress::TooLarge) => return too_large(),
        Err(Decompress::Unsupported) => {
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                format!(
                    "unsupported Content-Encoding {content_encoding:?}: use gzip, zstd or deflate"
                ),
            );
        }
        Err(Decompress::Corrupt(e)) => {
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                format!("cannot decompress {content_encoding} body: {e}"),
            );
        }
    };
    let pushed = match encoding {
        Encoding::Protobuf => s.ingest.push_protobuf(signal, body).await,
        Encoding::Json => s.ingest.push_json(signal, &body).await,
    };
    let (rejected, rejection) = match pushed {
        Ok(r) => r,
        Err(ReceiveError::Decode(e)) => {
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                e.to_string(),
            );
        }
        Err(ReceiveError::Consume(e)) => {
            return match e.kind {
                ErrorKind::Retryable => {
                    let secs = e.retry_after.map(|d| d.as_secs().max(1)).unwrap_or(1);
                    let mut resp = error(
                        encoding,
                        StatusCode::SERVICE_UNAVAILABLE,
                        UNAVAILABLE,
                        e.message,
                    );
                    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                        resp.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    resp
                }
                ErrorKind::Permanent => error(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    INVALID_ARGUMENT,
                    e.message,
                ),
            };
        }
    };
    let response = ExportResponse::new(signal, rejected, &rejection);
    let bytes = match encoding {
        Encoding::Protobuf => response.to_protobuf(),
        Encoding::Json => response.to_json(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        bytes,
    )
        .into_response()
}

enum Decompress {
    TooLarge,
    Unsupported,
    Corrupt(std::io::Error),
}

/// Decompresses with the same size limit as the body, so a small compressed bomb is
/// refused instead of filling memory.
fn decompress(encoding: &str, raw: Bytes, max: usize) -> Result<Bytes, Decompress> {
    let mut out = Vec::new();
    let limit = max as u64 + 1;
    let read = match encoding {
        "" | "identity" | "none" => return Ok(raw),
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&raw[..])
            .take(limit)
            .read_to_end(&mut out),
        "zstd" => match zstd::stream::read::Decoder::new(&raw[..]) {
            Ok(d) => d.take(limit).read_to_end(&mut out),
            Err(e) => Err(e),
        },
        "deflate" => {
            // HTTP `deflate` is zlib-wrapped, but some clients send raw deflate.
            let zlib = flate2::read::ZlibDecoder::new(&raw[..])
                .take(limit)
                .read_to_end(&mut out);
            match zlib {
                Ok(n) => Ok(n),
                Err(_) => {
                    out.clear();
                    flate2::read::DeflateDecoder::new(&raw[..])
                        .take(limit)
                        .read_to_end(&mut out)
                }
            }
        }
        _ => return Err(Decompress::Unsupported),
    };
    match read {
        Ok(_) if out.len() > max => Err(Decompress::TooLarge),
        Ok(_) => Ok(Bytes::from(out)),
        Err(e) => Err(Decompress::Corrupt(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompresses_every_supported_encoding_within_the_limit() {
        let body = b"otlp body ".repeat(100);
        let zstd = zstd::encode_all(&body[..], 3).expect("zstd");
        assert_eq!(
            decompress("zstd", Bytes::from(zstd.clone()), 10_000)
                .ok()
                .as_deref(),
            Some(&body[..])
        );
        assert!(matches!(
            decompress("zstd", Bytes::from(zstd), 100),
            Err(Decompress::TooLarge)
        ));
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut raw, &body).expect("deflate");
        let raw = raw.finish().expect("deflate");
        assert_eq!(
            decompress("deflate", Bytes::from(raw), 10_000)
                .ok()
                .as_deref(),
            Some(&body[..]),
            "raw deflate is accepted too"
        );
        assert!(matches!(
            decompress("snappy", Bytes::new(), 10),
            Err(Decompress::Unsupported)
        ));
    }
}
