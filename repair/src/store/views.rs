//! Incidents as the API shows them: the job's status and every stage's typed result,
//! read from the store.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, rfc3339};
use crate::stage::StageResult;
use crate::status::{JobStatus, StageStatus};

/// One stage's stored state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageView {
    /// The stage's name.
    pub name: String,
    /// `running`, `completed` or `failed`.
    pub status: StageStatus,
    /// The stage's typed result (its own fields, no tag).
    pub result: Option<StageResult>,
    /// Artifact file names in the incident's directory.
    pub artifacts: Vec<String>,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end.
    pub finished_at: Option<String>,
    /// `finished_at - started_at`.
    pub duration_ms: Option<i64>,
}

/// An incident as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentView {
    /// Incident id.
    pub id: i64,
    /// The fingerprint every envelope of this incident shares.
    pub fingerprint: String,
    /// `service.name`.
    pub service: String,
    /// The first envelope (the one the stages work on).
    pub envelope_id: String,
    /// The job's status.
    pub status: JobStatus,
    /// Why it was rejected, failed, or waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The stage that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_stage: Option<String>,
    /// Envelopes received with this fingerprint.
    pub occurrences: i64,
    /// Times the job waited on a dependency.
    pub attempts: i64,
    /// When a waiting job is retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// First envelope's arrival.
    pub first_seen: String,
    /// Last envelope's arrival.
    pub last_seen: String,
    /// Last change of the job.
    pub updated_at: String,
    /// Every stage that started, in pipeline order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageView>,
}

impl Store {
    /// The newest `limit` incidents (at most `before` exclusive, for paging), each with
    /// its stages.
    pub fn list_incidents(
        &self,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<IncidentView>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "{INCIDENT_SELECT} WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![before.unwrap_or(i64::MAX), limit as i64],
            incident_row,
        )?;
        let mut views = rows.collect::<Result<Vec<_>, _>>()?;
        for view in &mut views {
            view.stages = stages_of(&conn, view.id)?;
        }
        Ok(views)
    }

    /// One incident with every stage's result, or `None`.
    pub fn incident(&self, id: i64) -> Result<Option<IncidentView>, StoreError> {
        let conn = self.conn()?;
        let Some(mut view) = conn
            .query_row(
                &format!("{INCIDENT_SELECT} WHERE id = ?1"),
                [id],
                incident_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        view.stages = stages_of(&conn, id)?;
        Ok(Some(view))
    }
}

fn stages_of(conn: &Connection, id: i64) -> Result<Vec<StageView>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT stage, status, result, artifacts, started_ms, finished_ms FROM stages WHERE incident_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, StageStatus>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut stages = Vec::new();
    for row in rows {
        let (name, status, result, artifacts, started, finished) = row?;
        stages.push(StageView {
            status,
            result: match result {
                Some(text) => Some(StageResult::from_json(&name, &text)?),
                None => None,
            },
            artifacts: serde_json::from_str(&artifacts)?,
            started_at: rfc3339(started),
            finished_at: finished.map(rfc3339),
            duration_ms: finished.map(|f| f - started),
            name,
        });
    }
    Ok(stages)
}

const INCIDENT_SELECT: &str = "SELECT id, fingerprint, service, envelope_id, status, reason, failed_stage, occurrences, attempts, next_attempt_ms, first_seen_ms, last_seen_ms, updated_ms FROM incidents";

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentView> {
    let status: JobStatus = r.get(4)?;
    let next: i64 = r.get(9)?;
    Ok(IncidentView {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        service: r.get(2)?,
        envelope_id: r.get(3)?,
        next_attempt_at: (status == JobStatus::Waiting).then(|| rfc3339(next)),
        status,
        reason: r.get(5)?,
        failed_stage: r.get(6)?,
        occurrences: r.get(7)?,
        attempts: r.get(8)?,
        first_seen: rfc3339(r.get(10)?),
        last_seen: rfc3339(r.get(11)?),
        updated_at: rfc3339(r.get(12)?),
        stages: Vec::new(),
    })
}
