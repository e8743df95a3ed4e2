//! Senders: one connection each, sending one pre-encoded body at a time.

mod grpc;
mod grpc_gzip;
mod http;

use std::time::Duration;

use crate::encode::{Compression, Encoding};
use crate::generate::Signal;
use crate::pool::Body;

pub use grpc::GrpcClient;
pub use grpc_gzip::{GrpcGzipClient, frame_compressed};
pub use http::HttpClient;

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// Signal, which picks the gRPC method or HTTP path.
    pub signal: Signal,
    /// Transport.
    pub protocol: Protocol,
    /// `host:port` or `http://host:port[/path]`.
    pub endpoint: String,
    /// Body encoding (HTTP only; gRPC is always protobuf).
    pub encoding: Encoding,
    /// Body compression.
    pub compression: Compression,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Errors setting up a connection.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a usable address.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting failed.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The transport error.
        reason: String,
    },
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; `rejected` items were refused through OTLP partial success.
    Ok {
        /// Items the server reported as rejected.
        rejected: u64,
    },
    /// Not accepted.
    Failed {
        /// What failed, e.g. `grpc UNAVAILABLE`, `http 503`, `timeout`, `transport`.
        status: String,
        /// Whether OTLP says a client should retry this status.
        retryable: bool,
    },
}

/// A sender bound to one connection.
#[derive(Debug)]
pub enum Client {
    /// Over OTLP/gRPC.
    Grpc(GrpcClient),
    /// Over OTLP/gRPC, sending pre-compressed gzip messages.
    GrpcGzip(GrpcGzipClient),
    /// Over OTLP/HTTP.
    Http(HttpClient),
}

impl Client {
    /// Opens a connection to `target`; fails if the endpoint cannot be reached, since
    /// at start-up that is almost always a mistake in the command line.
    pub async fn connect(target: &Target) -> Result<Self, ClientError> {
        Ok(match target.protocol {
            Protocol::Grpc if target.compression == Compression::Gzip => {
                Client::GrpcGzip(GrpcGzipClient::connect(target).await?)
            }
            Protocol::Grpc => Client::Grpc(GrpcClient::connect(target).await?),
            Protocol::Http => Client::Http(HttpClient::connect(target).await?),
        })
    }

    /// Sends one body and waits for the answer.
    pub async fn send(&mut self, body: &Body) -> Outcome {
        match self {
            Client::Grpc(c) => c.send(body).await,
            Client::GrpcGzip(c) => c.send(body).await,
            Client::Http(c) => c.send(body).await,
        }
    }
}

/// Splits `http://host:port/path` or `host:port` into (`host:port`, path if any).
pub(crate) fn split_endpoint(endpoint: &str) -> Result<(String, Option<String>), ClientError> {
    let invalid = |reason: &str| ClientError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = if let Some(rest) = endpoint.strip_prefix("http://") {
        rest
    } else if endpoint.starts_with("https://") {
        return Err(invalid("TLS is not supported; use http://"));
    } else {
        endpoint
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.is_empty() || !authority.contains(':') {
        return Err(invalid("expected host:port"));
    }
    Ok((
        authority.to_owned(),
        path.filter(|p| *p != "/").map(str::to_owned),
    ))
}

/// An error with its sources, since tonic's top-level message is often just
/// "transport error".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split() -> Result<(), ClientError> {
        assert_eq!(
            split_endpoint("127.0.0.1:4317")?,
            ("127.0.0.1:4317".into(), None)
        );
        assert_eq!(
            split_endpoint("http://localhost:4318")?,
            ("localhost:4318".into(), None)
        );
        assert_eq!(
            split_endpoint("http://localhost:4318/custom/traces")?,
            ("localhost:4318".into(), Some("/custom/traces".into()))
        );
        assert!(split_endpoint("https://x:1").is_err());
        assert!(split_endpoint("localhost").is_err());
        Ok(())
    }
}
