//! The differential check: the same inputs (passing neighbours from minimization and
//! generated variants of the failing input) sent to the original and the patched
//! service, each in one sandbox container running `assets/differential.py`. The fix
//! passes when it introduces no failure (no 5xx or missing answer where the original
//! answered) and answers exactly as the original wherever the original did not fail.
//! Inputs both versions fail on are counted (`still_failing`), not held against the fix.

use serde::Deserialize;
use serde_json::{Value, json};

use super::result::DifferentialSummary;
use crate::config::{ReproduceConfig, ServiceConfig};
use crate::minimize::ProbeInput;

/// The runner script, passed as `python3 -c` (no image change needed).
pub const DIFFERENTIAL_PY: &str = include_str!("../../assets/differential.py");
const MARKER: &str = "TRACEMEND_DIFF ";
const ENV_CHUNK: usize = 64 * 1024;

/// The runner's environment: the spec in chunks (Linux caps one variable at 128 KiB).
pub fn runner_env(
    service: &ServiceConfig,
    config: &ReproduceConfig,
    inputs: &[ProbeInput],
) -> Vec<String> {
    let items: Vec<Value> = inputs
        .iter()
        .map(|i| {
            json!({
                "method": i.request.method, "path": i.request.path, "query": i.request.query,
                "headers": i.request.headers, "body": i.request.body,
                "feature_flags": i.feature_flags, "fixtures": i.fixtures,
            })
        })
        .collect();
    let mut service_env = service.env.clone();
    service_env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
    service_env.insert("HOME".into(), "/tmp".into());
    service_env.insert("PYTHONHASHSEED".into(), config.seed.to_string());
    let spec = json!({
        "command": service.command, "workdir": service.workdir, "port": service.port,
        "service_env": service_env,
        "ready_timeout_s": config.ready_timeout.as_secs_f64(),
        "request_timeout_s": config.request_timeout.as_secs_f64(),
        "inputs": items,
    })
    .to_string();
    let mut env = Vec::new();
    let mut rest = spec.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(ENV_CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        env.push(format!(
            "TRACEMEND_DIFF_SPEC_{}={}",
            env.len(),
            &rest[..cut]
        ));
        rest = &rest[cut..];
    }
    env.push(format!("TRACEMEND_DIFF_SPEC_CHUNKS={}", env.len()));
    env
}

/// One input's answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status, when the service answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// SHA-256 of the body.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The body's start.
    #[serde(default)]
    pub head: Option<String>,
    /// Why there was no answer.
    #[serde(default)]
    pub error: Option<String>,
}

impl Answer {
    fn failed(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }

    fn show(&self) -> String {
        match (&self.status, &self.error) {
            (Some(s), _) => format!(
                "{s} {}",
                self.head
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
            (None, Some(e)) => format!("no answer ({e})"),
            (None, None) => "no answer".into(),
        }
    }
}

#[derive(Deserialize)]
struct Results {
    results: Vec<Answer>,
}

/// The answers in the runner's output, one per input.
pub fn parse(stdout: &str, expected: usize) -> Result<Vec<Answer>, String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(MARKER))
        .ok_or_else(|| "the differential runner printed no result".to_string())?;
    let r: Results = serde_json::from_str(line)
        .map_err(|e| format!("the differential runner's result is not valid JSON: {e}"))?;
    if r.results.len() != expected {
        return Err(format!(
            "the differential runner answered {} of {expected} inputs",
            r.results.len()
        ));
    }
    Ok(r.results)
}

/// Compares the two versions' answers; `neighbours` is how many of the inputs (first)
/// are passing neighbours.
pub fn compare(
    inputs: &[ProbeInput],
    original: &[Answer],
    patched: &[Answer],
    neighbours: usize,
) -> DifferentialSummary {
    let mut s = DifferentialSummary {
        inputs: inputs.len() as u32,
        neighbours: neighbours as u32,
        variants: (inputs.len() - neighbours) as u32,
        ..DifferentialSummary::default()
    };
    for ((input, o), p) in inputs.iter().zip(original).zip(patched) {
        let what = format!("{} {}", input.request.method, input.request.path);
        if p.failed() && o.failed() {
            // Failing before and after: a fault the fix does not claim to address (a
            // different input class), not one it introduced.
            s.still_failing += 1;
        } else if p.failed() {
            s.new_failures += 1;
            if s.examples.len() < 5 {
                s.examples.push(format!(
                    "{what}: the fix answers {} (original {})",
                    p.show(),
                    o.show()
                ));
            }
        } else if o.failed() {
            s.fixed += 1;
        } else {
            s.original_ok += 1;
            if o.status != p.status || o.sha256 != p.sha256 {
                s.changed += 1;
                if s.examples.len() < 5 {
                    s.examples
                        .push(format!("{what}: original {}, fix {}", o.show(), p.show()));
                }
            }
        }
    }
    s
}

/// Whether the summary passes: no new failure, nothing changed where the original was
/// fine.
pub fn passes(s: &DifferentialSummary) -> bool {
    s.new_failures == 0 && s.changed == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(status: Option<u16>, body: &str) -> Answer {
        Answer {
            status,
            sha256: Some(body.into()),
            head: Some(body.into()),
            error: None,
        }
    }

    #[test]
    fn counts_fixed_changed_and_new_failures() {
        let input: ProbeInput = serde_json::from_value(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/", "path": "/"}
        }))
        .expect("input");
        let inputs = vec![input.clone(), input.clone(), input.clone(), input];
        let orig = vec![
            a(Some(200), "x"),
            a(Some(500), "e"),
            a(Some(200), "y"),
            a(None, ""),
        ];
        let patched = vec![
            a(Some(200), "x"),
            a(Some(400), "bad"),
            a(Some(200), "z"),
            a(Some(503), ""),
        ];
        let s = compare(&inputs, &orig, &patched, 1);
        assert_eq!(
            (
                s.fixed,
                s.changed,
                s.new_failures,
                s.original_ok,
                s.still_failing
            ),
            (1, 1, 0, 2, 1)
        );
        assert!(!passes(&s));
        let patched = vec![
            a(Some(500), "x"),
            a(Some(400), "bad"),
            a(Some(200), "y"),
            a(Some(200), ""),
        ];
        let s = compare(&inputs, &orig, &patched, 1);
        assert_eq!((s.new_failures, s.changed, s.fixed), (1, 0, 2));
        assert!(!passes(&s));
        assert!(parse("x\nTRACEMEND_DIFF {\"results\": [{\"status\": 200}]}\n", 1).is_ok());
        assert!(parse("TRACEMEND_DIFF {\"results\": []}", 1).is_err());
        assert!(parse("nothing", 1).is_err());
        let env = runner_env(
            &serde_yaml::from_str("repository: /r\nbase_image: b\ncommand: [python3, app.py]\nport: 8080\ntest_command: [python3]\n").expect("svc"),
            &ReproduceConfig::default(),
            &inputs,
        );
        assert_eq!(
            env.last().map(String::as_str),
            Some("TRACEMEND_DIFF_SPEC_CHUNKS=1")
        );
    }
}
