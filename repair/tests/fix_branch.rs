//! The whole engine on a buggy service, through its HTTP API, against the real Docker
//! engine and real git: an envelope for `wsgi-metrics` is reproduced, patched, verified
//! and ends with the branch `tracemend/incident-<id>` pushed to a local bare repository
//! (the service's `remote`); the branch's first commit's test fails on the original code
//! and passes on the second; the evidence bundle is served as JSON and Markdown, and bad
//! requests for it get clear errors.

mod common;

use std::time::Duration;

use common::buggy::*;
use common::*;
use serde_json::Value;

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_ends_with_a_pushed_branch_and_its_bundle() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let name = "wsgi-metrics";
    let (repo, commit) = make_repo(name, tmp.path());
    cleanup.commits.push(commit.clone());
    let remote = tmp.path().join("remote.git");
    git(
        tmp.path(),
        &["init", "-q", "--bare", remote.to_str().expect("utf8")],
    );
    let t = truth(name);
    let config = &t["service_config"];
    write_config(
        tmp.path(),
        &format!(
            "stages: [reproduce, minimize, localize, patch, verify]\nreproduce:\n  runs: 1\n  ready_timeout: 30s\nsandbox:\n  timeout: 90s\nservices:\n  {name}:\n    repository: {}\n    base_image: {}\n    command: [python3, app.py]\n    port: {}\n    test_command: [python3, -m, unittest]\n    push: true\n    remote: {}\n",
            repo.dir.display(),
            config["base_image"].as_str().expect("base image"),
            config["port"],
            remote.display()
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let incident = engine
        .run(&envelope_json(name, &commit), Duration::from_secs(900))
        .await;
    assert_eq!(
        incident["status"],
        "succeeded",
        "{incident:#}\n{}",
        engine.log_tail()
    );
    let id = incident["id"].as_i64().expect("id");
    let stages: Vec<&str> = incident["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        stages.contains(&"patch") && stages.contains(&"verify"),
        "{stages:?}"
    );

    // The pushed branch: test commit on the envelope's commit, then the fix.
    let branch = format!("tracemend/incident-{id}");
    let head = git(&remote, &["rev-parse", &branch]).trim().to_string();
    let parents = git(&remote, &["rev-list", "--parents", "-n", "2", &head]);
    let lines: Vec<Vec<&str>> = parents.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{parents}");
    let test_commit = lines[0][1];
    assert_eq!(lines[1], vec![test_commit, commit.as_str()]);
    let message = git(&remote, &["log", "-1", "--format=%B", &head]);
    assert!(message.contains("INVARIANT: "), "{message}");
    assert!(message.contains("- regression_test: passed"), "{message}");

    // The test fails on the test commit (original code) and passes on the fix: run it
    // with the host's Python on checkouts of both commits.
    let files = git(&remote, &["diff", "--name-only", &commit, test_commit]);
    let test_file = files.trim().to_string();
    for (rev, want_pass) in [(test_commit, false), (head.as_str(), true)] {
        let work = tmp.path().join(format!("checkout-{want_pass}"));
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                remote.to_str().expect("utf8"),
                work.to_str().expect("utf8"),
            ],
        );
        git(&work, &["checkout", "-q", rev]);
        let out = std::process::Command::new("python3")
            .args(["-m", "unittest", &test_file])
            .current_dir(&work)
            .env("TRACEMEND_TEST_PORT", free_port().to_string())
            .output()
            .expect("python3");
        assert_eq!(
            out.status.success(),
            want_pass,
            "{rev}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The bundle, as JSON and Markdown; clear errors for bad requests.
    let (status, bundle) = engine.get(&format!("/v1/incidents/{id}/bundle")).await;
    assert_eq!(status, 200, "{bundle}");
    assert_eq!(bundle["branch"]["fix_commit"], Value::String(head.clone()));
    assert_eq!(bundle["branch"]["pushed_to"].as_str(), remote.to_str());
    assert!(
        bundle["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+++ b/app.py"))
    );
    let resp = engine
        .client
        .get(format!(
            "{}/v1/incidents/{id}/bundle?format=markdown",
            engine.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("markdown");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/markdown"))
    );
    let md = resp.text().await.expect("text");
    assert!(
        md.contains("### Proof chain") && md.contains("### Rollback"),
        "{md}"
    );
    let (status, body) = engine
        .get(&format!("/v1/incidents/{id}/bundle?format=pdf"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("json or markdown"))
    );
    let (status, body) = engine.get("/v1/incidents/999/bundle").await;
    assert_eq!(status, 404, "{body}");
    let resp = engine
        .client
        .get(format!("{}/v1/incidents/{id}/bundle", engine.base))
        .send()
        .await
        .expect("unauthenticated");
    assert_eq!(resp.status(), 401);
    // Metrics: no token needed; the stages, the verdicts and the time to branch.
    let metrics = engine
        .client
        .get(format!("{}/metrics", engine.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for want in [
        "tracemend_repair_reproductions_total{verdict=\"reproduced\"} 1",
        "tracemend_repair_fixes_total{verdict=\"fixed\"} 1",
        "tracemend_repair_time_to_branch_seconds_count 1",
        "tracemend_repair_stage_duration_seconds_count{stage=\"verify\",outcome=\"completed\"} 1",
        "tracemend_repair_stage_duration_seconds_count{stage=\"patch\",outcome=\"completed\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} missing in\n{metrics}");
    }

    // The dashboard's page of the repaired incident: every stage's part, the diff, the
    // branch and the bundle to copy; the bundle download is the API's Markdown.
    let cookie = engine.ui_login().await;
    let (status, page) = engine.ui_get(&format!("/ui/incidents/{id}"), &cookie).await;
    assert_eq!(status, 200, "{page}");
    for want in [
        "id=\"timeline\"",
        "Reproduction: <span class=\"verdict v-reproduced\">reproduced</span>",
        "id=\"minimized-input\"",
        "id=\"hypotheses\"",
        "class=\"d-add\">+",
        "+++ b&#x2f;app.py",
        "Verification: <span class=\"verdict v-fixed\">fixed</span>",
        &format!("<code>tracemend&#x2f;incident-{id}</code>"),
        "id=\"bundle\"",
        "## Fix for incident",
    ] {
        assert!(
            page.contains(want),
            "{want} missing in the incident page:\n{page}"
        );
    }
    let (status, download) = engine
        .ui_get(&format!("/ui/incidents/{id}/bundle.md"), &cookie)
        .await;
    assert_eq!(status, 200);
    assert_eq!(download, md);
    let (status, overview) = engine.ui_get("/ui/overview?range=24h", &cookie).await;
    assert_eq!(status, 200);
    assert!(
        overview.contains("<dd id=\"total-fix-rate\">100 %</dd>"),
        "{overview}"
    );
    drop(engine);
    assert!(containers_of(&cleanup.owner).is_empty());
}
