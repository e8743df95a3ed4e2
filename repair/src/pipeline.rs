//! The worker pool: claims due jobs from the store and runs the stages in order, skipping
//! stages whose result is already stored (a restarted job resumes where it stopped).
//! Every job ends `succeeded`, `rejected(reason)` or `failed(stage, error)` in the store,
//! or waits (`waiting`, retried with exponential backoff) while a dependency is down.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tracing::{error, info, warn};

use crate::health::Health;
use crate::stage::{Stage, StageContext, StageError, StageOutcome};
use crate::store::{Job, JobEnd, Store, StoreError, now_ms};

/// Retry delays for jobs waiting on a dependency.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt number `attempts + 1`: doubles from `initial` up to `max`.
    pub fn delay(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 16) as u32);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

pub struct Pipeline {
    pub store: Store,
    pub stages: Vec<Arc<dyn Stage>>,
    pub health: Arc<Health>,
    pub backoff: Backoff,
    pub artifacts_root: PathBuf,
    /// Woken by intake when a job is queued.
    pub notify: Arc<Notify>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or(Err(StoreError::Poisoned))
}

impl Pipeline {
    /// Runs one worker until the task is dropped.
    pub async fn worker(self: Arc<Self>, worker: usize) {
        loop {
            let store = self.store.clone();
            match blocking(move || store.claim_next()).await {
                Ok(Some(job)) => {
                    let id = job.incident_id;
                    // A panicking stage ends its job `failed`, never the worker.
                    if AssertUnwindSafe(self.process(job))
                        .catch_unwind()
                        .await
                        .is_err()
                    {
                        error!(worker, incident = id, "A stage panicked.");
                        let store = self.store.clone();
                        let r =
                            blocking(move || store.fail_running_stage(id, "the stage panicked"))
                                .await;
                        if let Err(e) = r {
                            error!(incident = id, error = %e, "Cannot record the panic.");
                        }
                    }
                }
                Ok(None) => self.idle().await,
                Err(e) => {
                    error!(worker, error = %e, "Cannot claim a job from the store.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Sleeps until woken by intake or until the next waiting job is due (at most 1 s).
    async fn idle(&self) {
        let store = self.store.clone();
        let due = blocking(move || store.next_due_ms()).await.ok().flatten();
        let wait = due
            .map(|ms| Duration::from_millis((ms - now_ms()).clamp(10, 1000) as u64))
            .unwrap_or(Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, self.notify.notified()).await;
    }

    async fn process(&self, job: Job) {
        let id = job.incident_id;
        info!(incident = id, service = %job.envelope.identity.service.name, "Working on incident.");
        let mut previous = BTreeMap::new();
        for (seq, stage) in self.stages.iter().enumerate() {
            let name = stage.name();
            let store = self.store.clone();
            match blocking(move || store.completed_stage(id, name)).await {
                Ok(Some(result)) => {
                    previous.insert(name.to_string(), result);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return self.store_failed(id, name, e),
            }
            let store = self.store.clone();
            if let Err(e) = blocking(move || store.stage_started(id, name, seq)).await {
                return self.store_failed(id, name, e);
            }
            let ctx = StageContext {
                incident_id: id,
                envelope: &job.envelope,
                previous: &previous,
                artifacts_dir: self.artifacts_root.join(id.to_string()),
            };
            let outcome = stage.run(&ctx).await;
            let store = self.store.clone();
            match outcome {
                Ok(StageOutcome::Completed { result, artifacts }) => {
                    info!(incident = id, stage = name, "Stage completed.");
                    self.health.sandbox_up();
                    previous.insert(name.to_string(), result.clone());
                    let r = blocking(move || {
                        store.stage_finished(id, name, "completed", &result, &artifacts)
                    })
                    .await;
                    if let Err(e) = r {
                        return self.store_failed(id, name, e);
                    }
                }
                Ok(StageOutcome::Rejected {
                    reason,
                    result,
                    artifacts,
                }) => {
                    info!(incident = id, stage = name, reason = %reason, "Incident rejected.");
                    self.health.sandbox_up();
                    let end = JobEnd::Rejected { reason };
                    let r = blocking(move || {
                        store.stage_finished(id, name, "completed", &result, &artifacts)?;
                        store.finish(id, &end)
                    })
                    .await;
                    if let Err(e) = r {
                        self.store_failed(id, name, e);
                    }
                    return;
                }
                Err(StageError::Unavailable(reason)) => {
                    let delay = self.backoff.delay(job.attempts);
                    warn!(incident = id, stage = name, reason = %reason, retry_in = ?delay, "Dependency unavailable; the job waits.");
                    self.health.sandbox_down(&reason);
                    let r = blocking(move || {
                        store.stage_abandoned(id, name)?;
                        store.wait(id, &reason, delay)
                    })
                    .await;
                    if let Err(e) = r {
                        self.store_failed(id, name, e);
                    }
                    return;
                }
                Err(StageError::Failed {
                    error,
                    result,
                    artifacts,
                }) => {
                    warn!(incident = id, stage = name, error = %error, "Stage failed.");
                    let end = JobEnd::Failed {
                        stage: name.to_string(),
                        error,
                    };
                    let r = blocking(move || {
                        store.stage_finished(id, name, "failed", &result, &artifacts)?;
                        store.finish(id, &end)
                    })
                    .await;
                    if let Err(e) = r {
                        self.store_failed(id, name, e);
                    }
                    return;
                }
            }
        }
        let store = self.store.clone();
        match blocking(move || store.finish(id, &JobEnd::Succeeded)).await {
            Ok(()) => info!(incident = id, "Incident succeeded."),
            Err(e) => error!(incident = id, error = %e, "Cannot record success."),
        }
    }

    fn store_failed(&self, id: i64, stage: &str, e: StoreError) {
        error!(incident = id, stage, error = %e, "Store error while running a job; it resumes after a restart.");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::{Value, json};

    use super::*;
    use crate::stage::StageFuture;

    /// A stage that answers from a script of outcomes and counts its runs.
    struct Scripted {
        name: &'static str,
        script: std::sync::Mutex<Vec<Result<StageOutcome, StageError>>>,
        runs: AtomicUsize,
    }

    impl Scripted {
        fn new(name: &'static str, script: Vec<Result<StageOutcome, StageError>>) -> Arc<Self> {
            Arc::new(Self {
                name,
                script: std::sync::Mutex::new(script),
                runs: AtomicUsize::new(0),
            })
        }
    }

    impl Stage for Scripted {
        fn name(&self) -> &'static str {
            self.name
        }

        fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            let seen: Vec<String> = ctx.previous.keys().cloned().collect();
            let next = self
                .script
                .lock()
                .map(|mut s| s.remove(0))
                .unwrap_or_else(|_| Err(StageError::Unavailable("poisoned".into())));
            Box::pin(async move {
                next.map(|outcome| match outcome {
                    StageOutcome::Completed {
                        mut result,
                        artifacts,
                    } => {
                        result["seen"] = json!(seen);
                        StageOutcome::Completed { result, artifacts }
                    }
                    other => other,
                })
            })
        }
    }

    fn completed() -> Result<StageOutcome, StageError> {
        Ok(StageOutcome::Completed {
            result: json!({"ok": true}),
            artifacts: vec!["a.txt".into()],
        })
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

    fn queue(store: &Store, id: &str) -> Job {
        let mut v: Value =
            serde_json::from_str(include_str!("../../config/examples/envelopes/minimal.json"))
                .expect("json");
        v["envelope_id"] = json!(id);
        v["symptom"]["fingerprint"] = json!(format!("{:0>16}", id.len()));
        let raw = v.to_string();
        let env = envelope::parse(raw.as_bytes()).expect("valid");
        store.accept(&env, &raw).expect("accept");
        store.claim_next().expect("claim").expect("job")
    }

    #[tokio::test]
    async fn stages_run_in_order_and_the_job_succeeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let first = Scripted::new("reproduce", vec![completed()]);
        let second = Scripted::new("minimize", vec![completed()]);
        let p = pipeline(&store, vec![first.clone(), second.clone()]);
        let job = queue(&store, "env-order-0001");
        p.process(job.clone()).await;
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "succeeded");
        assert_eq!(view.stages.len(), 2);
        assert_eq!(
            view.stages[1].result.as_ref().map(|r| r["seen"].clone()),
            Some(json!(["reproduce"]))
        );
    }

    #[tokio::test]
    async fn a_resumed_job_skips_completed_stages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let first = Scripted::new("reproduce", vec![completed()]);
        let second = Scripted::new(
            "minimize",
            vec![
                Err(StageError::Unavailable("docker down".into())),
                completed(),
            ],
        );
        let p = pipeline(&store, vec![first.clone(), second.clone()]);
        let job = queue(&store, "env-resume-001");
        p.process(job.clone()).await;
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "waiting");
        assert_eq!(view.reason.as_deref(), Some("docker down"));
        assert_eq!(p.health.sandbox().reachable, Some(false));
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
        assert_eq!(view.status, "succeeded");
    }

    #[tokio::test]
    async fn rejected_and_failed_end_the_job_with_their_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        let never = Scripted::new("minimize", vec![]);
        let rejecting = Scripted::new(
            "reproduce",
            vec![
                Ok(StageOutcome::Rejected {
                    reason: "not_reproduced: x".into(),
                    result: json!({"verdict": "not_reproduced"}),
                    artifacts: vec![],
                }),
                Err(StageError::Failed {
                    error: "sandbox_error: boom".into(),
                    result: json!({"verdict": "sandbox_error"}),
                    artifacts: vec![],
                }),
            ],
        );
        let p = pipeline(&store, vec![rejecting.clone(), never.clone()]);
        let job = queue(&store, "env-reject-01");
        p.process(job.clone()).await;
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(
            (view.status.as_str(), view.reason.as_deref()),
            ("rejected", Some("not_reproduced: x"))
        );
        let job = queue(&store, "env-failed-0001");
        p.process(job.clone()).await;
        let view = store
            .incident(job.incident_id)
            .expect("get")
            .expect("exists");
        assert_eq!(view.status, "failed");
        assert_eq!(view.failed_stage.as_deref(), Some("reproduce"));
        assert_eq!(view.reason.as_deref(), Some("sandbox_error: boom"));
        assert_eq!(view.stages[0].status, "failed");
        assert_eq!(never.runs.load(Ordering::SeqCst), 0);
    }

    struct Panicking;

    impl Stage for Panicking {
        fn name(&self) -> &'static str {
            "reproduce"
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
        let mut v: Value =
            serde_json::from_str(include_str!("../../config/examples/envelopes/minimal.json"))
                .expect("json");
        v["envelope_id"] = json!("env-panic-0001");
        let raw = v.to_string();
        let env = envelope::parse(raw.as_bytes()).expect("valid");
        let accepted = store.accept(&env, &raw).expect("accept");
        let worker = tokio::spawn(p.clone().worker(0));
        let mut view = None;
        for _ in 0..200 {
            let v = store
                .incident(accepted.incident_id)
                .expect("get")
                .expect("exists");
            if v.status == "failed" {
                view = Some(v);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let view = view.expect("job failed");
        assert_eq!(view.failed_stage.as_deref(), Some("reproduce"));
        assert_eq!(view.reason.as_deref(), Some("the stage panicked"));
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
}
