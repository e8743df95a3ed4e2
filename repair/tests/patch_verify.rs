//! The patch and verify stages on the project's buggy services (tests/buggy-services),
//! against the real Docker engine and real git repositories: the reproduce stage runs
//! for real; the minimize and localize results are constructed from each service's
//! `truth.json` (the true fault at rank 1, a decoy at rank 2), as those stages would
//! give them; then patch proposes, the policy gates and verify proves (placebo, the
//! regression test, the repository's tests, the original request, the differential
//! check) and writes the branch, pushed to a local bare repository.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use common::buggy::*;
use common::*;
use repair::config::{DockerConfig, ReproduceConfig, SandboxConfig, ServiceConfig};
use repair::localize::{
    CauseClass, Evidence, Hypothesis, Intervention, LocalizeResult, Signal, Suspect,
};
use repair::minimize::{
    MinimizeResult, MinimizeVerdict, Neighbour, ProbeInput, ProbeMode, ProbeStats, Reduction,
};
use repair::patch::{Patch, PatchConfig, PatchResult};
use repair::policy::{PolicyConfig, PolicyGate};
use repair::probe::{Workbench, WorkbenchParts};
use repair::reproduce::{Reproduce, ReproduceParts};
use repair::sandbox::{DockerSandbox, Sandbox};
use repair::stage::{Stage, StageContext, StageOutcome, StageResult, StageResults};
use repair::verify::{CandidateOutcome, Verify, VerifyParts, VerifyResult, VerifyVerdict};
use serde_json::{Value, json};

fn probe_input(env: &envelope::Envelope) -> ProbeInput {
    ProbeInput {
        request: env.inputs.clone(),
        fixtures: env.state.as_ref().and_then(|s| s.fixtures.clone()),
        feature_flags: env
            .environment
            .as_ref()
            .map(|e| e.feature_flags.clone())
            .unwrap_or_default(),
    }
}

/// Minimize's result as that stage would give it: the failing input (not reduced here)
/// and the service's passing requests of the same route as passing neighbours.
fn minimize_result(name: &str, env: &envelope::Envelope) -> MinimizeResult {
    let t = truth(name);
    let input = probe_input(env);
    let neighbours = t["passing_requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["route"] == t["failing_request"]["route"])
        .map(|r| {
            let mut n = input.clone();
            n.request.path = r["path"].as_str().unwrap_or("/").to_string();
            n.request.query = serde_json::from_value(r.get("query").cloned().unwrap_or(json!({})))
                .expect("query");
            n.request.body = r.get("body").cloned();
            Neighbour {
                input: n,
                change: "a passing request of the same route".into(),
                response_status: r["status"].as_u64().map(|s| s as u16),
                other_failure: None,
            }
        })
        .collect();
    MinimizeResult {
        verdict: MinimizeVerdict::AlreadyMinimal,
        original: input.clone(),
        minimized: input,
        reduction: Reduction::default(),
        mode: ProbeMode::Batched,
        probes: ProbeStats::default(),
        passing_neighbours: neighbours,
        oracle_message: None,
        note: Some("constructed from truth.json by the test".into()),
    }
}

fn cause_class(truth: &Value) -> CauseClass {
    match truth["cause_class"].as_str().unwrap_or_default() {
        "missing guard" => CauseClass::MissingGuard,
        "wrong assumption about input" => CauseClass::WrongInputAssumption,
        "type confusion" => CauseClass::TypeConfusion,
        "bad arithmetic" => CauseClass::BadArithmetic,
        "config/flag drift" => CauseClass::ConfigFlagDrift,
        "dependency behaviour" => CauseClass::DependencyBehaviour,
        _ => CauseClass::TimeoutResource,
    }
}

fn intervention(truth: &Value) -> Intervention {
    let kind = truth["fix"]["kind"].as_str().unwrap_or_default();
    if kind.starts_with("reject") || kind.starts_with("validate") {
        Intervention::RejectInputAtBoundary
    } else if kind.starts_with("default") {
        Intervention::AddDefault
    } else if kind.starts_with("guard") || kind.starts_with("handle") {
        Intervention::AddGuard
    } else if kind.starts_with("accept") {
        Intervention::CoerceType
    } else {
        Intervention::FixComputation
    }
}

/// Localize's result: the true fault at rank 1, the crash frame's caller (or another
/// frame) as a decoy at rank 2.
fn localize_result(name: &str) -> LocalizeResult {
    let t = truth(name);
    let fault = &t["fault"];
    let hypothesis = |rank: u32, file: &str, function: &str, lines: (u32, u32)| Hypothesis {
        rank,
        score: if rank == 1 { 0.9 } else { 0.4 },
        suspect: Suspect {
            file: file.into(),
            start_line: lines.0,
            end_line: lines.1,
            function: function.into(),
            symbol_id: None,
        },
        evidence: vec![Evidence {
            signal: Signal::CrashFrame,
            value: if rank == 1 { 1.0 } else { 0.5 },
            detail: "constructed from truth.json by the test".into(),
        }],
        cause_class: cause_class(&t),
        intervention: intervention(&t),
        exception_type: t["expected"]["exception_type"]
            .as_str()
            .unwrap_or_default()
            .into(),
    };
    let lines = (
        fault["lines"][0].as_u64().unwrap_or(1) as u32,
        fault["lines"][1].as_u64().unwrap_or(1) as u32,
    );
    let mut hypotheses = vec![hypothesis(
        1,
        fault["file"].as_str().unwrap_or_default(),
        fault["function"].as_str().unwrap_or_default(),
        lines,
    )];
    let decoy = t["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["function"] != fault["function"]);
    if let Some(d) = decoy {
        let line = d["line"].as_u64().unwrap_or(1) as u32;
        hypotheses.push(hypothesis(
            2,
            d["file"].as_str().unwrap_or_default(),
            d["function"].as_str().unwrap_or_default(),
            (line, line),
        ));
    }
    LocalizeResult {
        hypotheses,
        signals_used: vec![Signal::CrashFrame],
        signals_missing: vec![],
        weights: BTreeMap::new(),
        cross_service: None,
    }
}

struct Bench {
    sandbox: Arc<dyn Sandbox>,
    owner: String,
    data: PathBuf,
}

impl Bench {
    /// Owner id as the engine would derive it for a store in `dir`, so [`Cleanup`]
    /// removes what the stages leave behind.
    fn new(dir: &Path) -> Self {
        let owner = repair::serve::owner_id(&dir.join("repair.db"));
        let sandbox: Arc<dyn Sandbox> = Arc::new(DockerSandbox::new(
            DockerConfig::default(),
            SandboxConfig::default(),
            owner.clone(),
        ));
        Self {
            sandbox,
            owner,
            data: dir.join("data"),
        }
    }

    fn ctx<'a>(
        &self,
        id: i64,
        env: &'a envelope::Envelope,
        previous: &'a StageResults,
    ) -> StageContext<'a> {
        StageContext {
            incident_id: id,
            envelope: env,
            previous,
            artifacts_dir: self.data.join("artifacts").join(id.to_string()),
        }
    }

    fn reproduce_stage(&self, services: &BTreeMap<String, ServiceConfig>) -> Reproduce {
        Reproduce::new(ReproduceParts {
            services: services.clone(),
            sandbox: self.sandbox.clone(),
            config: ReproduceConfig {
                runs: 1,
                ..ReproduceConfig::default()
            },
            sandbox_timeout: std::time::Duration::from_secs(90),
            sandbox_user: SandboxConfig::default().user,
            allow_root: false,
            repos_dir: self.data.join("repos"),
            owner: self.owner.clone(),
            vendor: Default::default(),
        })
    }

    fn patch_stage(
        &self,
        services: &BTreeMap<String, ServiceConfig>,
        policy: PolicyConfig,
    ) -> Patch {
        let config = PatchConfig {
            policy: policy.clone(),
            ..PatchConfig::default()
        };
        Patch::new(
            services.clone(),
            self.data.join("repos"),
            config,
            PolicyGate::new(&policy).expect("policy loads"),
        )
    }

    fn verify_stage(&self, services: &BTreeMap<String, ServiceConfig>) -> Verify {
        let bench = Workbench::new(WorkbenchParts {
            services: services.clone(),
            sandbox: self.sandbox.clone(),
            reproduce: ReproduceConfig::default(),
            sandbox_timeout: std::time::Duration::from_secs(90),
            allow_root: false,
            repos_dir: self.data.join("repos"),
            owner: self.owner.clone(),
            vendor: Default::default(),
        });
        Verify::new(VerifyParts {
            bench: std::sync::Arc::new(bench),
            config: Default::default(),
        })
    }
}

fn result_of(outcome: &StageOutcome) -> &StageResult {
    match outcome {
        StageOutcome::Completed { result, .. } | StageOutcome::Rejected { result, .. } => result,
    }
}

/// What one service came to.
struct Run {
    patch: Option<PatchResult>,
    verify: Option<VerifyResult>,
    rejected: Option<String>,
    seconds: f64,
}

/// Reproduce (real), constructed minimize/localize, patch, verify.
async fn run_service(
    bench: &Bench,
    id: i64,
    name: &str,
    tmp: &Path,
    push_to: Option<&Path>,
) -> (Run, GitRepo, String) {
    let started = Instant::now();
    let (repo, commit) = make_repo(name, tmp);
    let mut services = BTreeMap::new();
    services.insert(name.to_string(), service_config(name, &repo.dir, push_to));
    let env = envelope_of(name, &commit);
    let mut previous = StageResults::default();
    let outcome = {
        let ctx = bench.ctx(id, &env, &previous);
        bench
            .reproduce_stage(&services)
            .run(&ctx)
            .await
            .expect("reproduce runs")
    };
    let StageOutcome::Completed { result, .. } = outcome else {
        panic!("{name}: not reproduced: {outcome:?}");
    };
    previous.insert(result);
    previous.insert(StageResult::Minimize(Box::new(minimize_result(name, &env))));
    previous.insert(StageResult::Localize(Box::new(localize_result(name))));
    let mut run = Run {
        patch: None,
        verify: None,
        rejected: None,
        seconds: 0.0,
    };
    let outcome = {
        let ctx = bench.ctx(id, &env, &previous);
        bench
            .patch_stage(&services, PolicyConfig::default())
            .run(&ctx)
            .await
            .expect("patch runs")
    };
    if let StageResult::Patch(p) = result_of(&outcome) {
        run.patch = Some(p.as_ref().clone());
    }
    if let StageOutcome::Rejected { reason, .. } = &outcome {
        run.rejected = Some(reason.clone());
        run.seconds = started.elapsed().as_secs_f64();
        return (run, repo, commit);
    }
    previous.insert(result_of(&outcome).clone());
    let outcome = {
        let ctx = bench.ctx(id, &env, &previous);
        bench
            .verify_stage(&services)
            .run(&ctx)
            .await
            .expect("verify runs")
    };
    if let StageResult::Verify(v) = result_of(&outcome) {
        run.verify = Some(v.as_ref().clone());
    }
    if let StageOutcome::Rejected { reason, .. } = &outcome {
        run.rejected = Some(reason.clone());
    }
    run.seconds = started.elapsed().as_secs_f64();
    (run, repo, commit)
}

/// Removes the images the stages built (they carry the engine's owner label).
fn remove_owned_images(owner: &str) {
    let out = std::process::Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label={}={owner}", repair::sandbox::LABEL_OWNER))
        .output()
        .expect("docker images");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&ids)
            .output();
    }
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buggy_services_are_patched_verified_and_branched() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let _cleanup = Cleanup::new(tmp.path());
    for (id, name) in [(41, "wsgi-metrics"), (42, "wsgi-inventory")] {
        let remote = tmp.path().join(format!("{name}-remote.git"));
        git_out(
            tmp.path(),
            &["init", "-q", "--bare", remote.to_str().expect("utf8")],
        );
        let (run, repo, commit) = run_service(&bench, id, name, tmp.path(), Some(&remote)).await;
        let verify = run
            .verify
            .unwrap_or_else(|| panic!("{name}: no verify result: {:?}", run.rejected));
        assert_eq!(
            verify.verdict,
            VerifyVerdict::Fixed,
            "{name}: {:#?}",
            verify
        );
        let placebo = verify.placebo.as_ref().expect("placebo ran");
        assert!(
            placebo.passed,
            "{name}: the test must fail on the original: {placebo:?}"
        );
        let diff = verify.differential.as_ref().expect("differential ran");
        assert!(diff.variants >= 100, "{name}: {diff:?}");
        let risk = verify.risk.as_ref().expect("risk");
        let coverage = risk
            .parts
            .iter()
            .find(|p| p.name == "coverage")
            .expect("coverage part");
        assert_eq!(
            coverage.value,
            Some(1.0),
            "{name}: the tests run every added line: {risk:?}"
        );
        let branch = verify.branch.as_ref().expect("branch");
        let name_ref = format!("tracemend/incident-{id}");
        assert_eq!(branch.name, name_ref);
        assert_eq!(branch.pushed_to.as_deref(), remote.to_str());
        // Two commits on the envelope's commit, in the local repository and the remote.
        let log = git_out(
            &repo.dir,
            &["log", "--format=%H %P", &format!("{commit}..{name_ref}")],
        );
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert_eq!(
            lines[0],
            format!("{} {}", branch.fix_commit, branch.test_commit)
        );
        assert_eq!(lines[1], format!("{} {commit}", branch.test_commit));
        assert_eq!(
            git_out(&remote, &["rev-parse", &name_ref]).trim(),
            branch.fix_commit
        );
        for sha in [&branch.test_commit, &branch.fix_commit] {
            let message = git_out(&repo.dir, &["log", "-1", "--format=%B", sha]);
            assert!(
                message.contains("Trace-Id: ")
                    && message.contains(&format!("Fingerprint: {}", fingerprint(name))),
                "{message}"
            );
            assert!(message.contains("INVARIANT: "), "{message}");
        }
        let fix_message = git_out(&repo.dir, &["log", "-1", "--format=%B", &branch.fix_commit]);
        assert!(
            fix_message.contains("- differential: passed"),
            "{fix_message}"
        );
        // The first commit adds only the test; the second changes only application code.
        let test_files = git_out(
            &repo.dir,
            &["diff", "--name-only", &commit, &branch.test_commit],
        );
        assert!(
            test_files
                .trim()
                .ends_with(&format!("test_tracemend_incident_{id}.py")),
            "{test_files}"
        );
        let fix_files = git_out(
            &repo.dir,
            &[
                "diff",
                "--name-only",
                &branch.test_commit,
                &branch.fix_commit,
            ],
        );
        assert_eq!(
            fix_files.trim(),
            truth(name)["fault"]["file"].as_str().expect("file")
        );
        // The bundle and the audit manifest are the incident's artifacts.
        let dir = tmp.path().join("data/artifacts").join(id.to_string());
        let bundle: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("bundle.json")).expect("bundle.json"),
        )
        .expect("json");
        assert_eq!(bundle["branch"]["fix_commit"], json!(branch.fix_commit));
        assert_eq!(bundle["proof_chain"].as_array().map(Vec::len), Some(6));
        assert!(
            bundle["rollback"]
                .as_str()
                .is_some_and(|r| r.contains("git revert"))
        );
        let md = std::fs::read_to_string(dir.join("bundle.md")).expect("bundle.md");
        assert!(
            md.contains("### Proof chain") && md.contains("```diff"),
            "{md}"
        );
        let audit: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("model-audit.json")).expect("audit"),
        )
        .expect("json");
        assert_eq!(audit["fields_shown"], json!([]));
        remove_images_of(&commit);
    }
    remove_owned_images(&bench.owner);
    assert!(
        containers_of(&bench.owner).is_empty(),
        "containers left behind"
    );
}

/// A regression test that passes on the original code proves nothing: when the
/// "minimized" input does not fail, verify ends `no_fix` at the placebo check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_passes_on_the_original_is_refused_as_a_placebo() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let _cleanup = Cleanup::new(tmp.path());
    let name = "wsgi-metrics";
    let (repo, commit) = make_repo(name, tmp.path());
    let mut services = BTreeMap::new();
    services.insert(name.to_string(), service_config(name, &repo.dir, None));
    let env = envelope_of(name, &commit);
    let mut previous = StageResults::default();
    let outcome = bench
        .reproduce_stage(&services)
        .run(&bench.ctx(7, &env, &previous))
        .await
        .expect("reproduce");
    previous.insert(result_of(&outcome).clone());
    // The minimized input is a window the parser accepts: it does not fail.
    let mut minimize = minimize_result(name, &env);
    minimize
        .minimized
        .request
        .query
        .insert("window".into(), envelope::QueryValue::One("600".into()));
    previous.insert(StageResult::Minimize(Box::new(minimize)));
    previous.insert(StageResult::Localize(Box::new(localize_result(name))));
    let outcome = bench
        .patch_stage(&services, PolicyConfig::default())
        .run(&bench.ctx(7, &env, &previous))
        .await
        .expect("patch");
    previous.insert(result_of(&outcome).clone());
    let outcome = bench
        .verify_stage(&services)
        .run(&bench.ctx(7, &env, &previous))
        .await
        .expect("verify");
    let StageOutcome::Rejected { reason, result, .. } = outcome else {
        panic!("a placebo test must not verify: {outcome:?}");
    };
    assert!(
        reason.starts_with("no_fix: the regression test does not fail on the original commit"),
        "{reason}"
    );
    let StageResult::Verify(v) = result else {
        panic!("verify result")
    };
    assert_eq!(v.verdict, VerifyVerdict::NoFix);
    assert!(!v.placebo.as_ref().expect("placebo").passed);
    assert!(v.branch.is_none());
    assert!(
        git_out(&repo.dir, &["branch", "--list", "tracemend/*"])
            .trim()
            .is_empty()
    );
    remove_owned_images(&bench.owner);
}

/// A policy that allows fewer changed lines than any candidate needs refuses them all,
/// with its message recorded per candidate; verify then ends `no_fix` without running
/// anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals_are_recorded_and_end_in_no_fix() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let name = "wsgi-metrics";
    let (repo, commit) = make_repo(name, tmp.path());
    let mut services = BTreeMap::new();
    services.insert(name.to_string(), service_config(name, &repo.dir, None));
    let env = envelope_of(name, &commit);
    let own = tmp.path().join("no-app.rego");
    std::fs::write(
        &own,
        "package tracemend.patch\nimport rego.v1\ndeny contains \"app.py is owned by the metrics team\" if {\n  some f in input.files\n  f.path == \"app.py\"\n}\n",
    )
    .expect("write policy");
    let policy = PolicyConfig {
        files: vec![own],
        ..PolicyConfig::default()
    };
    // The reproduce stage's result as it would be (commit and the observed exception).
    let mut reproduce = repair::reproduce::ReproduceResult::new(name, &env.symptom.exception);
    reproduce.commit = Some(commit.clone());
    reproduce.verdict = repair::reproduce::Verdict::Reproduced;
    let mut previous = StageResults::default();
    previous.insert(StageResult::Reproduce(Box::new(reproduce)));
    previous.insert(StageResult::Minimize(Box::new(minimize_result(name, &env))));
    previous.insert(StageResult::Localize(Box::new(localize_result(name))));
    let outcome = bench
        .patch_stage(&services, policy)
        .run(&bench.ctx(9, &env, &previous))
        .await
        .expect("patch");
    let StageOutcome::Rejected { reason, result, .. } = &outcome else {
        panic!("every candidate touches app.py: {outcome:?}");
    };
    assert!(
        reason.starts_with("no_fix: the policy refused every candidate"),
        "{reason}"
    );
    assert!(
        reason.contains("app.py is owned by the metrics team"),
        "{reason}"
    );
    let StageResult::Patch(p) = result else {
        panic!("patch result")
    };
    assert!(!p.candidates.is_empty());
    for c in &p.candidates {
        assert!(!c.policy.allowed);
        assert_eq!(
            c.policy.denials,
            vec!["app.py is owned by the metrics team"]
        );
    }
    previous.insert(result.clone());
    let outcome = bench
        .verify_stage(&services)
        .run(&bench.ctx(9, &env, &previous))
        .await
        .expect("verify");
    let StageOutcome::Rejected { reason, result, .. } = outcome else {
        panic!("no_fix")
    };
    assert_eq!(reason, "no_fix: the policy refused every candidate");
    let StageResult::Verify(v) = result else {
        panic!("verify result")
    };
    assert!(v.candidates.iter().all(
        |c| matches!(&c.outcome, CandidateOutcome::PolicyRefused { denials } if denials.len() == 1)
    ));
    assert!(v.placebo.is_none(), "nothing runs for refused candidates");
}

/// The fix rate over every buggy service with templates alone (issue 24's measure).
/// Long (it builds every service's image); run with `--ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds every buggy service; run explicitly to measure the fix rate"]
async fn fix_rate_over_the_buggy_services() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let _cleanup = Cleanup::new(tmp.path());
    let mut names = names();
    if let Ok(only) = std::env::var("TRACEMEND_FIX_RATE_ONLY") {
        names.retain(|n| only.split(',').any(|o| o == n));
    }
    let mut fixed = 0;
    let mut table = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (run, _repo, commit) =
            run_service(&bench, 100 + i as i64, name, tmp.path(), None).await;
        let verdict = run.verify.as_ref().map(|v| v.verdict);
        let winner = run.verify.as_ref().and_then(|v| v.winner).and_then(|w| {
            run.patch
                .as_ref()
                .and_then(|p| p.candidates.iter().find(|c| c.id == w))
                .map(|c| format!("{} in {}", c.template, c.fix.path))
        });
        if verdict == Some(VerifyVerdict::Fixed) {
            fixed += 1;
        }
        let outcomes = run.verify.as_ref().map(|v| {
            v.candidates
                .iter()
                .map(|c| {
                    format!(
                        "#{} {}: {}",
                        c.id,
                        c.template,
                        repair::verify::outcome_words(&c.outcome)
                    )
                })
                .collect::<Vec<_>>()
                .join(" | ")
        });
        table.push(format!(
            "| {name} | {} | {} | {:.0} s | {} |",
            if verdict == Some(VerifyVerdict::Fixed) {
                "fixed"
            } else {
                "no fix"
            },
            winner.unwrap_or_else(|| "—".into()),
            run.seconds,
            outcomes
                .or(run.rejected)
                .unwrap_or_default()
                .replace('\n', " ")
                .chars()
                .take(400)
                .collect::<String>()
        ));
        let _ = commit;
    }
    remove_owned_images(&bench.owner);
    println!(
        "| service | result | winning candidate | envelope to branch | candidates |\n| --- | --- | --- | --- | --- |\n{}",
        table.join("\n")
    );
    println!("fix rate: {fixed}/{} ", names.len());
    assert!(!names.is_empty());
}

/// A local server speaking the chat-completions protocol, answering `content`; it
/// counts the requests it got.
async fn chat_server(content: String) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |axum::Json(body): axum::Json<Value>| {
            let content = content.clone();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                axum::Json(json!({
                    "id": "c-1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 800, "completion_tokens": 60, "total_tokens": 860},
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1/chat/completions"), hits)
}

/// The model patcher's candidate goes through the same policy and verification as a
/// template's: here the model (a local chat-completions server) answers with the
/// reference fix of `wsgi-inventory`, templates are left out, and the fix is verified and
/// branched; the audit manifest lists what the model was shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_candidate_is_verified_like_a_template() {
    ensure_base_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let _cleanup = Cleanup::new(tmp.path());
    let name = "wsgi-inventory";
    let reference = std::fs::read_to_string(services_dir().join("fixes/wsgi-inventory.diff"))
        .expect("reference fix");
    // As a model would write it: the unified diff in a fenced block, git's preamble gone.
    let diff: String = reference
        .lines()
        .skip_while(|l| !l.starts_with("--- "))
        .map(|l| format!("{l}\n"))
        .collect();
    let (endpoint, hits) = chat_server(format!("The fix:\n```diff\n{diff}```\n")).await;
    let key_env = "PATH"; // any set variable: the test server ignores the key
    let (repo, commit) = make_repo(name, tmp.path());
    let mut services = BTreeMap::new();
    services.insert(name.to_string(), service_config(name, &repo.dir, None));
    let env = envelope_of(name, &commit);
    let mut previous = StageResults::default();
    let outcome = bench
        .reproduce_stage(&services)
        .run(&bench.ctx(5, &env, &previous))
        .await
        .expect("reproduce");
    previous.insert(result_of(&outcome).clone());
    previous.insert(StageResult::Minimize(Box::new(minimize_result(name, &env))));
    previous.insert(StageResult::Localize(Box::new(localize_result(name))));
    let config = PatchConfig {
        // No template candidates: only the model's.
        max_candidates: 0,
        model: Some(repair::patch::model::ModelConfig {
            endpoint,
            model: "local-test".into(),
            api_key_env: key_env.into(),
            timeout: std::time::Duration::from_secs(30),
            max_tokens: 512,
        }),
        ..PatchConfig::default()
    };
    let patch = Patch::new(
        services.clone(),
        tmp.path().join("data/repos"),
        config,
        PolicyGate::new(&PolicyConfig::default()).expect("policy"),
    );
    let outcome = patch
        .run(&bench.ctx(5, &env, &previous))
        .await
        .expect("patch");
    let StageResult::Patch(p) = result_of(&outcome) else {
        panic!("patch result: {outcome:?}")
    };
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(p.candidates.len(), 1, "{p:#?}");
    assert_eq!(p.candidates[0].origin, repair::patch::Origin::Model);
    let model = p.model.as_ref().expect("model use");
    assert_eq!(model.tokens, Some(860));
    assert!(
        model
            .fields_shown
            .iter()
            .any(|f| f.contains("message_redacted"))
    );
    previous.insert(result_of(&outcome).clone());
    let outcome = bench
        .verify_stage(&services)
        .run(&bench.ctx(5, &env, &previous))
        .await
        .expect("verify");
    let StageResult::Verify(v) = result_of(&outcome) else {
        panic!("verify result")
    };
    assert_eq!(v.verdict, VerifyVerdict::Fixed, "{v:#?}");
    let dir = tmp.path().join("data/artifacts/5");
    let audit: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model-audit.json")).expect("audit"),
    )
    .expect("json");
    assert_eq!(audit["model_patcher"], "on");
    assert_eq!(audit["fields_shown"], json!(model.fields_shown));
    let sent: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model-request.json")).expect("request"),
    )
    .expect("json");
    assert_eq!(sent["model"], "local-test");
    remove_owned_images(&bench.owner);
}

/// Nothing to point a template at (no in-app frame with a file and line): `no_fix` with
/// the reason, not a failed job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_without_in_app_frames_ends_no_fix() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bench = Bench::new(tmp.path());
    let name = "wsgi-metrics";
    let (repo, commit) = make_repo(name, tmp.path());
    let mut services = BTreeMap::new();
    services.insert(name.to_string(), service_config(name, &repo.dir, None));
    let mut env = envelope_of(name, &commit);
    for f in &mut env.symptom.exception.frames {
        f.in_app = false;
    }
    let mut reproduce = repair::reproduce::ReproduceResult::new(name, &env.symptom.exception);
    reproduce.commit = Some(commit.clone());
    let mut previous = StageResults::default();
    previous.insert(StageResult::Reproduce(Box::new(reproduce)));
    let outcome = bench
        .patch_stage(&services, PolicyConfig::default())
        .run(&bench.ctx(11, &env, &previous))
        .await
        .expect("patch runs");
    let StageOutcome::Rejected { reason, .. } = outcome else {
        panic!("no_fix expected: {outcome:?}")
    };
    assert_eq!(
        reason,
        "no_fix: the envelope has no in-app frame with a file and line to patch"
    );
}
