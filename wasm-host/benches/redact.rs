//! Throughput of the `redact` guest against the same rule engine compiled
//! natively (`guest-crates/redact-core`'s `bench_native` example), on
//! identical attribute text: `bench_input.rs` is included from the engine
//! crate by path.
//!
//! Run: `guest-crates/build.sh && cargo bench -p wasm-host --bench redact`,
//! then `cd guest-crates && cargo run --release -p redact-core --example
//! bench_native` for the native side. Figures: the fastest of 25 interleaved
//! rounds of ~20 ms (see `measure`). "guest engine" is the redact call minus the noop guest's
//! call on the same batch (the host's view building and call overhead), so
//! it compares with the native engine like for like.
//!
//! `REDACT_BENCH_WASM='label=path;label=path|{"rules":...}'` adds other
//! builds of the guest (another profile, another commit), optionally with a
//! config other than the default, to the same run, each measured against
//! the same noop call, so their ratios share the machine's load.
//!
//! `REDACT_BENCH_NO_EPOCH=1` compiles the guests without wasmtime's epoch
//! checks (what call timeouts rely on), to measure what those checks cost;
//! the collector never runs guests so.

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
use wasm_host::wasm::{WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};

/// Per-call time of each closure: rounds of about 20 ms each, interleaved
/// across the closures so that all of them see the same background load,
/// and the fastest round of each (the least disturbed by other processes on
/// a shared machine; medians moved by 2x between runs here).
fn measure(fs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    const ROUNDS: usize = 25;
    let iters: Vec<u32> = fs
        .iter_mut()
        .map(|f| {
            let started = Instant::now();
            let mut warm = 0u32;
            while started.elapsed() < Duration::from_millis(50) || warm < 3 {
                f();
                warm += 1;
            }
            let per = started.elapsed() / warm;
            ((Duration::from_millis(20).as_nanos() / per.as_nanos().max(1)) as u32)
                .clamp(1, 100_000)
        })
        .collect();
    let mut best = vec![Duration::MAX; fs.len()];
    for _ in 0..ROUNDS {
        for ((f, n), b) in fs.iter_mut().zip(&iters).zip(best.iter_mut()) {
            let t = Instant::now();
            for _ in 0..*n {
                f();
            }
            *b = (*b).min(t.elapsed() / *n);
        }
    }
    best
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
    // `REDACT_BENCH_CALLS=N`: only make N calls of the first guest (the
    // default build, or `REDACT_BENCH_WASM`'s first entry given
    // `REDACT_BENCH_ONLY_EXTRA=1`) on 128 spans, for instruction counts
    // (`valgrind --tool=cachegrind`), which do not move with the machine's
    // load the way times do. `REDACT_BENCH_CACHE=DIR` keeps compiled guests
    // there, so a run under valgrind does not compile them again.
    // `REDACT_BENCH_INPUT=loadgen` makes those calls on the pipeline
    // benchmark's values instead (`bench_input::loadgen_spans`).
    let calls = std::env::var("REDACT_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok());
    let interruption_checks = std::env::var_os("REDACT_BENCH_NO_EPOCH").is_none_or(|v| v != "1");
    if !interruption_checks {
        eprintln!("REDACT_BENCH_NO_EPOCH=1: guests compiled without epoch checks (no timeouts)");
    }
    let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: std::env::var_os("REDACT_BENCH_CACHE").map(std::path::PathBuf::from),
        interruption_checks,
        ..Default::default()
    })
    .unwrap();
    let guests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/wasm32-wasip2/release");
    let load = |name: &str, path: std::path::PathBuf, config: &str| {
        let mut cfg = WasmProcessorConfig::for_module(path);
        cfg.limits.call_timeout = Duration::from_secs(10);
        if !config.is_empty() {
            cfg.config = serde_json::from_str(config).unwrap();
        }
        WasmProcessor::load(name, &cfg, &rt).unwrap()
    };
    let mut redacts = vec![(
        "redact".to_owned(),
        load("wasm/redact", guests.join("redact.wasm"), ""),
    )];
    for extra in std::env::var("REDACT_BENCH_WASM")
        .unwrap_or_default()
        .split(';')
    {
        if let Some((label, rest)) = extra.split_once('=') {
            let (path, config) = rest.split_once('|').unwrap_or((rest, ""));
            redacts.push((label.to_owned(), load("wasm/redact", path.into(), config)));
        }
    }
    let noop = load("wasm/noop", guests.join("noop.wasm"), "");
    if let Some(n) = calls {
        let only_extra = std::env::var_os("REDACT_BENCH_ONLY_EXTRA").is_some();
        let guest = if only_extra {
            &redacts[1].1
        } else {
            &redacts[0].1
        };
        let input = if std::env::var_os("REDACT_BENCH_INPUT").is_some_and(|v| v == "loadgen") {
            bench_input::loadgen_spans(128, 16)
        } else {
            bench_input::spans(128, 42)
        };
        let req = batch(&input);
        for _ in 0..n {
            let mut r = req.clone();
            black_box(guest.process_traces(&mut r).unwrap());
        }
        return;
    }
    println!(
        "| guest | spans | attribute bytes | clone | noop guest call | redact guest call | guest engine | guest engine MB/s | whole call MB/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [128usize, 1024] {
        let input = bench_input::spans(n, 42);
        let bytes = bench_input::value_bytes(&input);
        let req = batch(&input);
        let mut clone = || {
            black_box(req.clone());
        };
        let mut noop_call = || {
            let mut r = req.clone();
            black_box(noop.process_traces(&mut r).unwrap());
        };
        let mut calls: Vec<Box<dyn FnMut() + '_>> = redacts
            .iter()
            .map(|(_, redact)| {
                let req = &req;
                Box::new(move || {
                    let mut r = req.clone();
                    black_box(redact.process_traces(&mut r).unwrap());
                }) as Box<dyn FnMut()>
            })
            .collect();
        let mut all: Vec<&mut dyn FnMut()> = vec![&mut clone, &mut noop_call];
        all.extend(calls.iter_mut().map(|c| &mut **c as &mut dyn FnMut()));
        let times = measure(&mut all);
        let (clone, noop_t) = (times[0], times[1]);
        for ((label, _), redact_t) in redacts.iter().zip(&times[2..]) {
            let call = redact_t.saturating_sub(clone);
            let engine = redact_t.saturating_sub(noop_t);
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let mbs = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
            println!(
                "| {label} | {n} | {bytes} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} | {:.1} |",
                us(clone),
                us(noop_t.saturating_sub(clone)),
                us(call),
                us(engine),
                mbs(engine),
                mbs(call)
            );
        }
    }
}
