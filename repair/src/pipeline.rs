//! The worker pool: claims due jobs from the store and runs the stages in order, skipping
//! stages whose result is already stored (a restarted job resumes where it stopped).
//! Every job ends `succeeded`, `rejected(reason)` or `failed(stage, error)` in the store,
//! or waits (`waiting`, retried with exponential backoff) while a dependency is down.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
                Ok(Some(job)) => self.process(job).await,
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
    use super::*;

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
