//! Stage `patch`: candidate fixes for the reproduced failure, each with a regression
//! test and the policy gate's decision.
//!
//! For each of the top hypotheses from localize (or the crash frame when localize has
//! not run), the crash-class [`templates`] propose syntax-aware edits of the suspect
//! definition; a boundary template (reject the input at the handler with a 4xx) comes
//! first when the top hypothesis suggests it, last otherwise. Every candidate carries the
//! [`regression_test`] generated from the minimized input in the repository's test
//! framework, and is checked by the [`crate::policy`] gate; refused candidates keep the
//! policy's messages. Verify tries the allowed ones in order.

mod diff;
pub mod framework;
pub mod model;
pub mod regression_test;
mod result;
pub mod source;
pub mod templates;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::info;

pub use result::{
    Candidate, ChangeKind, FileChange, ModelUse, Origin, PatchResult, PolicyDecision, TestFramework,
};

use crate::config::ServiceConfig;
use crate::dependency::Dependency;
use crate::localize::Intervention;
use crate::minimize::ProbeInput;
use crate::policy::{PolicyConfig, PolicyGate};
use crate::repo::Repo;
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome, StageResult};
use source::PySource;
use templates::{Draft, Failure, FrameRef};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "patch";

/// `patch` in the config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    /// Hypotheses (best first) the templates act on. Default 3.
    #[serde(default = "default_hypotheses")]
    pub hypotheses: usize,
    /// Most candidates proposed. Default 6.
    #[serde(default = "default_max_candidates")]
    pub max_candidates: usize,
    /// The policy gate.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The model-based patcher; off when absent.
    #[serde(default)]
    pub model: Option<model::ModelConfig>,
}

fn default_hypotheses() -> usize {
    3
}
fn default_max_candidates() -> usize {
    6
}

impl Default for PatchConfig {
    fn default() -> Self {
        Self {
            hypotheses: default_hypotheses(),
            max_candidates: default_max_candidates(),
            policy: PolicyConfig::default(),
            model: None,
        }
    }
}

/// The stage.
pub struct Patch {
    services: BTreeMap<String, ServiceConfig>,
    repos_dir: PathBuf,
    config: PatchConfig,
    gate: PolicyGate,
    dependencies: Vec<Arc<dyn Dependency>>,
}

impl Patch {
    /// The stage; `gate` is the loaded policy.
    pub fn new(
        services: BTreeMap<String, ServiceConfig>,
        repos_dir: PathBuf,
        config: PatchConfig,
        gate: PolicyGate,
    ) -> Self {
        Self {
            services,
            repos_dir,
            config,
            gate,
            dependencies: Vec::new(),
        }
    }
}

impl Stage for Patch {
    fn name(&self) -> &'static str {
        STAGE
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        &self.dependencies
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.patch(ctx))
    }
}

/// The failure as the templates see it, from the envelope's in-app frames (innermost
/// first) and the reproduced message.
pub fn failure_of(ctx: &StageContext<'_>) -> Option<Failure> {
    let exception = &ctx.envelope.symptom.exception;
    let frames: Vec<FrameRef> = exception
        .frames
        .iter()
        .filter(|f| f.in_app)
        .filter_map(|f| {
            Some(FrameRef {
                file: f.file.clone()?,
                line: f.line?,
                function: f.function.clone(),
            })
        })
        .collect();
    let observed = ctx
        .previous
        .reproduce()
        .and_then(|r| r.reproduced_failure());
    Some(Failure {
        exception_type: observed
            .map(|o| o.exception_type.clone())
            .unwrap_or_else(|| exception.exception_type.clone()),
        message: observed
            .map(|o| o.message.clone())
            .or_else(|| exception.message_redacted.clone())
            .unwrap_or_default(),
        crash: frames.first()?.clone(),
        handler: frames.last()?.clone(),
    })
}

/// The input the regression test replays: the minimized one, else the envelope's.
pub fn failing_input(ctx: &StageContext<'_>) -> ProbeInput {
    match ctx.previous.minimize() {
        Some(m) => m.minimized.clone(),
        None => ProbeInput {
            request: ctx.envelope.inputs.clone(),
            fixtures: ctx.envelope.state.as_ref().and_then(|s| s.fixtures.clone()),
            feature_flags: ctx
                .envelope
                .environment
                .as_ref()
                .map(|e| e.feature_flags.clone())
                .unwrap_or_default(),
        },
    }
}

/// A suspect definition a template may edit.
struct Target {
    rank: Option<u32>,
    file: String,
    function: String,
    line: u32,
}

/// Top-level module names a Python file imports.
fn imported_modules(text: &str) -> Vec<String> {
    let Ok(src) = PySource::parse(text, "imports") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let root = src.root();
    for n in root.children(&mut root.walk()) {
        let names: Vec<String> = match n.kind() {
            "import_statement" => n
                .children_by_field_name("name", &mut n.walk())
                .map(|c| src.node_text(c).to_string())
                .collect(),
            "import_from_statement" => n
                .child_by_field_name("module_name")
                .map(|c| vec![src.node_text(c).to_string()])
                .unwrap_or_default(),
            _ => continue,
        };
        for name in names {
            let top = name
                .split([' ', '.'])
                .next()
                .unwrap_or_default()
                .to_string();
            if !top.is_empty() && !out.contains(&top) {
                out.push(top);
            }
        }
    }
    out
}

/// Standard-library modules a template may import without adding a dependency.
const STDLIB: &[&str] = &[
    "math",
    "json",
    "os",
    "re",
    "statistics",
    "decimal",
    "datetime",
    "time",
    "asyncio",
    "logging",
    "functools",
    "itertools",
    "collections",
    "typing",
];

impl Patch {
    async fn patch(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let envelope = ctx.envelope;
        let name = &envelope.identity.service.name;
        let service = self.services.get(name).ok_or_else(|| {
            StageError::failed(format!("service {name} is not in the services map"))
        })?;
        let commit = ctx
            .previous
            .reproduce()
            .and_then(|r| r.commit.clone())
            .ok_or_else(|| {
                StageError::failed("no reproduced commit to patch (reproduce has not run)".into())
            })?;
        let Some(failure) = failure_of(ctx) else {
            // Nothing to point a template at: a person takes over.
            return Ok(StageOutcome::Rejected {
                reason: "no_fix: the envelope has no in-app frame with a file and line to patch"
                    .into(),
                result: StageResult::Patch(Box::new(PatchResult {
                    commit,
                    test_framework: regression_test::framework_of(&service.test_command),
                    candidates: Vec::new(),
                    not_patched: vec!["no in-app frame with a file and line".into()],
                    model: None,
                })),
                artifacts: Vec::new(),
            });
        };
        let repo = Repo::open(&service.repository, &self.repos_dir)
            .await
            .map_err(StageError::from_repo)?;
        let files = repo.files(&commit).await.map_err(StageError::from_repo)?;

        let mut targets = Vec::new();
        let mut prefer_boundary = false;
        match ctx.previous.localize() {
            Some(l) => {
                for (i, h) in l.hypotheses.iter().take(self.config.hypotheses).enumerate() {
                    if i == 0 {
                        prefer_boundary = h.intervention == Intervention::RejectInputAtBoundary;
                    }
                    targets.push(Target {
                        rank: Some(h.rank),
                        file: h.suspect.file.clone(),
                        function: h.suspect.function.clone(),
                        line: h.suspect.start_line,
                    });
                }
            }
            None => targets.push(Target {
                rank: None,
                file: failure.crash.file.clone(),
                function: failure.crash.function.clone(),
                line: failure.crash.line,
            }),
        }

        let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut not_patched = Vec::new();
        let mut drafts: Vec<(Option<u32>, Draft)> = Vec::new();
        for target in &targets {
            let Some(text) = load(&repo, &commit, &target.file, &mut sources).await else {
                not_patched.push(format!("{}: not a file of commit {commit}", target.file));
                continue;
            };
            let Ok(src) = PySource::parse(&text, &target.file) else {
                not_patched.push(format!("{}: cannot be parsed", target.file));
                continue;
            };
            let Some(function) = src.function(&target.function, Some(target.line)) else {
                not_patched.push(format!(
                    "{}: no definition of {} found",
                    target.file, target.function
                ));
                continue;
            };
            let at_crash = target.file == failure.crash.file
                && function.start_position().row < failure.crash.line as usize
                && function.end_position().row + 1 >= failure.crash.line as usize;
            let mut found = Vec::new();
            if at_crash {
                found.extend(templates::default_for_missing_key(&src, &failure, function));
                found.extend(templates::guard_none_comparison(&src, &failure, function));
                found.extend(templates::guard_none_lookup(&src, &failure, function));
                found.extend(templates::empty_sequence_default(&src, &failure, function));
            }
            found.extend(templates::ceil_count(
                &src,
                &failure,
                function,
                &target.file,
            ));
            found.extend(templates::json_boolean_literal(
                &src,
                &failure,
                function,
                &target.file,
            ));
            if found.is_empty() {
                not_patched.push(format!(
                    "{} in {}: no template fits {}",
                    target.function, target.file, failure.exception_type
                ));
            }
            drafts.extend(found.into_iter().map(|d| (target.rank, d)));
        }
        let boundary = match load(&repo, &commit, &failure.handler.file, &mut sources).await {
            Some(text) => PySource::parse(&text, &failure.handler.file)
                .map(|src| templates::reject_at_boundary(&src, &failure))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let boundary_rank = targets
            .iter()
            .find(|t| t.file == failure.handler.file && t.function == failure.handler.function)
            .and_then(|t| t.rank);
        let boundary = boundary.into_iter().map(|d| (boundary_rank, d));
        if prefer_boundary {
            // Handler-level fixes (a 404 right after a lookup) are boundary fixes too,
            // and smaller than wrapping the statement: they stay first.
            let at = drafts
                .iter()
                .take_while(|(_, d)| d.template == "guard_none_lookup")
                .count();
            drafts.splice(at..at, boundary);
        } else {
            drafts.extend(boundary);
        }

        let mut model_use = None;
        let mut artifacts = Vec::new();
        if let Some(config) = &self.config.model {
            let (use_, draft, written) = self
                .ask_model(
                    ctx,
                    config,
                    &failure,
                    &targets,
                    &mut sources,
                    &repo,
                    &commit,
                )
                .await;
            artifacts.extend(written);
            if let Some(d) = draft {
                drafts.push((targets.first().and_then(|t| t.rank), d));
            }
            model_use = Some(use_);
        }
        artifacts.extend(write_audit(ctx, model_use.as_ref()).await);

        let framework = regression_test::framework_of(&service.test_command);
        let test_path = regression_test::test_path(&files, ctx.incident_id);
        let input = failing_input(ctx);
        let facts = regression_test::TestFacts {
            incident_id: ctx.incident_id,
            trace_id: &envelope.identity.trace_id,
            exception_type: &failure.exception_type,
        };
        let test_text = regression_test::render(framework, &test_path, &facts, &input, service);
        let (test_diff, test_added, _) = diff::unified(&test_path, None, &test_text);
        let test = FileChange {
            path: test_path.clone(),
            kind: ChangeKind::Test,
            new_file: true,
            content: test_text,
            diff: test_diff,
            added: test_added,
            removed: 0,
        };

        let mut candidates: Vec<Candidate> = Vec::new();
        for (rank, d) in drafts {
            // The model's candidate (asked for explicitly) is kept past the template limit.
            if candidates.len() >= self.config.max_candidates && d.template != "model" {
                continue;
            }
            if candidates
                .iter()
                .any(|c| c.fix.path == d.file && c.fix.content == d.new_text)
            {
                continue;
            }
            let old = sources.get(&d.file).cloned().flatten();
            let (fix_diff, added, removed) = diff::unified(&d.file, old.as_deref(), &d.new_text);
            let before = old.as_deref().map(imported_modules).unwrap_or_default();
            let new_imports: Vec<String> = imported_modules(&d.new_text)
                .into_iter()
                .filter(|m| !before.contains(m) && !STDLIB.contains(&m.as_str()))
                .collect();
            let mut candidate = Candidate {
                id: candidates.len() as u32 + 1,
                origin: if d.template == "model" {
                    Origin::Model
                } else {
                    Origin::Template
                },
                template: d.template.to_string(),
                hypothesis_rank: rank,
                description: d.description,
                invariant: d.invariant,
                fix: FileChange {
                    path: d.file,
                    kind: ChangeKind::Fix,
                    new_file: old.is_none(),
                    content: d.new_text,
                    diff: fix_diff,
                    added,
                    removed,
                },
                test: test.clone(),
                policy: PolicyDecision {
                    allowed: false,
                    denials: Vec::new(),
                },
            };
            candidate.policy = self
                .gate
                .evaluate(&candidate, &new_imports)
                .map_err(|e| StageError::failed(e.to_string()))?;
            candidates.push(candidate);
        }
        info!(
            incident = ctx.incident_id,
            candidates = candidates.len(),
            allowed = candidates.iter().filter(|c| c.policy.allowed).count(),
            "Patch candidates proposed."
        );
        let result = PatchResult {
            commit,
            test_framework: framework,
            candidates,
            not_patched,
            model: model_use,
        };
        let reason = if result.candidates.is_empty() {
            Some(format!(
                "no_fix: no template fits {} at {}:{} ({})",
                failure.exception_type,
                failure.crash.file,
                failure.crash.line,
                result.not_patched.join("; ")
            ))
        } else if result.allowed().next().is_none() {
            Some(format!(
                "no_fix: the policy refused every candidate: {}",
                result
                    .candidates
                    .iter()
                    .map(|c| format!("#{} {}: {}", c.id, c.template, c.policy.denials.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        } else {
            None
        };
        artifacts.extend(write_diffs(ctx, &result).await);
        let result = StageResult::Patch(Box::new(result));
        Ok(match reason {
            Some(reason) => StageOutcome::Rejected {
                reason,
                result,
                artifacts,
            },
            None => StageOutcome::Completed { result, artifacts },
        })
    }
}

impl Patch {
    /// One request to the model patcher; its use, its candidate (if any) and the
    /// artifacts written (`model-request.json`: exactly what was sent).
    #[allow(clippy::too_many_arguments)]
    async fn ask_model(
        &self,
        ctx: &StageContext<'_>,
        config: &model::ModelConfig,
        failure: &Failure,
        targets: &[Target],
        sources: &mut BTreeMap<String, Option<String>>,
        repo: &Repo,
        commit: &str,
    ) -> (ModelUse, Option<Draft>, Vec<String>) {
        let mut suspects = Vec::new();
        let mut files = Vec::new();
        for t in targets {
            let Some(text) = load(repo, commit, &t.file, sources).await else {
                continue;
            };
            let code = PySource::parse(&text, &t.file)
                .ok()
                .and_then(|src| {
                    src.function(&t.function, Some(t.line))
                        .map(|f| src.node_text(f).to_string())
                })
                .unwrap_or_default();
            suspects.push(model::SuspectCode {
                file: t.file.clone(),
                function: t.function.clone(),
                hypothesis: t
                    .rank
                    .map_or("the crash frame".into(), |r| format!("hypothesis rank {r}")),
                code,
            });
            if !files.iter().any(|(p, _): &(String, String)| *p == t.file) {
                files.push((t.file.clone(), text));
            }
        }
        let input = serde_json::to_value(failing_input(ctx)).unwrap_or_default();
        let (request, fields) = model::build_request(config, failure, &input, &suspects);
        let mut use_ = ModelUse {
            model: config.model.clone(),
            endpoint: config.endpoint.clone(),
            fields_shown: Vec::new(),
            tokens: None,
            outcome: String::new(),
        };
        let key = match model::api_key(config) {
            Ok(k) => k,
            Err(e) => {
                use_.outcome = e.to_string();
                return (use_, None, Vec::new());
            }
        };
        let mut written = Vec::new();
        if tokio::fs::create_dir_all(&ctx.artifacts_dir).await.is_ok()
            && tokio::fs::write(
                ctx.artifacts_dir.join("model-request.json"),
                serde_json::to_string_pretty(&request).unwrap_or_default(),
            )
            .await
            .is_ok()
        {
            written.push("model-request.json".to_string());
        }
        let exchange = model::propose(config, &key, request, fields, &files).await;
        use_.fields_shown = exchange.fields_shown;
        use_.tokens = exchange.tokens;
        let draft = match exchange.draft {
            Ok(d) => {
                use_.outcome = format!("proposed an edit of {}", d.file);
                Some(d)
            }
            Err(e) => {
                use_.outcome = e.to_string();
                None
            }
        };
        info!(incident = ctx.incident_id, outcome = %use_.outcome, "Model patcher answered.");
        (use_, draft, written)
    }
}

/// The audit manifest `model-audit.json`: every envelope field shown to a model.
async fn write_audit(ctx: &StageContext<'_>, model: Option<&ModelUse>) -> Vec<String> {
    let audit = match model {
        Some(m) => serde_json::json!({
            "incident": ctx.incident_id,
            "model_patcher": "on",
            "model": m.model,
            "endpoint": m.endpoint,
            "fields_shown": m.fields_shown,
            "request": if m.fields_shown.is_empty() { serde_json::Value::Null } else { "model-request.json".into() },
            "outcome": m.outcome,
        }),
        None => serde_json::json!({
            "incident": ctx.incident_id,
            "model_patcher": "off",
            "fields_shown": [],
        }),
    };
    let name = crate::bundle::AUDIT_FILE;
    if tokio::fs::create_dir_all(&ctx.artifacts_dir).await.is_err() {
        return Vec::new();
    }
    match tokio::fs::write(
        ctx.artifacts_dir.join(name),
        serde_json::to_string_pretty(&audit).unwrap_or_default(),
    )
    .await
    {
        Ok(()) => vec![name.to_string()],
        Err(e) => {
            tracing::warn!(error = %e, "Cannot write the model audit manifest.");
            Vec::new()
        }
    }
}

async fn load(
    repo: &Repo,
    commit: &str,
    path: &str,
    cache: &mut BTreeMap<String, Option<String>>,
) -> Option<String> {
    if let Some(v) = cache.get(path) {
        return v.clone();
    }
    let text = repo
        .show(commit, path)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    cache.insert(path.to_string(), text.clone());
    text
}

/// Each candidate's diff as `patch-candidate-<n>.diff`.
async fn write_diffs(ctx: &StageContext<'_>, result: &PatchResult) -> Vec<String> {
    let mut out = Vec::new();
    if tokio::fs::create_dir_all(&ctx.artifacts_dir).await.is_err() {
        return out;
    }
    for c in &result.candidates {
        let name = format!("patch-candidate-{}.diff", c.id);
        let body = format!("{}{}", c.fix.diff, c.test.diff);
        match tokio::fs::write(ctx.artifacts_dir.join(&name), body).await {
            Ok(()) => out.push(name),
            Err(e) => tracing::warn!(error = %e, "Cannot write a candidate's diff."),
        }
    }
    out
}
