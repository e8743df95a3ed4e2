//! No Docker engine reachable: the engine is started with `DOCKER_HOST` naming a socket
//! that does not exist. An accepted incident waits (`waiting`, with the reason), is
//! retried with a growing delay, and `/healthz` says why. Then the socket appears (a
//! small proxy to the real engine's socket): the next retry runs the job to `reproduced`
//! and health is `ok` again. No container is left behind.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::sample::{APP_PY, service_yaml};
use common::*;
use serde_json::{Value, json};

const REAL_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Forwards every connection on `path` to the real Docker socket, byte for byte.
fn docker_socket_proxy(path: PathBuf) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(&path).expect("bind proxy socket");
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut engine) = tokio::net::UnixStream::connect(REAL_DOCKER_SOCKET).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                }
            });
        }
    })
}

fn ms(rfc3339: &Value) -> u128 {
    let text = rfc3339.as_str().expect("timestamp string");
    humantime::parse_rfc3339(text)
        .expect("RFC 3339")
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

async fn health(engine: &Engine) -> Value {
    reqwest::get(format!("{}/healthz", engine.base))
        .await
        .expect("GET /healthz")
        .json()
        .await
        .expect("health JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_wait_while_docker_is_unreachable_and_run_when_it_is_back() {
    assert!(
        Path::new(REAL_DOCKER_SOCKET).exists(),
        "this test needs the Docker engine on {REAL_DOCKER_SOCKET}"
    );
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    let commit = repo.commit(&[("app.py", APP_PY)], "checkout service");
    cleanup.commits.push(commit.clone());
    write_config(
        tmp.path(),
        &format!(
            "{}docker:\n  retry_initial: 200ms\n  retry_max: 800ms\n",
            service_yaml(&repo.dir, 1)
        ),
    );
    // No `docker.host` in the config: the engine follows DOCKER_HOST, like the docker CLI.
    let socket = tmp.path().join("docker.sock");
    let docker_host = format!("unix://{}", socket.display());
    let engine = Engine::start_with_env(tmp.path(), &[("DOCKER_HOST", &docker_host)]).await;
    let owner = engine.owner();

    let env = envelope(
        "env-dockerdown-0001",
        "checkout",
        &commit,
        "9999999999999999",
        exception(
            "KeyError",
            "app.py",
            line_of(APP_PY, "address[\"postcode\"]"),
            "shipping_quote",
        ),
        json!({ "protocol": "http", "method": "POST", "route": "/quote", "path": "/quote", "body": { "address": {} } }),
    );
    let (status, body) = engine.post(&env).await;
    assert_eq!(status, 202, "intake works without Docker: {body}");
    let id = body["incident_id"].as_i64().expect("id");

    // Waiting, with the reason, retried again and again with a delay that grows.
    let waiting = engine
        .wait_incident(id, Duration::from_secs(30), |b| {
            b["status"] == "waiting" && b["attempts"].as_i64() >= Some(3)
        })
        .await;
    let reason = waiting["reason"].as_str().expect("reason");
    assert!(reason.contains("docker engine unreachable"), "{waiting:#}");
    assert!(reason.contains("docker.sock"), "{waiting:#}");
    // attempts >= 3: this wait was scheduled with the third delay or later, 200ms * 2^2
    // capped at 800ms (the first was 200ms).
    let delay = ms(&waiting["next_attempt_at"]) - ms(&waiting["updated_at"]);
    assert!(
        (790..=810).contains(&delay),
        "delay {delay} ms is not the grown backoff: {waiting:#}"
    );
    assert!(
        waiting["stages"].as_array().is_none_or(Vec::is_empty),
        "{waiting:#}"
    );
    let h = health(&engine).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["sandbox"]["reachable"], false, "{h}");
    assert!(
        h["sandbox"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("docker.sock")),
        "{h}"
    );
    assert_eq!(h["sandbox"]["waiting_jobs"], 1, "{h}");
    assert_eq!(h["jobs"]["waiting"], 1, "{h}");

    // The engine comes back: the next retry runs the job to its end.
    let proxy = docker_socket_proxy(socket.clone());
    let body = engine.wait_done(id, Duration::from_secs(180)).await;
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    assert_eq!(body["stages"][0]["result"]["verdict"], "reproduced");
    assert!(body.get("reason").is_none(), "stale reason kept: {body:#}");
    let h = health(&engine).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["sandbox"]["reachable"], true, "{h}");
    assert_eq!(h["sandbox"]["waiting_jobs"], 0, "{h}");

    let mut engine = engine;
    engine.stop();
    proxy.abort();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
