//! Throughput of the `redact` guest against the same rule engine compiled
//! natively (`guest-crates/redact-core`'s `bench_native` example), on
//! identical attribute text: `bench_input.rs` is included from the engine
//! crate by path.
//!
//! Run: `guest-crates/build.sh && cargo bench -p processors --bench redact`,
//! then `cd guest-crates && cargo run --release -p redact-core --example
//! bench_native` for the native side. Figures: median of 7 rounds of the mean
//! time per batch. "guest engine" is the redact call minus the noop guest's
//! call on the same batch (the host's view building and call overhead), so
//! it compares with the native engine like for like.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../guest-crates/redact-core/src/bench_input.rs"]
mod bench_input;

use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use processors::wasm::{WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

fn measure(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut warm = 0u32;
    while started.elapsed() < Duration::from_millis(100) || warm < 3 {
        f();
        warm += 1;
    }
    let per = started.elapsed() / warm;
    let iters =
        ((Duration::from_millis(200).as_nanos() / per.as_nanos().max(1)) as u32).clamp(3, 100_000);
    let mut rounds: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed() / iters
        })
        .collect();
    rounds.sort();
    rounds[rounds.len() / 2]
}

fn batch(spans: &[Vec<(String, String)>]) -> ExportTraceServiceRequest {
    let spans = spans
        .iter()
        .enumerate()
        .map(|(i, attrs)| Span {
            trace_id: vec![7; 16],
            span_id: (i as u64 + 1).to_le_bytes().to_vec(),
            name: "POST /api/v1/orders".into(),
            kind: 2,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 5_000,
            attributes: attrs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue(v.clone())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn main() {
    let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let guests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/wasm32-wasip2/release");
    let mut cfg = WasmProcessorConfig::for_module(guests.join("redact.wasm"));
    cfg.limits.call_timeout = Duration::from_secs(10);
    let redact = WasmProcessor::load("wasm/redact", &cfg, &rt).unwrap();
    let mut cfg = WasmProcessorConfig::for_module(guests.join("noop.wasm"));
    cfg.limits.call_timeout = Duration::from_secs(10);
    let noop = WasmProcessor::load("wasm/noop", &cfg, &rt).unwrap();
    println!(
        "| spans | attribute bytes | clone | noop guest call | redact guest call | guest engine | guest engine MB/s | whole call MB/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [128usize, 1024] {
        let input = bench_input::spans(n, 42);
        let bytes = bench_input::value_bytes(&input);
        let req = batch(&input);
        let clone = measure(|| {
            black_box(req.clone());
        });
        let noop_t = measure(|| {
            let mut r = req.clone();
            black_box(noop.process_traces(&mut r).unwrap());
        });
        let redact_t = measure(|| {
            let mut r = req.clone();
            black_box(redact.process_traces(&mut r).unwrap());
        });
        let call = redact_t.saturating_sub(clone);
        let engine = redact_t.saturating_sub(noop_t);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let mbs = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
        println!(
            "| {n} | {bytes} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} | {:.1} |",
            us(clone),
            us(noop_t.saturating_sub(clone)),
            us(call),
            us(engine),
            mbs(engine),
            mbs(call)
        );
    }
}
