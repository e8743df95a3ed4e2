//! The sink's OTLP/HTTP side: `POST /v1/traces` and `/v1/logs`, protobuf or JSON,
//! optionally gzip, answered with the status codes OTLP/HTTP specifies.

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use flate2::read::GzDecoder;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::SinkCounters;
use super::count::{count_json, count_proto};
use crate::generate::Signal;

/// Largest body accepted, compressed or not.
const MAX_BODY_BYTES: usize = 64 << 20;

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    counters: Arc<SinkCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, Arc::clone(&counters)));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    counters: Arc<SinkCounters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match export(request, &counters).await {
        Ok(response) => response,
        Err((status, message)) => {
            if status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED {
                counters.record_error();
            }
            reply(status, "text/plain", Bytes::from(message))
        }
    })
}

type Refusal = (StatusCode, String);

async fn export(
    request: Request<Incoming>,
    counters: &SinkCounters,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let signal = match request.uri().path() {
        "/v1/traces" => Signal::Traces,
        "/v1/logs" => Signal::Logs,
        other => return Err((StatusCode::NOT_FOUND, format!("no route for {other}"))),
    };
    if request.method() != Method::POST {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "use POST".into()));
    }
    let headers = request.headers();
    let content_type = header_str(headers.get(header::CONTENT_TYPE));
    let json = if content_type.starts_with("application/x-protobuf") {
        false
    } else if content_type.starts_with("application/json") {
        true
    } else {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content type {content_type:?}"),
        ));
    };
    let gzip = match header_str(headers.get(header::CONTENT_ENCODING)) {
        "" | "identity" => false,
        "gzip" => true,
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding {other:?}"),
            ));
        }
    };
    let wire = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?
        .to_bytes();
    let wire_len = wire.len() as u64;
    let body = if gzip { gunzip(&wire)? } else { wire };
    let items = if json {
        count_json(signal, &body)
    } else {
        count_proto(&body)
    }
    .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    counters.record(signal, items, wire_len);
    // An empty message is a fully successful Export*ServiceResponse.
    Ok(if json {
        reply(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(b"{}"),
        )
    } else {
        reply(StatusCode::OK, "application/x-protobuf", Bytes::new())
    })
}

fn gunzip(wire: &[u8]) -> Result<Bytes, Refusal> {
    let mut out = Vec::with_capacity(wire.len() * 4);
    GzDecoder::new(wire)
        // One byte past the limit tells "too large" apart from "exactly at the limit".
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")))?;
    if out.len() > MAX_BODY_BYTES {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "decompressed body too large".into(),
        ));
    }
    Ok(out.into())
}

fn header_str(value: Option<&HeaderValue>) -> &str {
    value.and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
