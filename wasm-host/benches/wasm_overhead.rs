//! Per-batch overhead of a no-op WASM processor against a native no-op, with
//! the guest's view built from the decoded request (after a prost decode) and
//! straight from the encoded bytes, and plugin load time cold (compile) and
//! from the disk cache.
//!
//! Run: `guest-crates/build.sh && cargo bench -p wasm-host --bench wasm_overhead`.
//! A plain harness (no criterion) keeps the build small on two cores; each
//! figure is the median over 7 rounds of the mean time per iteration.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/wasm/common.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use prost::bytes::Bytes;
use wasm_host::wasm::view::BatchView;
use wasm_host::wasm::{
    BatchAccess, WasmProcessor, WasmProcessorConfig, WasmRuntime, WasmRuntimeOptions,
};

/// Median over rounds of the mean per-iteration time of `f`.
fn measure(mut f: impl FnMut()) -> Duration {
    measure_all(&mut [&mut f])[0]
}

/// For each of `fs`, the median over 7 rounds of the mean per-iteration time.
/// Rounds are interleaved (a round of each in turn), so the variants compared
/// in one table row see the same machine load.
fn measure_all(fs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    // Warm up and size a round to ~100 ms.
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
            ((Duration::from_millis(100).as_nanos() / per.as_nanos().max(1)) as u32)
                .clamp(3, 200_000)
        })
        .collect();
    let mut rounds = vec![Vec::new(); fs.len()];
    for _ in 0..7 {
        for (i, f) in fs.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..iters[i] {
                f();
            }
            rounds[i].push(t.elapsed() / iters[i]);
        }
    }
    rounds
        .into_iter()
        .map(|mut r| {
            r.sort();
            r[r.len() / 2]
        })
        .collect()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What a pipeline with no processor does to a batch: nothing (it forwards the
/// received bytes).
fn native_noop(batch: &mut Encoded) {
    black_box(batch);
}

/// A batch as the collector holds one: the received bytes, decoded on demand.
struct Encoded {
    chunks: Vec<Bytes>,
    decoded: Option<ExportTraceServiceRequest>,
    modified: bool,
    /// As `pdata::Batch::validated`: the bytes passed the receiver's scan.
    validated: bool,
}

impl Encoded {
    fn new(bytes: &Bytes, validated: bool) -> Self {
        Encoded {
            chunks: vec![bytes.clone()],
            decoded: None,
            modified: false,
            validated,
        }
    }
}

impl BatchAccess<ExportTraceServiceRequest> for Encoded {
    fn encoded(&self) -> Option<&[Bytes]> {
        (!self.modified).then_some(&self.chunks[..])
    }
    fn validated(&self) -> bool {
        self.validated && !self.modified
    }
    fn with_decoded<T>(
        &mut self,
        f: impl FnOnce(&mut ExportTraceServiceRequest) -> (T, bool),
    ) -> T {
        let chunks = &self.chunks;
        let req = self
            .decoded
            .get_or_insert_with(|| ExportTraceServiceRequest::decode(chunks[0].clone()).unwrap());
        let (t, changed) = f(req);
        self.modified |= changed;
        t
    }
    fn item_count(&self) -> usize {
        0
    }
    fn clear(&mut self) {
        self.decoded = Some(ExportTraceServiceRequest::default());
        self.modified = true;
    }
}

fn main() {
    // `WASM_OVERHEAD_VIEW_ONLY=N`: only build the view of 128 spans from
    // scanned bytes N times, for `perf stat` (instruction counts do not
    // depend on the machine's load the way times do).
    if let Some(n) = std::env::var("WASM_OVERHEAD_VIEW_ONLY")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        let bytes = Bytes::from(common::flat_traces(128).encode_to_vec());
        let mut view = BatchView::default();
        for _ in 0..n {
            view.fill_traces_validated(std::slice::from_ref(&bytes))
                .unwrap();
            black_box(&view);
        }
        return;
    }
    let rt = WasmRuntime::without_registry(WasmRuntimeOptions {
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let noop = WasmProcessor::load("wasm/noop", &common::config("noop"), &rt).unwrap();
    // `WASM_OVERHEAD_STAGE_ONLY=N`: only run the collector's stage (view from
    // scanned bytes, then the no-op call) on 128 spans N times, for `perf`.
    if let Some(n) = std::env::var("WASM_OVERHEAD_STAGE_ONLY")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        let bytes = Bytes::from(common::flat_traces(128).encode_to_vec());
        for _ in 0..n {
            let mut b = Encoded::new(&bytes, true);
            noop.process_traces_batch(&mut b).unwrap();
            black_box(b);
        }
        return;
    }

    println!("## Per-batch overhead (8 string attributes per span)\n");
    println!(
        "| spans | native no-op | prost decode | view from decoded | view from bytes | view from scanned bytes | wasm no-op, decode first | wasm no-op, from bytes | wasm no-op, from scanned bytes | speed-up |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 16, 128, 1024] {
        let req = common::flat_traces(n);
        let bytes = Bytes::from(req.encode_to_vec());
        let mut batch = Encoded::new(&bytes, false);
        let (mut view, mut wire_view) = (BatchView::default(), BatchView::default());
        // The bytes pass the checks of pdata's receiver scan that the
        // validated builder skips (the checked builder makes the same ones),
        // and both builders agree on them.
        let mut scanned_view = BatchView::default();
        wire_view
            .fill_traces_encoded(std::slice::from_ref(&bytes))
            .unwrap();
        scanned_view
            .fill_traces_validated(std::slice::from_ref(&bytes))
            .unwrap();
        assert!(wire_view == scanned_view);
        let t = measure_all(&mut [
            &mut || native_noop(&mut batch),
            &mut || {
                black_box(ExportTraceServiceRequest::decode(bytes.clone()).unwrap());
            },
            &mut || {
                view.fill_traces(&req);
                black_box(&view);
            },
            &mut || {
                wire_view
                    .fill_traces_encoded(std::slice::from_ref(&bytes))
                    .unwrap();
                black_box(&wire_view);
            },
            &mut || {
                scanned_view
                    .fill_traces_validated(std::slice::from_ref(&bytes))
                    .unwrap();
                black_box(&scanned_view);
            },
            // Before: the stage decoded the batch (and kept its bytes: no
            // edits), then built the view from the decoded request.
            &mut || {
                let mut r = ExportTraceServiceRequest::decode(bytes.clone()).unwrap();
                noop.process_traces(&mut r).unwrap();
                black_box(r);
            },
            // The view is built from the bytes; nothing is decoded.
            &mut || {
                let mut b = Encoded::new(&bytes, false);
                noop.process_traces_batch(&mut b).unwrap();
                assert!(b.decoded.is_none(), "a no-op guest's batch stays encoded");
                black_box(b);
            },
            // As the collector's stage does for a received batch: bytes the
            // receiver's scan accepted are not UTF-8-checked again.
            &mut || {
                let mut b = Encoded::new(&bytes, true);
                noop.process_traces_batch(&mut b).unwrap();
                assert!(b.decoded.is_none(), "a no-op guest's batch stays encoded");
                black_box(b);
            },
        ]);
        let (native, decode, build, wire, scanned, decoded_call, wire_call, scanned_call) =
            (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
        println!(
            "| {n} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.1}x |",
            us(native),
            us(decode),
            us(build),
            us(wire),
            us(scanned),
            us(decoded_call),
            us(wire_call),
            us(scanned_call),
            decoded_call.as_secs_f64() / scanned_call.as_secs_f64(),
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
            circuit_breaker: wasm_host::wasm::CircuitBreakerConfig {
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
            limits: wasm_host::wasm::Limits {
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
