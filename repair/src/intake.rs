//! The HTTP API: `POST /v1/envelopes` (authenticated intake), `GET /v1/incidents`,
//! `GET /v1/incidents/{id}` and the unauthenticated `GET /healthz`.
//!
//! Intake validates the envelope against the schema, stores it (idempotent on
//! `envelope_id`; the same fingerprint joins one incident) and answers 202 with the
//! incident id. The work itself happens in the background (see `pipeline`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::health::Health;
use crate::sandbox::Sandbox;
use crate::status::JobStatus;
use crate::store::{Store, StoreError};
use envelope::{EnvelopeError, Violation};

/// Why a request was refused. Each variant picks its status code.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("missing bearer token (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("the bearer token is not valid")]
    Forbidden,
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot read the request body: {0}")]
    Body(String),
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("envelope violates the schema at {}: {}", .0[0].path, .0[0].message)]
    Schema(Vec<Violation>),
    #[error("bad query: {0}")]
    BadQuery(String),
    #[error("no incident {0}")]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            IntakeError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            IntakeError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            IntakeError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            IntakeError::Body(_) => (StatusCode::BAD_REQUEST, "bad_body"),
            IntakeError::NotJson(_) => (StatusCode::BAD_REQUEST, "not_json"),
            IntakeError::BadQuery(_) => (StatusCode::BAD_REQUEST, "bad_query"),
            IntakeError::Schema(_) => (StatusCode::BAD_REQUEST, "schema_violation"),
            IntakeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            IntakeError::Store(StoreError::EnvelopeIdConflict(_)) => {
                (StatusCode::CONFLICT, "envelope_id_conflict")
            }
            IntakeError::Store(_) | IntakeError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut body = json!({ "error": code, "message": self.to_string() });
        if let IntakeError::Schema(violations) = &self {
            body["path"] = json!(violations[0].path);
            body["violations"] = json!(violations);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<EnvelopeError> for IntakeError {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::NotJson(e) => IntakeError::NotJson(e.to_string()),
            EnvelopeError::Schema(v) => IntakeError::Schema(v),
            EnvelopeError::BadSchema(m) => IntakeError::Internal(m),
        }
    }
}

/// Shared by every request.
pub struct AppState {
    pub store: Store,
    token_digest: [u8; 32],
    pub notify: Arc<Notify>,
    pub health: Arc<Health>,
    pub sandbox: Arc<dyn Sandbox>,
    pub max_body_bytes: usize,
    /// Per-incident artifact directories (the evidence bundle is read from there).
    pub artifacts_root: Option<std::path::PathBuf>,
}

impl AppState {
    pub fn new(
        store: Store,
        token: &str,
        notify: Arc<Notify>,
        health: Arc<Health>,
        sandbox: Arc<dyn Sandbox>,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            store,
            token_digest: Sha256::digest(token.as_bytes()).into(),
            notify,
            health,
            sandbox,
            max_body_bytes,
            artifacts_root: None,
        }
    }

    /// Whether `token` is the engine's token. The digests are compared in constant time,
    /// so the answer's timing says nothing about how much of a guess was right.
    pub fn token_matches(&self, token: &str) -> bool {
        digest_matches(&self.token_digest, token)
    }

    /// Serves evidence bundles from the incidents' artifact directories under `root`.
    pub fn with_artifacts_root(mut self, root: std::path::PathBuf) -> Self {
        self.artifacts_root = Some(root);
        self
    }
}

/// Whether `token`'s SHA-256 is `digest`, compared in constant time.
pub fn digest_matches(digest: &[u8; 32], token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let candidate: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    candidate.ct_eq(digest).into()
}

/// The service's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.max_body_bytes;
    let api = Router::new()
        .route("/v1/envelopes", post(post_envelope))
        .route("/v1/incidents", get(list_incidents))
        .route("/v1/incidents/{id}", get(get_incident))
        .route("/v1/incidents/{id}/bundle", get(get_bundle))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(limit));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(api)
        .with_state(state)
}

/// Checks the bearer token before anything else (the body is not read without it).
async fn authenticate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Result<Response, IntakeError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(IntakeError::Unauthorized)?;
    let value = value.to_str().map_err(|_| IntakeError::Forbidden)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(IntakeError::Unauthorized)?;
    if !state.token_matches(token.trim()) {
        warn!("Refused a request with an invalid token.");
        return Err(IntakeError::Forbidden);
    }
    Ok(next.run(request).await)
}

async fn post_envelope(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, IntakeError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            IntakeError::TooLarge {
                limit: state.max_body_bytes,
            }
        } else {
            IntakeError::Body(e.body_text())
        }
    })?;
    // The one parse: the typed envelope is what the store keeps.
    let envelope = envelope::parse(&body)?;
    drop(body);
    let store = state.store.clone();
    let (envelope, accepted) = tokio::task::spawn_blocking(move || {
        let accepted = store.accept(&envelope);
        (envelope, accepted)
    })
    .await
    .map_err(|e| IntakeError::Internal(e.to_string()))?;
    let accepted = accepted?;
    if accepted.new_incident {
        state.notify.notify_one();
    }
    info!(
        envelope = %envelope.envelope_id,
        incident = accepted.incident_id,
        duplicate = accepted.duplicate,
        occurrences = accepted.occurrences,
        "Accepted envelope."
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "incident_id": accepted.incident_id,
            "envelope_id": envelope.envelope_id,
            "duplicate": accepted.duplicate,
            "new_incident": accepted.new_incident,
            "occurrences": accepted.occurrences,
            "incident_url": format!("/v1/incidents/{}", accepted.incident_id),
        })),
    )
        .into_response())
}

/// `?limit=N` (1..=1000, default 100) newest incidents, `?before=ID` for the next page.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    before: Option<i64>,
}

async fn list_incidents(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, IntakeError> {
    let Query(query) = query.map_err(|e| IntakeError::BadQuery(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(IntakeError::BadQuery(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let store = state.store.clone();
    let incidents = tokio::task::spawn_blocking(move || store.list_incidents(limit, query.before))
        .await
        .map_err(|e| IntakeError::Internal(e.to_string()))??;
    let next_before = (incidents.len() == limit)
        .then(|| incidents.last().map(|i| i.id))
        .flatten();
    Ok(Json(json!({ "incidents": incidents, "next_before": next_before })).into_response())
}

async fn get_incident(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, IntakeError> {
    let n: i64 = id.parse().map_err(|_| IntakeError::NotFound(id.clone()))?;
    let store = state.store.clone();
    let incident = tokio::task::spawn_blocking(move || store.incident(n))
        .await
        .map_err(|e| IntakeError::Internal(e.to_string()))??
        .ok_or(IntakeError::NotFound(id))?;
    Ok(Json(incident).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleQuery {
    /// `json` (default) or `markdown`.
    #[serde(default)]
    format: Option<String>,
}

/// The incident's evidence bundle (written by the verify stage for a verified fix), as
/// JSON or as Markdown (`?format=markdown`).
async fn get_bundle(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<BundleQuery>, QueryRejection>,
) -> Result<Response, IntakeError> {
    let Query(query) = query.map_err(|e| IntakeError::BadQuery(e.body_text()))?;
    let markdown = match query.format.as_deref() {
        None | Some("json") => false,
        Some("markdown" | "md") => true,
        Some(other) => {
            return Err(IntakeError::BadQuery(format!(
                "format must be json or markdown, not {other:?}"
            )));
        }
    };
    let n: i64 = id.parse().map_err(|_| IntakeError::NotFound(id.clone()))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.incident(n))
        .await
        .map_err(|e| IntakeError::Internal(e.to_string()))??
        .ok_or_else(|| IntakeError::NotFound(id.clone()))?;
    let root = state
        .artifacts_root
        .as_ref()
        .ok_or_else(|| IntakeError::Internal("no artifacts directory configured".into()))?;
    let file = if markdown {
        crate::bundle::MARKDOWN_FILE
    } else {
        crate::bundle::JSON_FILE
    };
    match tokio::fs::read_to_string(root.join(n.to_string()).join(file)).await {
        Ok(text) if markdown => Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            text,
        )
            .into_response()),
        Ok(text) => Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(IntakeError::NotFound(format!(
            "{n} bundle: the incident has no verified fix (yet)"
        ))),
        Err(e) => Err(IntakeError::Internal(format!("reading the bundle: {e}"))),
    }
}

/// Prometheus metrics (no token, like `/healthz`).
async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

/// Liveness plus what the engine knows about its sandbox; 200 even when degraded (intake
/// still accepts and stores), with `status: degraded` and the reason.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(3), state.sandbox.ping()).await {
        Ok(Ok(())) => state.health.sandbox_up(),
        Ok(Err(e)) => state.health.sandbox_down(&e.to_string()),
        Err(_) => state
            .health
            .sandbox_down("docker engine did not answer a ping within 3s"),
    }
    let store = state.store.clone();
    let counts = tokio::task::spawn_blocking(move || store.status_counts()).await;
    let (store_ok, counts) = match counts {
        Ok(Ok(c)) => (true, json!(c)),
        Ok(Err(e)) => (false, json!(e.to_string())),
        Err(e) => (false, json!(e.to_string())),
    };
    let mut sandbox = state.health.sandbox();
    let waiting = counts
        .get(JobStatus::Waiting.as_str())
        .and_then(|w| w.as_u64())
        .unwrap_or(0);
    sandbox.waiting_jobs = waiting;
    let ok = store_ok && sandbox.reachable == Some(true);
    Json(json!({
        "status": if ok { "ok" } else { "degraded" },
        "store": if store_ok { json!("ok") } else { counts.clone() },
        "sandbox": sandbox,
        "dependencies": state.health.all(),
        "jobs": counts,
    }))
    .into_response()
}
