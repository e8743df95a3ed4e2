//! The embedded store: SQLite in WAL mode.
//!
//! Commits are synced before they return (`synchronous=FULL` by default), so an envelope
//! intake acknowledged survives a crash of the process or of the machine.
//!
//! Tables: `envelopes` (every accepted envelope, keyed by its id: intake is idempotent),
//! `incidents` (one per fingerprint, with its job status and occurrence count) and
//! `stages` (one row per incident and stage: status, JSON result, artifacts, timings).
//! A job's status is `queued`, `running`, `waiting` (the sandbox is unreachable; retried
//! at `next_attempt`), or one of the outcomes `succeeded`, `rejected`, `failed`.
//! [`Store::recover`] puts jobs that were running when the process stopped back in the
//! queue, so nothing accepted is lost across a restart.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envelope::Envelope;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::config::Synchronous;
use crate::stage::{StageResult, StageResultError};
use crate::status::{JobStatus, StageStatus};

mod history;
mod listing;
mod views;

pub use history::IncidentTimes;
pub use listing::{IncidentFilter, IncidentSummary};
pub use views::{IncidentView, StageView};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the store directory {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stored JSON is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error(transparent)]
    StageResult(#[from] StageResultError),
    #[error("the store lock is poisoned")]
    Poisoned,
    #[error("envelope_id {0} was already accepted with different content")]
    EnvelopeIdConflict(String),
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint     TEXT NOT NULL UNIQUE,
    service         TEXT NOT NULL,
    envelope_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    failed_stage    TEXT,
    occurrences     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    first_seen_ms   INTEGER NOT NULL,
    last_seen_ms    INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_status ON incidents (status, next_attempt_ms);
CREATE TABLE IF NOT EXISTS envelopes (
    envelope_id  TEXT PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    received_ms  INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    stage        TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    result       TEXT,
    artifacts    TEXT NOT NULL DEFAULT '[]',
    started_ms   INTEGER NOT NULL,
    finished_ms  INTEGER,
    PRIMARY KEY (incident_id, stage)
);
"#;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// What intake did with an envelope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Accepted {
    pub incident_id: i64,
    /// The envelope id was seen before; nothing changed.
    pub duplicate: bool,
    /// This envelope opened a new incident (and a new job).
    pub new_incident: bool,
    pub occurrences: i64,
}

/// A claimed unit of work.
#[derive(Debug, Clone)]
pub struct Job {
    pub incident_id: i64,
    pub envelope: Envelope,
    pub attempts: i64,
}

/// How a job ended, or that it must wait.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    Succeeded,
    Rejected { reason: String },
    Failed { stage: String, error: String },
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` in WAL mode, every commit
    /// synced to disk before it returns.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// [`Store::open`] with a chosen `synchronous` level (`store.synchronous`).
    pub fn open_with(path: &Path, synchronous: Synchronous) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Stores an envelope: idempotent on its id; joins the incident of its fingerprint.
    /// The typed envelope is what is stored (its canonical JSON), so intake parses the
    /// request body once and nothing re-reads it here.
    pub fn accept(&self, envelope: &Envelope) -> Result<Accepted, StoreError> {
        let body = serde_json::to_string(envelope)?;
        let now = now_ms();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let seen: Option<(i64, String)> = tx
            .query_row(
                "SELECT incident_id, body FROM envelopes WHERE envelope_id = ?1",
                [&envelope.envelope_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((incident_id, stored)) = seen {
            // Equal text is the common duplicate; rows written before bodies were stored
            // canonically are compared as envelopes.
            let same = stored == body || serde_json::from_str::<Envelope>(&stored)? == *envelope;
            if !same {
                return Err(StoreError::EnvelopeIdConflict(envelope.envelope_id.clone()));
            }
            let occurrences: i64 = tx.query_row(
                "SELECT occurrences FROM incidents WHERE id = ?1",
                [incident_id],
                |r| r.get(0),
            )?;
            return Ok(Accepted {
                incident_id,
                duplicate: true,
                new_incident: false,
                occurrences,
            });
        }
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM incidents WHERE fingerprint = ?1",
                [&envelope.symptom.fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        // An envelope may stand for several failures the sender deduplicated.
        let count = i64::try_from(envelope.occurrences.unwrap_or(1).max(1)).unwrap_or(i64::MAX);
        let (incident_id, new_incident) = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE incidents SET occurrences = occurrences + ?3, last_seen_ms = ?2, updated_ms = ?2 WHERE id = ?1",
                    params![id, now, count],
                )?;
                (id, false)
            }
            None => {
                tx.execute(
                    "INSERT INTO incidents (fingerprint, service, envelope_id, status, occurrences, next_attempt_ms, first_seen_ms, last_seen_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?5, ?6, ?4, ?4, ?4, ?4)",
                    params![
                        envelope.symptom.fingerprint,
                        envelope.identity.service.name,
                        envelope.envelope_id,
                        now,
                        JobStatus::Queued,
                        count
                    ],
                )?;
                (tx.last_insert_rowid(), true)
            }
        };
        tx.execute(
            "INSERT INTO envelopes (envelope_id, incident_id, received_ms, body) VALUES (?1, ?2, ?3, ?4)",
            params![envelope.envelope_id, incident_id, now, body],
        )?;
        let occurrences: i64 = tx.query_row(
            "SELECT occurrences FROM incidents WHERE id = ?1",
            [incident_id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(Accepted {
            incident_id,
            duplicate: false,
            new_incident,
            occurrences,
        })
    }

    /// Puts jobs that were `running` when the process stopped back in the queue and forgets
    /// their unfinished stages (they run again). Returns how many jobs were recovered.
    pub fn recover(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM stages WHERE status = 'running'", [])?;
        let n = tx.execute(
            "UPDATE incidents SET status = 'queued', updated_ms = ?1 WHERE status = 'running'",
            [now_ms()],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Claims the oldest job that is due, marking it `running`.
    pub fn claim_next(&self) -> Result<Option<Job>, StoreError> {
        let now = now_ms();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let row: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT i.id, i.attempts, e.body FROM incidents i JOIN envelopes e ON e.envelope_id = i.envelope_id
                 WHERE i.status IN ('queued', 'waiting') AND i.next_attempt_ms <= ?1
                 ORDER BY i.next_attempt_ms, i.id LIMIT 1",
                [now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((incident_id, attempts, body)) = row else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE incidents SET status = 'running', updated_ms = ?2 WHERE id = ?1",
            params![incident_id, now],
        )?;
        tx.commit()?;
        let envelope: Envelope = serde_json::from_str(&body)?;
        Ok(Some(Job {
            incident_id,
            envelope,
            attempts,
        }))
    }

    /// When the next queued or waiting job is due, if any.
    pub fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let conn = self.conn()?;
        Ok(conn.query_row(
            "SELECT MIN(next_attempt_ms) FROM incidents WHERE status IN ('queued', 'waiting')",
            [],
            |r| r.get(0),
        )?)
    }

    /// The stored result of a stage that completed earlier, read back into its type.
    pub fn completed_stage(
        &self,
        incident_id: i64,
        stage: &str,
    ) -> Result<Option<StageResult>, StoreError> {
        let conn = self.conn()?;
        let text: Option<Option<String>> = conn
            .query_row(
                "SELECT result FROM stages WHERE incident_id = ?1 AND stage = ?2 AND status = 'completed'",
                params![incident_id, stage],
                |r| r.get(0),
            )
            .optional()?;
        match text.flatten() {
            Some(t) => Ok(Some(StageResult::from_json(stage, &t)?)),
            None => Ok(None),
        }
    }

    /// Records that a stage started (replacing an earlier failed attempt).
    pub fn stage_started(
        &self,
        incident_id: i64,
        stage: &str,
        seq: usize,
    ) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO stages (incident_id, stage, seq, status, started_ms) VALUES (?1, ?2, ?3, 'running', ?4)
             ON CONFLICT (incident_id, stage) DO UPDATE SET status = 'running', result = NULL, artifacts = '[]', started_ms = ?4, finished_ms = NULL",
            params![incident_id, stage, seq as i64, now_ms()],
        )?;
        Ok(())
    }

    /// Records a stage's end: `completed` (with its result) or `failed` (with what it
    /// learned, if anything).
    pub fn stage_finished(
        &self,
        incident_id: i64,
        stage: &str,
        status: StageStatus,
        result: Option<&StageResult>,
        artifacts: &[String],
    ) -> Result<(), StoreError> {
        let result = result.map(serde_json::to_string).transpose()?;
        let conn = self.conn()?;
        conn.execute(
            "UPDATE stages SET status = ?3, result = ?4, artifacts = ?5, finished_ms = ?6 WHERE incident_id = ?1 AND stage = ?2",
            params![
                incident_id,
                stage,
                status,
                result,
                serde_json::to_string(artifacts)?,
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// Drops the record of a stage that was interrupted (it will run again).
    pub fn stage_abandoned(&self, incident_id: i64, stage: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "DELETE FROM stages WHERE incident_id = ?1 AND stage = ?2 AND status = 'running'",
            params![incident_id, stage],
        )?;
        Ok(())
    }

    /// Ends a job with its outcome.
    pub fn finish(&self, incident_id: i64, end: &JobEnd) -> Result<(), StoreError> {
        let (status, reason, stage) = match end {
            JobEnd::Succeeded => (JobStatus::Succeeded, None, None),
            JobEnd::Rejected { reason } => (JobStatus::Rejected, Some(reason.as_str()), None),
            JobEnd::Failed { stage, error } => (
                JobStatus::Failed,
                Some(error.as_str()),
                Some(stage.as_str()),
            ),
        };
        let conn = self.conn()?;
        conn.execute(
            "UPDATE incidents SET status = ?2, reason = ?3, failed_stage = ?4, updated_ms = ?5 WHERE id = ?1",
            params![incident_id, status, reason, stage, now_ms()],
        )?;
        Ok(())
    }

    /// Parks a job until `retry_in` has passed because a dependency (the sandbox) is down.
    pub fn wait(
        &self,
        incident_id: i64,
        reason: &str,
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let conn = self.conn()?;
        conn.execute(
            "UPDATE incidents SET status = 'waiting', reason = ?2, attempts = attempts + 1, next_attempt_ms = ?3, updated_ms = ?4 WHERE id = ?1",
            params![incident_id, reason, now + retry_in.as_millis() as i64, now],
        )?;
        Ok(())
    }

    /// Marks the stage that was running when a stage panicked as failed, and ends the job.
    pub fn fail_running_stage(&self, incident_id: i64, error: &str) -> Result<(), StoreError> {
        let stage: Option<String> = {
            let conn = self.conn()?;
            conn.query_row(
                "SELECT stage FROM stages WHERE incident_id = ?1 AND status = 'running'",
                [incident_id],
                |r| r.get(0),
            )
            .optional()?
        };
        let stage = stage.unwrap_or_else(|| "unknown".to_string());
        self.stage_finished(incident_id, &stage, StageStatus::Failed, None, &[])?;
        self.finish(
            incident_id,
            &JobEnd::Failed {
                stage,
                error: error.to_string(),
            },
        )
    }

    /// Number of incidents in each job status.
    pub fn status_counts(&self) -> Result<std::collections::BTreeMap<JobStatus, i64>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM incidents GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, JobStatus>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A stored envelope, read back into its type.
    pub fn envelope(&self, envelope_id: &str) -> Result<Option<Envelope>, StoreError> {
        let conn = self.conn()?;
        let body: Option<String> = conn
            .query_row(
                "SELECT body FROM envelopes WHERE envelope_id = ?1",
                [envelope_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Counts of envelopes and incidents (for health and tests).
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        let conn = self.conn()?;
        let envelopes = conn.query_row("SELECT COUNT(*) FROM envelopes", [], |r| r.get(0))?;
        let incidents = conn.query_row("SELECT COUNT(*) FROM incidents", [], |r| r.get(0))?;
        Ok((envelopes, incidents))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::reproduce::ReproduceResult;

    fn envelope(id: &str, fingerprint: &str) -> Envelope {
        let mut v: Value = serde_json::from_str(include_str!(
            "../../../config/examples/envelopes/minimal.json"
        ))
        .expect("json");
        v["envelope_id"] = Value::from(id);
        v["symptom"]["fingerprint"] = Value::from(fingerprint);
        envelope::from_value(v).expect("valid")
    }

    #[test]
    fn accept_is_idempotent_and_joins_by_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let a = envelope("env-aaaaaaaa", "00000000000000aa");
        let b = envelope("env-bbbbbbbb", "00000000000000aa");
        let first = store.accept(&a).expect("accept");
        assert!(first.new_incident && !first.duplicate);
        let again = store.accept(&a).expect("accept");
        assert!(again.duplicate);
        let other = envelope("env-aaaaaaaa", "00000000000000ff");
        assert!(matches!(
            store.accept(&other),
            Err(StoreError::EnvelopeIdConflict(_))
        ));
        assert_eq!(again.incident_id, first.incident_id);
        let joined = store.accept(&b).expect("accept");
        assert_eq!(joined.incident_id, first.incident_id);
        assert_eq!(joined.occurrences, 2);
        assert_eq!(store.counts().expect("counts"), (2, 1));
        let c = envelope("env-cccccccc", "00000000000000cc");
        let third = store.accept(&c).expect("accept");
        let newest = store.list_incidents(1, None).expect("list");
        assert_eq!(newest.len(), 1);
        assert_eq!(newest[0].id, third.incident_id);
        let older = store
            .list_incidents(10, Some(third.incident_id))
            .expect("list");
        assert_eq!(
            older.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![first.incident_id]
        );
    }

    /// An envelope standing for deduplicated failures adds them all to its incident.
    #[test]
    fn occurrences_carried_by_an_envelope_are_added() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let mut a = envelope("env-occ-aaaaaa", "00000000000000dd");
        a.occurrences = Some(3);
        assert_eq!(store.accept(&a).expect("accept").occurrences, 3);
        let mut b = envelope("env-occ-bbbbbb", "00000000000000dd");
        b.occurrences = Some(5);
        assert_eq!(store.accept(&b).expect("accept").occurrences, 8);
        let c = envelope("env-occ-cccccc", "00000000000000dd");
        assert_eq!(store.accept(&c).expect("accept").occurrences, 9);
        // A resent envelope (same id) counts nothing again.
        assert_eq!(store.accept(&b).expect("accept").occurrences, 9);
    }

    #[test]
    fn running_jobs_resume_after_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        {
            let store = Store::open(&path).expect("open");
            let a = envelope("env-cccccccc", "00000000000000cc");
            store.accept(&a).expect("accept");
            let job = store.claim_next().expect("claim").expect("job");
            store
                .stage_started(job.incident_id, "reproduce", 0)
                .expect("start");
            assert!(store.claim_next().expect("claim").is_none());
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.recover().expect("recover"), 1);
        let job = store.claim_next().expect("claim").expect("job again");
        let result = StageResult::Reproduce(Box::new(ReproduceResult::new(
            &job.envelope.identity.service.name,
            &job.envelope.symptom.exception,
        )));
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "running");
        assert!(view.stages.is_empty(), "interrupted stage is forgotten");
        store
            .stage_started(job.incident_id, "reproduce", 0)
            .expect("start");
        store
            .stage_finished(
                job.incident_id,
                "reproduce",
                StageStatus::Completed,
                Some(&result),
                &["a.log".to_string()],
            )
            .expect("finish stage");
        store
            .finish(job.incident_id, &JobEnd::Succeeded)
            .expect("finish");
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "succeeded");
        assert_eq!(view.stages[0].artifacts, vec!["a.log".to_string()]);
        assert_eq!(
            store
                .completed_stage(job.incident_id, "reproduce")
                .expect("q"),
            Some(result),
            "the stored result reads back into its type"
        );
        assert_eq!(view.stages[0].status, StageStatus::Completed);
    }

    #[test]
    fn bodies_stored_before_canonical_storage_still_count_as_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let a = envelope("env-oldrow-0001", "00000000000000ee");
        store.accept(&a).expect("accept");
        // An older engine stored the request body as sent: other key order and spacing.
        let raw = serde_json::to_value(&a).expect("json");
        let pretty = serde_json::to_string_pretty(&raw).expect("json");
        assert_ne!(pretty, serde_json::to_string(&a).expect("json"));
        store
            .conn()
            .expect("conn")
            .execute(
                "UPDATE envelopes SET body = ?1 WHERE envelope_id = ?2",
                params![pretty, a.envelope_id],
            )
            .expect("rewrite");
        let again = store.accept(&a).expect("accept");
        assert!(again.duplicate, "same envelope, other text: a duplicate");
        let mut other = a.clone();
        other.inputs.path = "/ratio/1".into();
        assert!(matches!(
            store.accept(&other),
            Err(StoreError::EnvelopeIdConflict(_))
        ));
        let job = store.claim_next().expect("claim").expect("job");
        assert_eq!(
            job.envelope, a,
            "the stored text reads back into the envelope"
        );
    }

    #[test]
    fn the_store_is_in_wal_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let conn = store.conn().expect("conn");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
        // 2 = FULL: an accepted envelope is on disk before intake answers.
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(sync, 2);
        drop(conn);
        let fast = Store::open_with(&dir.path().join("f.db"), Synchronous::Normal).expect("open");
        let sync: i64 = fast
            .conn()
            .expect("conn")
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(sync, 1);
    }

    #[test]
    fn waiting_jobs_are_due_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let a = envelope("env-dddddddd", "00000000000000dd");
        store.accept(&a).expect("accept");
        let job = store.claim_next().expect("claim").expect("job");
        store
            .wait(job.incident_id, "docker down", Duration::from_secs(60))
            .expect("wait");
        assert!(store.claim_next().expect("claim").is_none());
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "waiting");
        assert_eq!(view.attempts, 1);
        assert!(view.next_attempt_at.is_some());
    }
}
