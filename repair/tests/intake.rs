//! Intake end to end against the real binary: authentication, size limit, schema errors
//! with their JSON path, idempotency, fingerprint joining, services-map and commit
//! rejections, and an unreachable Docker engine (jobs wait, health says why).
//! None of these need a Docker engine: the engine here points at a socket that does not exist.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn quote_inputs() -> Value {
    json!({ "protocol": "http", "method": "POST", "route": "/quote", "path": "/quote", "body": { "address": {} } })
}

async fn engine(tmp: &tempfile::TempDir) -> (Engine, String) {
    let repo = GitRepo::new(tmp.path().join("repo"));
    let commit = repo.commit(&[("app.py", "print('hello')\n")], "initial");
    write_config(
        tmp.path(),
        &format!(
            "intake:\n  max_body_bytes: 8192\ndocker:\n  host: unix://{}/no-docker.sock\n  retry_initial: 200ms\n  retry_max: 400ms\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n",
            tmp.path().display(),
            repo.dir.display()
        ),
    );
    (Engine::start(tmp.path()).await, commit)
}

fn ok_envelope(id: &str, commit: &str, fingerprint: &str) -> Value {
    envelope(
        id,
        "checkout",
        commit,
        fingerprint,
        exception("KeyError", "app.py", 3, "quote"),
        quote_inputs(),
    )
}

#[tokio::test]
async fn bad_token_oversize_and_schema_violations_store_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, commit) = engine(&tmp).await;
    let good = ok_envelope("env-auth-00000001", &commit, "aaaaaaaaaaaaaaaa");

    let (status, body) = engine.post_raw(good.to_string().into_bytes(), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let (status, body) = engine
        .post_raw(
            good.to_string().into_bytes(),
            Some("wrong-token-wrong-token"),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = engine.post_raw(vec![b' '; 9000], Some(TOKEN)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "payload_too_large");

    let (status, body) = engine.post_raw(b"{not json".to_vec(), Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "not_json");

    let mut bad = good.clone();
    bad["identity"]["trace_id"] = json!("not-a-trace-id");
    let (status, body) = engine.post(&bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "schema_violation");
    assert_eq!(body["path"], "/identity/trace_id");

    let mut bad = good.clone();
    bad["surprise"] = json!(true);
    let (status, body) = engine.post(&bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("surprise")),
        "{body}"
    );

    let mut bad = good.clone();
    bad["inputs"]["headers"] = json!({ "cookie": "session=abc" });
    let (status, body) = engine.post(&bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["path"], "/inputs/headers", "{body}");

    // Reading needs the token too; nothing of the above was stored.
    let resp = reqwest::get(format!("{}/v1/incidents", engine.base))
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 401);
    let (status, body) = engine.get("/v1/incidents").await;
    assert_eq!(status, 200);
    assert_eq!(body["incidents"], json!([]), "{body}");
    let (status, _) = engine.get("/v1/incidents/1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn idempotent_on_envelope_id_and_joined_by_fingerprint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, commit) = engine(&tmp).await;
    let first = ok_envelope("env-join-00000001", &commit, "bbbbbbbbbbbbbbbb");
    let (status, a) = engine.post(&first).await;
    assert_eq!(status, 202, "{a}");
    assert_eq!(a["duplicate"], false);
    assert_eq!(a["new_incident"], true);
    let (status, again) = engine.post(&first).await;
    assert_eq!(status, 202);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["incident_id"], a["incident_id"]);
    let mut reused = first.clone();
    reused["inputs"]["path"] = json!("/quote/other");
    let (status, body) = engine.post(&reused).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "envelope_id_conflict");
    let second = ok_envelope("env-join-00000002", &commit, "bbbbbbbbbbbbbbbb");
    let (_, b) = engine.post(&second).await;
    assert_eq!(b["incident_id"], a["incident_id"]);
    assert_eq!(b["occurrences"], 2);
    let third = ok_envelope("env-join-00000003", &commit, "cccccccccccccccc");
    let (_, c) = engine.post(&third).await;
    assert_ne!(c["incident_id"], a["incident_id"]);
    let (_, list) = engine.get("/v1/incidents").await;
    assert_eq!(
        list["incidents"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
}

#[tokio::test]
async fn unreachable_docker_parks_jobs_and_health_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, commit) = engine(&tmp).await;
    let (_, a) = engine
        .post(&ok_envelope(
            "env-wait-00000001",
            &commit,
            "dddddddddddddddd",
        ))
        .await;
    let id = a["incident_id"].as_i64().expect("id");
    // Retried with backoff: it keeps coming back to `waiting` with a growing attempt count.
    let body = engine
        .wait_incident(id, Duration::from_secs(20), |b| {
            b["status"] == "waiting" && b["attempts"].as_i64() >= Some(2)
        })
        .await;
    let reason = body["reason"].as_str().expect("reason");
    assert!(reason.contains("docker engine unreachable"), "{body:#}");
    assert!(body["next_attempt_at"].is_string());
    let health: Value = reqwest::get(format!("{}/healthz", engine.base))
        .await
        .expect("GET /healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["sandbox"]["reachable"], false, "{health}");
    assert!(
        health["sandbox"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no-docker.sock")),
        "{health}"
    );
    assert_eq!(health["sandbox"]["waiting_jobs"], 1, "{health}");
}

#[tokio::test]
async fn unknown_service_and_unknown_commit_are_rejected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, _) = engine(&tmp).await;
    let stranger = envelope(
        "env-stranger-0001",
        "billing",
        "abcdef1",
        "eeeeeeeeeeeeeeee",
        exception("KeyError", "app.py", 3, "quote"),
        quote_inputs(),
    );
    let (_, a) = engine.post(&stranger).await;
    let body = engine
        .wait_done(
            a["incident_id"].as_i64().expect("id"),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(body["status"], "rejected", "{body:#}");
    assert_eq!(body["reason"], "service billing is not in the services map");

    let lost = ok_envelope(
        "env-lostcommit-01",
        "0123456789abcdef0123456789abcdef01234567",
        "ffffffffffffffff",
    );
    let (_, b) = engine.post(&lost).await;
    let body = engine
        .wait_done(
            b["incident_id"].as_i64().expect("id"),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(body["status"], "rejected", "{body:#}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("is not in repository")),
        "{body:#}"
    );
    assert_eq!(body["stages"][0]["name"], "reproduce");
    assert_eq!(body["stages"][0]["status"], "completed");
}
