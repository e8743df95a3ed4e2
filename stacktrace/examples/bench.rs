//! Parse cost per frame of a stack trace read from stdin (a micro benchmark,
//! not a test): `python3 x.py 2>&1 | cargo run --release -p stacktrace
//! --example bench [-- ITERATIONS]`. Prints the fastest of five rounds, in
//! this process's CPU time where Linux reports it (`/proc/self/schedstat`;
//! wall time elsewhere), so a loaded machine does not inflate the figure.

use std::io::Read;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let parsed = stacktrace::parse(&text);
    let frames: usize = parsed.exceptions.iter().map(|e| e.frames.len()).sum();
    if frames == 0 {
        eprintln!("no frames in the input ({:?})", parsed.problems);
        std::process::exit(1);
    }
    // A predicate like the symbol index's: a sorted table searched by path.
    let mut repo: Vec<String> = parsed
        .exceptions
        .iter()
        .flat_map(|e| e.frames.iter().filter(|f| f.in_app))
        .filter_map(|f| f.file.clone())
        .collect();
    repo.sort();
    repo.dedup();
    let predicate = |p: &str| repo.binary_search_by(|f| f.as_str().cmp(p)).is_ok();
    let parser = stacktrace::Parser::new().in_app(&predicate);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let (cpu, wall) = (cpu_seconds(), Instant::now());
        for _ in 0..iterations {
            std::hint::black_box(parser.parse(std::hint::black_box(&text), None));
        }
        let spent = match (cpu, cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => wall.elapsed().as_secs_f64(),
        };
        best = best.min(spent);
    }
    let per_parse = best / f64::from(iterations) * 1e9;
    println!(
        "runtime {} bytes {} frames {frames}: {per_parse:.0} ns a trace, {:.0} ns a frame",
        parsed.runtime.map_or("unknown", |r| r.as_str()),
        text.len(),
        per_parse / frames as f64
    );
    Ok(())
}

/// CPU time of this process's threads so far (Linux; the first field of
/// `/proc/self/schedstat` is nanoseconds on the CPU).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}
