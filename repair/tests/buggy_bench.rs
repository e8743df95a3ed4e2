//! Measurements of the repair engine on the whole buggy-service set, through the real
//! binary and Docker engine (ignored by default: about 15-25 minutes on two busy cores).
//!
//!     cargo test -p repair --test buggy_bench -- --ignored --nocapture --test-threads 1
//!
//! `buggy_set`: every service's envelope; reproduction, minimization (leaves and bytes
//! before/after, probes, containers, time) and localization (rank of the truth's faulty
//! function) per service, then the totals: reproduction rate, top-1 and top-3 accuracy.
//! `probe_cost`: a 53-leaf body (flask-orders with more items) minimized three ways:
//! batched with the service declared stateless (one service answers the batch), batched
//! with the service restarted before each probe (forked from the runner's fork server),
//! and one container per probe; `PROBE_COST_MODES=restart,...` limits it to those.
//! Tables go to stdout and, when `BENCH_OUT` names a file, are appended there;
//! `BUGGY_SERVICES=a,b` limits `buggy_set` to those services; `BENCH_EVIDENCE=FILE`
//! writes each service's localize result (every hypothesis with its evidence) for
//! `repair/benches/fit_weights.py`.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::buggy;
use common::*;
use serde_json::{Value, json};

fn stage<'a>(incident: &'a Value, name: &str) -> Option<&'a Value> {
    incident["stages"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

fn report(text: &str) {
    println!("{text}");
    if let Ok(path) = std::env::var("BENCH_OUT")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{text}");
    }
}

fn config(map: &str, extra: &str) -> String {
    format!(
        "workers: 2\nreproduce:\n  runs: 1\n  ready_timeout: 60s\n  request_timeout: 30s\nsandbox:\n  timeout: 120s\n  build:\n    timeout: 15m\n{extra}services:\n{map}"
    )
}

/// 1-based rank of `fault` among the hypotheses' functions (`module.fn` matches `fn`).
fn rank_of(localize: &Value, fault: &str) -> Option<usize> {
    localize["hypotheses"]
        .as_array()?
        .iter()
        .position(|h| {
            h["suspect"]["function"]
                .as_str()
                .is_some_and(|f| f == fault || f.ends_with(&format!(".{fault}")))
        })
        .map(|i| i + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes of Docker work; run by hand for BENCHMARKS.md"]
async fn buggy_set() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    // `BUGGY_SERVICES=a,b` measures only those.
    let only = std::env::var("BUGGY_SERVICES").unwrap_or_default();
    let names: Vec<String> = buggy::names()
        .into_iter()
        .filter(|n| only.is_empty() || only.split(',').any(|o| o == n))
        .collect();
    let services: Vec<buggy::Buggy> = names
        .iter()
        .map(|n| buggy::setup(&tmp.path().join("repos"), n))
        .collect();
    cleanup
        .commits
        .extend(services.iter().map(|b| b.commit.clone()));
    // Every service of the set keeps no state between requests: probes share one
    // running service (see `probe_cost` for the cost of restarting it per probe).
    let map: String = services
        .iter()
        .map(|b| buggy::service_yaml(b) + "    stateless: true\n")
        .collect();
    // All hypotheses kept (not the default 10), so the ranking can be studied offline.
    write_config(
        tmp.path(),
        &config(
            &map,
            "minimize:\n  max_probes: 400\nlocalize:\n  max_hypotheses: 60\n",
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let mut ids = Vec::new();
    for b in &services {
        let (status, body) = engine.post(&buggy::envelope(b)).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["incident_id"].as_i64().expect("id"));
    }
    report(
        "| service | reproduced | leaves | bytes | probes (containers) | minimize s | fault | rank | top hypothesis | cause class |",
    );
    report("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let (mut reproduced, mut top1, mut top3) = (0, 0, 0);
    let mut ratios = Vec::new();
    for (b, id) in services.iter().zip(&ids) {
        let incident = engine.wait_done(*id, Duration::from_secs(3600)).await;
        let repro = stage(&incident, "reproduce").map(|s| &s["result"]);
        let ok = repro.is_some_and(|r| r["verdict"] == "reproduced");
        reproduced += usize::from(ok);
        let m = stage(&incident, "minimize").map(|s| &s["result"]);
        let l = stage(&incident, "localize").map(|s| &s["result"]);
        let fault = b.truth["fault"]["function"].as_str().unwrap_or("?");
        let rank = l.and_then(|l| rank_of(l, fault));
        top1 += usize::from(rank == Some(1));
        top3 += usize::from(rank.is_some_and(|r| r <= 3));
        let (leaves, bytes, probes, secs) = match m {
            Some(m) => {
                let r = &m["reduction"];
                if let (Some(a), Some(b)) = (r["bytes_before"].as_f64(), r["bytes_after"].as_f64())
                    && a > 0.0
                {
                    ratios.push(b / a);
                }
                (
                    format!("{} → {}", r["leaves_before"], r["leaves_after"]),
                    format!("{} → {}", r["bytes_before"], r["bytes_after"]),
                    format!(
                        "{} ({})",
                        m["probes"]["executed"], m["probes"]["containers"]
                    ),
                    format!(
                        "{:.1}",
                        m["probes"]["elapsed_ms"].as_f64().unwrap_or(0.0) / 1000.0
                    ),
                )
            }
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let top = l
            .and_then(|l| l["hypotheses"].get(0))
            .map(|h| {
                (
                    h["suspect"]["function"].as_str().unwrap_or("-").to_string(),
                    h["cause_class"].as_str().unwrap_or("-").to_string(),
                )
            })
            .unwrap_or(("-".into(), "-".into()));
        report(&format!(
            "| `{}` | {} | {leaves} | {bytes} | {probes} | {secs} | `{fault}` | {} | `{}` | {} |",
            b.name,
            if ok { "yes" } else { "**no**" },
            rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            top.0,
            top.1
        ));
        if !ok {
            eprintln!("{}: {incident:#}", b.name);
        }
        // `BENCH_EVIDENCE=FILE`: each service's localize result (every hypothesis with
        // its evidence), one JSON line each, to study the ranking offline.
        if let (Ok(path), Some(l)) = (std::env::var("BENCH_EVIDENCE"), l)
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            let line = json!({"service": b.name, "fault": fault, "rank": rank, "localize": l});
            let _ = writeln!(f, "{line}");
        }
    }
    let n = services.len();
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    report(&format!(
        "\nreproduced {reproduced}/{n}; top-1 {top1}/{n} ({:.0}%); top-3 {top3}/{n} ({:.0}%); mean bytes after/before {:.2}",
        100.0 * top1 as f64 / n as f64,
        100.0 * top3 as f64 / n as f64,
        mean_ratio
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes of Docker work; run by hand for BENCHMARKS.md"]
async fn probe_cost() {
    ensure_base_image();
    // `PROBE_COST_MODES=stateless,restart,per_container` measures only those.
    let only = std::env::var("PROBE_COST_MODES").unwrap_or_default();
    for (mode, label, batch, stateless) in [
        (
            "stateless",
            "batched, stateless (one service for the batch)",
            32,
            true,
        ),
        (
            "restart",
            "batched, service restarted per probe (forked)",
            32,
            false,
        ),
        ("per_container", "one container per probe", 1, false),
    ] {
        if !only.is_empty() && !only.split(',').any(|m| m == mode) {
            continue;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut cleanup = Cleanup::new(tmp.path());
        let b = buggy::setup(&tmp.path().join("repos"), "flask-orders");
        cleanup.commits.push(b.commit.clone());
        let extra = format!(
            "minimize:\n  batch_size: {batch}\n  max_probes: 400\n  time_budget: 20m\nlocalize:\n  coverage: false\n"
        );
        let mut service = buggy::service_yaml(&b);
        if stateless {
            service.push_str("    stateless: true\n");
        }
        write_config(tmp.path(), &config(&service, &extra));
        let engine = Engine::start(tmp.path()).await;
        let mut envelope = buggy::envelope(&b);
        let items = envelope["inputs"]["body"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let more: Vec<Value> = (0..4)
            .map(|i| json!({"sku": format!("EXTRA-{i}"), "price": 3.5 + f64::from(i), "quantity": i + 1, "weight_kg": 0.3, "gift_wrap": i % 2 == 0}))
            .collect();
        envelope["inputs"]["body"]["items"] = json!([items, more].concat());
        let started = Instant::now();
        let incident = engine.run(&envelope, Duration::from_secs(3600)).await;
        let m = &stage(&incident, "minimize").expect("minimize")["result"];
        let p = &m["probes"];
        let ms = p["elapsed_ms"].as_f64().unwrap_or(0.0);
        let executed = p["executed"].as_f64().unwrap_or(1.0).max(1.0);
        report(&format!(
            "| {label} | {} → {} leaves | {} probes, {} containers | {:.1} s | {:.0} ms a probe | {:.1} s incident |",
            m["reduction"]["leaves_before"],
            m["reduction"]["leaves_after"],
            p["executed"],
            p["containers"],
            ms / 1000.0,
            ms / executed,
            started.elapsed().as_secs_f64()
        ));
    }
}
