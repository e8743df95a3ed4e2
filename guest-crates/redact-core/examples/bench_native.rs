//! Native half of the guest-vs-native benchmark: the engine over the same
//! attributes the host benchmark sends through the guest
//! (`processors/benches/redact.rs`), walked as the guest walks them (key
//! verdict, then value rules). Prints MB/s of attribute value text on one
//! core.
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
    for n in [128usize, 1024] {
        let batch = bench_input::spans(n, 42);
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
                        KeyVerdict::Scan { skip } => {
                            black_box(engine.redact_text(v, skip, &mut hits, &mut touched));
                        }
                    }
                }
            }
            black_box(hits);
        };
        // Median of 7 rounds of ~200 ms.
        let mut rounds = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            let mut iters = 0u32;
            while t.elapsed() < Duration::from_millis(200) {
                run();
                iters += 1;
            }
            rounds.push(t.elapsed() / iters);
        }
        rounds.sort();
        let per = rounds[3];
        println!(
            "native engine, {n} spans x 10 attributes ({bytes} bytes): {:.1} µs/batch, {:.1} MB/s",
            per.as_secs_f64() * 1e6,
            bytes as f64 / per.as_secs_f64() / 1e6
        );
    }
    Ok(())
}
