//! The held traces: spans (and, for the envelope exporter, log records) by
//! trace id, in arrival order, with their byte and item counts, and the
//! decision caches. No locking or I/O here; the tail-sampling processor
//! ([`super::TailSampling`]) and the envelope holder
//! ([`crate::envelope::Holder`]) keep it under their mutex.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::TraceId;
use super::cache::DecisionCache;
use super::wire::{self, Group, ScopeCtx};

/// Bookkeeping bytes charged per held trace (map entry, order entry, the
/// `Held` itself) and per group, on top of the spans' encoded size. An
/// estimate, generous rather than tight, so the byte bound errs on the safe
/// side.
const TRACE_OVERHEAD: u64 = 160;
const GROUP_OVERHEAD: u64 = 64;

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
    /// Distinguishes this holding from an earlier one of the same id in the
    /// arrival queue.
    pub(crate) seq: u64,
    pub(crate) first_seen: Instant,
    pub(crate) groups: Vec<Group>,
    /// Log records of the trace, by scope (empty for tail sampling).
    pub(crate) logs: Vec<Group>,
    pub(crate) spans: u64,
    pub(crate) records: u64,
    /// Encoded size of the spans and records (what
    /// `maximum_trace_size_bytes` limits).
    pub(crate) span_bytes: u64,
    /// Set by the holder when an item of the trace shows an error (the
    /// envelope exporter assembles only such traces).
    pub(crate) error: bool,
    /// Everything charged against `max_buffered_bytes` for this trace.
    pub(crate) charged: u64,
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
pub(crate) struct State {
    pub(crate) traces: HashMap<TraceId, Held>,
    /// Held trace ids by first arrival; entries of traces decided early are
    /// skipped when reached (their `seq` no longer matches).
    order: VecDeque<(u64, TraceId)>,
    next_seq: u64,
    pub(crate) spans: u64,
    /// Log records held.
    pub(crate) records: u64,
    /// Bytes charged by held traces (spans and bookkeeping).
    pub(crate) charged: u64,
    pub(crate) contexts: Arc<ContextBytes>,
    /// Kept traces, with the name of the policy that kept them.
    pub(crate) sampled: DecisionCache<Arc<str>>,
    pub(crate) not_sampled: DecisionCache<()>,
    /// Traces taken out to be decided outside the lock, with the spans that
    /// arrived for them meanwhile (they follow the decision).
    pub(crate) deciding: HashMap<TraceId, Vec<Group>>,
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
            traces: HashMap::with_capacity(expected_traces),
            order: VecDeque::with_capacity(expected_traces),
            next_seq: 0,
            spans: 0,
            records: 0,
            charged: 0,
            contexts: Arc::default(),
            sampled: DecisionCache::new(sampled_cache),
            not_sampled: DecisionCache::new(not_sampled_cache),
            deciding: HashMap::new(),
            in_flight: 0,
            published: [0; 3],
            stopped: false,
        }
    }

    /// Bytes held: spans, bookkeeping, and the contexts they share.
    pub(crate) fn bytes(&self) -> u64 {
        self.charged + self.contexts.get()
    }

    /// Appends `spans` (encoded span messages, all of trace `id`, all under
    /// `ctx`) to the trace, starting to hold it if new. Returns the trace's
    /// span bytes after.
    pub(crate) fn append(
        &mut self,
        id: TraceId,
        ctx: &Arc<ScopeCtx>,
        spans: &[&[u8]],
        now: Instant,
    ) -> u64 {
        self.append_items(id, ctx, spans, Item::Span, now)
    }

    /// Appends `items` (encoded span or log record messages, all of trace
    /// `id`, all under `ctx`) to the trace, starting to hold it if new.
    /// Returns the trace's item bytes after.
    pub(crate) fn append_items(
        &mut self,
        id: TraceId,
        ctx: &Arc<ScopeCtx>,
        spans: &[&[u8]],
        kind: Item,
        now: Instant,
    ) -> u64 {
        let held = match self.traces.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.order.push_back((seq, id));
                self.charged += TRACE_OVERHEAD;
                v.insert(Held {
                    seq,
                    first_seen: now,
                    groups: Vec::new(),
                    logs: Vec::new(),
                    spans: 0,
                    records: 0,
                    span_bytes: 0,
                    error: false,
                    charged: TRACE_OVERHEAD,
                })
            }
        };
        let groups = match kind {
            Item::Span => &mut held.groups,
            Item::Log => &mut held.logs,
        };
        let gi = match groups.iter().position(|g| g.ctx.same_as(ctx)) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    ctx: ctx.clone(),
                    spans: Vec::new(),
                    count: 0,
                });
                held.charged += GROUP_OVERHEAD;
                self.charged += GROUP_OVERHEAD;
                groups.len() - 1
            }
        };
        let group = &mut groups[gi];
        let add: usize = spans.iter().map(|s| wire::framed_len(s.len())).sum();
        // Exact reservation: doubling growth could leave up to half of a
        // trace's buffer unused, and memory per held span is what we bound.
        group.spans.reserve_exact(add);
        for s in spans {
            wire::push_span(&mut group.spans, s);
        }
        group.count += spans.len() as u64;
        match kind {
            Item::Span => {
                held.spans += spans.len() as u64;
                self.spans += spans.len() as u64;
            }
            Item::Log => {
                held.records += spans.len() as u64;
                self.records += spans.len() as u64;
            }
        }
        held.span_bytes += add as u64;
        held.charged += add as u64;
        self.charged += add as u64;
        held.span_bytes
    }

    /// Stops holding trace `id` and returns it.
    pub(crate) fn remove(&mut self, id: &TraceId) -> Option<Held> {
        let held = self.traces.remove(id)?;
        self.spans -= held.spans;
        self.records -= held.records;
        self.charged -= held.charged;
        Some(held)
    }

    /// The oldest held trace, if its first span came at or before `due`
    /// (`None` for `due`: the oldest, whatever its age).
    pub(crate) fn pop_oldest(&mut self, due: Option<Instant>) -> Option<(TraceId, Held)> {
        while let Some(&(seq, id)) = self.order.front() {
            let Some(h) = self.traces.get(&id) else {
                self.order.pop_front();
                continue;
            };
            if h.seq != seq {
                self.order.pop_front();
                continue;
            }
            if due.is_some_and(|d| h.first_seen > d) {
                return None;
            }
            self.order.pop_front();
            return self.remove(&id).map(|h| (id, h));
        }
        None
    }
}
