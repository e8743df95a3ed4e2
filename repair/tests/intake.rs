//! Intake end to end against the real binary: authentication, size limit, schema errors
//! with their JSON path (a span row's `service` and `error` among them), idempotency, fingerprint joining, services-map and commit
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
            "intake:\n  max_body_bytes: 8192\ndocker:\n  host: unix://{}/no-docker.sock\n  retry_initial: 200ms\n  retry_max: 400ms\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n",
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

    // A span row's service and error mark are typed; each refusal names its path.
    for (field, value) in [
        ("service", json!(42)),
        ("service", json!("")),
        ("service", json!("s".repeat(257))),
        ("error", json!("yes")),
    ] {
        let mut bad = good.clone();
        bad["timing"]["spans"][0][field] = value;
        let (status, body) = engine.post(&bad).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "schema_violation", "{body}");
        assert_eq!(
            body["path"],
            format!("/timing/spans/0/{field}"),
            "{field}: {body}"
        );
    }

    // An envelope that is valid but too large: refused by its Content-Length, and also
    // when it arrives chunked (no length announced up front).
    let mut big = good.clone();
    big["envelope_id"] = json!("env-auth-00000002");
    big["inputs"]["body"] = json!({ "blob": "x".repeat(9000) });
    let (status, body) = engine.post(&big).await;
    assert_eq!(status, 413, "{body}");
    let (status, text) = chunked_post(&engine, &big.to_string(), TOKEN).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    // A good envelope without a token, chunked: 401 before the body is read.
    let (status, _) = chunked_post(&engine, &good.to_string(), "").await;
    assert_eq!(status, 401);

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
    // The store itself (not only the API's view of it) holds no envelope and no incident.
    assert_eq!(stored(&engine), (0, 0));

    // ...and the same envelope with the token is stored: the check above can fail. Its
    // span row carries a service and an error mark, which intake takes.
    let mut good = good;
    good["timing"]["spans"][0]["service"] = json!("checkout");
    good["timing"]["spans"][0]["error"] = json!(true);
    let (status, body) = engine.post(&good).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(stored(&engine), (1, 1));
}

/// (envelopes, incidents) in the engine's SQLite file, read beside the running engine
/// (WAL mode lets a second connection read).
fn stored(engine: &Engine) -> (i64, i64) {
    repair::store::Store::open(&engine.store_path)
        .expect("open the store")
        .counts()
        .expect("count")
}

/// POSTs `body` with `Transfer-Encoding: chunked` over a raw connection (no
/// Content-Length, so the size limit must apply while reading). Returns the status and
/// the raw response text. An empty `token` sends no Authorization header.
async fn chunked_post(engine: &Engine, body: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = engine.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("authorization: Bearer {token}\r\n")
    };
    let mut request = format!(
        "POST /v1/envelopes HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{auth}transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(1000) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).expect("ascii body"));
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    // The server may answer and close before it has read everything; that is fine.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn malformed_bodies_get_specific_400s_and_the_engine_keeps_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, commit) = engine(&tmp).await;
    let cases: Vec<(Vec<u8>, &str, Option<&str>)> = vec![
        (Vec::new(), "not_json", None),
        (b"\xff\xfe{}".to_vec(), "not_json", None),
        (
            format!("{}{}", "[".repeat(3000), "]".repeat(3000)).into_bytes(),
            "not_json",
            None,
        ),
        (b"null".to_vec(), "schema_violation", Some("/")),
        (b"[]".to_vec(), "schema_violation", Some("/")),
        (b"{}".to_vec(), "schema_violation", Some("/")),
    ];
    for (body, code, path) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(20)]).into_owned();
        let (status, answer) = engine.post_raw(body, Some(TOKEN)).await;
        assert_eq!(status, 400, "{shown}: {answer}");
        assert_eq!(answer["error"], code, "{shown}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        if let Some(path) = path {
            assert_eq!(answer["path"], path, "{shown}: {answer}");
        }
    }
    // Every missing required field is listed, each with its path.
    let (_, answer) = engine.post_raw(b"{}".to_vec(), Some(TOKEN)).await;
    let messages: Vec<&str> = answer["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["message"].as_str())
        .collect();
    for field in [
        "schema_version",
        "envelope_id",
        "identity",
        "symptom",
        "inputs",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(field)),
            "{field} not named: {answer}"
        );
    }
    // The right shape but no real instant: named by its path, not a stage failure later.
    let mut bad = ok_envelope("env-badtime-000001", &commit, "abababababababab");
    bad["identity"]["timestamp"] = json!("2026-02-30T25:00:00Z");
    let (status, answer) = engine.post(&bad).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["path"], "/identity/timestamp", "{answer}");
    // A frame line out of range is named where it is.
    let mut bad = ok_envelope("env-badline-000001", &commit, "abababababababab");
    bad["symptom"]["exception"]["frames"][0]["line"] = json!(5_000_000_000u64);
    let (status, answer) = engine.post(&bad).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["path"], "/symptom/exception/frames/0/line",
        "{answer}"
    );

    assert_eq!(stored(&engine), (0, 0));
    let resp = reqwest::get(format!("{}/healthz", engine.base))
        .await
        .expect("the engine still serves");
    assert_eq!(resp.status().as_u16(), 200);
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
