//! Real-framework services reproduced through the engine's HTTP API against the real
//! Docker engine: a Flask app and a FastAPI app, each installed from PyPI by the
//! service's own Dockerfile at build time, each with its own planted bug, and each
//! built the way ordinary services are (an `ENTRYPOINT`, a `PYTHONPATH` of their own,
//! tracebacks on stderr or as JSON log lines on stdout, a debug 500 page and a flood of
//! output). The build's log is kept with the incident.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The host's CA bundle, when it has one: builds here reach PyPI through a proxy whose
/// CA only the host trusts. The Dockerfile copies it for pip and nothing else.
fn ca_bundle() -> String {
    let path = std::env::var("SSL_CERT_FILE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_string());
    std::fs::read_to_string(path).unwrap_or_default()
}

fn pip_install(packages: &str) -> String {
    format!(
        "COPY ca.crt /tmp/pip-ca.crt\nRUN PIP_CERT=/tmp/pip-ca.crt python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore {packages}\n"
    )
}

const FLASK_APP: &str = r#"import sys

from flask import Flask, jsonify, request

app = Flask(__name__)


def average_price(items):
    total = sum(item["price"] * item["qty"] for item in items)
    return total / len(items)


@app.post("/cart/average")
def cart_average():
    cart = request.get_json()
    # A chatty service: every request dumps the cart and the catalogue to stdout.
    sys.stdout.write(("catalogue " * 50_000) + "\n")
    return jsonify({"average": average_price(cart["items"])})
"#;

const FASTAPI_MAIN: &str = r#"import json
import logging
import os
import sys
import traceback

import uvicorn
from fastapi import FastAPI, Request

import pricing


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry)


handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(JsonFormatter())
logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)

app = FastAPI()


@app.post("/quote")
async def quote(request: Request):
    order = await request.json()
    return {"total": pricing.line_total(order["sku"], order["qty"])}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_config=None)
"#;

const FASTAPI_PRICING: &str = r#"PRICES = {"A1": 2.5, "B2": 4.0}


def line_total(sku, qty):
    price = PRICES[sku]
    return round(qty * price, 2)
"#;

fn post(path: &str, body: Value) -> Value {
    json!({ "protocol": "http", "method": "POST", "route": path, "path": path,
            "headers": { "content-type": "application/json" }, "body": body })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_and_fastapi_services_are_reproduced() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cleanup = Cleanup::new(tmp.path());
    let ca = ca_bundle();

    // Flask: its Dockerfile's ENTRYPOINT runs the app; the engine runs it in debug mode
    // (a large HTML debug page for the 500) and the app floods stdout.
    let flask = GitRepo::new(tmp.path().join("shop"));
    let flask_dockerfile = format!(
        "FROM {BASE_IMAGE}\n{}COPY . /srv/shop\nWORKDIR /srv/shop\nENTRYPOINT [\"python3\", \"-m\", \"flask\", \"--app\", \"shop\", \"run\"]\n",
        pip_install("flask==3.0.3")
    );
    let flask_commit = flask.commit(
        &[
            ("shop.py", FLASK_APP),
            ("Dockerfile", &flask_dockerfile),
            ("ca.crt", &ca),
        ],
        "shop service",
    );
    cleanup.commits.push(flask_commit.clone());

    // FastAPI: the pricing module lives in lib/, found through the image's own
    // PYTHONPATH; errors are logged as JSON lines on stdout; ENTRYPOINT is uvicorn's.
    let api = GitRepo::new(tmp.path().join("pricing"));
    let api_dockerfile = format!(
        "FROM {BASE_IMAGE}\n{}COPY . /srv/api\nENV PYTHONPATH=/srv/api/lib\nWORKDIR /srv/api\nENTRYPOINT [\"uvicorn\", \"main:app\"]\n",
        pip_install("fastapi==0.115.0 uvicorn==0.30.6")
    );
    let api_commit = api.commit(
        &[
            ("main.py", FASTAPI_MAIN),
            ("lib/pricing.py", FASTAPI_PRICING),
            ("Dockerfile", &api_dockerfile),
            ("ca.crt", &ca),
        ],
        "pricing api",
    );
    cleanup.commits.push(api_commit.clone());

    write_config(
        tmp.path(),
        &format!(
            "workers: 2\nstages: [reproduce]\nreproduce:\n  runs: 1\n  ready_timeout: 60s\n  request_timeout: 30s\nsandbox:\n  timeout: 120s\n  build:\n    timeout: 15m\nservices:\n  shop:\n    repository: {}\n    dockerfile: Dockerfile\n    command: [python3, -m, flask, --app, shop, run, --debug, --no-reload, --host, 127.0.0.1, --port, '5000']\n    port: 5000\n    workdir: /srv/shop\n    test_command: [python3, -m, pytest]\n  pricing:\n    repository: {}\n    dockerfile: Dockerfile\n    command: [python3, main.py]\n    port: 8000\n    workdir: /srv/api\n    test_command: [python3, -m, pytest]\n    env:\n      PORT: '8000'\n",
            flask.dir.display(),
            api.dir.display()
        ),
    );
    let engine = Engine::start(tmp.path()).await;
    let owner = engine.owner();

    let shop = envelope(
        "env-flask-average-1",
        "shop",
        &flask_commit,
        "f1a5c00000000001",
        exception(
            "ZeroDivisionError",
            "shop.py",
            line_of(FLASK_APP, "return total / len(items)"),
            "average_price",
        ),
        post("/cart/average", json!({ "items": [] })),
    );
    let pricing = envelope(
        "env-fastapi-quote-1",
        "pricing",
        &api_commit,
        "fa57a91000000001",
        exception(
            "TypeError",
            "lib/pricing.py",
            line_of(FASTAPI_PRICING, "return round(qty * price, 2)"),
            "line_total",
        ),
        post("/quote", json!({ "sku": "A1", "qty": "3" })),
    );
    let (status, body) = engine.post(&shop).await;
    assert_eq!(status, 202, "{body}");
    let shop_id = body["incident_id"].as_i64().expect("id");
    let (status, body) = engine.post(&pricing).await;
    assert_eq!(status, 202, "{body}");
    let pricing_id = body["incident_id"].as_i64().expect("id");

    let timeout = Duration::from_secs(900);
    for (id, exception_type, message) in [
        (shop_id, "ZeroDivisionError", "division by zero"),
        (pricing_id, "TypeError", "can't multiply sequence"),
    ] {
        let body = engine.wait_done(id, timeout).await;
        assert_eq!(
            body["status"],
            "succeeded",
            "{body:#}\n{}",
            engine.log_tail()
        );
        let stage = &body["stages"][0];
        let result = &stage["result"];
        assert_eq!(result["verdict"], "reproduced", "{result:#}");
        let run = &result["runs"][0];
        assert_eq!(run["response_status"], 500, "{run:#}");
        assert_eq!(run["observed"]["exception_type"], exception_type, "{run:#}");
        assert!(
            run["observed"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(message)),
            "{run:#}"
        );
        assert_eq!(result["image"]["cached"], false, "{result:#}");
        // The build's log is kept with the incident: pip installed the framework.
        assert!(
            stage["artifacts"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("image-build.log"))),
            "{stage:#}"
        );
        let log = std::fs::read_to_string(
            tmp.path()
                .join("data/artifacts")
                .join(id.to_string())
                .join("image-build.log"),
        )
        .expect("image-build.log");
        assert!(log.contains("Successfully installed"), "{log}");
    }

    let mut engine = engine;
    engine.stop();
    assert_eq!(
        containers_of(&owner),
        Vec::<String>::new(),
        "containers left behind"
    );
}
