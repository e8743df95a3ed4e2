//! Probes: many requests answered by one sandbox container (the replay runner's
//! `probes` mode), each judged by the reproduce stage's strict signature, optionally
//! under coverage.py; and the repository's own tests under coverage. The minimize and
//! localize stages run their experiments through this.

mod answer;
mod workbench;

use std::collections::BTreeMap;
use std::time::Duration;

use envelope::{Envelope, Exception};
use serde_json::{Value, json};

pub use answer::{Answer, Coverage, Covered, Judgement, Outcome, Values, judge};
pub use workbench::{Batch, Prepared, TestsCoverage, Workbench, WorkbenchParts};

use crate::config::{ReproduceConfig, ServiceConfig};
use crate::minimize::ProbeInput;
use crate::reproduce::{runner_spec, spec_env};

/// The runner's prefix of one probe's answer line.
pub const PROBE_MARKER: &str = "TRACEMEND_PROBE ";

/// What one batch asks of the runner.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Run the service under coverage.py (restarts it for every probe).
    pub coverage: bool,
    /// Keep one service running across probes (the service is stateless).
    pub stateless: bool,
}

/// The exception message the oracle also requires: the envelope's, when the
/// reproduction printed exactly it (a key name, a fixed text). Otherwise (a redacted or
/// varying message) type and top in-app frame alone decide.
pub fn stable_message(
    envelope: &Envelope,
    reproduce: &crate::reproduce::ReproduceResult,
) -> Option<String> {
    let expected = envelope.symptom.exception.message_redacted.as_deref()?;
    let observed = reproduce.reproduced_failure()?;
    (observed.message == expected).then(|| expected.to_string())
}

/// The runner spec for a batch of probes: the reproduction's spec with the request
/// replaced by `probes`, each carrying its own flags and fixtures. `preload` names the
/// modules an earlier batch's service had imported (its fork server imports them first).
pub fn batch_spec(
    envelope: &Envelope,
    service: &ServiceConfig,
    config: &ReproduceConfig,
    allow_root: bool,
    probes: &[ProbeInput],
    options: BatchOptions,
    preload: &[String],
) -> Result<Value, String> {
    let mut spec = runner_spec(envelope, service, config)?;
    spec["allow_root"] = json!(allow_root);
    spec["coverage"] = json!(options.coverage);
    spec["stateless"] = json!(options.stateless);
    if !preload.is_empty() {
        spec["preload"] = json!(preload);
    }
    let probes: Vec<Value> = probes.iter().map(probe_json).collect();
    spec["probes"] = Value::Array(probes);
    Ok(spec)
}

/// The runner spec for the repository's own tests under coverage.
pub fn tests_spec(
    envelope: &Envelope,
    service: &ServiceConfig,
    config: &ReproduceConfig,
    allow_root: bool,
    timeout: Duration,
) -> Result<Value, String> {
    let mut spec = runner_spec(envelope, service, config)?;
    spec["allow_root"] = json!(allow_root);
    spec["tests"] = json!({
        "command": service.test_command,
        "timeout_s": timeout.as_secs_f64(),
    });
    Ok(spec)
}

/// The environment of a runner given `spec`.
pub fn env_of(spec: &Value) -> Vec<String> {
    spec_env(spec)
}

fn probe_json(p: &ProbeInput) -> Value {
    let mut service_env = BTreeMap::new();
    if !p.feature_flags.is_empty() {
        service_env.insert(
            "TRACEMEND_FEATURE_FLAGS",
            serde_json::to_string(&p.feature_flags).unwrap_or_default(),
        );
    }
    if let Some(fixtures) = &p.fixtures {
        service_env.insert(
            "TRACEMEND_FIXTURES",
            serde_json::to_string(fixtures).unwrap_or_default(),
        );
    }
    json!({
        "request": {
            "method": p.request.method,
            "path": p.request.path,
            "query": p.request.query,
            "headers": p.request.headers,
            "body": p.request.body,
        },
        "service_env": service_env,
    })
}

/// The probe input the envelope describes.
pub fn envelope_input(envelope: &Envelope) -> ProbeInput {
    ProbeInput {
        request: envelope.inputs.clone(),
        fixtures: envelope.state.as_ref().and_then(|s| s.fixtures.clone()),
        feature_flags: envelope
            .environment
            .as_ref()
            .map(|e| e.feature_flags.clone())
            .unwrap_or_default(),
    }
}

/// Most module names carried from one batch's container to the next.
const MAX_PRELOAD: usize = 4000;

/// The modules the batch's fork server had the service import, from the runner's
/// result line (empty without a fork server).
pub fn preload_of(stdout: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Result {
        #[serde(default)]
        preload: Vec<String>,
    }
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("TRACEMEND_RESULT "))
        .and_then(|l| serde_json::from_str::<Result>(l).ok())
        .map(|r| {
            r.preload
                .into_iter()
                .filter(|n| n.len() <= 200)
                .take(MAX_PRELOAD)
                .collect()
        })
        .unwrap_or_default()
}

/// Judges a batch's answers against the expected exception, in probe order. The
/// answers the runner printed are kept whatever happened after them; a probe it never
/// answered is an error that says why: the batch ran out of time (`timed_out`) or the
/// container ended first.
pub fn judge_batch(
    expected: &Exception,
    message: Option<&str>,
    stdout: &str,
    count: usize,
    workdir: &str,
    timed_out: bool,
) -> Vec<Judgement> {
    let mut answers: Vec<Option<Answer>> = vec![None; count];
    for line in stdout.lines() {
        let Some(text) = line.strip_prefix(PROBE_MARKER) else {
            continue;
        };
        if let Ok(a) = serde_json::from_str::<Answer>(text)
            && let Some(slot) = answers.get_mut(a.index)
        {
            *slot = Some(a);
        }
    }
    answers
        .into_iter()
        .map(|a| match a {
            Some(a) => judge(expected, message, &a, workdir),
            None if timed_out => {
                Judgement::unanswered("the batch timed out before this probe was answered")
            }
            None => Judgement::unanswered("the runner gave no answer for this probe"),
        })
        .collect()
}
