//! OTLP/HTTP sender: one HTTP/1.1 keep-alive connection, reopened after an error.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{ClientError, Outcome, Target, error_chain, split_endpoint};
use crate::encode::{Compression, Encoding};
use crate::generate::Signal;
use crate::pool::Body;

/// One connection posting export requests one at a time.
#[derive(Debug)]
pub struct HttpClient {
    authority: String,
    host: HeaderValue,
    path: String,
    content_type: HeaderValue,
    gzip: bool,
    signal: Signal,
    encoding: Encoding,
    timeout: Duration,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    /// Connects to `target.endpoint`; the path defaults to the signal's `/v1/...`.
    pub async fn connect(target: &Target) -> Result<Self, ClientError> {
        let (authority, path) = split_endpoint(&target.endpoint)?;
        let host = HeaderValue::from_str(&authority).map_err(|e| ClientError::Endpoint {
            endpoint: target.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let mut client = Self {
            authority,
            host,
            path: path.unwrap_or_else(|| target.signal.http_path().to_owned()),
            content_type: HeaderValue::from_static(target.encoding.content_type()),
            gzip: target.compression == Compression::Gzip,
            signal: target.signal,
            encoding: target.encoding,
            timeout: target.timeout,
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
        // Requests are written in one go; waiting for Nagle would only add latency.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| error_chain(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTP connection closed");
            }
        });
        self.connection = Some(sender);
        Ok(())
    }

    /// Posts one export request.
    pub async fn send(&mut self, body: &Body) -> Outcome {
        match tokio::time::timeout(self.timeout, self.post(body)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // The connection may still carry the late response; start afresh.
                self.connection = None;
                Outcome::Failed {
                    status: "timeout".into(),
                    retryable: true,
                }
            }
        }
    }

    async fn post(&mut self, body: &Body) -> Outcome {
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
        *request.uri_mut() = match self.path.parse() {
            Ok(uri) => uri,
            Err(e) => return transport_failure(format!("bad path: {e}")),
        };
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        if self.gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.connection = None;
                return transport_failure(error_chain(&e));
            }
        };
        let status = response.status();
        // Read the whole body so the connection can carry the next request.
        let body = match response.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                self.connection = None;
                return transport_failure(error_chain(&e));
            }
        };
        if status.is_success() {
            Outcome::Ok {
                rejected: rejected_items(self.signal, self.encoding, &body),
            }
        } else {
            Outcome::Failed {
                status: format!("http {}", status.as_u16()),
                retryable: is_retryable(status),
            }
        }
    }
}

fn transport_failure(reason: String) -> Outcome {
    tracing::debug!(%reason, "request failed in transport");
    Outcome::Failed {
        status: "transport".into(),
        retryable: false,
    }
}

/// The statuses OTLP/HTTP names as retryable.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Items refused through OTLP partial success in a 2xx response body.
fn rejected_items(signal: Signal, encoding: Encoding, body: &[u8]) -> u64 {
    if body.is_empty() {
        return 0;
    }
    match encoding {
        Encoding::Proto => {
            use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
            use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
            use prost::Message;
            let rejected = match signal {
                Signal::Traces => ExportTraceServiceResponse::decode(body)
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| p.rejected_spans),
                Signal::Logs => ExportLogsServiceResponse::decode(body)
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map_or(0, |p| p.rejected_log_records),
            };
            u64::try_from(rejected).unwrap_or(0)
        }
        Encoding::Json => {
            let key = match signal {
                Signal::Traces => "rejectedSpans",
                Signal::Logs => "rejectedLogRecords",
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
                return 0;
            };
            // OTLP/JSON writes 64-bit integers as strings; accept numbers too.
            match &v["partialSuccess"][key] {
                serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
                serde_json::Value::String(s) => s.parse().unwrap_or(0),
                _ => 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_partial_success_is_read() {
        let body = br#"{"partialSuccess":{"rejectedSpans":"4","errorMessage":"x"}}"#;
        assert_eq!(rejected_items(Signal::Traces, Encoding::Json, body), 4);
        let body = br#"{"partialSuccess":{"rejectedLogRecords":2}}"#;
        assert_eq!(rejected_items(Signal::Logs, Encoding::Json, body), 2);
        assert_eq!(rejected_items(Signal::Logs, Encoding::Json, b"{}"), 0);
    }

    #[test]
    fn retryable_statuses_follow_otlp() {
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
    }
}
