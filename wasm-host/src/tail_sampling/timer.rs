//! The timer that lets held traces go: every tenth of the holding window
//! (10 ms to 1 s), a tick on a blocking thread, for as long as its owner
//! lives. The tail sampler (`decision_wait`) and the envelope holder
//! (`join_window`) hold traces in the same buffer and run one each.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, TryCurrentError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::lock;

/// An owner's timer: stopped until [`Timer::start`], stopped again by
/// [`Timer::stop`].
#[derive(Default)]
pub(crate) struct Timer(Mutex<Option<Running>>);

struct Running {
    task: JoinHandle<()>,
    stop: Arc<Notify>,
}

impl Timer {
    /// Calls `tick(owner, now)` every tenth of `window` until stopped or until
    /// the owner is dropped (the timer holds it weakly). Needs a tokio runtime.
    /// Starting a started timer does nothing.
    pub(crate) fn start<T: Send + Sync + 'static>(
        &self,
        window: Duration,
        owner: &Arc<T>,
        tick: fn(Arc<T>, Instant),
    ) -> Result<(), TryCurrentError> {
        let handle = Handle::try_current()?;
        let mut slot = lock(&self.0);
        if slot.is_some() {
            return Ok(());
        }
        // A tenth of the window keeps releases within ~10% of it late.
        let period = (window / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let weak: Weak<T> = Arc::downgrade(owner);
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let task = handle.spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.notified() => return,
                }
                let Some(owner) = weak.upgrade() else { return };
                // A tick's guest calls are milliseconds of CPU: on a blocking
                // thread, the async workers (receivers) keep running.
                let run = tokio::task::spawn_blocking(move || tick(owner, Instant::now()));
                if run.await.is_err() {
                    return;
                }
            }
        });
        *slot = Some(Running { task, stop });
        Ok(())
    }

    /// Stops the timer, letting a tick in progress finish rather than
    /// abandoning its thread. Stopping a stopped timer does nothing.
    pub(crate) async fn stop(&self) {
        let running = lock(&self.0).take();
        if let Some(r) = running {
            r.stop.notify_one();
            let _ = r.task.await;
        }
    }
}
