//! Building the processor, its decision timer, shutdown and what it holds.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::wasm::metrics::ProcessorLabels;

use super::buffer::State;
use super::timer::Timer;
use super::{
    Handles, Inner, OttlPolicies, Sink, Stats, TailSampling, TailSamplingConfig, TailSamplingError,
    TailSamplingMetrics, TraceSampler, lock,
};

impl TailSampling {
    /// Builds the processor. `sampler` decides traces; kept spans go to `sink`.
    pub fn new(
        name: &str,
        config: TailSamplingConfig,
        sampler: Box<dyn TraceSampler>,
        metrics: TailSamplingMetrics,
        sink: Sink,
    ) -> Result<Self, TailSamplingError> {
        config.validate().map_err(TailSamplingError::Config)?;
        let ottl = OttlPolicies::compile(&config.policies).map_err(TailSamplingError::Config)?;
        let expected = usize::try_from(
            config
                .expected_new_traces_per_sec
                .saturating_mul(config.decision_wait.as_secs().max(1))
                .min(config.num_traces),
        )
        .unwrap_or(0);
        let cache = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let state = State::new(
            expected,
            cache(config.decision_cache.sampled_cache_size),
            cache(config.decision_cache.non_sampled_cache_size),
        );
        let labels = ProcessorLabels {
            processor: name.to_owned(),
        };
        Ok(TailSampling {
            inner: Arc::new(Inner {
                handles: Handles::new(&metrics, &labels),
                labels,
                config,
                sampler,
                ottl,
                sink,
                metrics,
                contexts: state.contexts.clone(),
                state: Mutex::new(state),
                idle: Condvar::new(),
                space: tokio::sync::Notify::new(),
                timer: Timer::default(),
            }),
        })
    }

    /// Starts the timer that decides traces when their `decision_wait` has
    /// passed. Needs a tokio runtime. Calling it again does nothing.
    pub fn start(&self) -> Result<(), TailSamplingError> {
        self.inner
            .timer
            .start(
                self.inner.config.decision_wait,
                &self.inner,
                |inner, now| TailSampling { inner }.tick_at(now),
            )
            .map_err(|_| TailSamplingError::NoRuntime)
    }

    /// Decides every trace whose first span came `decision_wait` or more
    /// before `now`. The timer calls this; tests call it with chosen times.
    pub fn tick_at(&self, now: Instant) {
        let inner = &self.inner;
        if let Some(due) = now.checked_sub(inner.config.decision_wait) {
            while inner.decide_some(Some(due), now) {}
        }
        inner.space.notify_waiters();
    }

    /// Stops the timer and decides every trace still held (or drops them,
    /// counted, with `drop_pending_traces_on_shutdown`). Later batches are
    /// refused. Safe to call twice.
    pub async fn shutdown(&self) {
        self.inner.timer.stop().await;
        self.shutdown_now(Instant::now());
    }

    /// The synchronous part of [`TailSampling::shutdown`], at `now`. Returns
    /// once every decision in progress elsewhere has been sent on too.
    pub fn shutdown_now(&self, now: Instant) {
        let inner = &self.inner;
        lock(&inner.state).stopped = true;
        if inner.config.drop_pending_traces_on_shutdown {
            let mut st = lock(&inner.state);
            while let Some((id, _held)) = st.pop_oldest(None) {
                inner.count_decided("(shutdown)", false);
                st.not_sampled.insert(id, ());
            }
            inner.publish(&mut st);
        } else {
            while inner.decide_some(None, now) {}
        }
        {
            let mut st = lock(&inner.state);
            while st.in_flight > 0 {
                st = inner.idle.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            inner.publish(&mut st);
        }
        inner.space.notify_waiters();
    }

    /// What the buffer holds now.
    pub fn stats(&self) -> Stats {
        let st = lock(&self.inner.state);
        Stats {
            traces_held: st.traces() as u64,
            spans_held: st.spans,
            bytes_held: st.bytes(),
            sampled_cached: st.sampled.len() as u64,
            not_sampled_cached: st.not_sampled.len() as u64,
        }
    }

    pub(super) fn full(&self) -> bool {
        let st = lock(&self.inner.state);
        st.traces() as u64 >= self.inner.config.num_traces
            || st.bytes() >= self.inner.config.max_buffered_bytes
    }
}
