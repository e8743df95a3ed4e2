//! Containerized reproduction against the real Docker engine and a real git repository:
//! a small Python HTTP service with a planted bug (`KeyError` on a missing nested field).
//!
//! - the failing request is `reproduced`, stably, with a deterministic clock, hash seed
//!   and `random` (every run observes the same message);
//! - a passing request is `not_reproduced` with the reason;
//! - an envelope whose exception type differs is `not_reproduced`;
//! - the container has no network: the service cannot reach a listener on the host;
//! - no container is left behind.

mod common;

use std::time::Duration;

use common::sample::{APP_PY, service_yaml};
use common::*;
use serde_json::{Value, json};

fn post_quote(body: Value) -> Value {
    json!({ "protocol": "http", "method": "POST", "route": "/quote", "path": "/quote",
            "headers": { "content-type": "application/json" }, "query": { "currency": "EUR" }, "body": body })
}

fn get(path: &str) -> Value {
    json!({ "protocol": "http", "method": "GET", "route": path, "path": path })
}

fn quote_exception(ty: &str) -> Value {
    exception(
        ty,
        "app.py",
        line_of(APP_PY, "address[\"postcode\"]"),
        "shipping_quote",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduces_the_planted_bug_and_rejects_what_does_not_match() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    let commit = repo.commit(
        &[("app.py", APP_PY), ("README", "sample service\n")],
        "checkout service",
    );
    cleanup.commits.push(commit.clone());
    write_config(tmp.path(), &service_yaml(&repo.dir, 2));
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    assert_eq!(owner, cleanup.owner);

    let failing = envelope(
        "env-repro-failing-1",
        "checkout",
        &commit,
        "1111111111111111",
        quote_exception("KeyError"),
        post_quote(json!({ "address": { "city": "tok_v1_0a1b2c3d4e5f6071" } })),
    );
    let passing = envelope(
        "env-repro-passing-1",
        "checkout",
        &commit,
        "2222222222222222",
        quote_exception("KeyError"),
        post_quote(
            json!({ "address": { "city": "tok_v1_0a1b2c3d4e5f6071", "postcode": "10115" } }),
        ),
    );
    let wrong_type = envelope(
        "env-repro-wrongtype",
        "checkout",
        &commit,
        "3333333333333333",
        quote_exception("ValueError"),
        post_quote(json!({ "address": {} })),
    );
    let mut clock = envelope(
        "env-repro-clock-001",
        "checkout",
        &commit,
        "4444444444444444",
        exception(
            "LookupError",
            "app.py",
            line_of(APP_PY, "raise LookupError"),
            "clock_report",
        ),
        get("/clock"),
    );
    clock["identity"]["timestamp"] = json!("2026-03-14T09:26:53Z");

    let mut ids = Vec::new();
    for env in [&failing, &passing, &wrong_type, &clock] {
        let (status, body) = engine.post(env).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["incident_id"].as_i64().expect("id"));
    }
    let timeout = Duration::from_secs(240);

    let body = engine.wait_done(ids[0], timeout).await;
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    let stage = &body["stages"][0];
    assert_eq!(stage["name"], "reproduce");
    assert_eq!(stage["status"], "completed");
    let result = &stage["result"];
    assert_eq!(result["verdict"], "reproduced", "{result:#}");
    assert_eq!(result["stable"], true, "{result:#}");
    assert_eq!(result["commit"], commit);
    assert_eq!(result["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(result["runs"][0]["observed"]["exception_type"], "KeyError");
    assert_eq!(
        result["runs"][0]["observed"]["top_in_app_frame"]["function"],
        "shipping_quote"
    );
    assert_eq!(result["runs"][0]["clock_faked"], true);
    assert_eq!(result["sandbox"]["network"], "none");
    assert_eq!(
        stage["artifacts"],
        json!(["reproduce-run-1.json", "reproduce-run-2.json"])
    );
    assert!(
        tmp.path()
            .join("data/artifacts")
            .join(ids[0].to_string())
            .join("reproduce-run-1.json")
            .is_file()
    );
    assert!(stage["duration_ms"].as_i64().is_some());

    // The list carries the same: status, every stage's result, timings, artifact names.
    let (status, list) = engine.get("/v1/incidents?limit=1000").await;
    assert_eq!(status, 200, "{list}");
    let listed = list["incidents"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["id"] == ids[0]))
        .expect("incident in the list");
    assert_eq!(listed["status"], "succeeded");
    assert_eq!(listed["stages"][0]["result"]["verdict"], "reproduced");
    assert_eq!(listed["stages"][0]["artifacts"], stage["artifacts"]);
    assert!(listed["stages"][0]["duration_ms"].as_i64().is_some());

    let body = engine.wait_done(ids[1], timeout).await;
    assert_eq!(body["status"], "rejected", "{body:#}");
    assert_eq!(
        body["reason"],
        "not_reproduced: no exception was raised; the service answered 200"
    );
    assert_eq!(body["stages"][0]["result"]["verdict"], "not_reproduced");

    let body = engine.wait_done(ids[2], timeout).await;
    assert_eq!(body["status"], "rejected", "{body:#}");
    assert_eq!(
        body["reason"],
        "not_reproduced: exception type: expected ValueError, observed KeyError"
    );

    // Determinism: the clock starts at the envelope's timestamp, the hash seed and
    // `random` are seeded, so every run raises the very same message.
    let body = engine.wait_done(ids[3], timeout).await;
    assert_eq!(body["status"], "succeeded", "{body:#}");
    let result = &body["stages"][0]["result"];
    assert_eq!(result["stable"], true, "{result:#}");
    let first = result["runs"][0]["observed"]["message"]
        .as_str()
        .expect("message");
    assert_eq!(
        result["runs"][1]["observed"]["message"].as_str(),
        Some(first)
    );
    let now: i64 = first
        .split_whitespace()
        .find_map(|p| p.strip_prefix("now="))
        .and_then(|n| n.parse().ok())
        .expect("now= in message");
    let envelope_epoch = 1_773_480_413; // 2026-03-14T09:26:53Z
    assert!(
        (envelope_epoch..envelope_epoch + 30).contains(&now),
        "clock {now} not at the envelope's time"
    );

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_has_no_network() {
    ensure_base_image();
    // A listener on every address of the host, and the service told to connect to the
    // host's address on Docker's default bridge: a container with any network (the
    // default bridge included) reaches it and answers 200. In the sandbox there is no
    // route out, so the connect fails with "Network is unreachable" (an `OSError`).
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let host = docker_bridge_gateway();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    // This service is built from the repository's own Dockerfile (not a configured base).
    let dockerfile = format!("FROM {BASE_IMAGE}\nCOPY . /srv/checkout\n");
    let commit = repo.commit(
        &[("app.py", APP_PY), ("Dockerfile", &dockerfile)],
        "checkout service",
    );
    cleanup.commits.push(commit.clone());
    write_config(
        tmp.path(),
        &service_yaml(&repo.dir, 1)
            .replace(
                "sandbox:\n",
                "sandbox:\n  memory_mib: 256\n  pids_limit: 64\n",
            )
            .replace(
                &format!("base_image: {BASE_IMAGE}"),
                "dockerfile: Dockerfile",
            )
            .replace(
                "command: [python3, app.py]",
                "command: [python3, app.py]\n    workdir: /srv/checkout",
            ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    assert_eq!(owner, cleanup.owner);
    let env = envelope(
        "env-repro-network-1",
        "checkout",
        &commit,
        "5555555555555555",
        exception(
            "OSError",
            "app.py",
            line_of(APP_PY, "socket.create_connection"),
            "probe_network",
        ),
        json!({ "protocol": "http", "method": "GET", "route": "/net", "path": "/net",
                "query": { "host": host, "port": port.to_string() } }),
    );
    let body = engine.run(&env, Duration::from_secs(180)).await;
    // Reproduced means: connecting out failed, for want of any route.
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    let observed = &body["stages"][0]["result"]["runs"][0]["observed"];
    assert_eq!(observed["exception_type"], "OSError", "{observed}");
    assert!(
        observed["message"]
            .as_str()
            .is_some_and(|m| m.contains("Network is unreachable")),
        "{observed}"
    );
    drop(listener);

    // The sandbox's other properties, as the service itself sees them.
    let probe = envelope(
        "env-repro-probe-001",
        "checkout",
        &commit,
        "7777777777777777",
        exception(
            "LookupError",
            "app.py",
            line_of(APP_PY, "raise LookupError(\" \".join"),
            "sandbox_probe",
        ),
        get("/probe"),
    );
    let body = engine.run(&probe, Duration::from_secs(180)).await;
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    let facts = body["stages"][0]["result"]["runs"][0]["observed"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    for fact in [
        "uid=65534",
        "NoNewPrivs=1",
        "CapEff=0000000000000000",
        "cwd_writable=no",
        "tmp_writable=yes",
        "ifaces=lo ",
        "mem=268435456",
        "pids=64",
        "cpu=100000", // sandbox.cpus 1.0: a quota of one period (100 ms per 100 ms)
        "tz=CET",
        "hashseed=0",
    ] {
        assert!(facts.contains(fact), "{fact} not in {facts}");
    }
    let health: Value = reqwest::get(format!("{}/healthz", engine.base))
        .await
        .expect("GET /healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_wall_clock_limit_is_killed_and_the_job_fails() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("sleeper"));
    let commit = repo.commit(
        &[("app.py", "import time\ntime.sleep(600)\n")],
        "never listens",
    );
    cleanup.commits.push(commit.clone());
    // A second service whose own Dockerfile does not build.
    let broken = GitRepo::new(tmp.path().join("broken"));
    let broken_commit = broken.commit(
        &[
            ("app.py", "print('never runs')\n"),
            ("Dockerfile", &format!("FROM {BASE_IMAGE}\nRUN exit 3\n")),
        ],
        "a Dockerfile that fails",
    );
    write_config(
        tmp.path(),
        &format!(
            "reproduce:\n  runs: 1\n  ready_timeout: 120s\nsandbox:\n  timeout: 3s\nservices:\n  sleeper:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n  broken:\n    repository: {}\n    dockerfile: Dockerfile\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n",
            repo.dir.display(),
            broken.dir.display()
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    let env = envelope(
        "env-repro-timeout-1",
        "sleeper",
        &commit,
        "8888888888888888",
        exception("KeyError", "app.py", 2, "<module>"),
        get("/"),
    );
    let body = engine.run(&env, Duration::from_secs(120)).await;
    assert_eq!(body["status"], "failed", "{body:#}");
    assert_eq!(body["failed_stage"], "reproduce");
    let reason = body["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("sandbox_error: the sandbox run timed out"),
        "{reason}"
    );
    let result = &body["stages"][0]["result"];
    assert_eq!(result["verdict"], "sandbox_error");
    assert_eq!(result["runs"][0]["timed_out"], true);

    // An image that does not build is a sandbox_error naming the build's failure.
    let env = envelope(
        "env-repro-nobuild-1",
        "broken",
        &broken_commit,
        "8888888888888889",
        exception("KeyError", "app.py", 1, "<module>"),
        get("/"),
    );
    let body = engine.run(&env, Duration::from_secs(120)).await;
    assert_eq!(body["status"], "failed", "{body:#}");
    assert_eq!(body["failed_stage"], "reproduce");
    let reason = body["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("sandbox_error: image build failed") && reason.contains("exit 3"),
        "{reason}"
    );
    assert_eq!(body["stages"][0]["result"]["verdict"], "sandbox_error");

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}

/// The host's address on Docker's default bridge network (where a container on that
/// network reaches the host): the configured gateway, else the first address of the
/// bridge's subnet (Docker's default, e.g. 172.17.0.1).
fn docker_bridge_gateway() -> String {
    let out = std::process::Command::new("docker")
        .args([
            "network",
            "inspect",
            "bridge",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}",
        ])
        .output()
        .expect("docker network inspect");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = text.split_whitespace();
    let (first, second) = (parts.next(), parts.next());
    match (first, second) {
        (Some(gateway), Some(_)) => gateway.to_string(),
        (Some(subnet), None) => {
            let net = subnet.split('/').next().expect("subnet address");
            let mut octets: Vec<u8> = net
                .split('.')
                .map(|o| o.parse().expect("IPv4 subnet"))
                .collect();
            octets[3] += 1;
            octets
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(".")
        }
        _ => panic!("no IPv4 config on Docker's bridge network: {text:?}"),
    }
}

/// Image ids (not tags) of the sandbox images built for `commit`.
fn images_of(commit: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label=org.tracemend.repair.commit={commit}"))
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_cache_keeps_the_newest_images_per_service() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    let first = repo.commit(&[("app.py", APP_PY)], "checkout service");
    // The next commit moves the bug one line down: an envelope is only reproduced when
    // the image holds the envelope's own commit, not the repository's HEAD.
    let shifted = format!("# quotes\n{APP_PY}");
    let second = repo.commit(&[("app.py", &shifted)], "a comment on top");
    cleanup.commits.push(first.clone());
    cleanup.commits.push(second.clone());
    write_config(
        tmp.path(),
        &service_yaml(&repo.dir, 1).replace("sandbox:\n", "sandbox:\n  images_per_service: 1\n"),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    let failing = |id: &str, commit: &str, fingerprint: &str| {
        let source = if commit == first { APP_PY } else { &shifted };
        envelope(
            id,
            "checkout",
            commit,
            fingerprint,
            exception(
                "KeyError",
                "app.py",
                line_of(source, "address[\"postcode\"]"),
                "shipping_quote",
            ),
            post_quote(json!({ "address": {} })),
        )
    };
    let reproduce = |env: Value| {
        let engine = &engine;
        async move {
            let body = engine.run(&env, Duration::from_secs(180)).await;
            assert_eq!(
                body["status"],
                "succeeded",
                "{body:#}\n{}",
                engine.log_tail()
            );
            body["stages"][0]["result"]["image"].clone()
        }
    };

    let image = reproduce(failing("env-cache-first-01", &first, "abab000000000001")).await;
    assert_eq!(image["cached"], false, "{image}");
    assert_eq!(images_of(&first).len(), 1);
    // Same commit again: the image is reused.
    let again = reproduce(failing("env-cache-first-02", &first, "abab000000000002")).await;
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(again["tag"], image["tag"]);

    // A new commit's build pushes the older image out (limit 1 per service).
    let newer = reproduce(failing("env-cache-second-1", &second, "abab000000000003")).await;
    assert_eq!(newer["cached"], false, "{newer}");
    assert_eq!(newer["pruned"], json!([image["tag"]]), "{newer}");
    assert_eq!(images_of(&first), Vec::<String>::new(), "old image kept");
    assert_eq!(images_of(&second).len(), 1, "new image removed");

    // The pruned commit comes back: it is simply built again.
    let rebuilt = reproduce(failing("env-cache-first-03", &first, "abab000000000004")).await;
    assert_eq!(rebuilt["cached"], false, "{rebuilt}");
    assert_eq!(rebuilt["tag"], image["tag"]);

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
