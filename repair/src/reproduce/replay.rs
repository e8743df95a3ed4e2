//! The replay runner's side of a reproduction: the JSON spec handed to
//! `assets/replay.py` inside the container (service command, request, deterministic
//! environment), and the verdict of one run from what the runner reported.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};

use super::{ObservedSummary, RunRecord, Verdict};
use crate::config::{ClockMode, ReproduceConfig, ServiceConfig};
use crate::sandbox::RunOutput;
use crate::signature::{Observed, differences, find_python_traceback};
use envelope::{Envelope, Exception};

/// How the replay runner's result line starts (the dashboard reads it back too).
pub const RESULT_MARKER: &str = "TRACEMEND_RESULT ";
/// Largest piece of the replay spec in one environment variable (Linux caps one at 128 KiB).
const ENV_CHUNK: usize = 64 * 1024;

/// Where the runner's `sitecustomize.py` lives in the image (first on `PYTHONPATH`).
const SITE_DIR: &str = "/opt/tracemend/site";

/// Environment of the runner: the replay spec, in chunks. `allow_root` is
/// `sandbox.allow_root`: without it the runner refuses to start the service as uid 0.
pub fn runner_env(
    envelope: &Envelope,
    service: &ServiceConfig,
    config: &ReproduceConfig,
    allow_root: bool,
) -> Result<Vec<String>, String> {
    let mut spec = runner_spec(envelope, service, config)?;
    spec["allow_root"] = json!(allow_root);
    Ok(spec_env(&spec))
}

/// A runner spec as the runner's environment: the JSON in chunks of at most 64 KiB.
pub fn spec_env(spec: &Value) -> Vec<String> {
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
    env
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
    if let Some(fixtures) = envelope.state.as_ref().and_then(|s| s.fixtures.as_ref()) {
        service_env.insert(
            "TRACEMEND_FIXTURES".into(),
            serde_json::to_string(fixtures).unwrap_or_default(),
        );
    }
    for (k, v) in &service.env {
        service_env.insert(k.clone(), v.clone());
    }
    let inputs = &envelope.inputs;
    Ok(json!({
        "command": service.command,
        "workdir": service.workdir,
        // Prepended to the PYTHONPATH the image and the service config set, not
        // replacing it (the runner sees the image's environment, the engine does not).
        "site_dir": SITE_DIR,
        "allow_root": false,
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
    service_stdout: String,
    #[serde(default)]
    service_stderr: String,
    /// Fields the runner cut to keep its result line whole.
    #[serde(default)]
    truncated: Vec<String>,
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
    if !result.truncated.is_empty() {
        tracing::debug!(run, fields = ?result.truncated, "The runner cut service output to fit its result line.");
    }
    match find_python_traceback(&result.service_stderr, &result.service_stdout, workdir) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::summarize;
    use envelope::Frame;

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
            stdout_dropped: 0,
            stderr_dropped: 0,
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
    fn runner_spec_carries_clock_seed_timezone_and_request() {
        let env = envelope::parse(
            include_str!("../../../config/examples/envelopes/checkout-keyerror.json").as_bytes(),
        )
        .expect("example");
        let service: ServiceConfig = serde_yaml::from_str(
            "repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: 8080\ntest_command: [python3, -m, unittest]\nenv: {APP_ENV: repro}\n",
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
        // The runner prepends its directory to the image's PYTHONPATH; the spec does not
        // set one that would replace it.
        assert_eq!(spec["site_dir"], "/opt/tracemend/site");
        assert!(spec["service_env"].get("PYTHONPATH").is_none(), "{spec}");
        assert_eq!(spec["allow_root"], false);
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
    fn large_specs_are_split_into_env_chunks_that_reassemble() {
        let mut env = envelope::parse(
            include_str!("../../../config/examples/envelopes/minimal.json").as_bytes(),
        )
        .expect("example");
        env.inputs.body = Some(json!({ "blob": "é".repeat(100_000) }));
        let service: ServiceConfig = serde_yaml::from_str(
            "repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: 8080\ntest_command: [python3, -m, unittest]\n",
        )
        .expect("service");
        let vars = runner_env(&env, &service, &ReproduceConfig::default(), false).expect("env");
        assert_eq!(
            vars.last().map(String::as_str),
            Some("TRACEMEND_REPRO_SPEC_CHUNKS=4")
        );
        let text: String = vars[..vars.len() - 1]
            .iter()
            .map(|v| v.split_once('=').expect("name=value").1)
            .collect();
        let spec: Value = serde_json::from_str(&text).expect("reassembles");
        assert_eq!(
            spec["request"]["body"],
            json!({ "blob": "é".repeat(100_000) })
        );
        assert!(vars.iter().all(|v| v.len() < 128 * 1024));
    }
}
