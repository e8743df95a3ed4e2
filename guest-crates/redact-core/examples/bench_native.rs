//! Native half of the guest-vs-native benchmark: the engine over the same
//! attributes the host benchmark sends through the guest
//! (`wasm-host/benches/redact.rs`), walked as the guest walks them (key
//! verdict, then value rules). Prints MB/s of attribute value text on one
//! core: the fastest of 25 rounds of ~20 ms.
//!
//! ```sh
//! cd guest-crates && cargo run --release -p redact-core --example bench_native
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use redact_core::{Engine, Hits, KeyOutcome, KeyVerdict, bench_input};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = std::env::args().nth(1).unwrap_or_else(|| "{}".into());
    let engine = Engine::from_json(&config, &|_| None)?;
    // `BENCH_NATIVE_CALLS=N`: only N batches of 128 spans, for instruction
    // counts (`valgrind --tool=cachegrind`), as the host benchmark's
    // `REDACT_BENCH_CALLS`.
    let calls = std::env::var("BENCH_NATIVE_CALLS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok());
    // `BENCH_NATIVE_INPUT=loadgen`: the pipeline benchmark's values
    // instead (`bench_input::loadgen_spans`, 16 characters each).
    let loadgen = std::env::var_os("BENCH_NATIVE_INPUT").is_some_and(|v| v == "loadgen");
    for n in [128usize, 1024] {
        let batch = if loadgen {
            bench_input::loadgen_spans(n, 16)
        } else {
            bench_input::spans(n, 42)
        };
        let bytes = bench_input::value_bytes(&batch);
        let run = || {
            let mut hits = Hits::default();
            let mut touched = Vec::new();
            for span in &batch {
                for (k, v) in span {
                    match engine.key_verdict(k) {
                        KeyVerdict::Allow => {}
                        KeyVerdict::Rule(r) => {
                            let o: KeyOutcome = engine.apply_key_rule(r, v, &mut hits);
                            black_box(o);
                        }
                        KeyVerdict::Scan { skip, pseudo, .. } => {
                            black_box(engine.redact_text(
                                v,
                                skip.into(),
                                pseudo,
                                &mut hits,
                                &mut touched,
                            ));
                        }
                    }
                }
            }
            black_box(hits);
        };
        if let Some(calls) = calls {
            for _ in 0..calls {
                run();
            }
            return Ok(());
        }
        // The fastest of 25 rounds of ~20 ms, as the host benchmark
        // measures the guest: the round least disturbed by other processes.
        let started = Instant::now();
        let mut warm = 0u32;
        while started.elapsed() < Duration::from_millis(50) || warm < 3 {
            run();
            warm += 1;
        }
        let iters = ((Duration::from_millis(20).as_nanos()
            / (started.elapsed() / warm).as_nanos().max(1)) as u32)
            .max(1);
        let mut per = Duration::MAX;
        for _ in 0..25 {
            let t = Instant::now();
            for _ in 0..iters {
                run();
            }
            per = per.min(t.elapsed() / iters);
        }
        println!(
            "native engine, {n} spans x 10 attributes ({bytes} bytes): {:.1} µs/batch, {:.1} MB/s",
            per.as_secs_f64() * 1e6,
            bytes as f64 / per.as_secs_f64() / 1e6
        );
    }
    Ok(())
}
