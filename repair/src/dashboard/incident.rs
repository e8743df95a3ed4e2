//! `GET /ui/incidents/{id}`: one incident from its envelope to its branch. The stage
//! timeline with durations, the reproduction runs with the traceback each observed, the
//! minimized input beside the original, the hypotheses with their evidence, the
//! candidate patches' diffs, the verification, and the evidence bundle (Markdown) to
//! copy. Every stage's part is shown only when that stage has a result.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::Viewer;
use super::{Dashboard, PageError, templates, text};
use crate::stage::StageResult;
use crate::store::{IncidentView, now_ms};
use crate::verify::CandidateOutcome;

/// The most of a run's output the page shows (its end, where the traceback is).
const TRACEBACK_BYTES: usize = 16 * 1024;

/// Geometry of the stage timeline (SVG user units).
const LABEL_W: f64 = 150.0;
const BARS_W: f64 = 480.0;
const ROW_H: f64 = 28.0;

#[derive(Serialize)]
struct TimelineRow {
    name: String,
    status: String,
    x: f64,
    y: f64,
    w: f64,
    label_x: f64,
    label_anchor: &'static str,
    duration: String,
}

#[derive(Serialize)]
struct Timeline {
    width: f64,
    height: f64,
    rows: Vec<TimelineRow>,
    total: String,
}

#[derive(Serialize)]
struct DiffLine {
    kind: &'static str,
    text: String,
}

fn id_of(id: &str) -> Result<i64, PageError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| PageError::NotFound(format!("There is no incident {id:?}.")))
}

fn ms_of(rfc3339: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(rfc3339).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// The stage bars, from the first envelope's arrival (time 0) on: the wait in the queue,
/// then each stage from its start for its duration (a running one up to now).
fn timeline(incident: &IncidentView, now: i64) -> Option<Timeline> {
    let t0 = ms_of(&incident.first_seen)?;
    let mut spans: Vec<(String, String, i64, i64)> = Vec::new();
    if let Some(first) = incident.stages.first().and_then(|s| ms_of(&s.started_at)) {
        spans.push(("queued".into(), "queued".into(), t0, first));
    }
    for s in &incident.stages {
        let Some(start) = ms_of(&s.started_at) else {
            continue;
        };
        let end = s.duration_ms.map(|d| start + d).unwrap_or(now);
        spans.push((s.name.clone(), s.status.as_str().to_string(), start, end));
    }
    if spans.is_empty() {
        return None;
    }
    let last = spans.iter().map(|s| s.3).max().unwrap_or(t0);
    let span = (last - t0).max(1) as f64;
    let rows = spans
        .into_iter()
        .enumerate()
        .map(|(i, (name, status, start, end))| {
            let x = LABEL_W + (start - t0).max(0) as f64 / span * BARS_W;
            let w = ((end - start).max(0) as f64 / span * BARS_W).max(2.0);
            // The duration goes right of its bar, or left of it when the bar ends late.
            let (label_x, label_anchor) = if x + w + 80.0 > LABEL_W + BARS_W + 90.0 {
                (x - 6.0, "end")
            } else {
                (x + w + 6.0, "start")
            };
            TimelineRow {
                name,
                status,
                x: round1(x),
                y: round1(8.0 + i as f64 * ROW_H),
                w: round1(w),
                label_x: round1(label_x),
                label_anchor,
                duration: text::duration(end - start),
            }
        })
        .collect::<Vec<_>>();
    Some(Timeline {
        width: LABEL_W + BARS_W + 90.0,
        height: 16.0 + rows.len() as f64 * ROW_H,
        total: text::duration(last - t0),
        rows,
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A unified diff's lines, each with its kind for the stylesheet.
fn diff_lines(diff: &str) -> Vec<DiffLine> {
    diff.lines()
        .map(|l| DiffLine {
            kind: if l.starts_with("+++") || l.starts_with("---") || l.starts_with("diff ") {
                "meta"
            } else if l.starts_with("@@") {
                "hunk"
            } else if l.starts_with('+') {
                "add"
            } else if l.starts_with('-') {
                "del"
            } else {
                "ctx"
            },
            text: l.to_string(),
        })
        .collect()
}

/// The tail of what the service printed in run `run` (its stderr, else its stdout, as
/// the replay runner's result line reports them), else what the container printed.
async fn run_output(dir: &std::path::Path, run: u32) -> Option<(String, bool)> {
    let text = tokio::fs::read_to_string(dir.join(format!("reproduce-run-{run}.json")))
        .await
        .ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let container = &v["container"];
    let result: Value = container["stdout"]
        .as_str()
        .and_then(|out| {
            out.lines()
                .rev()
                .find_map(|l| l.strip_prefix(crate::reproduce::RESULT_MARKER))
        })
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null);
    let out = [
        &result["service_stderr"],
        &result["service_stdout"],
        &container["stderr"],
        &container["stdout"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .find(|s| !s.trim().is_empty())?;
    let (tail, cut) = text::tail(out, TRACEBACK_BYTES);
    Some((tail.to_string(), cut))
}

fn artifacts_dir(dash: &Dashboard, id: i64) -> Option<PathBuf> {
    dash.app
        .artifacts_root
        .as_ref()
        .map(|root| root.join(id.to_string()))
}

/// The incident page.
pub async fn page(
    State(dash): State<Arc<Dashboard>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let n = id_of(&id)?;
    let store = dash.app.store.clone();
    let (incident, envelope) = tokio::task::spawn_blocking(move || {
        let Some(incident) = store.incident(n)? else {
            return Ok::<_, PageError>(None);
        };
        let envelope = store.envelope(&incident.envelope_id)?;
        Ok(Some((incident, envelope)))
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))??
    .ok_or_else(|| PageError::NotFound(format!("There is no incident {n}.")))?;
    let now = now_ms();
    let dir = artifacts_dir(&dash, n);

    let mut stages = json!({});
    let mut runs = Vec::new();
    let mut minimize = Value::Null;
    let mut candidates = Vec::new();
    for stage in &incident.stages {
        let Some(result) = &stage.result else {
            continue;
        };
        stages[&stage.name] = serde_json::to_value(result).unwrap_or(Value::Null);
        match result {
            StageResult::Reproduce(r) => {
                for record in &r.runs {
                    let output = match &dir {
                        Some(d) => run_output(d, record.run).await,
                        None => None,
                    };
                    let mut v = serde_json::to_value(record).unwrap_or(Value::Null);
                    v["duration"] = json!(text::duration(record.duration_ms as i64));
                    if let Some((out, cut)) = output {
                        v["output"] = json!(out);
                        v["output_cut"] = json!(cut);
                    }
                    runs.push(v);
                }
            }
            StageResult::Minimize(m) => {
                minimize = json!({
                    "original": text::pretty(&m.original),
                    "minimized": text::pretty(&m.minimized),
                });
            }
            StageResult::Patch(p) => {
                let verify = incident.stages.iter().find_map(|s| match &s.result {
                    Some(StageResult::Verify(v)) => Some(v),
                    _ => None,
                });
                for c in &p.candidates {
                    let report = verify.and_then(|v| v.candidates.iter().find(|r| r.id == c.id));
                    let (outcome, checks) = match report.map(|r| &r.outcome) {
                        Some(CandidateOutcome::Verified { checks }) => ("verified", checks.clone()),
                        Some(CandidateOutcome::Failed { checks }) => ("failed", checks.clone()),
                        Some(CandidateOutcome::PolicyRefused { .. }) => {
                            ("refused by the policy", Vec::new())
                        }
                        Some(CandidateOutcome::NotTried) => ("not tried", Vec::new()),
                        None => ("not verified (yet)", Vec::new()),
                    };
                    candidates.push(json!({
                        "candidate": c,
                        "fix_diff": diff_lines(&c.fix.diff),
                        "test_diff": diff_lines(&c.test.diff),
                        "outcome": outcome,
                        "checks": checks,
                    }));
                }
            }
            _ => {}
        }
    }
    // The same shape as minimize's inputs (request, fixtures, feature flags).
    let original_input = envelope.as_ref().map(|e| {
        let mut input = json!({ "request": e.inputs });
        if let Some(f) = e.state.as_ref().and_then(|s| s.fixtures.as_ref()) {
            input["fixtures"] = json!(f);
        }
        if let Some(env) = e
            .environment
            .as_ref()
            .filter(|env| !env.feature_flags.is_empty())
        {
            input["feature_flags"] = json!(env.feature_flags);
        }
        text::pretty(&input)
    });
    let bundle = match &dir {
        Some(d) => tokio::fs::read_to_string(d.join(crate::bundle::MARKDOWN_FILE))
            .await
            .ok(),
        None => None,
    };
    let stage_rows: Vec<Value> = incident
        .stages
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.status.as_str(),
                "started_at": s.started_at,
                "duration": s.duration_ms.map(text::duration),
                "artifacts": s.artifacts,
            })
        })
        .collect();
    let html = templates::render(
        "incident.html",
        context! {
            page => "incident",
            role => viewer.role,
            incident,
            age => ms_of(&incident.first_seen).map(|t| text::age(now, t)),
            envelope,
            timeline => timeline(&incident, now),
            stage_rows,
            stages,
            runs,
            original_input,
            minimize,
            candidates,
            bundle,
        },
    )?;
    Ok(Html(html))
}

/// `GET /ui/incidents/{id}/bundle.md`: the evidence bundle as a Markdown download.
pub async fn bundle(
    State(dash): State<Arc<Dashboard>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let n = id_of(&id)?;
    let not_yet = || {
        PageError::NotFound(format!(
            "Incident {n} has no evidence bundle (yet): it is written with a verified fix."
        ))
    };
    let dir = artifacts_dir(&dash, n).ok_or_else(not_yet)?;
    let text = tokio::fs::read_to_string(dir.join(crate::bundle::MARKDOWN_FILE))
        .await
        .map_err(|_| not_yet())?;
    Ok((
        [
            // Plain text, never rendered: the bundle carries envelope text.
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"incident-{n}-bundle.md\""),
            ),
        ],
        text,
    )
        .into_response())
}
