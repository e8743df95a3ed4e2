//! What the dashboard's charts are computed from: per incident, when it was first seen,
//! when its reproduce stage finished and with which verdict, and when its verify stage
//! finished, with which verdict and whether it wrote a branch. All of it is in the
//! incident and stage rows already; nothing extra is recorded for the charts.

use rusqlite::params;

use super::{Store, StoreError};

/// One incident's milestones (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTimes {
    pub first_seen_ms: i64,
    /// When reproduce finished, and its verdict (`reproduced`, `not_reproduced`, ...).
    pub reproduce: Option<(i64, String)>,
    /// When verify finished, its verdict (`fixed`, `no_fix`) and whether a branch was
    /// written.
    pub verify: Option<(i64, String, bool)>,
}

impl Store {
    /// The milestones of every incident first seen at or after `since_ms`, oldest first.
    pub fn incident_times(&self, since_ms: i64) -> Result<Vec<IncidentTimes>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT i.first_seen_ms,
                    r.finished_ms, json_extract(r.result, '$.verdict'),
                    v.finished_ms, json_extract(v.result, '$.verdict'),
                    json_extract(v.result, '$.branch.name') IS NOT NULL
             FROM incidents i
             LEFT JOIN stages r ON r.incident_id = i.id AND r.stage = 'reproduce'
                  AND r.finished_ms IS NOT NULL AND r.result IS NOT NULL
             LEFT JOIN stages v ON v.incident_id = i.id AND v.stage = 'verify'
                  AND v.finished_ms IS NOT NULL AND v.result IS NOT NULL
             WHERE i.first_seen_ms >= ?1
             ORDER BY i.first_seen_ms",
        )?;
        let rows = stmt.query_map(params![since_ms], |r| {
            let r_done: Option<i64> = r.get(1)?;
            let r_verdict: Option<String> = r.get(2)?;
            let v_done: Option<i64> = r.get(3)?;
            let v_verdict: Option<String> = r.get(4)?;
            let branch: Option<bool> = r.get(5)?;
            Ok(IncidentTimes {
                first_seen_ms: r.get(0)?,
                reproduce: r_done.zip(r_verdict),
                verify: v_done
                    .zip(v_verdict)
                    .map(|(t, v)| (t, v, branch.unwrap_or(false))),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
