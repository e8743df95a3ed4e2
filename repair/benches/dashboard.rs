//! Dashboard page latency (not a test): `cargo bench -p repair --bench dashboard`.
//!
//! An engine whose store holds N incidents (10 services, each incident refused by the
//! reproduce stage, so every one has a stage row and a result) serves each dashboard page
//! 100 times in a row to one client; the baseline, measured in the same run, is the JSON
//! API's list of the same 50 newest incidents (`GET /v1/incidents?limit=50`). Set
//! `REPAIR_BENCH_QUICK=1` for fewer incidents and requests.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn median_p95(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.95))
}

async fn fill(engine: &Arc<Engine>, total: usize) {
    let template: Value = serde_json::from_str(include_str!(
        "../../config/examples/envelopes/checkout-keyerror.json"
    ))
    .expect("json");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (engine, next, template) = (engine.clone(), next.clone(), template.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let mut env = template.clone();
                env["envelope_id"] = json!(format!("env-dash-{i:010}"));
                env["identity"]["service"]["name"] = json!(format!("svc-{}", i % 10));
                env["symptom"]["fingerprint"] = json!(format!("{i:016x}"));
                let (status, body) = engine.post(&env).await;
                assert_eq!(status, 202, "{body}");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    // Every job ended (refused: no service is configured).
    let start = Instant::now();
    loop {
        let health: Value = engine
            .client
            .get(format!("{}/healthz", engine.base))
            .send()
            .await
            .expect("healthz")
            .json()
            .await
            .expect("json");
        let busy = ["queued", "running"]
            .iter()
            .filter_map(|k| health["jobs"][k].as_u64())
            .sum::<u64>();
        if busy == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "{health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn time_get(engine: &Engine, path: &str, bearer: bool, cookie: &str, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 5 {
        let mut req = engine.client.get(format!("{}{path}", engine.base));
        req = if bearer {
            req.bearer_auth(TOKEN)
        } else {
            req.header("cookie", cookie)
        };
        let start = Instant::now();
        let resp = req.send().await.expect("GET");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let _ = resp.bytes().await.expect("body");
        // The first five warm the page's code paths and SQLite's cache.
        if i >= 5 {
            out.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    out
}

fn main() {
    let quick = std::env::var("REPAIR_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (total, n) = if quick { (1_000, 30) } else { (5_000, 100) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = write_config(
            tmp.path(),
            "workers: 2\ndocker:\n  host: unix:///nonexistent/docker.sock\n",
        );
        let config = std::fs::read_to_string(&path).expect("read config");
        std::fs::write(
            &path,
            config.replace("store:\n", "store:\n  synchronous: normal\n"),
        )
        .expect("write config");
        let engine = Arc::new(Engine::start(tmp.path()).await);
        fill(&engine, total).await;
        let cookie = engine.ui_login().await;
        let middle = total / 2;
        let baseline = time_get(&engine, "/v1/incidents?limit=50", true, "", n).await;
        let (base_median, base_p95) = median_p95(baseline);
        println!(
            "{total} incidents, {n} sequential requests each; ratios are medians over the baseline"
        );
        println!(
            "{:<44} median {base_median:>7.2} ms  p95 {base_p95:>7.2} ms  (baseline)",
            "GET /v1/incidents?limit=50 (JSON API)"
        );
        for path in [
            "/ui/".to_string(),
            "/ui/?service=svc-3&status=rejected".to_string(),
            format!("/ui/incidents/{middle}"),
            "/ui/overview?range=24h".to_string(),
            "/ui/overview?range=90d".to_string(),
        ] {
            let (median, p95) = median_p95(time_get(&engine, &path, false, &cookie, n).await);
            println!(
                "{:<44} median {median:>7.2} ms  p95 {p95:>7.2} ms  x{:.2}",
                format!("GET {path}"),
                median / base_median
            );
        }
    });
}
