//! Image builds from a repository's own Dockerfile run under `sandbox.build`'s limits
//! against the real Docker engine: a build that runs past the timeout is cancelled, a
//! build step that needs more memory than allowed is killed, and in both cases the job
//! fails naming the cause while the build's log is kept with the incident.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_are_limited_in_time_and_memory_and_their_logs_kept() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let slow = GitRepo::new(tmp.path().join("slow"));
    let slow_commit = slow.commit(
        &[
            ("app.py", "print('never runs')\n"),
            (
                "Dockerfile",
                &format!("FROM {BASE_IMAGE}\nRUN echo preparing && sleep 600\n"),
            ),
        ],
        "a build that never ends",
    );
    cleanup.commits.push(slow_commit.clone());
    let hungry = GitRepo::new(tmp.path().join("hungry"));
    // 400 MiB written byte by byte; the build may use 64 MiB.
    let hungry_commit = hungry.commit(
        &[
            ("app.py", "print('never runs')\n"),
            (
                "Dockerfile",
                &format!(
                    "FROM {BASE_IMAGE}\nRUN python3 -c \"b = b'x' * (400 * 1024 * 1024); print(len(b))\"\n"
                ),
            ),
        ],
        "a build that needs too much memory",
    );
    cleanup.commits.push(hungry_commit.clone());
    let service = |name: &str, repo: &GitRepo| {
        format!(
            "  {name}:\n    repository: {}\n    dockerfile: Dockerfile\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n",
            repo.dir.display()
        )
    };
    write_config(
        tmp.path(),
        &format!(
            "reproduce:\n  runs: 1\nsandbox:\n  build:\n    timeout: 20s\n    memory_mib: 64\n    cpus: 1\nservices:\n{}{}",
            service("slow", &slow),
            service("hungry", &hungry)
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();
    let request = json!({ "protocol": "http", "method": "GET", "route": "/", "path": "/" });

    let body = engine
        .run(
            &envelope(
                "env-build-slow-0001",
                "slow",
                &slow_commit,
                "b011000000000001",
                exception("KeyError", "app.py", 1, "<module>"),
                request.clone(),
            ),
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(body["status"], "failed", "{body:#}");
    let reason = body["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("sandbox_error: image build failed: timed out after 20s"),
        "{reason}"
    );
    assert!(
        body["stages"][0]["artifacts"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("image-build.log"))),
        "{body:#}"
    );
    let id = body["id"].as_i64().expect("id");
    let log = std::fs::read_to_string(
        tmp.path()
            .join("data/artifacts")
            .join(id.to_string())
            .join("image-build.log"),
    )
    .expect("image-build.log");
    assert!(log.contains("preparing"), "{log}");

    let body = engine
        .run(
            &envelope(
                "env-build-hungry-001",
                "hungry",
                &hungry_commit,
                "b011000000000002",
                exception("KeyError", "app.py", 1, "<module>"),
                request,
            ),
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(body["status"], "failed", "{body:#}");
    let reason = body["reason"].as_str().expect("reason");
    // The kernel kills the step (SIGKILL: 128 + 9).
    assert!(
        reason.starts_with("sandbox_error: image build failed") && reason.contains("137"),
        "{reason}"
    );
    let id = body["id"].as_i64().expect("id");
    assert!(
        tmp.path()
            .join("data/artifacts")
            .join(id.to_string())
            .join("image-build.log")
            .is_file()
    );

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
