//! The held traces: spans (and, for the envelope exporter, log records) by
//! trace id, in arrival order, with their byte and item counts, and the
//! decision caches. No locking or I/O here; the tail-sampling processor
//! ([`super::TailSampling`]) and the envelope holder
//! ([`crate::envelope::Holder`]) keep it under their mutex.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use smallvec::SmallVec;

use super::TraceId;
use super::cache::DecisionCache;
use super::held::{Group, Request, Run};
use super::wire::{ScopeCtx, TraceItems};

/// The maps keyed by trace id: foldhash, keyed per process as hashbrown's
/// default (the ids are outside data), at a fraction of SipHash's cost.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Bookkeeping bytes charged per held trace (map entry, order entry, the
/// `Held` itself with its first group and run inline), per further group
/// and per further run, on top of the requests the runs keep alive
/// ([`super::held`]). Estimates, generous rather than tight, so the byte
/// bound errs on the safe side.
const TRACE_OVERHEAD: u64 = 224;
const GROUP_OVERHEAD: u64 = 64;
const RUN_OVERHEAD: u64 = 32;

/// What a [`Group`] holds: spans (`ScopeSpans.spans`) or log records
/// (`ScopeLogs.log_records`). Both are field 2 of their scope message, so one
/// framing and one request encoder serve both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Span,
    Log,
}

/// One undecided trace.
pub(crate) struct Held {
    pub(crate) first_seen: Instant,
    /// Spans and (for the envelope exporter) log records, by kind and scope.
    pub(crate) groups: SmallVec<[Group; 1]>,
    pub(crate) spans: u64,
    pub(crate) records: u64,
    /// Encoded size of the spans and records (what
    /// `maximum_trace_size_bytes` limits).
    pub(crate) span_bytes: u64,
    /// Set when an item of the trace shows an error (the envelope exporter
    /// assembles only such traces).
    pub(crate) error: bool,
    /// Bookkeeping charged against `max_buffered_bytes` for this trace (its
    /// requests are charged apart, shared with other traces).
    pub(crate) charged: u64,
}

impl Held {
    /// The groups of items of `kind`.
    pub(crate) fn of(&self, kind: Item) -> Vec<&Group> {
        self.groups.iter().filter(|g| g.kind == kind).collect()
    }
}

/// Bytes of resource and scope contexts alive, shared by every context of
/// one processor: a context adds its size when built and subtracts it when
/// the last trace holding it is decided.
#[derive(Debug, Default)]
pub(crate) struct ContextBytes(AtomicU64);

impl ContextBytes {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Owns the accounting of one context: dropping it gives its bytes back.
#[derive(Debug)]
pub(crate) struct Charge {
    pool: Arc<ContextBytes>,
    bytes: u64,
}

impl Charge {
    pub(crate) fn new(pool: &Arc<ContextBytes>, bytes: u64) -> Self {
        pool.0.fetch_add(bytes, Ordering::Relaxed);
        Charge {
            pool: pool.clone(),
            bytes,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.pool.0.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// The processor's mutable state.
///
/// Held traces lie in `slots` in order of first arrival, and `index` finds
/// them by id: the map's entries stay small (an id and a number), so its
/// lookups touch little memory, and traces are written and let go in order.
pub(crate) struct State {
    /// Held trace ids, each with its trace's sequence number: its slot is
    /// `slots[seq - first_seq]`.
    index: Map<TraceId, u64>,
    /// Held traces by first arrival; `None` where a trace was taken out of
    /// order (decided early), dropped once it reaches the front.
    slots: VecDeque<Option<(TraceId, Held)>>,
    /// Sequence number of `slots[0]`.
    first_seq: u64,
    pub(crate) spans: u64,
    /// Log records held.
    pub(crate) records: u64,
    /// Bytes charged by held traces (their requests and bookkeeping).
    pub(crate) charged: u64,
    pub(crate) contexts: Arc<ContextBytes>,
    /// Kept traces, with the name of the policy that kept them.
    pub(crate) sampled: DecisionCache<Arc<str>>,
    pub(crate) not_sampled: DecisionCache<()>,
    /// Traces taken out to be decided outside the lock, with the spans that
    /// arrived for them meanwhile (they follow the decision).
    pub(crate) deciding: Map<TraceId, Vec<Group>>,
    /// Batches of decisions in progress outside the lock.
    pub(crate) in_flight: usize,
    /// The traces, spans and bytes held as last added to the gauges.
    pub(crate) published: [i64; 3],
    pub(crate) stopped: bool,
}

impl State {
    pub(crate) fn new(
        expected_traces: usize,
        sampled_cache: usize,
        not_sampled_cache: usize,
    ) -> Self {
        State {
            index: Map::with_capacity_and_hasher(expected_traces, Default::default()),
            slots: VecDeque::with_capacity(expected_traces),
            first_seq: 0,
            spans: 0,
            records: 0,
            charged: 0,
            contexts: Arc::default(),
            sampled: DecisionCache::new(sampled_cache),
            not_sampled: DecisionCache::new(not_sampled_cache),
            deciding: Map::default(),
            in_flight: 0,
            published: [0; 3],
            stopped: false,
        }
    }

    /// Traces held.
    pub(crate) fn traces(&self) -> usize {
        self.index.len()
    }

    /// Bytes held: requests, bookkeeping, and the contexts they share.
    pub(crate) fn bytes(&self) -> u64 {
        self.charged + self.contexts.get()
    }

    /// Appends `items` (spans or log records of `kind`, all of trace `id`,
    /// all under `ctx`, ranges of `request`) to the trace, starting to hold
    /// it if new. Returns the trace.
    pub(crate) fn append(
        &mut self,
        id: TraceId,
        ctx: &Arc<ScopeCtx>,
        request: &Arc<Request>,
        items: &TraceItems,
        kind: Item,
        now: Instant,
    ) -> &mut Held {
        let held = match self.index.entry(id) {
            Entry::Occupied(e) => {
                let at = *e.get() - self.first_seq;
                match usize::try_from(at)
                    .ok()
                    .and_then(|at| self.slots.get_mut(at))
                    .and_then(Option::as_mut)
                {
                    Some((_, held)) => held,
                    // The index names only live slots.
                    None => unreachable!("a held trace's slot is live"),
                }
            }
            Entry::Vacant(v) => {
                v.insert(self.first_seq + self.slots.len() as u64);
                self.charged += TRACE_OVERHEAD;
                self.slots.push_back(Some((
                    id,
                    Held {
                        first_seen: now,
                        groups: SmallVec::new(),
                        spans: 0,
                        records: 0,
                        span_bytes: 0,
                        error: false,
                        charged: TRACE_OVERHEAD,
                    },
                )));
                match self.slots.back_mut().and_then(Option::as_mut) {
                    Some((_, held)) => held,
                    None => unreachable!("just pushed"),
                }
            }
        };
        let gi = match held
            .groups
            .iter()
            .position(|g| g.kind == kind && g.ctx.same_as(ctx))
        {
            Some(i) => i,
            None => {
                if !held.groups.is_empty() {
                    held.charged += GROUP_OVERHEAD;
                    self.charged += GROUP_OVERHEAD;
                }
                held.groups.push(Group {
                    kind,
                    ctx: ctx.clone(),
                    runs: SmallVec::new(),
                    count: 0,
                });
                held.groups.len() - 1
            }
        };
        let group = &mut held.groups[gi];
        for &range in &items.runs {
            if request.enter() {
                self.charged += request.charge();
            }
            if !group.runs.is_empty() {
                held.charged += RUN_OVERHEAD;
                self.charged += RUN_OVERHEAD;
            }
            group.runs.push(Run::new(request, range));
        }
        group.count += items.count;
        match kind {
            Item::Span => {
                held.spans += items.count;
                self.spans += items.count;
            }
            Item::Log => {
                held.records += items.count;
                self.records += items.count;
            }
        }
        held.span_bytes += items.bytes();
        held.error |= items.error;
        held
    }

    /// Whether trace `id` is held.
    pub(crate) fn holds(&self, id: &TraceId) -> bool {
        self.index.contains_key(id)
    }

    /// Stops holding trace `id` and returns it.
    pub(crate) fn remove(&mut self, id: &TraceId) -> Option<Held> {
        let seq = self.index.remove(id)?;
        let at = usize::try_from(seq - self.first_seq).ok()?;
        let (_, held) = self.slots.get_mut(at)?.take()?;
        self.release(&held);
        Some(held)
    }

    /// Takes `held`, just removed from the map, off the counts; its requests
    /// stop being charged when it held their last runs in the buffer.
    fn release(&mut self, held: &Held) {
        self.spans -= held.spans;
        self.records -= held.records;
        self.charged -= held.charged;
        for run in held.groups.iter().flat_map(|g| &g.runs) {
            if run.request.leave() {
                self.charged -= run.request.charge();
            }
        }
    }

    /// The oldest held trace, if its first span came at or before `due`
    /// (`None` for `due`: the oldest, whatever its age).
    pub(crate) fn pop_oldest(&mut self, due: Option<Instant>) -> Option<(TraceId, Held)> {
        while let Some(front) = self.slots.front() {
            if let Some((_, held)) = front
                && due.is_some_and(|d| held.first_seen > d)
            {
                return None;
            }
            let slot = self.slots.pop_front().flatten();
            self.first_seq += 1;
            // An empty slot: its trace was taken out of order.
            let Some((id, held)) = slot else { continue };
            self.index.remove(&id);
            self.release(&held);
            return Some((id, held));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    use super::*;
    use crate::tail_sampling::wire;

    fn request(traces: &[u8]) -> Bytes {
        let spans = traces
            .iter()
            .map(|&t| Span {
                trace_id: vec![t; 16],
                name: "x".repeat(100),
                ..Default::default()
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Bytes::from(req.encode_to_vec())
    }

    /// Holds every trace of `bytes` in `st`.
    fn hold(st: &mut State, bytes: &Bytes, now: Instant) -> Arc<Request> {
        let request = Request::new(bytes.clone());
        let parts = wire::split(bytes).expect("splits");
        for (ctx, traces) in wire::scoped(parts, &st.contexts.clone()) {
            for items in &traces {
                let id = items.id.expect("an id");
                st.append(id, &ctx, &request, items, Item::Span, now);
            }
        }
        request
    }

    #[test]
    fn traces_leave_in_first_arrival_order_around_ones_taken_out() {
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(1);
        let mut st = State::new(0, 0, 0);
        hold(&mut st, &request(&[1, 2, 3]), now);
        // Trace 2 taken out of order leaves a gap; held again, it is the newest.
        assert_eq!(st.remove(&[2; 16]).map(|h| h.spans), Some(1));
        assert!(st.remove(&[2; 16]).is_none());
        hold(&mut st, &request(&[2, 1]), later);
        assert_eq!((st.traces(), st.spans), (3, 4));
        // Only trace 1 (first seen at `now`) and 3 are due at `now`.
        let due: Vec<_> = std::iter::from_fn(|| st.pop_oldest(Some(now)))
            .map(|(id, held)| (id[0], held.spans))
            .collect();
        assert_eq!(due, [(1, 2), (3, 1)]);
        assert!(st.holds(&[2; 16]) && !st.holds(&[1; 16]));
        let (id, held) = st.pop_oldest(None).expect("trace 2");
        assert_eq!((id[0], held.spans, held.first_seen), (2, 1, later));
        assert!(st.pop_oldest(None).is_none());
        assert_eq!((st.traces(), st.spans, st.charged), (0, 0, 0));
    }

    #[test]
    fn a_request_is_charged_once_while_any_of_its_runs_is_held() {
        let now = Instant::now();
        let mut st = State::new(0, 0, 0);
        let (one, two) = (request(&[1, 1, 2]), request(&[2, 3]));
        let r1 = hold(&mut st, &one, now);
        assert_eq!(st.spans, 3);
        assert_eq!(st.charged, r1.charge() + 2 * TRACE_OVERHEAD);
        // Trace 2 goes on in the second request: a second run, and its request charged.
        let r2 = hold(&mut st, &two, now);
        assert_eq!(
            st.charged,
            r1.charge() + r2.charge() + 3 * TRACE_OVERHEAD + RUN_OVERHEAD
        );
        // Trace 1 leaves: the first request still holds trace 2's first span.
        let (id, first) = st.pop_oldest(None).expect("trace 1");
        assert_eq!((id, first.spans), ([1; 16], 2));
        assert_eq!(
            st.charged,
            r1.charge() + r2.charge() + 2 * TRACE_OVERHEAD + RUN_OVERHEAD
        );
        // Trace 2 leaves: its runs were the first request's last in the buffer.
        let held = st.remove(&[2; 16]).expect("trace 2");
        assert_eq!(held.spans, 2);
        assert_eq!(st.charged, r2.charge() + TRACE_OVERHEAD);
        st.pop_oldest(None).expect("trace 3");
        assert_eq!((st.charged, st.spans), (0, 0));
        assert!(st.pop_oldest(None).is_none());
        // The contexts are charged while alive: none is, once the traces are gone.
        assert!(st.bytes() > 0);
        drop((first, held));
        assert_eq!(st.bytes(), 0);
    }
}
