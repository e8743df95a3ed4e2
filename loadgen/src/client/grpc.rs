//! OTLP/gRPC sender: `tonic::client::Grpc` over one channel, with `RawCodec` so the
//! pre-encoded body goes out without a prost pass. (With gzip, `grpc_gzip` sends
//! instead, because tonic would compress every message again.)

use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};

use super::{ClientError, Outcome, Target, error_chain, split_endpoint};
use crate::generate::Signal;
use crate::pool::Body;
use crate::raw_codec::RawCodec;

/// One HTTP/2 connection sending export calls one at a time.
#[derive(Debug)]
pub struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
    path: PathAndQuery,
    signal: Signal,
    timeout: Duration,
}

impl GrpcClient {
    /// Connects to `target.endpoint`.
    pub async fn connect(target: &Target) -> Result<Self, ClientError> {
        let (authority, _) = split_endpoint(&target.endpoint)?;
        let endpoint = Endpoint::from_shared(format!("http://{authority}"))
            .map_err(|e| ClientError::Endpoint {
                endpoint: target.endpoint.clone(),
                reason: e.to_string(),
            })?
            .tcp_nodelay(true)
            // Large requests (hundreds of KiB) should not stall on flow-control updates.
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20);
        let channel = endpoint.connect().await.map_err(|e| ClientError::Connect {
            endpoint: target.endpoint.clone(),
            reason: error_chain(&e),
        })?;
        let grpc = tonic::client::Grpc::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(64 << 20);
        Ok(Self {
            grpc,
            path: PathAndQuery::from_static(target.signal.grpc_path()),
            signal: target.signal,
            timeout: target.timeout,
        })
    }

    /// Sends one export call.
    pub async fn send(&mut self, body: &Body) -> Outcome {
        if let Err(e) = self.grpc.ready().await {
            tracing::debug!(reason = %error_chain(&e), "request failed in transport");
            return Outcome::Failed {
                status: "transport".into(),
                retryable: false,
            };
        }
        let mut request = tonic::Request::new(body.bytes.clone());
        request.set_timeout(self.timeout);
        let call = self.grpc.unary(request, self.path.clone(), RawCodec);
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Outcome::Failed {
                status: "timeout".into(),
                retryable: true,
            },
            Ok(Ok(response)) => Outcome::Ok {
                rejected: rejected_items(self.signal, response.into_inner()),
            },
            Ok(Err(status)) => Outcome::Failed {
                status: format!("grpc {}", code_name(status.code())),
                retryable: is_retryable(status.code()),
            },
        }
    }
}

/// Items refused through OTLP partial success; an unparsable response counts as none
/// refused because the call itself succeeded.
pub(crate) fn rejected_items(signal: Signal, body: Bytes) -> u64 {
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

/// The codes the OTLP specification lists as retryable.
pub(crate) fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The canonical upper-case gRPC code name, as operators know it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn partial_success_is_read() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "nope".into(),
            }),
        };
        assert_eq!(
            rejected_items(Signal::Traces, response.encode_to_vec().into()),
            3
        );
        assert_eq!(rejected_items(Signal::Traces, Bytes::new()), 0);
    }

    #[test]
    fn retryable_codes_follow_otlp() {
        assert!(is_retryable(Code::Unavailable));
        assert!(is_retryable(Code::ResourceExhausted));
        assert!(!is_retryable(Code::InvalidArgument));
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
    }
}
