//! The worker pool: claims due jobs from the store and runs the stages in order, skipping
//! stages whose result is already stored (a restarted job resumes where it stopped).
//! Every job ends `succeeded`, `rejected(reason)` or `failed(stage, error)` in the store,
//! or waits (`waiting`, retried with exponential backoff) while a dependency is down: a
//! stage that finds one down says so with [`StageError::Unavailable`], and before a
//! waiting job's stage runs again the dependencies the stage declares are checked (the
//! job keeps waiting, without rerunning the stage, while one is still down). Dependency
//! states go to [`Health`] as they are learned.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tracing::{error, info, warn};

use crate::health::Health;
use crate::stage::{Stage, StageContext, StageError, StageOutcome, StageResults};
use crate::status::StageStatus;
use crate::store::{Job, JobEnd, Store, StoreError, now_ms};

/// How long one dependency check may take before the dependency counts as down.
const DEPENDENCY_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A stage must return its own result type: another stage's would be stored under the
/// wrong name and could not be read back.
fn own_result(stage: &str, outcome: StageOutcome) -> Result<StageOutcome, StageError> {
    let (StageOutcome::Completed { result, .. } | StageOutcome::Rejected { result, .. }) = &outcome;
    if result.stage() == stage {
        Ok(outcome)
    } else {
        Err(StageError::Failed {
            error: format!(
                "stage {stage} returned a result of stage {}",
                result.stage()
            ),
            result: None,
            artifacts: Vec::new(),
        })
    }
}

/// Retry delays for jobs waiting on a dependency.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt number `attempts + 1`: doubles from `initial` up to `max`.
    pub fn delay(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 16) as u32);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// The stages, the store they report to, and what the workers share.
pub struct Pipeline {
    /// Where jobs are claimed and results stored.
    pub store: Store,
    /// The stages, in order.
    pub stages: Vec<Arc<dyn Stage>>,
    /// Dependency states, for `GET /healthz`.
    pub health: Arc<Health>,
    /// Retry delays of waiting jobs.
    pub backoff: Backoff,
    /// Per-incident artifact directories live under it.
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
        let mut previous = StageResults::default();
        let job_started = std::time::Instant::now();
        for (seq, stage) in self.stages.iter().enumerate() {
            let name = stage.name();
            let store = self.store.clone();
            match blocking(move || store.completed_stage(id, name)).await {
                Ok(Some(result)) => {
                    previous.insert(result);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return self.store_failed(id, name, e),
            }
            // A job that waited on a dependency runs its stage again only once what the
            // stage declares it needs answers, so no work (a fetch, a build) is redone
            // against an engine that is still down. The first run is not held back: a
            // stage may decide without its dependencies (an unknown service is rejected
            // whether Docker is up or not).
            if job.attempts > 0
                && let Err((dependency, reason)) = self.check_dependencies(stage.as_ref()).await
            {
                return self.wait(&job, name, dependency, reason, false).await;
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
            let stage_started = std::time::Instant::now();
            let outcome = stage.run(&ctx).await.and_then(|o| own_result(name, o));
            crate::metrics::stage_ran(
                name,
                &outcome,
                stage_started.elapsed(),
                job_started.elapsed(),
            );
            let store = self.store.clone();
            match outcome {
                Ok(StageOutcome::Completed { result, artifacts }) => {
                    info!(incident = id, stage = name, "Stage completed.");
                    previous.insert(result.clone());
                    let r = blocking(move || {
                        store.stage_finished(
                            id,
                            name,
                            StageStatus::Completed,
                            Some(&result),
                            &artifacts,
                        )
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
                    let end = JobEnd::Rejected { reason };
                    let r = blocking(move || {
                        store.stage_finished(
                            id,
                            name,
                            StageStatus::Completed,
                            Some(&result),
                            &artifacts,
                        )?;
                        store.finish(id, &end)
                    })
                    .await;
                    if let Err(e) = r {
                        self.store_failed(id, name, e);
                    }
                    return;
                }
                Err(StageError::Unavailable { dependency, reason }) => {
                    return self.wait(&job, name, dependency, reason, true).await;
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
                        store.stage_finished(
                            id,
                            name,
                            StageStatus::Failed,
                            result.as_ref(),
                            &artifacts,
                        )?;
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

    /// Checks a stage's dependencies in order; the first one down and why.
    async fn check_dependencies(&self, stage: &dyn Stage) -> Result<(), (&'static str, String)> {
        for dependency in stage.dependencies() {
            let name = dependency.name();
            let checked = tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, dependency.check())
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "{name} did not answer within {DEPENDENCY_CHECK_TIMEOUT:?}"
                    ))
                });
            match checked {
                Ok(()) => self.health.up(name),
                Err(reason) => return Err((name, reason)),
            }
        }
        Ok(())
    }

    /// Parks the job until the backoff delay has passed because `dependency` is down.
    async fn wait(
        &self,
        job: &Job,
        stage: &'static str,
        dependency: &'static str,
        reason: String,
        started: bool,
    ) {
        let id = job.incident_id;
        let delay = self.backoff.delay(job.attempts);
        warn!(incident = id, stage, dependency, reason = %reason, retry_in = ?delay, "Dependency unavailable; the job waits.");
        self.health.down(dependency, &reason);
        let store = self.store.clone();
        let r = blocking(move || {
            if started {
                store.stage_abandoned(id, stage)?;
            }
            store.wait(id, &reason, delay)
        })
        .await;
        if let Err(e) = r {
            self.store_failed(id, stage, e);
        }
    }

    fn store_failed(&self, id: i64, stage: &str, e: StoreError) {
        error!(incident = id, stage, error = %e, "Store error while running a job; it resumes after a restart.");
    }
}

#[cfg(test)]
mod tests;
