//! Stage `verify`: proves a candidate fix in the no-network sandbox, or ends `no_fix`
//! with every candidate's outcome.
//!
//! The regression test (patch stage) is committed on the envelope's commit and run
//! there first: it must fail (the placebo check; a test that passes on the buggy code
//! proves nothing). Then, per candidate the policy allowed, in order: the fix is
//! committed on top of the test, and its image must pass the regression test, the
//! repository's `test_command`, the original failing request (no 5xx, no exception) and
//! the differential check against the original (passing neighbours plus generated
//! variants of the failing input). The first candidate passing everything wins: its two
//! commits become the branch `tracemend/incident-<id>` (pushed when the service says
//! `push: true` with a `remote`), with its risk score and the evidence [`crate::bundle`].

mod commits;
pub mod coverage;
pub mod differential;
mod result;
pub mod risk;
pub mod variants;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::info;

pub use commits::{Committer, GitError};
pub use result::{
    BranchInfo, CandidateOutcome, CandidateReport, Check, DifferentialSummary, Risk, RiskPart,
    VerifyResult, VerifyVerdict,
};

use crate::config::ServiceConfig;
use crate::dependency::{DOCKER, Dependency, GIT_REMOTE, docker_reason};
use crate::patch::regression_test::test_argv;
use crate::patch::{Candidate, PatchResult};
use crate::probe::Workbench;
use crate::repo::Repo;
use crate::reproduce::{evaluate, runner_env};
use crate::sandbox::{ImageSpec, RunOutput, SandboxError};
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome, StageResult};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "verify";

/// `verify` in the config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Generated variants of the failing input in the differential check. Default 100.
    #[serde(default = "default_variants")]
    pub variants: usize,
    /// Timeout of one test run (the regression test, the test command). Default 5m.
    #[serde(default = "default_test_timeout", with = "humantime_serde")]
    pub test_timeout: Duration,
}

fn default_variants() -> usize {
    100
}
fn default_test_timeout() -> Duration {
    Duration::from_secs(300)
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            variants: default_variants(),
            test_timeout: default_test_timeout(),
        }
    }
}

/// What the stage is built from.
pub struct VerifyParts {
    /// The services, the sandbox, the images and containers the stages after
    /// reproduce share (the same workbench as minimize's and localize's).
    pub bench: Arc<Workbench>,
    /// `verify` settings.
    pub config: VerifyConfig,
}

/// The stage.
pub struct Verify {
    parts: VerifyParts,
}

impl Verify {
    /// The stage; it depends on the Docker engine behind the workbench's sandbox.
    pub fn new(parts: VerifyParts) -> Self {
        Self { parts }
    }
}

impl Stage for Verify {
    fn name(&self) -> &'static str {
        STAGE
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        self.parts.bench.dependencies()
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.verify(ctx))
    }
}

fn from_sandbox(e: SandboxError) -> StageError {
    match e {
        SandboxError::Unreachable(_) => StageError::Unavailable {
            dependency: DOCKER,
            reason: docker_reason(&e),
        },
        other => StageError::failed(format!("sandbox: {other}")),
    }
}

fn tail(s: &str, n: usize) -> String {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].trim().to_string()
}

/// Everything one verification needs, resolved once.
struct Job<'a> {
    ctx: &'a StageContext<'a>,
    service: &'a ServiceConfig,
    repo: Repo,
    committer: Committer,
    patch: &'a PatchResult,
}

impl Verify {
    async fn run_in(
        &self,
        job: &Job<'_>,
        image: &ImageSpec,
        cmd: Vec<String>,
        env: Vec<String>,
        timeout: Duration,
    ) -> Result<RunOutput, StageError> {
        self.parts
            .bench
            .run_container(
                STAGE,
                job.ctx.incident_id,
                image,
                cmd,
                env,
                &job.service.workdir,
                timeout,
            )
            .await
            .map_err(from_sandbox)
    }

    /// Builds (or reuses) the service image at `commit`.
    async fn image(&self, job: &Job<'_>, commit: &str) -> Result<ImageSpec, StageError> {
        let name = &job.ctx.envelope.identity.service.name;
        let bench = &self.parts.bench;
        let spec = bench
            .image_spec(&job.repo, name, job.service, commit)
            .await
            .map_err(|e| StageError::failed(format!("image: {e}")))?;
        match bench.ensure_image(&spec).await {
            Ok(_) => Ok(spec),
            Err(SandboxError::Build { message, .. }) => Err(StageError::failed(format!(
                "image build at {commit}: {message}"
            ))),
            Err(e) => Err(from_sandbox(e)),
        }
    }

    fn test_env(&self, job: &Job<'_>) -> Vec<String> {
        let mut env: Vec<String> = job
            .service
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.extend([
            "PYTHONDONTWRITEBYTECODE=1".to_string(),
            "HOME=/tmp".to_string(),
            format!("PYTHONHASHSEED={}", self.parts.bench.parts().reproduce.seed),
        ]);
        env
    }

    /// Runs `argv` in `image` as a check that passes on exit code 0 (or, for the
    /// placebo, on a failing exit).
    async fn test_check(
        &self,
        job: &Job<'_>,
        name: &str,
        image: &ImageSpec,
        argv: Vec<String>,
        want_pass: bool,
    ) -> Result<Check, StageError> {
        let started = Instant::now();
        let out = self
            .run_in(
                job,
                image,
                argv.clone(),
                self.test_env(job),
                self.parts.config.test_timeout,
            )
            .await?;
        let ok = out.exit_code == Some(0) && !out.timed_out;
        let summary = if out.timed_out {
            format!("`{}` timed out", argv.join(" "))
        } else {
            format!(
                "`{}` exited {}: {}",
                argv.join(" "),
                out.exit_code.map_or("?".into(), |c| c.to_string()),
                tail(&format!("{}\n{}", out.stdout, out.stderr), 600)
            )
        };
        Ok(Check {
            name: name.to_string(),
            passed: if want_pass { ok } else { !ok && !out.timed_out },
            detail: summary,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn original_request(
        &self,
        job: &Job<'_>,
        image: &ImageSpec,
    ) -> Result<Check, StageError> {
        let started = Instant::now();
        let env = runner_env(
            job.ctx.envelope,
            job.service,
            &self.parts.bench.parts().reproduce,
            self.parts.bench.parts().allow_root,
        )
        .map_err(|e| StageError::failed(format!("replay spec: {e}")))?;
        let out = self
            .run_in(
                job,
                image,
                vec!["python3".into(), "/opt/tracemend/replay.py".into()],
                env,
                self.parts.bench.parts().sandbox_timeout,
            )
            .await?;
        let record = evaluate(
            1,
            &job.ctx.envelope.symptom.exception,
            &out,
            &job.service.workdir,
        );
        let status = record.response_status;
        let (passed, detail) = match (&record.observed, status, &record.cause) {
            (Some(o), _, _) => (
                false,
                format!("still raises {}: {}", o.exception_type, o.message),
            ),
            (None, Some(s), _) if s < 500 => (true, format!("answered {s}, no exception")),
            (None, Some(s), _) => (false, format!("answered {s}")),
            (None, None, Some(cause)) => (false, cause.clone()),
            (None, None, None) => (
                false,
                format!(
                    "no answer: {}",
                    record.request_error.clone().unwrap_or_default()
                ),
            ),
        };
        Ok(Check {
            name: "original_request".into(),
            passed,
            detail,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    async fn differential(
        &self,
        job: &Job<'_>,
        original: &ImageSpec,
        patched: &ImageSpec,
    ) -> Result<(Check, DifferentialSummary), StageError> {
        let started = Instant::now();
        let failing = crate::patch::failing_input(job.ctx);
        let mut inputs: Vec<_> = job
            .ctx
            .previous
            .minimize()
            .map(|m| {
                m.passing_neighbours
                    .iter()
                    .map(|n| n.input.clone())
                    .collect()
            })
            .unwrap_or_default();
        let neighbours = inputs.len();
        inputs.extend(variants::variants(&failing, self.parts.config.variants));
        let env =
            differential::runner_env(job.service, &self.parts.bench.parts().reproduce, &inputs);
        let argv = vec![
            "python3".to_string(),
            "-c".to_string(),
            differential::DIFFERENTIAL_PY.to_string(),
        ];
        // Both versions, one container each; every input's request timeout bounds it.
        let timeout = self.parts.config.test_timeout
            + self.parts.bench.parts().reproduce.request_timeout * (inputs.len() as u32).min(60);
        let mut answers = Vec::new();
        for image in [original, patched] {
            let out = self
                .run_in(job, image, argv.clone(), env.clone(), timeout)
                .await?;
            match differential::parse(&out.stdout, inputs.len()) {
                Ok(a) => answers.push(a),
                Err(e) => {
                    return Ok((
                        Check {
                            name: "differential".into(),
                            passed: false,
                            detail: format!("{e}: {}", tail(&out.stderr, 600)),
                            duration_ms: started.elapsed().as_millis() as u64,
                        },
                        DifferentialSummary::default(),
                    ));
                }
            }
        }
        let summary = differential::compare(&inputs, &answers[0], &answers[1], neighbours);
        let passed = differential::passes(&summary);
        let detail = format!(
            "{} inputs ({} neighbours, {} variants): {} answered as before, {} failing ones fixed, {} fail in both, {} changed, {} new failures{}",
            summary.inputs,
            summary.neighbours,
            summary.variants,
            summary.original_ok - summary.changed,
            summary.fixed,
            summary.still_failing,
            summary.changed,
            summary.new_failures,
            if summary.examples.is_empty() {
                String::new()
            } else {
                format!("; e.g. {}", summary.examples.join("; "))
            }
        );
        Ok((
            Check {
                name: "differential".into(),
                passed,
                detail,
                duration_ms: started.elapsed().as_millis() as u64,
            },
            summary,
        ))
    }

    async fn verify(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let envelope = ctx.envelope;
        let name = &envelope.identity.service.name;
        let service = self.parts.bench.service(name).ok_or_else(|| {
            StageError::failed(format!("service {name} is not in the services map"))
        })?;
        let patch = ctx.previous.patch().ok_or_else(|| {
            StageError::failed("no patch candidates (the patch stage has not run)".into())
        })?;
        let repo = Repo::open(&service.repository, &self.parts.bench.parts().repos_dir)
            .await
            .map_err(StageError::from_repo)?;
        tokio::fs::create_dir_all(&ctx.artifacts_dir)
            .await
            .map_err(|e| StageError::failed(format!("artifacts directory: {e}")))?;
        let committer = Committer::new(repo.dir(), &ctx.artifacts_dir);
        let job = Job {
            ctx,
            service,
            repo,
            committer,
            patch,
        };
        let mut reports: Vec<CandidateReport> = patch
            .candidates
            .iter()
            .map(|c| CandidateReport {
                id: c.id,
                template: c.template.clone(),
                file: c.fix.path.clone(),
                outcome: if c.policy.allowed {
                    CandidateOutcome::NotTried
                } else {
                    CandidateOutcome::PolicyRefused {
                        denials: c.policy.denials.clone(),
                    }
                },
            })
            .collect();
        let mut result = VerifyResult {
            verdict: VerifyVerdict::NoFix,
            winner: None,
            candidates: Vec::new(),
            placebo: None,
            differential: None,
            risk: None,
            branch: None,
        };
        let Some(first) = patch.allowed().next() else {
            result.candidates = reports;
            return Ok(self.no_fix(result, "the policy refused every candidate".into()));
        };

        // The test alone on the envelope's commit: the placebo check.
        let test = &first.test;
        let test_commit = job
            .committer
            .commit(
                &patch.commit,
                &[(&test.path, &test.content)],
                &format!("tracemend: failing test for incident {}", ctx.incident_id),
            )
            .await
            .map_err(|e| StageError::failed(e.to_string()))?;
        let original_image = self.image(&job, &test_commit).await?;
        let test_argv = test_argv(patch.test_framework, &test.path);
        let placebo = self
            .test_check(&job, "placebo", &original_image, test_argv.clone(), false)
            .await?;
        info!(
            incident = ctx.incident_id,
            passed = placebo.passed,
            "Placebo check ran."
        );
        result.placebo = Some(placebo.clone());
        if !placebo.passed {
            result.candidates = reports;
            return Ok(self.no_fix(
                result,
                format!(
                    "the regression test does not fail on the original commit, so it proves nothing: {}",
                    placebo.detail
                ),
            ));
        }

        for candidate in patch.allowed() {
            let Some(report) = reports.iter_mut().find(|r| r.id == candidate.id) else {
                continue;
            };
            let fix_commit = job
                .committer
                .commit(
                    &test_commit,
                    &[(&candidate.fix.path, &candidate.fix.content)],
                    &format!("tracemend: candidate {}", candidate.id),
                )
                .await
                .map_err(|e| StageError::failed(e.to_string()))?;
            let image = match self.image(&job, &fix_commit).await {
                Ok(i) => i,
                Err(StageError::Failed { error, .. }) => {
                    report.outcome = CandidateOutcome::Failed {
                        checks: vec![Check {
                            name: "image".into(),
                            passed: false,
                            detail: error,
                            duration_ms: 0,
                        }],
                    };
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut checks = Vec::new();
            let mut diff_summary = None;
            let regression = self
                .test_check(&job, "regression_test", &image, test_argv.clone(), true)
                .await?;
            let mut ok = regression.passed;
            checks.push(regression);
            if ok {
                let c = self
                    .test_check(
                        &job,
                        "test_command",
                        &image,
                        service.test_command.clone(),
                        true,
                    )
                    .await?;
                ok = c.passed;
                checks.push(c);
            }
            if ok {
                let c = self.original_request(&job, &image).await?;
                ok = c.passed;
                checks.push(c);
            }
            if ok {
                let (c, summary) = self.differential(&job, &original_image, &image).await?;
                ok = c.passed;
                checks.push(c);
                diff_summary = Some(summary);
            }
            info!(
                incident = ctx.incident_id,
                candidate = candidate.id,
                verified = ok,
                "Candidate verified."
            );
            if !ok {
                report.outcome = CandidateOutcome::Failed { checks };
                continue;
            }
            report.outcome = CandidateOutcome::Verified {
                checks: checks.clone(),
            };
            result.verdict = VerifyVerdict::Fixed;
            result.winner = Some(candidate.id);
            result.differential = diff_summary;
            result.risk = Some(self.risk(&job, candidate, &image).await);
            let branch = self
                .branch(&job, candidate, &checks, result.risk.as_ref())
                .await?;
            result.branch = Some(branch);
            break;
        }
        result.candidates = reports;
        let mut artifacts = Vec::new();
        if result.verdict == VerifyVerdict::Fixed {
            artifacts.extend(crate::bundle::write(ctx, patch, &result).await);
            return Ok(StageOutcome::Completed {
                result: StageResult::Verify(Box::new(result)),
                artifacts,
            });
        }
        let summary = result
            .candidates
            .iter()
            .map(|r| format!("#{} {}: {}", r.id, r.template, outcome_words(&r.outcome)))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(self.no_fix(result, summary))
    }

    fn no_fix(&self, result: VerifyResult, why: String) -> StageOutcome {
        StageOutcome::Rejected {
            reason: format!("no_fix: {why}"),
            result: StageResult::Verify(Box::new(result)),
            artifacts: Vec::new(),
        }
    }

    /// The share of the fix's added lines that the regression test and the repository's
    /// tests run (in `image`, the fix's); `None` when it cannot be measured.
    async fn coverage(
        &self,
        job: &Job<'_>,
        candidate: &Candidate,
        image: &ImageSpec,
    ) -> Option<f64> {
        let added = coverage::added_lines(&candidate.fix.diff);
        if added.is_empty() {
            return None;
        }
        let file = format!(
            "{}/{}",
            job.service.workdir.trim_end_matches('/'),
            candidate.fix.path
        );
        let commands = vec![
            test_argv(job.patch.test_framework, &candidate.test.path),
            job.service.test_command.clone(),
        ];
        let timeout = self.parts.config.test_timeout;
        let mut env = self.test_env(job);
        env.push(coverage::runner_env(&file, &commands, timeout.as_secs()));
        let argv = vec![
            "python3".to_string(),
            "-c".to_string(),
            coverage::COVER_PY.to_string(),
        ];
        let out = self.run_in(job, image, argv, env, timeout * 2).await.ok()?;
        let ran = coverage::parse(&out.stdout)?;
        let covered = added.iter().filter(|l| ran.contains(l)).count();
        Some(covered as f64 / added.len() as f64)
    }

    async fn risk(&self, job: &Job<'_>, candidate: &Candidate, image: &ImageSpec) -> Risk {
        let old = job
            .repo
            .show(&job.patch.commit, &candidate.fix.path)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let defs = risk::changed_definitions(&old, &candidate.fix.content);
        let mut sources = Vec::new();
        for path in job.repo.files(&job.patch.commit).await.unwrap_or_default() {
            if path.ends_with(".py")
                && !path.contains("test")
                && let Ok(b) = job.repo.show(&job.patch.commit, &path).await
            {
                sources.push((path, String::from_utf8_lossy(&b).into_owned()));
            }
        }
        let callers = risk::call_sites(&defs, &sources);
        let coverage = self.coverage(job, candidate, image).await;
        risk::score(
            candidate.fix.added + candidate.fix.removed,
            &defs,
            callers,
            coverage,
        )
    }

    /// The two final commits (messages carry the evidence), the branch, and the push.
    async fn branch(
        &self,
        job: &Job<'_>,
        candidate: &Candidate,
        checks: &[Check],
        risk: Option<&Risk>,
    ) -> Result<BranchInfo, StageError> {
        let ctx = job.ctx;
        let env = ctx.envelope;
        let id = ctx.incident_id;
        let trace = &env.identity.trace_id;
        let fingerprint = &env.symptom.fingerprint;
        let exc = &env.symptom.exception.exception_type;
        let summary: Vec<String> = checks
            .iter()
            .map(|c| {
                format!(
                    "- {}: {}",
                    c.name,
                    if c.passed { "passed" } else { "failed" }
                )
            })
            .collect();
        let test_msg = format!(
            "test: reproduce incident {id} ({exc} on {} {})\n\nA regression test from the minimized failing input; it fails on this commit's\nparent and passes with the fix in the next commit.\n\nTrace-Id: {trace}\nFingerprint: {fingerprint}\nINVARIANT: {}\n",
            env.inputs.method, env.inputs.route, candidate.invariant
        );
        let base = &job.patch.commit;
        let test_commit = job
            .committer
            .commit(
                base,
                &[(&candidate.test.path, &candidate.test.content)],
                &test_msg,
            )
            .await
            .map_err(|e| StageError::failed(e.to_string()))?;
        let fix_msg = format!(
            "fix: {} (incident {id})\n\n{}\n\nTrace-Id: {trace}\nFingerprint: {fingerprint}\nINVARIANT: {}\n\nVerification ({} template, candidate {}):\n{}\n{}",
            candidate.description,
            candidate
                .fix
                .diff
                .lines()
                .filter(|l| l.starts_with("@@"))
                .count()
                .to_string()
                + " hunk(s) in "
                + &candidate.fix.path,
            candidate.invariant,
            candidate.template,
            candidate.id,
            summary.join("\n"),
            risk.map(|r| format!("Risk: {:.2}\n", r.score))
                .unwrap_or_default()
        );
        let fix_commit = job
            .committer
            .commit(
                &test_commit,
                &[(&candidate.fix.path, &candidate.fix.content)],
                &fix_msg,
            )
            .await
            .map_err(|e| StageError::failed(e.to_string()))?;
        let name = format!("tracemend/incident-{id}");
        job.committer
            .set_branch(&name, &fix_commit)
            .await
            .map_err(|e| StageError::failed(e.to_string()))?;
        let mut pushed_to = None;
        if job.service.push {
            let remote = job.service.remote.as_deref().ok_or_else(|| {
                StageError::failed(format!(
                    "service {} has push: true but no remote",
                    env.identity.service.name
                ))
            })?;
            job.committer
                .push(remote, &name)
                .await
                .map_err(|e| StageError::Unavailable {
                    dependency: GIT_REMOTE,
                    reason: format!("push of {name}: {e}"),
                })?;
            pushed_to = Some(remote.to_string());
        }
        info!(incident = id, branch = %name, pushed = pushed_to.is_some(), "Fix branch written.");
        Ok(BranchInfo {
            name,
            repository: job.service.repository.clone(),
            base: base.clone(),
            test_commit,
            fix_commit,
            pushed_to,
        })
    }
}

/// One line about a candidate's outcome.
pub fn outcome_words(o: &CandidateOutcome) -> String {
    match o {
        CandidateOutcome::PolicyRefused { denials } => {
            format!("refused by policy ({})", denials.join(", "))
        }
        CandidateOutcome::Failed { checks } => checks
            .iter()
            .find(|c| !c.passed)
            .map_or("failed".into(), |c| {
                format!("{} failed: {}", c.name, c.detail)
            }),
        CandidateOutcome::Verified { .. } => "verified".into(),
        CandidateOutcome::NotTried => "not tried".into(),
    }
}
