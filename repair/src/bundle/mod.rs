//! The evidence bundle of a verified fix: JSON (for tools) and Markdown (a pull
//! request's body), stored as the incident's artifacts `bundle.json` and `bundle.md` and
//! served at `GET /v1/incidents/{id}/bundle`. It carries the symptom, the proof chain
//! (envelope -> reproduction -> minimized input -> hypotheses -> patch -> verification),
//! the trace excerpt (the envelope's tokenized fields only), the diff, the test results,
//! the risk and a rollback note. The audit manifest of what a model was shown
//! (`model-audit.json`) is written by the patch stage, where the model is asked.

use serde_json::{Value, json};

use crate::patch::{Candidate, PatchResult};
use crate::stage::StageContext;
use crate::verify::{CandidateOutcome, VerifyResult, outcome_words};

/// The bundle's JSON file name.
pub const JSON_FILE: &str = "bundle.json";
/// The bundle's Markdown file name.
pub const MARKDOWN_FILE: &str = "bundle.md";
/// The model audit manifest's file name (written by the patch stage).
pub const AUDIT_FILE: &str = "model-audit.json";

/// The bundle as JSON.
pub fn bundle_json(ctx: &StageContext<'_>, patch: &PatchResult, verify: &VerifyResult) -> Value {
    let env = ctx.envelope;
    let winner: Option<&Candidate> = verify
        .winner
        .and_then(|w| patch.candidates.iter().find(|c| c.id == w));
    let reproduce = ctx.previous.reproduce();
    let minimize = ctx.previous.minimize();
    let localize = ctx.previous.localize();
    let checks = winner
        .and_then(|w| verify.candidates.iter().find(|r| r.id == w.id))
        .and_then(|r| match &r.outcome {
            CandidateOutcome::Verified { checks } => Some(checks.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let hypotheses: Vec<Value> = localize
        .map(|l| {
            l.hypotheses
                .iter()
                .take(3)
                .map(|h| {
                    json!({"rank": h.rank, "score": h.score, "file": h.suspect.file,
                           "function": h.suspect.function,
                           "lines": [h.suspect.start_line, h.suspect.end_line],
                           "cause_class": h.cause_class, "intervention": h.intervention})
                })
                .collect()
        })
        .unwrap_or_default();
    let proof_chain = json!([
        {"step": "envelope", "detail": format!("trace {} (envelope {}), {} at commit {}",
            env.identity.trace_id, env.envelope_id, env.identity.service.name, env.identity.commit)},
        {"step": "reproduction", "detail": reproduce.map_or("not run".to_string(), |r| format!(
            "{:?} in {} of {} sandbox runs at {}", r.verdict,
            r.runs.iter().filter(|x| x.verdict == crate::reproduce::Verdict::Reproduced).count(),
            r.runs.len(), r.commit.clone().unwrap_or_default()))},
        {"step": "minimized_input", "detail": minimize.map_or("minimize did not run; the envelope's input is used".to_string(), |m| format!(
            "{:?}: {} -> {} leaves, {} -> {} bytes, {} passing neighbours",
            m.verdict, m.reduction.leaves_before, m.reduction.leaves_after,
            m.reduction.bytes_before, m.reduction.bytes_after, m.passing_neighbours.len()))},
        {"step": "hypotheses", "detail": if hypotheses.is_empty() { json!("localize did not run; the crash frame is the suspect") } else { json!(hypotheses) }},
        {"step": "patch", "detail": winner.map_or(Value::Null, |w| json!({
            "candidate": w.id, "template": w.template, "description": w.description,
            "hypothesis_rank": w.hypothesis_rank, "invariant": w.invariant}))},
        {"step": "verification", "detail": checks},
    ]);
    let spans: Vec<Value> = env
        .timing
        .as_ref()
        .and_then(|t| t.spans.as_ref())
        .map(|spans| {
            spans
                .iter()
                .map(|s| {
                    json!({"span_id": s.span_id, "parent_span_id": s.parent_span_id,
                                "name": s.name, "duration_ms": s.duration_ms,
                                "critical_path": s.critical_path,
                                "service": s.service, "error": s.error})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "incident": ctx.incident_id,
        "service": env.identity.service.name,
        "symptom": {
            "exception_type": env.symptom.exception.exception_type,
            "message_redacted": env.symptom.exception.message_redacted,
            "fingerprint": env.symptom.fingerprint,
            "status_code": env.symptom.status_code,
            "request": format!("{} {}", env.inputs.method, env.inputs.route),
        },
        "proof_chain": proof_chain,
        "trace_excerpt": {
            "trace_id": env.identity.trace_id,
            "span_id": env.identity.span_id,
            "frames": env.symptom.exception.frames,
            "spans": spans,
            "first_fault": localize.and_then(|l| l.cross_service.as_ref()).map(|c| json!({
                "service": c.first_fault.service,
                "span_name": c.first_fault.span_name,
                "call_chain": c.first_fault.call_chain,
            })),
        },
        "diff": winner.map(|w| format!("{}{}", w.test.diff, w.fix.diff)),
        "tests": {
            "placebo": verify.placebo,
            "checks": checks,
            "differential": verify.differential,
        },
        "risk": verify.risk,
        "branch": verify.branch,
        "candidates": verify.candidates.iter().map(|r| json!({
            "id": r.id, "template": r.template, "file": r.file, "outcome": outcome_words(&r.outcome)
        })).collect::<Vec<_>>(),
        "model": patch.model,
        "rollback": verify.branch.as_ref().map(|b| format!(
            "The fix is one commit ({}) on top of the test commit ({}): revert it with `git revert {}` (the test then fails again, which is expected); nothing else (schema, config, dependencies) changes.",
            short(&b.fix_commit), short(&b.test_commit), b.fix_commit)),
    })
}

/// `text` as Markdown inline code. Service and span names come from the traced
/// services: a backtick or line break in one must not end the code span.
fn code(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect();
    format!("`{clean}`")
}

fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

/// The bundle as Markdown (a pull request's body).
pub fn bundle_markdown(b: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    let mut md = String::new();
    let sym = &b["symptom"];
    md.push_str(&format!(
        "## Fix for incident {}: {} in {}\n\n",
        s(&b["incident"]),
        s(&sym["exception_type"]),
        s(&b["service"])
    ));
    md.push_str(&format!(
        "**Symptom:** `{}` on `{}` (message: {}; fingerprint `{}`).\n\n",
        s(&sym["exception_type"]),
        s(&sym["request"]),
        s(&sym["message_redacted"]),
        s(&sym["fingerprint"])
    ));
    md.push_str("### Proof chain\n\n");
    for step in b["proof_chain"].as_array().into_iter().flatten() {
        let detail = match &step["detail"] {
            Value::Array(items) if step["step"] == "verification" => items
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        if c["passed"] == true { "✔" } else { "✘" },
                        s(&c["name"])
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            Value::Array(items) => items
                .iter()
                .map(|h| {
                    format!(
                        "#{} `{}` in `{}` ({})",
                        s(&h["rank"]),
                        s(&h["function"]),
                        s(&h["file"]),
                        s(&h["cause_class"])
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Value::Object(o) => o.get("description").map(s).unwrap_or_default(),
            other => s(other),
        };
        md.push_str(&format!("1. **{}**: {}\n", s(&step["step"]), detail));
    }
    md.push_str("\n### Diff\n\n```diff\n");
    md.push_str(&s(&b["diff"]));
    md.push_str("```\n\n### Tests\n\n");
    if let Some(p) = b["tests"]["placebo"].as_object() {
        md.push_str(&format!(
            "- placebo (the new test on the original code): {}\n",
            if p.get("passed") == Some(&Value::Bool(true)) {
                "fails as it must"
            } else {
                "did not fail"
            }
        ));
    }
    for c in b["tests"]["checks"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "- {}: {} — {}\n",
            s(&c["name"]),
            if c["passed"] == true {
                "passed"
            } else {
                "failed"
            },
            s(&c["detail"]).lines().next().unwrap_or_default()
        ));
    }
    md.push_str("\n### Risk\n\n");
    md.push_str(&format!(
        "Score {:.2} (0 low, 1 high):\n\n",
        b["risk"]["score"].as_f64().unwrap_or(0.0)
    ));
    for p in b["risk"]["parts"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "- {} ({:.2} of {:.2}): {}\n",
            s(&p["name"]),
            p["contribution"].as_f64().unwrap_or(0.0),
            p["weight"].as_f64().unwrap_or(0.0),
            s(&p["detail"])
        ));
    }
    md.push_str("\n### Trace excerpt (tokenized)\n\n");
    for f in b["trace_excerpt"]["frames"]
        .as_array()
        .into_iter()
        .flatten()
    {
        md.push_str(&format!(
            "- `{}:{}` in `{}`\n",
            s(&f["file"]),
            s(&f["line"]),
            s(&f["function"])
        ));
    }
    md.push_str(&format!(
        "\nTrace `{}`.\n",
        s(&b["trace_excerpt"]["trace_id"])
    ));
    let fault = &b["trace_excerpt"]["first_fault"];
    if !fault.is_null() {
        let chain: Vec<String> = fault["call_chain"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| code(&s(v)))
            .collect();
        md.push_str(&format!(
            "The error started in service {} (span {}), reached through {}.\n",
            code(&s(&fault["service"])),
            code(&s(&fault["span_name"])),
            chain.join(" → ")
        ));
    }
    md.push_str("\n### Other candidates\n\n");
    for c in b["candidates"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "- #{} `{}` in `{}`: {}\n",
            s(&c["id"]),
            s(&c["template"]),
            s(&c["file"]),
            s(&c["outcome"])
        ));
    }
    md.push_str(&format!("\n### Rollback\n\n{}\n", s(&b["rollback"])));
    md
}

/// Writes `bundle.json` and `bundle.md`; the names written.
pub async fn write(
    ctx: &StageContext<'_>,
    patch: &PatchResult,
    verify: &VerifyResult,
) -> Vec<String> {
    let json = bundle_json(ctx, patch, verify);
    let markdown = bundle_markdown(&json);
    let mut written = Vec::new();
    for (name, body) in [
        (
            JSON_FILE,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        ),
        (MARKDOWN_FILE, markdown),
    ] {
        match tokio::fs::write(ctx.artifacts_dir.join(name), body).await {
            Ok(()) => written.push(name.to_string()),
            Err(e) => tracing::warn!(file = name, error = %e, "Cannot write the evidence bundle."),
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_fault_is_named_and_hostile_names_stay_inside_their_code_span() {
        let b = json!({
            "trace_excerpt": {
                "trace_id": "0af7651916cd43dd8448eb211c80319c",
                "frames": [],
                "first_fault": {
                    "service": "pricing`\n# injected",
                    "span_name": "GET /quote",
                    "call_chain": ["web", "checkout", "pricing`\n# injected"],
                },
            },
        });
        let md = bundle_markdown(&b);
        assert!(
            md.contains(
                "The error started in service `pricing''# injected` (span `GET /quote`), \
                 reached through `web` → `checkout` → `pricing''# injected`."
            ),
            "{md}"
        );
        assert!(!md.contains("\n# injected"), "{md}");
    }

    #[test]
    fn no_first_fault_line_without_a_cross_service_result() {
        let b = json!({"trace_excerpt": {"trace_id": "t", "frames": [], "first_fault": null}});
        assert!(!bundle_markdown(&b).contains("The error started"));
    }
}
