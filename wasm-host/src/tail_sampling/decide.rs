//! Deciding traces: taken out of the buffer under the lock (a few at a time),
//! judged by the sampler without it, the outcomes recorded under it again, and
//! the kept spans sent on.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use crate::wasm::sampler::SampleContext;

use super::buffer::{Held, Item, State};
use super::wire;
use super::{Inner, Released, TraceId, lock};

/// Traces taken out of the buffer per lock hold to be decided: small enough
/// that the first kept ones leave soon and the spans waiting beside them
/// stay few, large enough that the lock is not taken per trace.
const DECIDE_CHUNK: usize = 128;

/// Work gathered under the lock, done after it is released: kept spans to
/// send and traces to decide.
#[derive(Default)]
pub(super) struct Out {
    request: Vec<u8>,
    spans: u64,
    /// Traces taken out of the buffer (and entered in `State::deciding`).
    decide: Vec<(TraceId, Held)>,
}

impl Out {
    pub(super) fn release(&mut self, request: Vec<u8>, spans: u64) {
        if self.request.is_empty() {
            self.request = request;
        } else {
            self.request.extend_from_slice(&request);
        }
        self.spans += spans;
    }
}

/// One trace decided outside the lock, to be recorded under it.
struct Verdict {
    id: TraceId,
    keep: bool,
    reason: Arc<str>,
    /// The kept trace as it leaves (with the policy attribute if asked).
    release: Option<(Vec<u8>, u64)>,
}

impl Inner {
    /// Takes up to [`DECIDE_CHUNK`] of the oldest held traces (only those
    /// first seen at or before `due`, if given), decides them and sends the
    /// kept ones on. False when there was nothing more to take.
    pub(super) fn decide_some(&self, due: Option<Instant>, now: Instant) -> bool {
        let mut out = Out::default();
        {
            let mut st = lock(&self.state);
            while out.decide.len() < DECIDE_CHUNK {
                let Some((id, held)) = st.pop_oldest(due) else {
                    break;
                };
                take(&mut st, id, held, &mut out);
            }
            if out.decide.is_empty() {
                return false;
            }
            self.begin(&mut st, &out);
            self.publish(&mut st);
        }
        self.finish(out, now);
        true
    }

    /// Notes, under the lock, that `out` has decisions to make outside it.
    pub(super) fn begin(&self, st: &mut State, out: &Out) {
        if !out.decide.is_empty() {
            st.in_flight += 1;
        }
    }

    /// Without the lock: decides the traces in `out`, records the outcomes,
    /// and sends what is kept.
    pub(super) fn finish(&self, mut out: Out, now: Instant) {
        let deciding = !out.decide.is_empty();
        if deciding {
            let verdicts: Vec<Verdict> = std::mem::take(&mut out.decide)
                .into_iter()
                .map(|(id, held)| self.judge(id, held, now))
                .collect();
            let mut st = lock(&self.state);
            for v in verdicts {
                self.record(&mut st, v, &mut out);
            }
            self.publish(&mut st);
        }
        if out.spans > 0 {
            (self.sink)(Released {
                request: out.request,
                spans: out.spans,
            });
        }
        if deciding {
            let mut st = lock(&self.state);
            st.in_flight -= 1;
            if st.in_flight == 0 {
                self.idle.notify_all();
            }
            drop(st);
            self.space.notify_waiters();
        }
    }

    /// Decides one trace taken out of the buffer (no lock held).
    fn judge(&self, id: TraceId, held: Held, now: Instant) -> Verdict {
        let started = Instant::now();
        let groups = held.of(Item::Span);
        let request = wire::encode_request(&groups, &[]);
        let context = SampleContext {
            decision_time_unix_nano: wall_clock_nanos(),
            trace_size_bytes: request.len() as u64,
            // Decodes the trace only when there are OTTL policies.
            ottl_holding: self.ottl.holding(&request, &self.labels.processor),
        };
        let (keep, reason) = match self.sampler.sample(&request, context) {
            Ok(d) => (d.keep, d.reason),
            Err(e) => {
                self.metrics.faults.get_or_create(&self.labels).inc();
                warn!(processor = %self.labels.processor, error = %e, "Tail sampler faulted; keeping the trace.");
                (true, "(fault)".to_owned())
            }
        };
        self.handles
            .duration
            .observe(started.elapsed().as_secs_f64());
        self.handles
            .age
            .observe(now.saturating_duration_since(held.first_seen).as_secs_f64());
        self.count_decided(&reason, keep);
        let release = keep.then(|| {
            let request = if self.config.record_policy && !reason.is_empty() {
                wire::encode_request(&groups, &wire::policy_attribute(&reason))
            } else {
                request
            };
            (request, held.spans)
        });
        Verdict {
            id,
            keep,
            reason: Arc::from(reason),
            release,
        }
    }

    /// Records a decision under the lock: the cache, and the spans that
    /// arrived while it was being made.
    fn record(&self, st: &mut State, v: Verdict, out: &mut Out) {
        if let Some((request, spans)) = v.release {
            out.release(request, spans);
        }
        for g in st.deciding.remove(&v.id).unwrap_or_default() {
            self.count_late(v.keep, g.count);
            if v.keep {
                let extra = self.policy_extra(Some(&v.reason));
                out.release(wire::encode_request(&[&g], &extra), g.count);
            }
        }
        if v.keep {
            st.sampled.insert(v.id, v.reason);
        } else {
            st.not_sampled.insert(v.id, ());
        }
    }
}

fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Takes a trace out of the buffer to be decided outside the lock; spans
/// that arrive for it meanwhile wait in `State::deciding`.
pub(super) fn take(st: &mut State, id: TraceId, held: Held, out: &mut Out) {
    st.deciding.insert(id, Vec::new());
    out.decide.push((id, held));
}
