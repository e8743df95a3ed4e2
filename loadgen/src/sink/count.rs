//! Counts spans and log records in an export request without decoding it.
//!
//! Protobuf: walks only the three levels of length-delimited fields down to the items
//! (`pdata::wire::for_each_item`) and skips everything else by length. This touches a few bytes per item instead of allocating every string,
//! which is what keeps the sink from being the bottleneck (see `examples/count_cost.rs`).
//!
//! JSON: deserializes into shapes that keep only the arrays, ignoring all other fields.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::generate::Signal;
use pdata::wire::{WireError, for_each_item};

/// A body that is not a well-formed export request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    /// The protobuf wire format is broken.
    #[error("malformed protobuf: {0}")]
    Proto(#[from] WireError),
    /// The JSON is not an OTLP/JSON export request.
    #[error("malformed OTLP/JSON: {0}")]
    Json(String),
}

/// Spans or log records in a protobuf export request.
pub fn count_proto(body: &[u8]) -> Result<u64, CountError> {
    let mut count = 0;
    for_each_item(body, |_item| {
        count += 1;
        Ok::<(), WireError>(())
    })?;
    Ok(count)
}

/// Spans or log records in an OTLP/JSON export request.
pub fn count_json(signal: Signal, body: &[u8]) -> Result<u64, CountError> {
    let json = |e: serde_json::Error| CountError::Json(e.to_string());
    Ok(match signal {
        Signal::Traces => {
            let r: TracesJson = serde_json::from_slice(body).map_err(json)?;
            r.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len() as u64)
                .sum()
        }
        Signal::Logs => {
            let r: LogsJson = serde_json::from_slice(body).map_err(json)?;
            r.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len() as u64)
                .sum()
        }
    })
}

// OTLP/JSON uses lowerCamelCase keys; receivers also accept the proto field names.
#[derive(Deserialize)]
struct TracesJson {
    #[serde(default, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Vec<ResourceSpansJson>,
}

#[derive(Deserialize)]
struct ResourceSpansJson {
    #[serde(default, rename = "scopeSpans", alias = "scope_spans")]
    scope_spans: Vec<ScopeSpansJson>,
}

#[derive(Deserialize)]
struct ScopeSpansJson {
    #[serde(default)]
    spans: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct LogsJson {
    #[serde(default, rename = "resourceLogs", alias = "resource_logs")]
    resource_logs: Vec<ResourceLogsJson>,
}

#[derive(Deserialize)]
struct ResourceLogsJson {
    #[serde(default, rename = "scopeLogs", alias = "scope_logs")]
    scope_logs: Vec<ScopeLogsJson>,
}

#[derive(Deserialize)]
struct ScopeLogsJson {
    #[serde(default, rename = "logRecords", alias = "log_records")]
    log_records: Vec<IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{Encoding, encode};
    use crate::generate::{Generator, Shape};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    #[test]
    fn counts_match_the_generated_items() -> Result<(), Box<dyn std::error::Error>> {
        let mut g = Generator::new(
            Shape {
                error_ratio: 0.3,
                ..Shape::default()
            },
            1,
            0,
        );
        for signal in [Signal::Traces, Signal::Logs] {
            for n in [0, 1, 7, 300] {
                let req = g.request(signal, n);
                assert_eq!(count_proto(&encode(&req, Encoding::Proto)?)?, n as u64);
                assert_eq!(
                    count_json(signal, &encode(&req, Encoding::Json)?)?,
                    n as u64
                );
            }
        }
        Ok(())
    }

    #[test]
    fn counts_across_several_resources() -> Result<(), CountError> {
        let mut g = Generator::new(Shape::default(), 1, 0);
        let mut req = g.traces(3);
        let more = g.traces(4);
        req.resource_spans.extend(more.resource_spans);
        let extra_scope = req.resource_spans[1].scope_spans[0].clone();
        req.resource_spans[0].scope_spans.push(extra_scope);
        assert_eq!(count_proto(&req.encode_to_vec())?, 11);
        Ok(())
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let req = Generator::new(Shape::default(), 1, 0).traces(5);
        let bytes = req.encode_to_vec();
        assert!(count_proto(&bytes[..bytes.len() - 3]).is_err());
        assert!(count_proto(&[0x0a, 0xff]).is_err());
        assert!(count_json(Signal::Traces, b"{not json").is_err());
        assert_eq!(count_proto(&[]), Ok(0));
        // Not a trace request shape, but valid protobuf: it counts what is at the path.
        let empty = ExportTraceServiceRequest::default().encode_to_vec();
        assert_eq!(count_proto(&empty), Ok(0));
    }

    #[test]
    fn json_accepts_proto_field_names() -> Result<(), CountError> {
        let body = br#"{"resource_logs":[{"scope_logs":[{"log_records":[{},{}]}]}]}"#;
        assert_eq!(count_json(Signal::Logs, body)?, 2);
        Ok(())
    }
}
