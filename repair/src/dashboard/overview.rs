//! `GET /ui/overview`: the engine's repro rate, fix rate, time to reproduction and time
//! to branch over time, as SVG charts. Incidents are grouped by when they were first
//! seen (each bucket is a cohort), from the incident and stage rows in the store:
//!
//! - repro rate: incidents whose reproduce verdict is `reproduced`, over those with a
//!   reproduce verdict;
//! - fix rate: incidents whose verify verdict is `fixed`, over those with a verify verdict;
//! - time to repro: from the first envelope's arrival to the end of a reproduce stage
//!   that reproduced it (median of the bucket);
//! - time to branch: from the first envelope's arrival to the end of a verify stage that
//!   wrote a branch (median of the bucket).

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::auth::Viewer;
use super::chart::{Axis, line_chart};
use super::{Dashboard, PageError, templates, text};
use crate::store::{IncidentTimes, now_ms};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The ranges the page offers: (name, length, bucket).
const RANGES: [(&str, i64, i64); 4] = [
    ("24h", DAY, HOUR),
    ("7d", 7 * DAY, 6 * HOUR),
    ("30d", 30 * DAY, DAY),
    ("90d", 90 * DAY, 3 * DAY),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    #[serde(default)]
    range: Option<String>,
}

/// One bucket's (or the whole range's) figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub incidents: usize,
    pub repro_verdicts: usize,
    pub reproduced: usize,
    pub verify_verdicts: usize,
    pub fixed: usize,
    /// Median milliseconds, when any incident got there.
    pub time_to_repro_ms: Option<i64>,
    pub time_to_branch_ms: Option<i64>,
}

impl Figures {
    fn repro_rate(&self) -> Option<f64> {
        (self.repro_verdicts > 0).then(|| self.reproduced as f64 / self.repro_verdicts as f64)
    }

    fn fix_rate(&self) -> Option<f64> {
        (self.verify_verdicts > 0).then(|| self.fixed as f64 / self.verify_verdicts as f64)
    }
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    })
}

/// The figures of a set of incidents.
pub fn figures<'a>(incidents: impl IntoIterator<Item = &'a IncidentTimes>) -> Figures {
    let mut f = Figures::default();
    let mut to_repro = Vec::new();
    let mut to_branch = Vec::new();
    for i in incidents {
        f.incidents += 1;
        if let Some((at, verdict)) = &i.reproduce {
            f.repro_verdicts += 1;
            if verdict == "reproduced" {
                f.reproduced += 1;
                to_repro.push(at - i.first_seen_ms);
            }
        }
        if let Some((at, verdict, branch)) = &i.verify {
            f.verify_verdicts += 1;
            if verdict == "fixed" {
                f.fixed += 1;
            }
            if *branch {
                to_branch.push(at - i.first_seen_ms);
            }
        }
    }
    f.time_to_repro_ms = median(to_repro);
    f.time_to_branch_ms = median(to_branch);
    f
}

fn bucket_label(start_ms: i64, bucket: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(start_ms.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    // 2026-12-07T06:00:00Z: hours within a day, else the day.
    match (s.get(5..10), s.get(11..16)) {
        (_, Some(hm)) if bucket < DAY && start_ms % DAY != 0 => hm.to_string(),
        (Some(md), _) => md.to_string(),
        _ => s,
    }
}

/// The overview page.
pub async fn page(
    State(dash): State<Arc<Dashboard>>,
    Extension(viewer): Extension<Viewer>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(query) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let range = query.range.unwrap_or_else(|| "7d".into());
    let (name, length, bucket) = RANGES
        .iter()
        .copied()
        .find(|(n, _, _)| *n == range)
        .ok_or_else(|| {
            PageError::BadRequest(format!(
                "Unknown range {range:?}: one of {}.",
                RANGES.map(|r| r.0).join(", ")
            ))
        })?;
    let now = now_ms();
    let start = (now - length).div_euclid(bucket) * bucket;
    let buckets = usize::try_from((now - start) / bucket + 1).unwrap_or(1);
    let store = dash.app.store.clone();
    let times = tokio::task::spawn_blocking(move || store.incident_times(start))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))??;
    let mut grouped: Vec<Vec<&IncidentTimes>> = vec![Vec::new(); buckets];
    for t in &times {
        let i = usize::try_from((t.first_seen_ms - start) / bucket).unwrap_or(0);
        if let Some(b) = grouped.get_mut(i) {
            b.push(t);
        }
    }
    let per_bucket: Vec<Figures> = grouped.iter().map(|b| figures(b.iter().copied())).collect();
    let labels: Vec<String> = (0..buckets)
        .map(|i| bucket_label(start + i as i64 * bucket, bucket))
        .collect();
    let series = |f: &dyn Fn(&Figures) -> Option<f64>| per_bucket.iter().map(f).collect::<Vec<_>>();
    let charts = vec![
        line_chart(
            "Incidents first seen",
            Axis::Count,
            &series(&|f| Some(f.incidents as f64)),
            &labels,
        ),
        line_chart(
            "Repro rate",
            Axis::Ratio,
            &series(&|f| f.repro_rate()),
            &labels,
        ),
        line_chart("Fix rate", Axis::Ratio, &series(&|f| f.fix_rate()), &labels),
        line_chart(
            "Time to reproduction (median)",
            Axis::Millis,
            &series(&|f| f.time_to_repro_ms.map(|v| v as f64)),
            &labels,
        ),
        line_chart(
            "Time to branch (median)",
            Axis::Millis,
            &series(&|f| f.time_to_branch_ms.map(|v| v as f64)),
            &labels,
        ),
    ];
    let total = figures(&times);
    let percent = |r: Option<f64>| r.map(|r| format!("{:.0} %", r * 100.0));
    let html = templates::render(
        "overview.html",
        context! {
            page => "overview",
            role => viewer.role,
            range => name,
            ranges => RANGES.map(|r| r.0),
            bucket => text::duration(bucket),
            charts,
            total => context! {
                incidents => total.incidents,
                repro_rate => percent(total.repro_rate()),
                reproduced => total.reproduced,
                repro_verdicts => total.repro_verdicts,
                fix_rate => percent(total.fix_rate()),
                fixed => total.fixed,
                verify_verdicts => total.verify_verdicts,
                time_to_repro => total.time_to_repro_ms.map(text::duration),
                time_to_branch => total.time_to_branch_ms.map(text::duration),
            },
        },
    )?;
    Ok(Html(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_rates_over_verdicts_and_median_times() {
        let t = |first: i64, r: Option<(i64, &str)>, v: Option<(i64, &str, bool)>| IncidentTimes {
            first_seen_ms: first,
            reproduce: r.map(|(a, b)| (a, b.to_string())),
            verify: v.map(|(a, b, c)| (a, b.to_string(), c)),
        };
        let set = [
            t(
                0,
                Some((1_000, "reproduced")),
                Some((10_000, "fixed", true)),
            ),
            t(
                0,
                Some((3_000, "reproduced")),
                Some((30_000, "no_fix", false)),
            ),
            t(0, Some((5_000, "not_reproduced")), None),
            t(0, None, None),
        ];
        let f = figures(&set);
        assert_eq!(f.incidents, 4);
        assert_eq!(f.repro_rate(), Some(2.0 / 3.0));
        assert_eq!(f.fix_rate(), Some(0.5));
        assert_eq!(f.time_to_repro_ms, Some(2_000));
        assert_eq!(f.time_to_branch_ms, Some(10_000));
        assert_eq!(figures(&[]).repro_rate(), None, "no verdict, no rate");
    }

    #[test]
    fn buckets_are_named_by_hour_or_day() {
        assert_eq!(bucket_label(DAY * 20_000 + 6 * HOUR, HOUR), "06:00");
        assert_eq!(bucket_label(DAY * 20_000, HOUR), "10-04");
        assert_eq!(bucket_label(DAY * 20_000, DAY), "10-04");
    }
}
