//! The dashboard's incident list: incidents filtered by service and job status, newest
//! first, each with the last stage it reached and its exception type, without reading
//! any stage's result.

use rusqlite::params;

use super::{Store, StoreError};
use crate::status::{JobStatus, StageStatus};

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only this `service.name`.
    pub service: Option<String>,
    /// Only this job status.
    pub status: Option<JobStatus>,
    /// Only ids below this one (the next page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    pub id: i64,
    pub fingerprint: String,
    pub service: String,
    pub status: JobStatus,
    pub reason: Option<String>,
    pub occurrences: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The first envelope's exception type.
    pub exception_type: Option<String>,
    /// The last stage that started, and where it stands.
    pub stage_reached: Option<(String, StageStatus)>,
}

impl Store {
    /// Incidents matching `filter`, newest first.
    pub fn summaries(&self, filter: &IncidentFilter) -> Result<Vec<IncidentSummary>, StoreError> {
        let conn = self.conn()?;
        // One statement: `?2`/`?3` NULL means "any".
        let mut stmt = conn.prepare(
            "SELECT i.id, i.fingerprint, i.service, i.status, i.reason, i.occurrences,
                    i.first_seen_ms, i.last_seen_ms,
                    json_extract(e.body, '$.symptom.exception.type'),
                    (SELECT s.stage FROM stages s WHERE s.incident_id = i.id ORDER BY s.seq DESC LIMIT 1),
                    (SELECT s.status FROM stages s WHERE s.incident_id = i.id ORDER BY s.seq DESC LIMIT 1)
             FROM incidents i LEFT JOIN envelopes e ON e.envelope_id = i.envelope_id
             WHERE i.id < ?1 AND (?2 IS NULL OR i.service = ?2) AND (?3 IS NULL OR i.status = ?3)
             ORDER BY i.id DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![
                filter.before.unwrap_or(i64::MAX),
                filter.service,
                filter.status,
                filter.limit as i64
            ],
            |r| {
                let stage: Option<String> = r.get(9)?;
                let stage_status: Option<StageStatus> = r.get(10)?;
                Ok(IncidentSummary {
                    id: r.get(0)?,
                    fingerprint: r.get(1)?,
                    service: r.get(2)?,
                    status: r.get(3)?,
                    reason: r.get(4)?,
                    occurrences: r.get(5)?,
                    first_seen_ms: r.get(6)?,
                    last_seen_ms: r.get(7)?,
                    exception_type: r.get(8)?,
                    stage_reached: stage.zip(stage_status),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every service with an incident, by name.
    pub fn services(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT DISTINCT service FROM incidents ORDER BY service")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
