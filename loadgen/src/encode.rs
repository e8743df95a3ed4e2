//! Encodes export requests into OTLP wire bodies: protobuf or OTLP/JSON, optionally gzip.

use std::io::Write;

use flate2::{Compression as Level, write::GzEncoder};
use prost::Message;

use crate::generate::ExportRequest;

/// Body encoding of an OTLP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf` over HTTP).
    Proto,
    /// OTLP/JSON (`application/json`), HTTP only.
    Json,
}

impl Encoding {
    /// The HTTP content type for this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Uncompressed.
    None,
    /// gzip (`Content-Encoding: gzip`, `grpc-encoding: gzip`).
    Gzip,
}

/// Errors while encoding a request body.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// OTLP/JSON serialization failed.
    #[error("encoding OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// gzip compression failed.
    #[error("gzip: {0}")]
    Gzip(#[from] std::io::Error),
    /// The encoded body could not be walked to find its trace ids.
    #[error("reading back the encoded body: {0}")]
    Wire(#[from] pdata::wire::WireError),
}

/// Encodes `request` as `encoding`.
pub fn encode(request: &ExportRequest, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    Ok(match (request, encoding) {
        (ExportRequest::Traces(r), Encoding::Proto) => r.encode_to_vec(),
        (ExportRequest::Logs(r), Encoding::Proto) => r.encode_to_vec(),
        (ExportRequest::Traces(r), Encoding::Json) => serde_json::to_vec(r)?,
        (ExportRequest::Logs(r), Encoding::Json) => serde_json::to_vec(r)?,
    })
}

/// gzip-compresses `data` at the default level (what OTLP exporters use).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Level::default());
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Generator, Shape, Signal};
    use flate2::read::GzDecoder;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use std::io::Read;

    #[test]
    fn proto_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let req = Generator::new(Shape::default(), 1, 0).request(Signal::Traces, 10);
        let bytes = encode(&req, Encoding::Proto)?;
        let back = ExportTraceServiceRequest::decode(bytes.as_slice())?;
        assert_eq!(ExportRequest::Traces(back), req);
        Ok(())
    }

    #[test]
    fn json_is_otlp_json() -> Result<(), Box<dyn std::error::Error>> {
        let req = Generator::new(Shape::default(), 1, 0).request(Signal::Traces, 2);
        let json: serde_json::Value = serde_json::from_slice(&encode(&req, Encoding::Json)?)?;
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        // OTLP/JSON carries ids as lowercase hex, not base64.
        let trace_id = span["traceId"].as_str().ok_or("traceId")?;
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(span["spanId"].as_str().ok_or("spanId")?.len(), 16);
        assert!(span["attributes"][0]["value"]["stringValue"].is_string());
        Ok(())
    }

    #[test]
    fn gzip_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let data = b"hello hello hello hello".repeat(100);
        let mut out = Vec::new();
        GzDecoder::new(gzip(&data)?.as_slice()).read_to_end(&mut out)?;
        assert_eq!(out, data);
        Ok(())
    }
}
