//! Repair engine benchmarks (not tests): run with `cargo bench -p repair --bench repair`.
//!
//! 1. Time from envelope accepted (202) to `reproduced` (incident `succeeded`), with a
//!    cold image cache (the service image is removed before each iteration, so it is
//!    built from the git tree) and a warm one, for 1 and 3 replays per incident.
//! 2. Intake throughput (envelopes/s) with the store on disk: new fingerprints (each
//!    opens an incident) and repeats of one fingerprint (each joins it).
//!
//! Uses the real `tracemend-repair` binary, the real Docker engine and a real git
//! repository, like the tests. Set `REPAIR_BENCH_QUICK=1` for fewer iterations.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::sample::{APP_PY, service_yaml};
use common::*;
use serde_json::{Value, json};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn stats(label: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.total_cmp(b));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{label:<44} n={:<3} mean={mean:>8.0} ms  min={:>8.0}  median={:>8.0}  max={:>8.0}",
        v.len(),
        v[0],
        percentile(&v, 0.5),
        v[v.len() - 1]
    );
}

fn failing_envelope(id: &str, commit: &str, fingerprint: &str) -> Value {
    envelope(
        id,
        "checkout",
        commit,
        fingerprint,
        exception(
            "KeyError",
            "app.py",
            line_of(APP_PY, "address[\"postcode\"]"),
            "shipping_quote",
        ),
        json!({ "protocol": "http", "method": "POST", "route": "/quote", "path": "/quote", "body": { "address": {} } }),
    )
}

/// Posts one envelope and waits for `succeeded`; returns (total ms, stage ms, build ms).
async fn time_to_reproduced(engine: &Engine, env: &Value) -> (f64, f64, f64) {
    let start = Instant::now();
    let (status, body) = engine.post(env).await;
    assert_eq!(status, 202, "{body}");
    let id = body["incident_id"].as_i64().expect("id");
    loop {
        let (_, b) = engine.get(&format!("/v1/incidents/{id}")).await;
        match b["status"].as_str() {
            Some("succeeded") => {
                let total = start.elapsed().as_secs_f64() * 1000.0;
                let stage = b["stages"][0]["duration_ms"].as_f64().unwrap_or(f64::NAN);
                let build = b["stages"][0]["result"]["image"]["build_ms"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                return (total, stage, build);
            }
            Some("rejected" | "failed") => panic!("incident ended {}: {b:#}", b["status"]),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn bench_reproduce(quick: bool) {
    ensure_base_image();
    for runs in [1u32, 3] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cleanup = Cleanup::new(tmp.path());
        let repo = GitRepo::new(tmp.path().join("checkout"));
        let commit = repo.commit(&[("app.py", APP_PY)], "checkout service");
        cleanup.commits.push(commit.clone());
        write_config(
            tmp.path(),
            &service_yaml(&repo.dir, runs).replace("workers: 3", "workers: 1"),
        );
        let engine = Engine::start(tmp.path()).await;
        let (cold_n, warm_n) = if quick { (1, 2) } else { (3, 5) };
        let mut cold = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..cold_n {
            remove_images_of(&commit);
            let env = failing_envelope(
                &format!("env-bench-cold-{runs}-{i:04}"),
                &commit,
                &format!("c{runs}{i:014}"),
            );
            let (t, s, b) = time_to_reproduced(&engine, &env).await;
            cold.0.push(t);
            cold.1.push(s);
            cold.2.push(b);
        }
        let mut warm = (Vec::new(), Vec::new());
        for i in 0..warm_n {
            let env = failing_envelope(
                &format!("env-bench-warm-{runs}-{i:04}"),
                &commit,
                &format!("d{runs}{i:014}"),
            );
            let (t, s, _) = time_to_reproduced(&engine, &env).await;
            warm.0.push(t);
            warm.1.push(s);
        }
        stats(
            &format!("accepted->reproduced, cold image, runs={runs}"),
            cold.0,
        );
        stats(&format!("  reproduce stage, cold, runs={runs}"), cold.1);
        stats(&format!("  image build, cold, runs={runs}"), cold.2);
        stats(
            &format!("accepted->reproduced, warm image, runs={runs}"),
            warm.0,
        );
        stats(&format!("  reproduce stage, warm, runs={runs}"), warm.1);
    }
}

async fn bench_intake(quick: bool) {
    let total: usize = if quick { 2_000 } else { 20_000 };
    let concurrency = 32;
    for (synchronous, joined) in [
        ("full", false),
        ("full", true),
        ("normal", false),
        ("normal", true),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        // No services: each new incident is rejected right away by a worker, so the
        // workers take their share of the store like they would in production.
        let path = write_config(tmp.path(), "workers: 2\nintake:\n  max_body_bytes: 65536\n");
        let config = std::fs::read_to_string(&path).expect("read config");
        std::fs::write(
            &path,
            config.replace(
                "store:\n",
                &format!("store:\n  synchronous: {synchronous}\n"),
            ),
        )
        .expect("write config");
        let engine = Arc::new(Engine::start(tmp.path()).await);
        let template: Value = serde_json::from_str(include_str!(
            "../../config/examples/envelopes/checkout-keyerror.json"
        ))
        .expect("json");
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (engine, next, template) = (engine.clone(), next.clone(), template.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return latencies;
                    }
                    let mut env = template.clone();
                    env["envelope_id"] = json!(format!("env-intake-{i:010}"));
                    let fp = if joined { 0 } else { i };
                    env["symptom"]["fingerprint"] = json!(format!("{fp:016x}"));
                    let body = env.to_string().into_bytes();
                    let t = Instant::now();
                    let (status, _) = engine.post_raw(body, Some(TOKEN)).await;
                    assert_eq!(status, 202);
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            });
        }
        let mut latencies = Vec::new();
        while let Some(r) = tasks.join_next().await {
            latencies.extend(r.expect("task"));
        }
        let secs = start.elapsed().as_secs_f64();
        latencies.sort_by(|a, b| a.total_cmp(b));
        let db = std::fs::metadata(tmp.path().join("repair.db"))
            .map(|m| m.len())
            .unwrap_or(0)
            + std::fs::metadata(tmp.path().join("repair.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        println!(
            "intake, synchronous={synchronous}, {}: {total} envelopes ({} B each), {concurrency} clients: {:.0} envelopes/s, latency p50={:.2} ms p99={:.2} ms max={:.2} ms; store {:.1} MiB",
            if joined {
                "one shared fingerprint"
            } else {
                "unique fingerprints"
            },
            template.to_string().len(),
            total as f64 / secs,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1],
            db as f64 / (1024.0 * 1024.0),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects one part.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let quick = std::env::var("REPAIR_BENCH_QUICK").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if filter.is_empty() || filter.iter().any(|f| f == "reproduce") {
            bench_reproduce(quick).await;
        }
        if filter.is_empty() || filter.iter().any(|f| f == "intake") {
            bench_intake(quick).await;
        }
    });
}
