//! The minimize and localize stages through the engine's HTTP API, against the real
//! Docker engine, on services of the buggy set (`tests/buggy-services`): a Flask service
//! with a 31-leaf failing body (minimized to what makes it fail; the fault is the crash
//! frame) and a plain WSGI service whose crash frame is not where the fault is (the
//! faulty function must be among the first three hypotheses). An incident that does
//! not reproduce gets neither stage and names the envelope fields it lacked.
//!
//! Across services: envelopes of the sample service whose spans cover two or three
//! services name the first-fault service in the localize result, and when that is a
//! service the crashing one calls, its crash-frame hypotheses say so.

mod common;

use std::time::Duration;

use common::buggy;
use common::sample::APP_PY;
use common::*;
use serde_json::{Value, json};

fn stage<'a>(incident: &'a Value, name: &str) -> Option<&'a Value> {
    incident["stages"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

fn functions(localize: &Value) -> Vec<String> {
    localize["hypotheses"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter_map(|h| h["suspect"]["function"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduced_incidents_are_minimized_and_localized() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let services: Vec<buggy::Buggy> = ["flask-orders", "wsgi-shipping", "wsgi-inventory"]
        .iter()
        .map(|n| buggy::setup(&tmp.path().join("repos"), n))
        .collect();
    cleanup
        .commits
        .extend(services.iter().map(|b| b.commit.clone()));
    let map: String = services.iter().map(buggy::service_yaml).collect();
    write_config(
        tmp.path(),
        &format!(
            "workers: 2\nreproduce:\n  runs: 1\n  ready_timeout: 60s\n  request_timeout: 30s\nsandbox:\n  timeout: 120s\n  build:\n    timeout: 15m\nminimize:\n  max_probes: 300\n  time_budget: 10m\nservices:\n{map}"
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();

    let mut ids = Vec::new();
    for b in &services[..2] {
        let (status, body) = engine.post(&buggy::envelope(b)).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["incident_id"].as_i64().expect("id"));
    }
    // wsgi-inventory fails only with its db_rows fixture: without it, nothing to do.
    let mut bare = buggy::envelope(&services[2]);
    bare.as_object_mut().expect("object").remove("state");
    let (status, body) = engine.post(&bare).await;
    assert_eq!(status, 202, "{body}");
    let bare_id = body["incident_id"].as_i64().expect("id");

    let timeout = Duration::from_secs(1500);
    for (b, id) in services.iter().zip(&ids) {
        let incident = engine.wait_done(*id, timeout).await;
        assert_eq!(
            incident["status"],
            "succeeded",
            "{incident:#}\n{}",
            engine.log_tail()
        );
        let names: Vec<&str> = incident["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["reproduce", "minimize", "localize"], "{incident:#}");

        let m = &stage(&incident, "minimize").expect("minimize")["result"];
        assert_eq!(m["verdict"], "minimized", "{}: {m:#}", b.name);
        let before = m["reduction"]["leaves_before"].as_u64().expect("leaves");
        let after = m["reduction"]["leaves_after"].as_u64().expect("leaves");
        assert!(after < before, "{}: {m:#}", b.name);
        let probes = &m["probes"];
        assert!(
            probes["containers"].as_u64() < probes["executed"].as_u64(),
            "batched: {probes:#}"
        );
        assert!(
            m["passing_neighbours"]
                .as_array()
                .is_some_and(|n| !n.is_empty()),
            "{}: {m:#}",
            b.name
        );

        let l = &stage(&incident, "localize").expect("localize")["result"];
        let fault = b.truth["fault"]["function"].as_str().expect("fault");
        let ranked = functions(l);
        assert!(
            ranked
                .iter()
                .take(3)
                .any(|f| f == fault || f.ends_with(&format!(".{fault}"))),
            "{}: {fault} not in the first three of {ranked:?}\n{l:#}",
            b.name
        );
        let used: Vec<&str> = l["signals_used"]
            .as_array()
            .expect("signals_used")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for s in ["crash_frame", "code_graph", "spectrum"] {
            assert!(used.contains(&s), "{}: {s} not used: {l:#}", b.name);
        }
        let top = &l["hypotheses"][0];
        assert!(
            top["evidence"].as_array().is_some_and(|e| !e.is_empty()),
            "{top:#}"
        );
        assert!(
            top["cause_class"].is_string() && top["intervention"].is_string(),
            "{top:#}"
        );
    }
    // flask-orders: the body shrinks to an address without a country; the oracle
    // holds the message too, so a missing `customer` (also a KeyError there) does not do.
    let orders = engine.wait_done(ids[0], timeout).await;
    let m = &stage(&orders, "minimize").expect("minimize")["result"];
    assert_eq!(m["oracle_message"], "'country'", "{m:#}");
    assert!(
        m["reduction"]["leaves_before"].as_u64() >= Some(20),
        "{m:#}"
    );
    assert!(m["reduction"]["leaves_after"].as_u64() <= Some(3), "{m:#}");
    let address = &m["minimized"]["request"]["body"]["customer"]["address"];
    assert!(
        address.is_object() && address.get("country").is_none(),
        "{m:#}"
    );
    // wsgi-shipping: the crash is in cost_per_parcel, the fault in parcel_count.
    let shipping = engine.wait_done(ids[1], timeout).await;
    let l = &stage(&shipping, "localize").expect("localize")["result"];
    assert_eq!(
        l["hypotheses"][0]["exception_type"], "ZeroDivisionError",
        "{l:#}"
    );

    let bare = engine.wait_done(bare_id, timeout).await;
    assert_eq!(bare["status"], "rejected", "{bare:#}");
    assert!(
        stage(&bare, "minimize").is_none() && stage(&bare, "localize").is_none(),
        "{bare:#}"
    );
    let repro = &stage(&bare, "reproduce").expect("reproduce")["result"];
    assert_eq!(repro["verdict"], "not_reproduced", "{repro:#}");
    let empty: Vec<&str> = repro["empty_inputs"]
        .as_array()
        .expect("empty_inputs")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(empty.contains(&"state.fixtures"), "{repro:#}");

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}

/// A `timing.spans` row.
fn span(id: u8, parent: u8, name: &str, service: &str, error: bool, ms: f64) -> Value {
    let hex = |n: u8| format!("{n:02x}").repeat(8);
    let mut row = json!({"span_id": hex(id), "name": name, "duration_ms": ms,
                         "critical_path": true, "service": service, "error": error});
    if parent != 0 {
        row["parent_span_id"] = json!(hex(parent));
    }
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_fault_service_is_named_across_services() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let repo = GitRepo::new(tmp.path().join("checkout"));
    let commit = repo.commit(&[("app.py", APP_PY)], "checkout service");
    cleanup.commits.push(commit.clone());
    write_config(
        tmp.path(),
        &format!(
            "workers: 2\nstages: [reproduce, localize]\nreproduce:\n  runs: 1\n  ready_timeout: 30s\nlocalize:\n  coverage: false\nsandbox:\n  timeout: 60s\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n    env:\n      PORT: \"8080\"\n",
            repo.dir.display()
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();

    let line = line_of(APP_PY, "address[\"postcode\"]");
    let failing = |id: &str, fingerprint: &str, spans: Vec<Value>| {
        let mut e = envelope(
            id,
            "checkout",
            &commit,
            fingerprint,
            exception("KeyError", "app.py", line, "shipping_quote"),
            json!({"protocol": "http", "method": "POST", "route": "/quote", "path": "/quote",
                   "headers": {"content-type": "application/json"},
                   "body": {"address": {"city": "tok_v1_0a1b2c3d4e5f6071"}}}),
        );
        e["identity"]["span_id"] = json!("0303030303030303");
        e["timing"]["spans"] = Value::Array(spans);
        e
    };
    // web calls checkout, which raises: the first fault is checkout itself.
    let own = failing(
        "env-cross-own-0001",
        "c0c0c0c0c0c0c0c1",
        vec![
            span(1, 0, "POST /cart/checkout", "web", true, 40.0),
            span(2, 1, "POST checkout/quote", "web", true, 30.0),
            span(3, 2, "POST /quote", "checkout", true, 20.0),
        ],
    );
    // checkout calls pricing, whose answer is an error (its span, no exception), and
    // raises on what it got: the first fault is pricing.
    let downstream = failing(
        "env-cross-down-0001",
        "c0c0c0c0c0c0c0c2",
        vec![
            span(3, 0, "POST /quote", "checkout", true, 40.0),
            span(4, 3, "GET pricing/rates", "checkout", true, 30.0),
            span(5, 4, "GET /rates", "pricing", true, 20.0),
        ],
    );
    let timeout = Duration::from_secs(900);
    let mut results = Vec::new();
    let mut ids = Vec::new();
    for e in [&own, &downstream] {
        let incident = engine.run(e, timeout).await;
        assert_eq!(
            incident["status"],
            "succeeded",
            "{incident:#}\n{}",
            engine.log_tail()
        );
        ids.push(incident["id"].as_i64().expect("id"));
        results.push(stage(&incident, "localize").expect("localize")["result"].clone());
    }

    let l = &results[0];
    assert_eq!(
        l["cross_service"]["first_fault"]["service"], "checkout",
        "{l:#}"
    );
    assert_eq!(
        l["cross_service"]["first_fault"]["call_chain"],
        json!(["web", "checkout"])
    );
    assert_eq!(l["cross_service"]["edges"][0]["caller"], "web", "{l:#}");
    assert_eq!(l["cross_service"]["edges"][0]["contribution"], 1.0, "{l:#}");
    assert!(
        l["signals_used"]
            .as_array()
            .is_some_and(|u| u.contains(&json!("cross_service"))),
        "{l:#}"
    );
    let top = &l["hypotheses"][0];
    assert!(
        top["suspect"]["function"]
            .as_str()
            .is_some_and(|f| f.ends_with("shipping_quote")),
        "{l:#}"
    );
    let cross = top["evidence"]
        .as_array()
        .and_then(|ev| ev.iter().find(|e| e["signal"] == "cross_service"))
        .unwrap_or_else(|| panic!("no cross_service evidence: {top:#}"));
    assert_eq!(cross["value"], 1.0, "{cross:#}");
    assert_ne!(top["cause_class"], "dependency_behaviour", "{top:#}");

    let l = &results[1];
    assert_eq!(
        l["cross_service"]["first_fault"]["service"], "pricing",
        "{l:#}"
    );
    assert_eq!(
        l["cross_service"]["first_fault"]["span_id"], "0505050505050505",
        "{l:#}"
    );
    let top = &l["hypotheses"][0];
    assert!(
        top["suspect"]["function"]
            .as_str()
            .is_some_and(|f| f.ends_with("shipping_quote")),
        "{l:#}"
    );
    assert_eq!(top["cause_class"], "dependency_behaviour", "{top:#}");
    assert_eq!(top["intervention"], "handle_dependency_error", "{top:#}");
    let cross = top["evidence"]
        .as_array()
        .and_then(|ev| ev.iter().find(|e| e["signal"] == "cross_service"))
        .unwrap_or_else(|| panic!("no cross_service evidence: {top:#}"));
    let detail = cross["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("`pricing`") && detail.contains("checkout → pricing"),
        "{detail}"
    );

    // The dashboard's incident page says where the error started.
    let cookie = engine.ui_login().await;
    let (status, page) = engine
        .ui_get(&format!("/ui/incidents/{}", ids[1]), &cookie)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(
            "The error started in service <code>pricing</code> (span <code>GET &#x2f;rates</code>), \
             reached through <code>checkout</code> → <code>pricing</code>."
        ),
        "{page}"
    );

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
