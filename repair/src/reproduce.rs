//! The `reproduce` stage: check out the envelope's commit, build (or reuse) the service's
//! image, replay the envelope's request against the service inside a locked-down
//! container N times, and decide from the service's own error output whether the failure
//! reproduced: same exception type and same top in-app frame as the envelope.
//!
//! Verdicts: `reproduced` (the stage completes; `stable` says whether every run agreed),
//! `not_reproduced` (the job is rejected with what differed), `sandbox_error` (the stage
//! fails with the cause). An unreachable engine makes the job wait and retry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::config::{ClockMode, ReproduceConfig, ServiceConfig};
use crate::envelope::{Envelope, Exception, Frame};
use crate::repo::{Repo, RepoError};
use crate::sandbox::{ImageInfo, ImageSpec, RunOutput, RunSpec, Sandbox, SandboxError};
use crate::signature::{Observed, differences, parse_python_traceback};
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome};

const REPLAY_PY: &str = include_str!("../assets/replay.py");
const SITECUSTOMIZE_PY: &str = include_str!("../assets/sitecustomize.py");
const RESULT_MARKER: &str = "TRACEMEND_RESULT ";
/// Largest piece of the replay spec in one environment variable (Linux caps one at 128 KiB).
const ENV_CHUNK: usize = 64 * 1024;

/// Outcome of one replay, or of the stage.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Reproduced,
    NotReproduced,
    SandboxError,
}

/// The exception seen in one run, summarized.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObservedSummary {
    pub exception_type: String,
    pub message: String,
    pub top_in_app_frame: Option<Frame>,
}

/// One replay in one fresh container.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    pub run: u32,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub clock_faked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_note: Option<String>,
    pub response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_error: Option<String>,
    pub observed: Option<ObservedSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The stage.
pub struct Reproduce {
    pub services: BTreeMap<String, ServiceConfig>,
    pub sandbox: Arc<dyn Sandbox>,
    pub config: ReproduceConfig,
    pub sandbox_timeout: Duration,
    pub repos_dir: PathBuf,
    /// Scopes container names (and leftovers cleanup) to this engine.
    pub owner: String,
}

impl Stage for Reproduce {
    fn name(&self) -> &'static str {
        "reproduce"
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.reproduce(ctx))
    }
}

fn sandbox_error(cause: String, mut result: Value) -> StageError {
    result["verdict"] = json!(Verdict::SandboxError);
    result["cause"] = json!(cause);
    StageError::Failed {
        error: format!("sandbox_error: {cause}"),
        result,
        artifacts: Vec::new(),
    }
}

fn from_sandbox(e: SandboxError, result: Value) -> StageError {
    match e {
        SandboxError::Unreachable(m) => {
            StageError::Unavailable(format!("docker engine unreachable: {m}"))
        }
        other => sandbox_error(other.to_string(), result),
    }
}

impl Reproduce {
    async fn reproduce(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let envelope = ctx.envelope;
        let name = &envelope.identity.service.name;
        let mut result = json!({
            "service": name,
            "expected": {
                "exception_type": envelope.symptom.exception.exception_type,
                "top_in_app_frame": envelope.symptom.exception.top_in_app_frame(),
            },
        });
        let Some(service) = self.services.get(name) else {
            result["verdict"] = json!("not_attempted");
            return Ok(StageOutcome::Rejected {
                reason: format!("service {name} is not in the services map"),
                result,
                artifacts: Vec::new(),
            });
        };
        let repo = Repo::open(&service.repository, &self.repos_dir)
            .await
            .map_err(|e| sandbox_error(format!("repository: {e}"), result.clone()))?;
        let commit = match repo.resolve_commit(&envelope.identity.commit).await {
            Ok(c) => c,
            Err(e @ RepoError::UnknownCommit { .. }) => {
                result["verdict"] = json!("not_attempted");
                return Ok(StageOutcome::Rejected {
                    reason: e.to_string(),
                    result,
                    artifacts: Vec::new(),
                });
            }
            Err(e) => return Err(sandbox_error(format!("repository: {e}"), result)),
        };
        result["commit"] = json!(commit);

        let image_spec = self
            .image_spec(&repo, name, service, &commit)
            .await
            .map_err(|e| sandbox_error(e, result.clone()))?;
        let image: ImageInfo = self
            .sandbox
            .ensure_image(&image_spec)
            .await
            .map_err(|e| from_sandbox(e, result.clone()))?;
        result["image"] = json!(image);
        result["sandbox"] = json!({
            "network": "none",
            "read_only_root": true,
            "tmpfs": "/tmp",
            "capabilities": "all dropped",
            "no_new_privileges": true,
            "timeout_ms": self.sandbox_timeout.as_millis() as u64,
            "seed": self.config.seed,
            "clock": self.config.clock,
        });

        let env = self
            .runner_env(envelope, service)
            .map_err(|e| sandbox_error(e, result.clone()))?;
        tokio::fs::create_dir_all(&ctx.artifacts_dir)
            .await
            .map_err(|e| sandbox_error(format!("artifacts directory: {e}"), result.clone()))?;
        let mut runs = Vec::new();
        let mut artifacts = Vec::new();
        for run in 1..=self.config.runs {
            let spec = RunSpec {
                image: image.tag.clone(),
                name: format!(
                    "tracemend-repro-{}-{}-{}-{}",
                    self.owner,
                    ctx.incident_id,
                    run,
                    crate::store::now_ms()
                ),
                cmd: vec!["python3".into(), "/opt/tracemend/replay.py".into()],
                env: env.clone(),
                workdir: service.workdir.clone(),
                timeout: self.sandbox_timeout,
            };
            let output = self
                .sandbox
                .run(&spec)
                .await
                .map_err(|e| from_sandbox(e, result.clone()))?;
            let record = evaluate(run, &envelope.symptom.exception, &output, &service.workdir);
            info!(incident = ctx.incident_id, run, verdict = ?record.verdict, "Replay finished.");
            let artifact = format!("reproduce-run-{run}.json");
            write_artifact(&ctx.artifacts_dir.join(&artifact), &record, &output).await;
            artifacts.push(artifact);
            runs.push(record);
        }
        let (verdict, stable) = summarize(&runs);
        result["verdict"] = json!(verdict);
        result["stable"] = json!(stable);
        result["runs"] = json!(runs);
        match verdict {
            Verdict::Reproduced => Ok(StageOutcome::Completed { result, artifacts }),
            Verdict::NotReproduced => {
                let diffs = runs
                    .first()
                    .map(|r| r.differences.join("; "))
                    .unwrap_or_default();
                result["differences"] = json!(runs.first().map(|r| r.differences.clone()));
                Ok(StageOutcome::Rejected {
                    reason: format!("not_reproduced: {diffs}"),
                    result,
                    artifacts,
                })
            }
            Verdict::SandboxError => {
                let cause = runs
                    .iter()
                    .find_map(|r| r.cause.clone())
                    .unwrap_or_else(|| "unknown".into());
                let mut err = sandbox_error(cause, result);
                if let StageError::Failed { artifacts: a, .. } = &mut err {
                    *a = artifacts;
                }
                Err(err)
            }
        }
    }

    /// The build context (repository tree at the commit plus the replay runner) and a tag
    /// that changes with the commit, the Dockerfile and the runner.
    async fn image_spec(
        &self,
        repo: &Repo,
        name: &str,
        service: &ServiceConfig,
        commit: &str,
    ) -> Result<ImageSpec, String> {
        let runner_lines = format!(
            "COPY .tracemend-repro/replay.py /opt/tracemend/replay.py\nCOPY .tracemend-repro/sitecustomize.py /opt/tracemend/site/sitecustomize.py\nLABEL org.tracemend.repair.owner=image org.tracemend.repair.commit={commit}\n"
        );
        let (dockerfile, prefix) = match (&service.dockerfile, &service.base_image) {
            (Some(path), _) => {
                let path = path.to_string_lossy();
                let own = repo.show(commit, &path).await.map_err(|e| e.to_string())?;
                (
                    format!("{}\n{runner_lines}", String::from_utf8_lossy(&own)),
                    "",
                )
            }
            (None, Some(base)) => (
                format!(
                    "FROM {base}\nCOPY src/ {}/\n{runner_lines}",
                    service.workdir.trim_end_matches('/')
                ),
                "src/",
            ),
            (None, None) => {
                return Err(format!(
                    "service {name} has neither dockerfile nor base_image"
                ));
            }
        };
        let mut hash = Sha256::new();
        for part in [dockerfile.as_str(), REPLAY_PY, SITECUSTOMIZE_PY] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let hash = hex::encode(hash.finalize());
        let extra = vec![
            (".tracemend-repro/Dockerfile".to_string(), dockerfile),
            (
                ".tracemend-repro/replay.py".to_string(),
                REPLAY_PY.to_string(),
            ),
            (
                ".tracemend-repro/sitecustomize.py".to_string(),
                SITECUSTOMIZE_PY.to_string(),
            ),
        ];
        let context = repo
            .archive(commit, prefix, &extra)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ImageSpec {
            tag: format!(
                "tracemend-repro/{}:{}-{}",
                tag_safe(name),
                &commit[..12.min(commit.len())],
                &hash[..10]
            ),
            context,
            dockerfile: ".tracemend-repro/Dockerfile".to_string(),
        })
    }

    /// Environment of the runner: the replay spec (in chunks) and nothing else secret.
    fn runner_env(
        &self,
        envelope: &Envelope,
        service: &ServiceConfig,
    ) -> Result<Vec<String>, String> {
        let spec = runner_spec(envelope, service, &self.config)?;
        let text = spec.to_string();
        let mut env = Vec::new();
        let mut rest = text.as_str();
        let mut i = 0;
        while !rest.is_empty() {
            let mut cut = rest.len().min(ENV_CHUNK);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            env.push(format!("TRACEMEND_REPRO_SPEC_{i}={}", &rest[..cut]));
            rest = &rest[cut..];
            i += 1;
        }
        env.push(format!("TRACEMEND_REPRO_SPEC_CHUNKS={i}"));
        Ok(env)
    }
}

fn tag_safe(name: &str) -> String {
    name.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect()
}

/// Everything the in-container runner needs, as JSON.
pub fn runner_spec(
    envelope: &Envelope,
    service: &ServiceConfig,
    config: &ReproduceConfig,
) -> Result<Value, String> {
    let at = humantime::parse_rfc3339(&envelope.identity.timestamp)
        .map_err(|e| format!("identity.timestamp: {e}"))?;
    let epoch = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "identity.timestamp: before 1970".to_string())?
        .as_secs_f64();
    let clock = json!({ "epoch": epoch, "tick": config.clock == ClockMode::StartAt });
    let environment = envelope.environment.as_ref();
    let mut service_env: BTreeMap<String, String> = BTreeMap::new();
    service_env.insert(
        "TZ".into(),
        environment
            .and_then(|e| e.timezone.clone())
            .unwrap_or_else(|| "UTC".into()),
    );
    service_env.insert("PYTHONHASHSEED".into(), config.seed.to_string());
    service_env.insert("TRACEMEND_SEED".into(), config.seed.to_string());
    service_env.insert("PYTHONPATH".into(), "/opt/tracemend/site".into());
    service_env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    service_env.insert("PYTHONUNBUFFERED".into(), "1".into());
    service_env.insert("HOME".into(), "/tmp".into());
    service_env.insert("LANG".into(), "C.UTF-8".into());
    if let Some(env) = environment {
        if let Some(locale) = &env.locale {
            service_env.insert("TRACEMEND_LOCALE".into(), locale.clone());
        }
        service_env.insert(
            "TRACEMEND_FEATURE_FLAGS".into(),
            serde_json::to_string(&env.feature_flags).unwrap_or_default(),
        );
    }
    if let Some(fixtures) = envelope.state.as_ref().and_then(|s| s.get("fixtures")) {
        service_env.insert("TRACEMEND_FIXTURES".into(), fixtures.to_string());
    }
    for (k, v) in &service.env {
        service_env.insert(k.clone(), v.clone());
    }
    let inputs = &envelope.inputs;
    Ok(json!({
        "command": service.command,
        "workdir": service.workdir,
        "port": service.port,
        "ready_timeout_s": config.ready_timeout.as_secs_f64(),
        "request_timeout_s": config.request_timeout.as_secs_f64(),
        "clock": clock,
        "service_env": service_env,
        "request": {
            "method": inputs.method,
            "path": inputs.path,
            "query": inputs.query,
            "headers": inputs.headers,
            "body": inputs.body,
        },
    }))
}

#[derive(Debug, Default, serde::Deserialize)]
struct RunnerResult {
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    clock_faked: bool,
    #[serde(default)]
    clock_note: Option<String>,
    #[serde(default)]
    start_error: Option<String>,
    #[serde(default)]
    response: Option<RunnerResponse>,
    #[serde(default)]
    request_error: Option<String>,
    #[serde(default)]
    service_exit: Option<i64>,
    #[serde(default)]
    service_stderr: String,
}

#[derive(Debug, Default, serde::Deserialize)]
struct RunnerResponse {
    status: u16,
}

fn tail(s: &str, n: usize) -> String {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].trim().to_string()
}

/// Decides one run from the container's output.
pub fn evaluate(run: u32, expected: &Exception, output: &RunOutput, workdir: &str) -> RunRecord {
    let mut record = RunRecord {
        run,
        verdict: Verdict::SandboxError,
        duration_ms: output.duration_ms,
        exit_code: output.exit_code,
        timed_out: output.timed_out,
        clock_faked: false,
        clock_note: None,
        response_status: None,
        request_error: None,
        observed: None,
        differences: Vec::new(),
        cause: None,
    };
    if output.timed_out {
        record.cause = Some(format!(
            "the sandbox run timed out after {} ms and was killed",
            output.duration_ms
        ));
        return record;
    }
    let parsed = output
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULT_MARKER))
        .map(serde_json::from_str::<RunnerResult>);
    let result = match parsed {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            record.cause = Some(format!("the replay runner's result is not valid JSON: {e}"));
            return record;
        }
        None => {
            record.cause = Some(format!(
                "the replay runner reported no result (exit code {:?}): {}",
                output.exit_code,
                tail(&output.stderr, 2000)
            ));
            return record;
        }
    };
    record.clock_faked = result.clock_faked;
    record.clock_note = result.clock_note.clone();
    record.response_status = result.response.as_ref().map(|r| r.status);
    record.request_error = result.request_error.clone();
    if let Some(e) = result.start_error {
        record.cause = Some(format!("the service command could not start: {e}"));
        return record;
    }
    if !result.ready {
        record.cause = Some(format!(
            "the service never accepted connections (exit code {:?}): {}",
            result.service_exit,
            tail(&result.service_stderr, 2000)
        ));
        return record;
    }
    match parse_python_traceback(&result.service_stderr, workdir) {
        Some(observed) => {
            record.differences = differences(expected, &observed);
            record.observed = Some(summary(&observed));
            record.verdict = if record.differences.is_empty() {
                Verdict::Reproduced
            } else {
                Verdict::NotReproduced
            };
        }
        None => {
            record.verdict = Verdict::NotReproduced;
            record.differences = vec![match (&record.response_status, &record.request_error) {
                (Some(status), _) => {
                    format!("no exception was raised; the service answered {status}")
                }
                (None, Some(e)) => format!("no exception was raised; the request failed: {e}"),
                (None, None) => "no exception was raised".to_string(),
            }];
        }
    }
    record
}

fn summary(observed: &Observed) -> ObservedSummary {
    ObservedSummary {
        exception_type: observed.exception_type.clone(),
        message: observed.message.clone(),
        top_in_app_frame: observed.top_in_app_frame().cloned(),
    }
}

/// The stage's verdict and whether every run agreed.
pub fn summarize(runs: &[RunRecord]) -> (Verdict, bool) {
    let stable = runs
        .windows(2)
        .all(|w| w[0].verdict == w[1].verdict && w[0].observed == w[1].observed);
    let verdict = if runs.iter().any(|r| r.verdict == Verdict::SandboxError) {
        Verdict::SandboxError
    } else if runs.iter().any(|r| r.verdict == Verdict::Reproduced) {
        Verdict::Reproduced
    } else {
        Verdict::NotReproduced
    };
    (verdict, stable)
}

async fn write_artifact(path: &Path, record: &RunRecord, output: &RunOutput) {
    let body = json!({ "record": record, "container": output });
    if let Err(e) = tokio::fs::write(path, body.to_string()).await {
        tracing::warn!(path = %path.display(), error = %e, "Cannot write artifact.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exception(ty: &str) -> Exception {
        Exception {
            exception_type: ty.into(),
            message_redacted: None,
            message_hash: None,
            frames: vec![Frame {
                file: Some("app.py".into()),
                line: Some(5),
                function: "handler".into(),
                module: None,
                in_app: true,
            }],
        }
    }

    fn output(result: Value) -> RunOutput {
        RunOutput {
            exit_code: Some(0),
            timed_out: false,
            stdout: format!("noise\n{RESULT_MARKER}{result}\n"),
            stderr: String::new(),
            duration_ms: 10,
        }
    }

    const TB: &str = "Traceback (most recent call last):\n  File \"/app/app.py\", line 5, in handler\n    x = d['k']\nKeyError: 'k'\n";

    #[test]
    fn matching_traceback_reproduces() {
        let out = output(
            json!({"ready": true, "clock_faked": true, "request_error": "RemoteDisconnected: x", "service_stderr": TB}),
        );
        let r = evaluate(1, &exception("KeyError"), &out, "/app");
        assert_eq!(r.verdict, Verdict::Reproduced, "{r:?}");
        assert!(r.clock_faked);
    }

    #[test]
    fn other_type_does_not_reproduce() {
        let out = output(json!({"ready": true, "service_stderr": TB}));
        let r = evaluate(1, &exception("ValueError"), &out, "/app");
        assert_eq!(r.verdict, Verdict::NotReproduced);
        assert_eq!(
            r.differences,
            vec!["exception type: expected ValueError, observed KeyError"]
        );
    }

    #[test]
    fn clean_answer_does_not_reproduce() {
        let out = output(
            json!({"ready": true, "response": {"status": 200, "body": "{}"}, "service_stderr": "GET / 200\n"}),
        );
        let r = evaluate(1, &exception("KeyError"), &out, "/app");
        assert_eq!(r.verdict, Verdict::NotReproduced);
        assert_eq!(
            r.differences,
            vec!["no exception was raised; the service answered 200"]
        );
    }

    #[test]
    fn sandbox_errors_name_the_cause() {
        let mut out =
            output(json!({"ready": false, "service_exit": 1, "service_stderr": "ImportError: x"}));
        let r = evaluate(1, &exception("KeyError"), &out, "/app");
        assert_eq!(r.verdict, Verdict::SandboxError);
        assert!(
            r.cause
                .as_deref()
                .is_some_and(|c| c.contains("never accepted")),
            "{r:?}"
        );
        out.stdout = "crash".into();
        let r = evaluate(1, &exception("KeyError"), &out, "/app");
        assert!(r.cause.as_deref().is_some_and(|c| c.contains("no result")));
        out.timed_out = true;
        let r = evaluate(1, &exception("KeyError"), &out, "/app");
        assert!(r.cause.as_deref().is_some_and(|c| c.contains("timed out")));
    }

    #[test]
    fn summary_is_stable_only_when_runs_agree() {
        let ok = evaluate(
            1,
            &exception("KeyError"),
            &output(json!({"ready": true, "service_stderr": TB})),
            "/app",
        );
        let miss = evaluate(
            2,
            &exception("KeyError"),
            &output(json!({"ready": true, "response": {"status": 200}})),
            "/app",
        );
        assert_eq!(
            summarize(&[ok.clone(), ok.clone()]),
            (Verdict::Reproduced, true)
        );
        assert_eq!(
            summarize(&[ok.clone(), miss.clone()]),
            (Verdict::Reproduced, false)
        );
        assert_eq!(
            summarize(&[miss.clone(), miss]),
            (Verdict::NotReproduced, true)
        );
    }

    #[test]
    fn runner_spec_carries_clock_seed_timezone_and_request() {
        let (env, _) = crate::envelope::parse(
            include_str!("../../config/examples/envelopes/checkout-keyerror.json").as_bytes(),
        )
        .expect("example");
        let service: ServiceConfig = serde_yaml::from_str(
            "repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: 8080\nenv: {APP_ENV: repro}\n",
        )
        .expect("service");
        let config = ReproduceConfig {
            seed: 7,
            clock: ClockMode::Frozen,
            ..ReproduceConfig::default()
        };
        let spec = runner_spec(&env, &service, &config).expect("spec");
        assert_eq!(spec["clock"]["epoch"], json!(1_773_480_413.589));
        assert_eq!(spec["clock"]["tick"], json!(false));
        assert_eq!(spec["service_env"]["TZ"], "Europe/Berlin");
        assert_eq!(spec["service_env"]["PYTHONHASHSEED"], "7");
        assert_eq!(spec["service_env"]["APP_ENV"], "repro");
        assert_eq!(
            spec["service_env"]["TRACEMEND_FEATURE_FLAGS"],
            r#"{"new_quote_engine":true}"#
        );
        assert_eq!(spec["request"]["method"], "POST");
        assert_eq!(spec["request"]["query"]["currency"], "EUR");
        assert_eq!(spec["workdir"], "/app");
    }

    #[test]
    fn tags_are_docker_safe() {
        assert_eq!(tag_safe("Check Out/v2"), "check-out-v2");
    }
}
