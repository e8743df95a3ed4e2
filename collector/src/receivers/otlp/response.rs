//! Export responses, with OTLP partial success when items were rejected.

use bytes::Bytes;
use pdata::Signal;
use pdata::otlp::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use pdata::otlp::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use pdata::otlp::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;

pub enum ExportResponse {
    Traces(ExportTraceServiceResponse),
    Logs(ExportLogsServiceResponse),
    Metrics(ExportMetricsServiceResponse),
}

impl ExportResponse {
    pub fn new(signal: Signal, rejected: usize, message: &str) -> ExportResponse {
        let rejected = rejected as i64;
        let partial = rejected > 0;
        let error_message = message.to_string();
        match signal {
            Signal::Traces => ExportResponse::Traces(ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message,
                }),
            }),
            Signal::Logs => ExportResponse::Logs(ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message,
                }),
            }),
            Signal::Metrics => ExportResponse::Metrics(ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message,
                }),
            }),
        }
    }

    pub fn to_protobuf(&self) -> Bytes {
        Bytes::from(match self {
            ExportResponse::Traces(r) => r.encode_to_vec(),
            ExportResponse::Logs(r) => r.encode_to_vec(),
            ExportResponse::Metrics(r) => r.encode_to_vec(),
        })
    }

    pub fn to_json(&self) -> Bytes {
        let full = match self {
            ExportResponse::Traces(r) => r.partial_success.is_none(),
            ExportResponse::Logs(r) => r.partial_success.is_none(),
            ExportResponse::Metrics(r) => r.partial_success.is_none(),
        };
        if full {
            // protojson omits an unset message field; `{}` is the full-success body.
            return Bytes::from_static(b"{}");
        }
        // Serializing prost types with derived serde impls cannot fail.
        Bytes::from(
            match self {
                ExportResponse::Traces(r) => serde_json::to_vec(r),
                ExportResponse::Logs(r) => serde_json::to_vec(r),
                ExportResponse::Metrics(r) => serde_json::to_vec(r),
            }
            .unwrap_or_default(),
        )
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}
