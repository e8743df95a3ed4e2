//! The pipeline with scripted stages and a switchable dependency (no Docker needed):
//! order, resume, rejection, failure, panics, dependency waits, and result types.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::*;
use crate::dependency::Dependency;
use crate::sandbox::BoxFuture;
use crate::stage::tests_support::TestResult;
use crate::stage::{StageFuture, StageResult};
use crate::status::JobStatus;

/// A dependency a test switches on and off.
struct Switch {
    up: AtomicBool,
}

impl Dependency for Switch {
    fn name(&self) -> &'static str {
        "switch"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let up = self.up.load(Ordering::SeqCst);
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err("the switch is off".to_string())
            }
        })
    }
}

/// What a scripted stage does on its next run.
enum Step {
    Complete,
    /// Completes with a result claiming to be another stage's.
    CompleteAs(&'static str),
    Reject(&'static str),
    Fail(&'static str),
    Unavailable(&'static str),
}

/// A stage that answers from a script and counts its runs.
struct Scripted {
    name: &'static str,
    script: std::sync::Mutex<Vec<Step>>,
    runs: AtomicUsize,
    dependencies: Vec<Arc<dyn Dependency>>,
}

impl Scripted {
    fn new(name: &'static str, script: Vec<Step>) -> Arc<Self> {
        Self::with_dependencies(name, script, Vec::new())
    }

    fn with_dependencies(
        name: &'static str,
        script: Vec<Step>,
        dependencies: Vec<Arc<dyn Dependency>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            script: std::sync::Mutex::new(script),
            runs: AtomicUsize::new(0),
            dependencies,
        })
    }
}

impl Stage for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        &self.dependencies
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let result = |stage: &str| {
            StageResult::Test(TestResult {
                stage: stage.to_string(),
                seen: ctx.previous.stages().map(str::to_string).collect(),
            })
        };
        let step = self.script.lock().map(|mut s| s.remove(0));
        let outcome = match step {
            Ok(Step::Complete) => Ok(StageOutcome::Completed {
                result: result(self.name),
                artifacts: vec!["a.txt".into()],
            }),
            Ok(Step::CompleteAs(other)) => Ok(StageOutcome::Completed {
                result: result(other),
                artifacts: vec![],
            }),
            Ok(Step::Reject(reason)) => Ok(StageOutcome::Rejected {
                reason: reason.to_string(),
                result: result(self.name),
                artifacts: vec![],
            }),
            Ok(Step::Fail(error)) => Err(StageError::Failed {
                error: error.to_string(),
                result: Some(result(self.name)),
                artifacts: vec![],
            }),
            Ok(Step::Unavailable(reason)) => Err(StageError::Unavailable {
                dependency: "switch",
                reason: reason.to_string(),
            }),
            Err(_) => Err(StageError::Unavailable {
                dependency: "switch",
                reason: "poisoned".into(),
            }),
        };
        Box::pin(async move { outcome })
    }
}

fn pipeline(store: &Store, stages: Vec<Arc<dyn Stage>>) -> Pipeline {
    Pipeline {
        store: store.clone(),
        stages,
        health: Arc::new(Health::default()),
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
        },
        artifacts_root: PathBuf::from("/nonexistent"),
        notify: Arc::new(Notify::new()),
    }
}

fn accept(store: &Store, id: &str) -> i64 {
    let mut v: Value = serde_json::from_str(include_str!(
        "../../../config/examples/envelopes/minimal.json"
    ))
    .expect("json");
    v["envelope_id"] = json!(id);
    v["symptom"]["fingerprint"] = json!(format!("{:0>16}", id.len()));
    let env = envelope::from_value(v).expect("valid");
    store.accept(&env).expect("accept").incident_id
}

fn queue(store: &Store, id: &str) -> Job {
    accept(store, id);
    store.claim_next().expect("claim").expect("job")
}

fn seen(view: &crate::store::IncidentView, stage: usize) -> Vec<String> {
    match &view.stages[stage].result {
        Some(StageResult::Test(t)) => t.seen.clone(),
        other => panic!("expected a test result, got {other:?}"),
    }
}

#[tokio::test]
async fn stages_run_in_order_and_the_job_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db")).expect("open");
    let first = Scripted::new("first", vec![Step::Complete]);
    let second = Scripted::new("second", vec![Step::Complete]);
    let p = pipeline(&store, vec![first.clone(), second.clone()]);
    let job = queue(&store, "env-order-0001");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Succeeded);
    assert_eq!(view.stages.len(), 2);
    assert_eq!(view.stages[1].status, StageStatus::Completed);
    assert_eq!(
        seen(&view, 1),
        vec!["first"],
        "typed results reach later stages"
    );
}

#[tokio::test]
async fn a_resumed_job_skips_completed_stages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db")).expect("open");
    let first = Scripted::new("first", vec![Step::Complete]);
    let second = Scripted::new(
        "second",
        vec![Step::Unavailable("switch went off"), Step::Complete],
    );
    let p = pipeline(&store, vec![first.clone(), second.clone()]);
    let job = queue(&store, "env-resume-001");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Waiting);
    assert_eq!(view.reason.as_deref(), Some("switch went off"));
    assert_eq!(p.health.dependency("switch").reachable, Some(false));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let job = store.claim_next().expect("claim").expect("due again");
    p.process(job.clone()).await;
    assert_eq!(
        first.runs.load(Ordering::SeqCst),
        1,
        "completed stage not rerun"
    );
    assert_eq!(second.runs.load(Ordering::SeqCst), 2);
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Succeeded);
    // The first stage's result was read back from the store into its type.
    assert_eq!(seen(&view, 1), vec!["first"]);
}

#[tokio::test]
async fn a_waiting_stage_runs_again_only_when_its_dependencies_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db")).expect("open");
    let switch = Arc::new(Switch {
        up: AtomicBool::new(false),
    });
    let first = Scripted::new("first", vec![Step::Complete]);
    let needs = Scripted::with_dependencies(
        "second",
        vec![Step::Unavailable("the switch went off"), Step::Complete],
        vec![switch.clone() as Arc<dyn Dependency>],
    );
    let p = pipeline(&store, vec![first.clone(), needs.clone()]);
    let job = queue(&store, "env-depends-01");
    // The first run is not held back; the stage finds its dependency down.
    p.process(job.clone()).await;
    assert_eq!(needs.runs.load(Ordering::SeqCst), 1);
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Waiting);
    assert_eq!(view.reason.as_deref(), Some("the switch went off"));

    // Still down: the runner's check keeps the job waiting, the stage is not rerun.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let job = store.claim_next().expect("claim").expect("due again");
    p.process(job.clone()).await;
    assert_eq!(needs.runs.load(Ordering::SeqCst), 1, "not rerun while down");
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Waiting);
    assert_eq!(view.attempts, 2);
    assert_eq!(view.reason.as_deref(), Some("the switch is off"));
    assert_eq!(
        view.stages.len(),
        1,
        "no row for a stage that did not start"
    );
    let health = p.health.dependency("switch");
    assert_eq!(
        (health.reachable, health.error.as_deref()),
        (Some(false), Some("the switch is off"))
    );

    switch.up.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let job = store.claim_next().expect("claim").expect("due again");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Succeeded);
    assert_eq!(view.reason, None);
    assert_eq!(needs.runs.load(Ordering::SeqCst), 2);
    assert_eq!(first.runs.load(Ordering::SeqCst), 1);
    assert_eq!(p.health.dependency("switch").reachable, Some(true));
}

#[tokio::test]
async fn rejected_and_failed_end_the_job_with_their_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db")).expect("open");
    let never = Scripted::new("never", vec![]);
    let probe = Scripted::new(
        "probe",
        vec![
            Step::Reject("not_reproduced: x"),
            Step::Fail("sandbox_error: boom"),
            Step::CompleteAs("other"),
        ],
    );
    let p = pipeline(&store, vec![probe.clone(), never.clone()]);
    let job = queue(&store, "env-reject-01");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(
        (view.status, view.reason.as_deref()),
        (JobStatus::Rejected, Some("not_reproduced: x"))
    );
    assert_eq!(view.stages[0].status, StageStatus::Completed);
    let job = queue(&store, "env-failed-0001");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Failed);
    assert_eq!(view.failed_stage.as_deref(), Some("probe"));
    assert_eq!(view.reason.as_deref(), Some("sandbox_error: boom"));
    assert_eq!(view.stages[0].status, StageStatus::Failed);
    assert!(
        view.stages[0].result.is_some(),
        "a failed stage's result is kept"
    );
    // A stage returning another stage's result type is a defect the job names.
    let job = queue(&store, "env-wrong-type-01");
    p.process(job.clone()).await;
    let view = store
        .incident(job.incident_id)
        .expect("get")
        .expect("exists");
    assert_eq!(view.status, JobStatus::Failed);
    assert_eq!(
        view.reason.as_deref(),
        Some("stage probe returned a result of stage other")
    );
    assert_eq!(never.runs.load(Ordering::SeqCst), 0);
}

struct Panicking;

impl Stage for Panicking {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        &[]
    }

    fn run<'a>(&'a self, _ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(async { panic!("boom") })
    }
}

#[tokio::test]
async fn a_panicking_stage_fails_its_job_not_the_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db")).expect("open");
    let p = Arc::new(pipeline(&store, vec![Arc::new(Panicking)]));
    let id = accept(&store, "env-panic-0001");
    let worker = tokio::spawn(p.clone().worker(0));
    let mut view = None;
    for _ in 0..200 {
        let v = store.incident(id).expect("get").expect("exists");
        if v.status == JobStatus::Failed {
            view = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let view = view.expect("job failed");
    assert_eq!(view.failed_stage.as_deref(), Some("probe"));
    assert_eq!(view.reason.as_deref(), Some("the stage panicked"));
    assert_eq!(view.stages[0].status, StageStatus::Failed);
    assert!(!worker.is_finished(), "the worker survives");
    worker.abort();
}

#[test]
fn backoff_doubles_up_to_max() {
    let b = Backoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(60),
    };
    assert_eq!(b.delay(0), Duration::from_secs(2));
    assert_eq!(b.delay(1), Duration::from_secs(4));
    assert_eq!(b.delay(4), Duration::from_secs(32));
    assert_eq!(b.delay(5), Duration::from_secs(60));
    assert_eq!(b.delay(1000), Duration::from_secs(60));
}
