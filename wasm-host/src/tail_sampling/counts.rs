//! The processor's metrics: decisions by policy and outcome, early decisions,
//! late spans, and the held gauges (this buffer's share of them).

use super::buffer::State;
use super::metrics::{DecisionLabels, EarlyLabels, LateLabels, outcome};
use super::{Inner, lock};

impl Inner {
    pub(super) fn count_decided(&self, policy: &str, sampled: bool) {
        let mut decided = lock(&self.handles.decided);
        if let Some(c) = decided
            .get(policy)
            .and_then(|c| c[usize::from(sampled)].as_ref())
        {
            c.inc();
            return;
        }
        let c = self
            .metrics
            .decided
            .get_or_create(&DecisionLabels {
                processor: self.labels.processor.clone(),
                policy: policy.to_owned(),
                outcome: outcome(sampled).to_owned(),
            })
            .clone();
        c.inc();
        decided.entry(policy.to_owned()).or_default()[usize::from(sampled)] = Some(c);
    }

    pub(super) fn count_early(&self, cause: &str) {
        self.metrics
            .early
            .get_or_create(&EarlyLabels {
                processor: self.labels.processor.clone(),
                cause: cause.to_owned(),
            })
            .inc();
    }

    pub(super) fn count_late(&self, sampled: bool, spans: u64) {
        self.metrics
            .late_spans
            .get_or_create(&LateLabels {
                processor: self.labels.processor.clone(),
                outcome: outcome(sampled).to_owned(),
            })
            .inc_by(spans);
    }

    /// Moves the held gauges by what this buffer's holdings changed since
    /// it last published: the same processor id in two pipelines is two
    /// buffers under one label, and the gauges show their sum.
    pub(super) fn publish(&self, st: &mut State) {
        let now = [st.traces() as u64, st.spans, st.bytes()].map(gauge);
        let before = std::mem::replace(&mut st.published, now);
        let l = &self.labels;
        let m = &self.metrics;
        for (i, family) in [&m.traces_held, &m.spans_held, &m.bytes_held]
            .into_iter()
            .enumerate()
        {
            let delta = now[i] - before[i];
            if delta != 0 {
                family.get_or_create(l).inc_by(delta);
            }
        }
    }
}

impl Drop for Inner {
    /// Takes this buffer's share out of the held gauges (zero after a
    /// shutdown, not after an abandoned buffer).
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let l = &self.labels;
        let m = &self.metrics;
        for (i, family) in [&m.traces_held, &m.spans_held, &m.bytes_held]
            .into_iter()
            .enumerate()
        {
            if st.published[i] != 0 {
                family.get_or_create(l).dec_by(st.published[i]);
            }
        }
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
