//! One probe's answer from the runner, and its judgement by the strict signature.

use std::collections::BTreeMap;

use envelope::Exception;
use serde::Deserialize;

use crate::signature::{Observed, differences, find_python_traceback};

/// Lines covered, by file relative to the service's workdir.
pub type Coverage = BTreeMap<String, Vec<u32>>;

/// What the service's own functions returned, as predicates over the value (`type=str`,
/// `== 0`, `is None`, `['amount'] type=str`), by file and line of the `return`
/// (`assets/sitecustomize.py` collects them beside coverage).
pub type Values = BTreeMap<String, BTreeMap<u32, Vec<String>>>;

/// What one run under coverage covered and saw returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Covered {
    /// Lines covered, by file.
    pub lines: Coverage,
    /// Return-value predicates, by file and `return` line.
    pub values: Values,
}

/// What the runner printed for one probe.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    /// The probe's position in the batch.
    pub index: usize,
    /// The service accepted connections.
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    start_error: Option<String>,
    #[serde(default)]
    response: Option<Response>,
    #[serde(default)]
    service_stdout: String,
    #[serde(default)]
    service_stderr: String,
    /// Coverage of the service's process (context `""`), when asked for.
    #[serde(default)]
    coverage: Option<BTreeMap<String, Coverage>>,
    /// Return-value predicates of the service's process (context `""`), with coverage.
    #[serde(default)]
    values: Option<BTreeMap<String, Values>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Response {
    status: u16,
}

/// How a probe came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Failed the same way as the envelope (same exception type and top in-app frame).
    Failing,
    /// Answered without that failure.
    Passing,
    /// Could not be run.
    Error(String),
}

/// A judged probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub outcome: Outcome,
    /// HTTP status, when the service answered.
    pub response_status: Option<u16>,
    /// The exception it raised when not the expected one (`Type: message`).
    pub other_failure: Option<String>,
    /// The failure observed, expected or not.
    pub observed: Option<Observed>,
    /// Lines covered and values returned, when the batch ran under coverage.
    pub coverage: Option<Covered>,
    /// The runner never answered (its batch timed out or its container ended first):
    /// nothing was learnt about the input, so the answer is not kept for it.
    pub unanswered: bool,
}

impl Judgement {
    /// A probe that could not be run.
    pub fn error(why: &str) -> Self {
        Self {
            outcome: Outcome::Error(why.to_string()),
            response_status: None,
            other_failure: None,
            observed: None,
            coverage: None,
            unanswered: false,
        }
    }

    /// A probe the runner never answered.
    pub fn unanswered(why: &str) -> Self {
        Self {
            unanswered: true,
            ..Self::error(why)
        }
    }

    /// Whether the oracle said "fails the same way".
    pub fn is_failing(&self) -> bool {
        self.outcome == Outcome::Failing
    }
}

/// Judges one answer: the strict signature of the reproduce stage decides, and the
/// exception message too when `message` is given.
pub fn judge(
    expected: &Exception,
    message: Option<&str>,
    answer: &Answer,
    workdir: &str,
) -> Judgement {
    if let Some(e) = &answer.start_error {
        return Judgement::error(&format!("the service could not start: {e}"));
    }
    if !answer.ready {
        return Judgement::error(&format!(
            "the service never accepted connections: {}",
            answer.service_stderr.lines().last().unwrap_or("no output")
        ));
    }
    let observed = find_python_traceback(&answer.service_stderr, &answer.service_stdout, workdir);
    let coverage = answer
        .coverage
        .as_ref()
        .and_then(|runs| runs.get("").cloned())
        .map(|lines| Covered {
            lines,
            values: answer
                .values
                .as_ref()
                .and_then(|runs| runs.get("").cloned())
                .unwrap_or_default(),
        });
    let (outcome, other_failure) = match &observed {
        Some(o)
            if differences(expected, o).is_empty() && message.is_none_or(|m| m == o.message) =>
        {
            (Outcome::Failing, None)
        }
        Some(o) => (
            Outcome::Passing,
            Some(format!("{}: {}", o.exception_type, o.message)),
        ),
        None => (Outcome::Passing, None),
    };
    Judgement {
        outcome,
        response_status: answer.response.as_ref().map(|r| r.status),
        other_failure,
        observed,
        coverage,
        unanswered: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envelope::Frame;

    fn expected() -> Exception {
        Exception {
            exception_type: "KeyError".into(),
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

    const TB: &str = "Traceback (most recent call last):\n  File \"/app/app.py\", line 5, in handler\n    x = d['k']\nKeyError: 'k'\n";

    #[test]
    fn answers_are_judged_by_the_strict_signature() {
        let stdout = format!(
            "{m}{{\"index\": 1, \"ready\": true, \"response\": {{\"status\": 200}}}}\n{m}{{\"index\": 0, \"ready\": true, \"service_stderr\": {tb}, \"coverage\": {{\"\": {{\"app.py\": [1, 5]}}}}, \"values\": {{\"\": {{\"app.py\": {{\"2\": [\"is None\"]}}}}}}}}\nnoise\n",
            m = super::super::PROBE_MARKER,
            tb = serde_json::to_string(TB).expect("json")
        );
        let got = super::super::judge_batch(&expected(), None, &stdout, 3, "/app", false);
        assert!(got[0].is_failing(), "{:?}", got[0]);
        let covered = got[0].coverage.as_ref().expect("coverage");
        assert_eq!(covered.lines.get("app.py"), Some(&vec![1, 5]));
        assert_eq!(
            covered.values.get("app.py").and_then(|v| v.get(&2)),
            Some(&vec!["is None".to_string()])
        );
        assert_eq!(got[1].outcome, Outcome::Passing);
        assert_eq!(got[1].response_status, Some(200));
        assert!(matches!(got[2].outcome, Outcome::Error(_)), "{:?}", got[2]);
        assert!(got[2].unanswered && !got[0].unanswered);
        // A batch that timed out keeps what it answered and says why the rest is missing.
        let cut = super::super::judge_batch(&expected(), None, &stdout, 3, "/app", true);
        assert!(cut[0].is_failing() && cut[1].outcome == Outcome::Passing);
        assert_eq!(
            cut[2].outcome,
            Outcome::Error("the batch timed out before this probe was answered".into())
        );
    }

    #[test]
    fn another_exception_is_a_passing_probe_that_says_what_it_raised() {
        let tb = TB.replace("KeyError: 'k'", "ValueError: bad");
        let answer = Answer {
            index: 0,
            ready: true,
            service_stderr: tb,
            ..Answer::default()
        };
        let j = judge(&expected(), None, &answer, "/app");
        assert_eq!(j.outcome, Outcome::Passing);
        assert_eq!(j.other_failure.as_deref(), Some("ValueError: bad"));
        let down = judge(&expected(), None, &Answer::default(), "/app");
        assert!(matches!(down.outcome, Outcome::Error(_)));
        // With the message required, the same type and frame with another key passes.
        let other_key = Answer {
            index: 0,
            ready: true,
            service_stderr: TB.replace("KeyError: 'k'", "KeyError: 'j'"),
            ..Answer::default()
        };
        assert!(judge(&expected(), None, &other_key, "/app").is_failing());
        let j = judge(&expected(), Some("'k'"), &other_key, "/app");
        assert_eq!(j.outcome, Outcome::Passing);
        assert_eq!(j.other_failure.as_deref(), Some("KeyError: 'j'"));
        assert!(matches!(down.outcome, Outcome::Error(_)));
    }
}
