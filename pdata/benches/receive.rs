//! Receive-path cost per 1,000 spans (10 attributes each): the validating wire scan the
//! receiver uses (alone, and writing the side index) against a full prost decode,
//! measured in the same run.
//!
//! `cargo bench -p pdata --bench receive`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use pdata::{Batch, Signal};
use prost::Message;

fn request(spans: usize) -> Bytes {
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: (i as u128 + 1).to_be_bytes().to_vec(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            name: format!("GET /api/v1/items/{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_100_000_000,
            attributes: (0..10)
                .map(|a| KeyValue {
                    key: format!("attribute.key.{a}"),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(format!(
                            "value-{i}-{a}-padding"
                        ))),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Bytes::from(req.encode_to_vec())
}

fn time(name: &str, mut f: impl FnMut()) -> Duration {
    for _ in 0..20 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..20 {
            f();
        }
        best = best.min(start.elapsed() / 20);
    }
    println!(
        "{name:<40} {:>10.1} µs per 1,000 spans",
        best.as_secs_f64() * 1e6
    );
    best
}

fn main() {
    let body = request(1000);
    println!("request: {} bytes, 1,000 spans x 10 attributes", body.len());
    let scan = time("Batch::from_protobuf (wire scan)", || {
        black_box(
            Batch::from_protobuf(Signal::Traces, black_box(body.clone()))
                .map(|r| r.batch.item_count())
                .ok(),
        );
    });
    // The scan writing the side index as well (pipelines with `envelope` or
    // `tail_sampling`).
    time("Batch::from_protobuf_indexed", || {
        black_box(
            Batch::from_protobuf_indexed(Signal::Traces, black_box(body.clone()))
                .map(|r| r.batch.item_count())
                .ok(),
        );
    });
    let decode = time("prost decode", || {
        black_box(ExportTraceServiceRequest::decode(black_box(body.clone())).ok());
    });
    println!(
        "wire scan / prost decode = {:.3}",
        scan.as_secs_f64() / decode.as_secs_f64()
    );
}
