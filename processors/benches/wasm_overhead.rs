//! Per-batch overhead of a no-op WASM processor against a native no-op, and
//! plugin load time cold (compile) and from the disk cache.
//!
//! Run: `guest-crates/build.sh && cargo bench -p processors --bench wasm_overhead`.
//! A plain harness (no criterion) keeps the build small on two cores; each
//! figure is the median over 7 rounds of the mean time per iteration.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/wasm/common.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use processors::wasm::view::BatchView;
use processors::wasm::{WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions};
use prost::Message;

/// Median over rounds of the mean per-iteration time of `f`.
fn measure(mut f: impl FnMut()) -> Duration {
    // Warm up and size a round to ~100 ms.
    let started = Instant::now();
    let mut warm = 0u32;
    while started.elapsed() < Duration::from_millis(50) || warm < 3 {
        f();
        warm += 1;
    }
    let per = started.elapsed() / warm;
    let iters =
        ((Duration::from_millis(100).as_nanos() / per.as_nanos().max(1)) as u32).clamp(3, 200_000);
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

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What a pipeline with no processor does to a batch: decode and encode.
fn native_noop(req: &mut ExportTraceServiceRequest) {
    black_box(req);
}

fn main() {
    let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let noop = WasmProcessor::load("wasm/noop", &common::config("noop"), &rt).unwrap();

    println!("## Per-batch overhead (8 string attributes per span)\n");
    println!(
        "| spans | native no-op | view build | wasm no-op call | decode+encode | passthrough kept |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 16, 128, 1024] {
        let req = common::flat_traces(n);
        let bytes = req.encode_to_vec();
        let mut work = req.clone();
        let native = measure(|| native_noop(&mut work));
        let mut view = BatchView::default();
        let build = measure(|| {
            view.fill_traces(&req);
            black_box(&view);
        });
        let mut work = req.clone();
        let wasm = measure(|| {
            noop.process_traces(&mut work).unwrap();
        });
        let codec = measure(|| {
            let r = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
            black_box(r.encode_to_vec());
        });
        // Throughput a decode -> wasm/noop -> encode pipeline keeps relative
        // to decode -> encode alone (the rest of the pipeline costs the same
        // in both, so this is an upper bound on the loss).
        let kept = codec.as_secs_f64() / (codec + wasm - native.min(wasm)).as_secs_f64();
        println!(
            "| {n} | {:.2} µs | {:.2} µs | {:.2} µs | {:.1} µs | {:.0}% |",
            us(native),
            us(build),
            us(wasm),
            us(codec),
            kept * 100.0
        );
    }

    println!("\n## Load and instantiation\n");
    println!("| what | time |");
    println!("|---|---:|");
    let cfg = common::config("noop");
    let cold = measure_once(5, || {
        WasmProcessor::load("wasm/noop", &cfg, &rt).unwrap();
    });
    println!(
        "| noop (52 KiB): load cold (compile + instantiate + configure) | {:.2} ms |",
        ms(cold)
    );
    let dir = std::env::temp_dir().join(format!("tracemend-bench-cache-{}", std::process::id()));
    let cached_rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: Some(dir.clone()),
        ..Default::default()
    })
    .unwrap();
    WasmProcessor::load("wasm/noop", &cfg, &cached_rt).unwrap();
    let cached = measure_once(5, || {
        WasmProcessor::load("wasm/noop", &cfg, &cached_rt).unwrap();
    });
    println!("| noop: load from the disk cache | {:.2} ms |", ms(cached));
    let trap = WasmProcessor::load(
        "wasm/trap",
        &WasmProcessorConfig {
            circuit_breaker: processors::wasm::CircuitBreakerConfig {
                consecutive_faults: u32::MAX,
                ..Default::default()
            },
            ..common::config("hostile_trap_first_call")
        },
        &rt,
    )
    .unwrap();
    let mut req = common::flat_traces(1);
    let rebuild = measure(|| {
        let _ = trap.process_traces(&mut req);
    });
    println!(
        "| fault cycle: fresh instance from InstancePre + configure + trapping call | {:.1} µs |",
        us(rebuild)
    );
    let py = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-crates/target/python/py_processor.wasm");
    if py.is_file() {
        let pycfg = WasmProcessorConfig {
            limits: processors::wasm::Limits {
                memory_mib: 256,
                ..Default::default()
            },
            ..WasmProcessorConfig::for_module(&py)
        };
        let t = Instant::now();
        WasmProcessor::load("wasm/python", &pycfg, &cached_rt).unwrap();
        println!(
            "| python (18 MiB): load cold (compile) | {:.1} s |",
            t.elapsed().as_secs_f64()
        );
        let warm = measure_once(3, || {
            WasmProcessor::load("wasm/python", &pycfg, &cached_rt).unwrap();
        });
        println!("| python: load from the disk cache | {:.1} ms |", ms(warm));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median of `n` single runs (for operations too slow to loop).
fn measure_once(n: usize, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[n / 2]
}
