//! Crash in the middle of a reproduction: the engine is killed (SIGKILL) while a sandbox
//! container runs. The restarted engine removes the orphaned container, resumes the job
//! from the store and finishes it. Then a graceful stop (SIGTERM) in the middle of the
//! next one: the engine removes its running container before it exits, and the restarted
//! engine finishes the job. Nothing is left behind.

mod common;

use std::time::{Duration, Instant};

use common::sample::{APP_PY, service_yaml};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_or_stopped_engine_resumes_the_running_job() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    let app = APP_PY;
    let commit = repo.commit(&[("app.py", app)], "checkout service");
    cleanup.commits.push(commit.clone());
    write_config(tmp.path(), &service_yaml(&repo.dir, 3));
    let mut engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    assert_eq!(owner, cleanup.owner);

    let failing = |id: &str, fingerprint: &str| {
        envelope(
            id,
            "checkout",
            &commit,
            fingerprint,
            exception(
                "KeyError",
                "app.py",
                line_of(app, "address[\"postcode\"]"),
                "shipping_quote",
            ),
            json!({ "protocol": "http", "method": "POST", "route": "/quote", "path": "/quote", "body": { "address": {} } }),
        )
    };
    let (status, body) = engine
        .post(&failing("env-restart-000001", "6666666666666666"))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["incident_id"].as_i64().expect("id");

    // Wait until a sandbox container of this engine exists, then crash the engine.
    let start = Instant::now();
    while containers_of(&owner).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no sandbox container started\n{}",
            engine.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.kill();
    let body = {
        // The store says the job was running when the engine died.
        let store = repair::store::Store::open(&tmp.path().join("repair.db")).expect("open store");
        store.incident(id).expect("read").expect("incident")
    };
    assert_eq!(body.status, "running");

    let engine = Engine::start(tmp.path()).await;
    let body = engine.wait_done(id, Duration::from_secs(180)).await;
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    assert_eq!(body["stages"][0]["result"]["verdict"], "reproduced");
    assert_eq!(
        body["stages"][0]["result"]["runs"].as_array().map(Vec::len),
        Some(3)
    );
    let log = std::fs::read_to_string(tmp.path().join("engine.log")).unwrap_or_default();
    assert!(log.contains("Resuming jobs"), "{log}");
    assert!(
        log.contains("left behind by an earlier run"),
        "orphaned container not removed at startup:\n{log}"
    );

    // Graceful stop in the middle of the next incident.
    let mut engine = engine;
    let (status, body) = engine
        .post(&failing("env-restart-000002", "6666666666666667"))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["incident_id"].as_i64().expect("id");
    let start = Instant::now();
    while containers_of(&owner).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no sandbox container started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "a stopped engine left its container behind"
    );
    let engine = Engine::start(tmp.path()).await;
    let body = engine.wait_done(id, Duration::from_secs(180)).await;
    assert_eq!(
        body["status"],
        "succeeded",
        "{body:#}\n{}",
        engine.log_tail()
    );
    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
