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
        // One statement: `?2`/`?3` NULL means "any". A body that is not JSON (it
        // cannot be, intake parses it; but a hand-edited store must not break the list)
        // shows no exception type.
        let mut stmt = conn.prepare(
            "SELECT i.id, i.fingerprint, i.service, i.status, i.reason, i.occurrences,
                    i.first_seen_ms, i.last_seen_ms,
                    CASE WHEN json_valid(e.body) THEN json_extract(e.body, '$.symptom.exception.type') END,
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::reproduce::ReproduceResult;
    use crate::stage::StageResult;
    use crate::store::JobEnd;

    fn envelope(id: &str, service: &str, fingerprint: &str) -> envelope::Envelope {
        let mut v: Value = serde_json::from_str(include_str!(
            "../../../config/examples/envelopes/minimal.json"
        ))
        .expect("json");
        v["envelope_id"] = Value::from(id);
        v["identity"]["service"]["name"] = Value::from(service);
        v["symptom"]["fingerprint"] = Value::from(fingerprint);
        envelope::from_value(v).expect("valid")
    }

    #[test]
    fn summaries_filter_by_service_and_status_and_name_the_stage_reached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let a = store
            .accept(&envelope("env-list-0001", "checkout", "00000000000000a1"))
            .expect("a");
        let b = store
            .accept(&envelope("env-list-0002", "billing", "00000000000000b2"))
            .expect("b");
        let job = store.claim_next().expect("claim").expect("job");
        assert_eq!(job.incident_id, a.incident_id);
        let result = StageResult::Reproduce(Box::new(ReproduceResult::new(
            "checkout",
            &job.envelope.symptom.exception,
        )));
        store
            .stage_started(a.incident_id, "reproduce", 0)
            .expect("start");
        store
            .stage_finished(
                a.incident_id,
                "reproduce",
                StageStatus::Completed,
                Some(&result),
                &[],
            )
            .expect("finish stage");
        store
            .finish(
                a.incident_id,
                &JobEnd::Rejected {
                    reason: "no".into(),
                },
            )
            .expect("finish");

        let all = store
            .summaries(&IncidentFilter {
                limit: 10,
                ..Default::default()
            })
            .expect("list");
        assert_eq!(
            all.iter().map(|s| s.id).collect::<Vec<_>>(),
            [b.incident_id, a.incident_id]
        );
        assert_eq!(
            all[1].stage_reached,
            Some(("reproduce".into(), StageStatus::Completed))
        );
        assert_eq!(all[1].exception_type.as_deref(), Some("ZeroDivisionError"));
        assert_eq!(all[0].stage_reached, None);
        let rejected = store
            .summaries(&IncidentFilter {
                status: Some(JobStatus::Rejected),
                limit: 10,
                ..Default::default()
            })
            .expect("list");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].reason.as_deref(), Some("no"));
        let billing = store
            .summaries(&IncidentFilter {
                service: Some("billing".into()),
                status: Some(JobStatus::Rejected),
                limit: 10,
                ..Default::default()
            })
            .expect("list");
        assert!(billing.is_empty());
        let older = store
            .summaries(&IncidentFilter {
                before: Some(b.incident_id),
                limit: 10,
                ..Default::default()
            })
            .expect("list");
        assert_eq!(older.len(), 1);
        assert_eq!(store.services().expect("services"), ["billing", "checkout"]);

        let times = store.incident_times(0).expect("times");
        assert_eq!(times.len(), 2);
        assert_eq!(
            times
                .iter()
                .find_map(|t| t.reproduce.as_ref())
                .map(|(_, v)| v.as_str()),
            Some("not_attempted")
        );
        assert!(times.iter().all(|t| t.verify.is_none()));
        assert!(store.incident_times(i64::MAX).expect("times").is_empty());
    }
}
