//! OTLP/gRPC with gzip, from bodies compressed before the run.
//!
//! tonic compresses each message as it frames it and cannot be handed compressed bytes,
//! which made the generator spend ~10 ms of CPU per 237 KB request and top out near
//! 50,000 spans/s. So for gzip the pool holds complete gRPC messages (the 5-byte
//! prefix with the compressed flag, then the gzip bytes) and this client posts them
//! over a plain HTTP/2 connection, reading `grpc-status` from the trailers (or from the
//! headers of a trailers-only response) itself.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use flate2::read::GzDecoder;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tonic::Code;

use super::grpc::{code_name, is_retryable, rejected_items};
use super::{ClientError, Outcome, Target, error_chain, split_endpoint};
use crate::generate::Signal;
use crate::pool::Body;

/// Frames `compressed` as one gzip-compressed gRPC message.
pub fn frame_compressed(compressed: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let len = u32::try_from(compressed.len())
        .map_err(|_| std::io::Error::other("message larger than 4 GiB"))?;
    let mut framed = Vec::with_capacity(5 + compressed.len());
    framed.push(1);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(compressed);
    Ok(framed)
}

/// One HTTP/2 connection posting pre-framed, pre-compressed export calls.
#[derive(Debug)]
pub struct GrpcGzipClient {
    authority: String,
    uri: Uri,
    signal: Signal,
    timeout: Duration,
    timeout_header: HeaderValue,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl GrpcGzipClient {
    /// Connects to `target.endpoint`.
    pub async fn connect(target: &Target) -> Result<Self, ClientError> {
        let (authority, _) = split_endpoint(&target.endpoint)?;
        let uri = format!("http://{authority}{}", target.signal.grpc_path())
            .parse()
            .map_err(|e: http::uri::InvalidUri| ClientError::Endpoint {
                endpoint: target.endpoint.clone(),
                reason: e.to_string(),
            })?;
        let timeout_header = HeaderValue::from_str(&format!(
            "{}m",
            target.timeout.as_millis().clamp(1, 99_999_999)
        ))
        .map_err(|e| ClientError::Endpoint {
            endpoint: target.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let mut client = Self {
            authority,
            uri,
            signal: target.signal,
            timeout: target.timeout,
            timeout_header,
            connection: None,
        };
        client
            .reconnect()
            .await
            .map_err(|reason| ClientError::Connect {
                endpoint: target.endpoint.clone(),
                reason,
            })?;
        Ok(client)
    }

    async fn reconnect(&mut self) -> Result<(), String> {
        self.connection = None;
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            // Same windows as the tonic client, for the same reason.
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| error_chain(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "gRPC connection closed");
            }
        });
        self.connection = Some(sender);
        Ok(())
    }

    /// Sends one export call.
    pub async fn send(&mut self, body: &Body) -> Outcome {
        match tokio::time::timeout(self.timeout, self.call(body)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed {
                status: "timeout".into(),
                retryable: true,
            },
        }
    }

    async fn call(&mut self, body: &Body) -> Outcome {
        let usable = self.connection.as_ref().is_some_and(|c| !c.is_closed());
        if !usable && let Err(reason) = self.reconnect().await {
            return transport_failure(reason);
        }
        let Some(sender) = self.connection.as_mut() else {
            return transport_failure("no connection".into());
        };
        if let Err(e) = sender.ready().await {
            self.connection = None;
            return transport_failure(error_chain(&e));
        }
        let mut request = Request::new(Full::new(body.bytes.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
        headers.insert("grpc-timeout", self.timeout_header.clone());
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.connection = None;
                return transport_failure(error_chain(&e));
            }
        };
        if !response.status().is_success() {
            return Outcome::Failed {
                status: format!("http {}", response.status().as_u16()),
                retryable: false,
            };
        }
        let (parts, body) = response.into_parts();
        let collected = match body.collect().await {
            Ok(c) => c,
            Err(e) => return transport_failure(error_chain(&e)),
        };
        // A trailers-only response carries grpc-status in the headers.
        let code = collected
            .trailers()
            .and_then(grpc_status)
            .or_else(|| grpc_status(&parts.headers));
        match code {
            Some(Code::Ok) => Outcome::Ok {
                rejected: message(&collected.to_bytes())
                    .map_or(0, |m| rejected_items(self.signal, m)),
            },
            Some(code) => Outcome::Failed {
                status: format!("grpc {}", code_name(code)),
                retryable: is_retryable(code),
            },
            None => Outcome::Failed {
                status: "grpc no status".into(),
                retryable: false,
            },
        }
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.trim().parse().ok()?))
}

/// The first message of a response body, decompressed if flagged so.
fn message(body: &[u8]) -> Option<Bytes> {
    let (&flag, rest) = body.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let payload = rest.get(4..4 + len)?;
    if flag == 0 {
        return Some(Bytes::copy_from_slice(payload));
    }
    let mut out = Vec::new();
    GzDecoder::new(payload).read_to_end(&mut out).ok()?;
    Some(out.into())
}

fn transport_failure(reason: String) -> Outcome {
    tracing::debug!(%reason, "request failed in transport");
    Outcome::Failed {
        status: "transport".into(),
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_reads_back_a_message() -> Result<(), std::io::Error> {
        let compressed = crate::encode::gzip(b"payload")?;
        let framed = frame_compressed(&compressed)?;
        assert_eq!(framed[0], 1);
        assert_eq!(&framed[1..5], &(compressed.len() as u32).to_be_bytes());
        assert_eq!(message(&framed).as_deref(), Some(&b"payload"[..]));
        assert_eq!(
            message(&[0, 0, 0, 0, 2, 8, 1]).as_deref(),
            Some(&[8, 1][..])
        );
        assert_eq!(message(&[0, 0, 0, 0, 9, 8]), None);
        Ok(())
    }

    #[test]
    fn status_comes_from_trailers_or_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(grpc_status(&h), None);
        h.insert("grpc-status", HeaderValue::from_static("14"));
        assert_eq!(grpc_status(&h), Some(Code::Unavailable));
    }
}
