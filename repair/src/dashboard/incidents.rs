//! `GET /ui/`: the incidents, newest first, filtered by service and job status.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::auth::Viewer;
use super::{Dashboard, PageError, templates, text};
use crate::status::JobStatus;
use crate::store::{IncidentFilter, now_ms};

/// Rows per page.
const PAGE: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `service.name`; empty is every service.
    #[serde(default)]
    service: Option<String>,
    /// A job status; empty is every status.
    #[serde(default)]
    status: Option<String>,
    /// The next page: ids below this one.
    #[serde(default)]
    before: Option<i64>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    service: String,
    fingerprint: String,
    exception_type: Option<String>,
    occurrences: i64,
    status: JobStatus,
    reason: Option<String>,
    stage: Option<String>,
    stage_status: Option<String>,
    age: String,
    last_seen: String,
}

/// The list page.
pub async fn page(
    State(dash): State<Arc<Dashboard>>,
    Extension(viewer): Extension<Viewer>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let service = query.service.filter(|s| !s.is_empty());
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(word) => Some(word.parse::<JobStatus>().map_err(|_| {
            PageError::BadRequest(format!(
                "Unknown status {word:?}: one of {}.",
                JobStatus::ALL.map(JobStatus::as_str).join(", ")
            ))
        })?),
    };
    let filter = IncidentFilter {
        service: service.clone(),
        status,
        before: query.before,
        limit: PAGE,
    };
    let store = dash.app.store.clone();
    let (rows, services) = tokio::task::spawn_blocking(move || {
        Ok::<_, PageError>((store.summaries(&filter)?, store.services()?))
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))??;
    let now = now_ms();
    let next_before = (rows.len() == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|r| Row {
            id: r.id,
            age: text::age(now, r.first_seen_ms),
            last_seen: text::age(now, r.last_seen_ms),
            stage: r.stage_reached.as_ref().map(|(s, _)| s.clone()),
            stage_status: r
                .stage_reached
                .as_ref()
                .map(|(_, s)| s.as_str().to_string()),
            service: r.service,
            fingerprint: r.fingerprint,
            exception_type: r.exception_type,
            occurrences: r.occurrences,
            status: r.status,
            reason: r.reason,
        })
        .collect();
    let html = templates::render(
        "incidents.html",
        context! {
            page => "incidents",
            role => viewer.role,
            rows,
            services,
            statuses => JobStatus::ALL.map(JobStatus::as_str),
            service,
            status => status.map(JobStatus::as_str),
            next_before,
        },
    )?;
    Ok(Html(html))
}
