//! The dashboard (`/ui/`) through the real binary, at the HTTP level: login and logout
//! with a session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS), the Origin
//! check on form posts, the read-only token (dashboard only, never the API), the
//! security headers on every page, and envelope text full of HTML and script shown as
//! text on every page. No Docker engine is needed: the engine points at a socket that
//! does not exist, and an incident of a service outside the services map is rejected by
//! the reproduce stage without one.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const READ_TOKEN: &str = "read-only-token-0123456789";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the planted payloads would do if any of them ran or became markup.
const PAYLOADS: [&str; 5] = [
    "<script>document.title='pwned'</script>",
    "\"><img src=x onerror=alert(1)>",
    "<svg/onload=alert(2)>",
    "javascript:alert(3)",
    "</textarea><iframe src=//evil.example>",
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn engine(tmp: &tempfile::TempDir) -> (Engine, String) {
    let repo = GitRepo::new(tmp.path().join("repo"));
    let commit = repo.commit(&[("app.py", "print('hello')\n")], "initial");
    write_config(
        tmp.path(),
        &format!(
            "docker:\n  host: unix://{}/no-docker.sock\n  retry_initial: 60s\n  retry_max: 60s\ndashboard:\n  read_token_env: DASH_READ_TOKEN\n  session_ttl: 1h\nservices:\n  checkout:\n    repository: {}\n    base_image: {BASE_IMAGE}\n    command: [python3, app.py]\n    port: 8080\n    test_command: [python3, -m, unittest]\n",
            tmp.path().display(),
            repo.dir.display()
        ),
    );
    let engine = Engine::start_with_env(tmp.path(), &[("DASH_READ_TOKEN", READ_TOKEN)]).await;
    (engine, commit)
}

/// Logs in; returns the `Set-Cookie` header and the `name=value` pair to send back.
async fn login(engine: &Engine, token: &str, extra: &[(&str, &str)]) -> (String, String) {
    let mut req = client()
        .post(format!("{}/ui/login", engine.base))
        .header("origin", &engine.base)
        .form(&[("token", token), ("next", "/ui/")]);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("POST /ui/login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/");
    let set = resp.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    let pair = set.split(';').next().expect("pair").to_string();
    (set, pair)
}

async fn get(engine: &Engine, path: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = client().get(format!("{}{path}", engine.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.expect("GET");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

fn assert_security_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(headers["content-security-policy"], CSP, "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "same-origin", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
}

#[tokio::test]
async fn login_sessions_cookies_and_the_origin_check() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, _) = engine(&tmp).await;

    // Without a session every page sends the browser to the login, which comes back.
    let (status, headers, _) = get(&engine, "/ui/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/ui/login");
    let (status, headers, _) = get(&engine, "/ui/incidents/7?x=1", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[LOCATION],
        "/ui/login?next=%2Fui%2Fincidents%2F7%3Fx%3D1"
    );
    let (status, headers, body) = get(&engine, "/ui/login", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_security_headers(&headers, "login page");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body.contains("name=\"token\""), "{body}");

    // A wrong token: 401 and no cookie.
    let resp = client()
        .post(format!("{}/ui/login", engine.base))
        .header("origin", &engine.base)
        .form(&[("token", "wrong-token-wrong-token")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("That token is not valid.")
    );

    // The right token from another origin, or with no origin at all: refused (CSRF).
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut req = client()
            .post(format!("{}/ui/login", engine.base))
            .form(&[("token", TOKEN)]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let resp = req.send().await.expect("POST");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert!(resp.headers().get(SET_COOKIE).is_none(), "{origin:?}");
    }
    // A body that is not the form: a clear 400.
    let resp = client()
        .post(format!("{}/ui/login", engine.base))
        .header("origin", &engine.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nothing=here")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("body").contains("token"));

    // The engine's token: a strict, HttpOnly session cookie for /ui, not Secure over HTTP.
    let (set, cookie) = login(&engine, TOKEN, &[]).await;
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=3600"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    assert!(
        cookie.starts_with("tracemend_session=") && cookie.len() == "tracemend_session=".len() + 64
    );
    let (status, headers, body) = get(&engine, "/ui/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_security_headers(&headers, "incident list");
    assert!(body.contains("engine token"));
    // Behind a TLS-terminating proxy the cookie is Secure.
    let (set, _) = login(&engine, TOKEN, &[("x-forwarded-proto", "https")]).await;
    assert!(set.contains("Secure"), "{set}");

    // A session is not a bearer token: the JSON API still wants its Authorization.
    let resp = client()
        .get(format!("{}/v1/incidents", engine.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A made-up session id is no session.
    let forged = format!("tracemend_session={}", "ab".repeat(32));
    let (status, _, _) = get(&engine, "/ui/", Some(&forged)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // `next` brings the browser back to a dashboard page, never elsewhere.
    for (next, location) in [
        ("/ui/overview", "/ui/overview"),
        ("//evil.example/", "/ui/"),
        ("https://evil.example/ui/", "/ui/"),
    ] {
        let resp = client()
            .post(format!("{}/ui/login", engine.base))
            .header("origin", &engine.base)
            .form(&[("token", TOKEN), ("next", next)])
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()[LOCATION], location, "{next}");
    }

    // Logout needs our origin too, ends the session on the server and clears the cookie.
    let resp = client()
        .post(format!("{}/ui/logout", engine.base))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, _, _) = get(&engine, "/ui/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "a refused logout ends nothing");
    let resp = client()
        .post(format!("{}/ui/logout", engine.base))
        .header("cookie", &cookie)
        .header("origin", &engine.base)
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/login");
    let cleared = resp.headers()[SET_COOKIE].to_str().expect("ascii");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _, _) = get(&engine, "/ui/", Some(&cookie)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the old cookie opens nothing"
    );

    // The read-only token logs into the dashboard, and is refused by the API.
    let (_, read_cookie) = login(&engine, READ_TOKEN, &[]).await;
    let (status, _, body) = get(&engine, "/ui/", Some(&read_cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("read-only"), "{body}");
    let resp = client()
        .get(format!("{}/v1/incidents", engine.base))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// An envelope with a payload in every free-text field the pages show.
fn planted(id: &str, service: &str, commit: &str, fingerprint: &str, n: usize) -> Value {
    let p = PAYLOADS[n % PAYLOADS.len()];
    let mut v = envelope(
        id,
        service,
        commit,
        fingerprint,
        json!({
            "type": format!("Error{p}"),
            "message_redacted": format!("boom {p}"),
            "frames": [ { "file": format!("app{p}.py"), "line": 3, "function": format!("handler{p}"), "module": p, "in_app": true } ]
        }),
        json!({
            "protocol": "http", "method": "POST",
            "route": format!("/quote/{p}"),
            "path": "/quote/<script>alert(4)</script>",
            "headers": { "user-agent": p, "x-note": "<b>bold</b>" },
            "query": { "q": p },
            "body": { "note": p, "nested": { "html": "<svg onload=alert(5)>" } }
        }),
    );
    v["identity"]["service"]["version"] = json!(p);
    v["identity"]["service"]["namespace"] = json!("<script>alert(6)</script>");
    v["state"] = json!({ "fixtures": { "user": { "name": p } } });
    v
}

fn assert_inert(html: &str, what: &str) {
    for raw in [
        "<script>",
        "<img src=x",
        "<svg/onload",
        "<svg onload",
        "<iframe",
        "<b>bold",
        "href=\"javascript:",
        "onerror=alert",
    ] {
        // `onerror=alert` may only appear inside escaped text, never after a real `<img`.
        if raw == "onerror=alert" {
            assert!(!html.contains("<img src=x onerror"), "{what}: {raw}");
            continue;
        }
        assert!(!html.contains(raw), "{what} contains {raw:?}:\n{html}");
    }
}

#[tokio::test]
async fn envelope_text_is_shown_as_text_on_every_page() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (engine, commit) = engine(&tmp).await;
    // Service names cannot carry markup: the schema refuses them at intake.
    let mut bad = planted(
        "env-xss-name-0001",
        "checkout",
        &commit,
        "cccccccccccccccc",
        0,
    );
    bad["identity"]["service"]["name"] = json!("<script>x</script>");
    let (status, body) = engine.post(&bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["path"], "/identity/service/name");

    // `ghost` is not in the services map: reproduce rejects it (a stage with a result).
    let mut ids = Vec::new();
    for (n, service) in ["ghost", "ghost", "checkout"].into_iter().enumerate() {
        let (status, body) = engine
            .post(&planted(
                &format!("env-xss-{n:08}"),
                service,
                &commit,
                &format!("{:016x}", 0xabc0 + n),
                n,
            ))
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["incident_id"].as_i64().expect("id"));
    }
    let rejected = engine.wait_done(ids[0], Duration::from_secs(60)).await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");

    let (_, cookie) = login(&engine, TOKEN, &[]).await;
    let (status, headers, list) = get(&engine, "/ui/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_security_headers(&headers, "list");
    assert_inert(&list, "list");
    assert!(
        list.contains("Error&lt;script&gt;document.title"),
        "the type is shown, escaped:\n{list}"
    );
    assert!(list.contains("reproduce"), "the stage reached is shown");

    // Filters: by service and by status; a bad status is a clear 400.
    let (_, _, only_ghost) =
        get(&engine, "/ui/?service=ghost&status=rejected", Some(&cookie)).await;
    assert!(
        only_ghost.contains(&format!("/ui/incidents/{}\"", ids[0])),
        "{only_ghost}"
    );
    assert!(
        !only_ghost.contains(&format!("/ui/incidents/{}\"", ids[2])),
        "{only_ghost}"
    );
    let (_, _, only_checkout) = get(&engine, "/ui/?service=checkout&status=", Some(&cookie)).await;
    assert!(only_checkout.contains(&format!("/ui/incidents/{}\"", ids[2])));
    assert!(!only_checkout.contains(&format!("/ui/incidents/{}\"", ids[0])));
    let (status, headers, body) = get(&engine, "/ui/?status=%3Cscript%3E", Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_security_headers(&headers, "400 page");
    assert!(
        body.contains("Unknown status &quot;&lt;script&gt;&quot;"),
        "{body}"
    );
    assert_inert(&body, "400 page");
    let (status, _, body) = get(&engine, "/ui/?surprise=1", Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    for id in &ids {
        let (status, headers, page) =
            get(&engine, &format!("/ui/incidents/{id}"), Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_security_headers(&headers, "incident");
        assert_inert(&page, "incident page");
        assert!(page.contains("boom "), "the message is shown");
        assert!(
            page.contains("&lt;script&gt;alert(6)&lt;&#x2f;script&gt;"),
            "namespace shown escaped:\n{page}"
        );
        assert!(page.contains("id=\"original-input\""), "the input is shown");
    }
    let (_, _, page) = get(&engine, &format!("/ui/incidents/{}", ids[0]), Some(&cookie)).await;
    assert!(
        page.contains("id=\"timeline\"") && page.contains("class=\"bar b-completed\""),
        "{page}"
    );
    assert!(
        page.contains("not_attempted"),
        "the reproduce verdict is shown"
    );
    assert!(
        page.contains("ghost"),
        "the rejection reason names the service"
    );

    // Unknown incidents and paths: 404 pages with the same headers.
    for path in [
        "/ui/incidents/999",
        "/ui/incidents/abc",
        "/ui/incidents/-1",
        "/ui/nope/<script>",
    ] {
        let (status, headers, body) = get(&engine, path, Some(&cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_security_headers(&headers, path);
        assert_inert(&body, path);
    }
    let (status, _, _) = get(
        &engine,
        &format!("/ui/incidents/{}/bundle.md", ids[0]),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no verified fix, no bundle");

    // The overview counts the incidents and the reproduce verdicts it can see.
    let (status, headers, overview) = get(&engine, "/ui/overview?range=24h", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_security_headers(&headers, "overview");
    assert!(
        overview.contains("<dd id=\"total-incidents\">3</dd>"),
        "{overview}"
    );
    assert!(
        overview.contains("<dd id=\"total-repro-rate\">0 %</dd>"),
        "{overview}"
    );
    assert!(
        overview.contains("<polyline") || overview.contains("<circle"),
        "a chart is drawn"
    );
    let (status, _, body) = get(&engine, "/ui/overview?range=1y", Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Unknown range"), "{body}");

    // The stylesheet and the icon come from the binary.
    let (status, headers, css) = get(&engine, "/ui/static/dashboard.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert!(css.contains(".card"));
}
