//! The holder: batches in (split by trace on the wire, held in the
//! tail-sampling buffer), traces out when their `join_window` has passed, a
//! bound is reached, or at shutdown.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use pdata::wire::index::RequestIndex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tracing::warn;

use super::assemble::Assembly;
use super::dedupe::Dedupe;
use super::memo::Memo;
use super::{Assemble, EnvelopeLabels, EnvelopeMetrics, EnvelopeSink, HolderError, HolderSettings};
use crate::tail_sampling::buffer::{ContextBytes, Held, Item, State};
use crate::tail_sampling::held::Request;
use crate::tail_sampling::timer::Timer;
use crate::tail_sampling::wire::{self, Markers};
use crate::tail_sampling::{TraceId, lock};

/// Trace ids remembered after their trace was let go, so late items are
/// dropped (counted) instead of starting a second holding.
const DONE_CACHE: usize = 100_000;

/// What the holder holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderStats {
    /// Traces held.
    pub traces_held: u64,
    /// Spans held.
    pub spans_held: u64,
    /// Log records held.
    pub records_held: u64,
    /// Bytes held (items, bookkeeping, shared contexts).
    pub bytes_held: u64,
}

/// One envelope exporter's holder. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Holder {
    inner: Arc<Inner>,
}

struct Inner {
    settings: HolderSettings,
    assembly: Assembly,
    state: Mutex<State>,
    contexts: Arc<ContextBytes>,
    late: Counter,
    early: Counter,
    traces_held: Gauge,
    spans_held: Gauge,
    records_held: Gauge,
    bytes_held: Gauge,
    timer: Timer,
}

impl Holder {
    /// A holder named `name` (the exporter id, for metrics and logs) whose
    /// envelopes go to `sink`.
    pub fn new(
        name: &str,
        settings: HolderSettings,
        assembler: Box<dyn Assemble>,
        metrics: &EnvelopeMetrics,
        sink: EnvelopeSink,
    ) -> Self {
        let labels = EnvelopeLabels {
            exporter: name.to_owned(),
        };
        let state = State::new(0, 0, DONE_CACHE);
        let assembly = Assembly {
            name: name.to_owned(),
            assembler,
            contract: settings.contract.clone(),
            commit_attributes: settings.commit_attributes.clone(),
            dedupe: Mutex::new(Dedupe::new(settings.dedupe_window)),
            // Without dedupe there is nothing to skip assembly for.
            memo: settings
                .dedupe_before_assembly
                .clone()
                .filter(|_| !settings.dedupe_window.is_zero())
                .map(|evidence| (evidence, Mutex::new(Memo::default()))),
            sink,
            counters: super::assemble::Counters::new(metrics, &labels),
        };
        Holder {
            inner: Arc::new(Inner {
                assembly,
                contexts: state.contexts.clone(),
                state: Mutex::new(state),
                late: metrics.late_items.get_or_create(&labels).clone(),
                early: metrics.early.get_or_create(&labels).clone(),
                traces_held: metrics.traces_held.get_or_create(&labels).clone(),
                spans_held: metrics.spans_held.get_or_create(&labels).clone(),
                records_held: metrics.records_held.get_or_create(&labels).clone(),
                bytes_held: metrics.bytes_held.get_or_create(&labels).clone(),
                settings,
                timer: Timer::default(),
            }),
        }
    }

    /// Takes an encoded `ExportTraceServiceRequest` (copied once; see
    /// [`Holder::consume_span_bytes`]).
    pub fn consume_spans(&self, request: &[u8]) -> Result<(), HolderError> {
        self.consume_at(Bytes::copy_from_slice(request), Item::Span, Instant::now())
    }

    /// Takes an encoded `ExportLogsServiceRequest` (copied once). Records
    /// without a trace id belong to no trace and are not held.
    pub fn consume_logs(&self, request: &[u8]) -> Result<(), HolderError> {
        self.consume_at(Bytes::copy_from_slice(request), Item::Log, Instant::now())
    }

    /// Takes an encoded `ExportTraceServiceRequest` as received: the held
    /// spans are ranges of these bytes, never copied.
    pub fn consume_span_bytes(&self, request: Bytes) -> Result<(), HolderError> {
        self.consume_at(request, Item::Span, Instant::now())
    }

    /// Takes an encoded `ExportLogsServiceRequest` as received, likewise.
    pub fn consume_log_bytes(&self, request: Bytes) -> Result<(), HolderError> {
        self.consume_at(request, Item::Log, Instant::now())
    }

    /// [`Holder::consume_span_bytes`] with the receiver's side index of
    /// `request` ([`pdata::Batch::indexed_chunks`]): the request is taken
    /// apart from the index, without walking its spans again. An index that
    /// does not fit the request is ignored (the spans are walked).
    pub fn consume_span_bytes_indexed(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
    ) -> Result<(), HolderError> {
        self.consume_indexed_at(request, index, Item::Span, Instant::now())
    }

    /// [`Holder::consume_log_bytes`] with the side index, likewise.
    pub fn consume_log_bytes_indexed(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
    ) -> Result<(), HolderError> {
        self.consume_indexed_at(request, index, Item::Log, Instant::now())
    }

    /// Spans as if they arrived at `now` (tests with their own clock).
    pub fn consume_spans_at(&self, request: &[u8], now: Instant) -> Result<(), HolderError> {
        self.consume_at(Bytes::copy_from_slice(request), Item::Span, now)
    }

    /// Log records as if they arrived at `now`.
    pub fn consume_logs_at(&self, request: &[u8], now: Instant) -> Result<(), HolderError> {
        self.consume_at(Bytes::copy_from_slice(request), Item::Log, now)
    }

    /// Spans with their side index as if they arrived at `now` (tests).
    pub fn consume_spans_indexed_at(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
        now: Instant,
    ) -> Result<(), HolderError> {
        self.consume_indexed_at(request, index, Item::Span, now)
    }

    fn consume_at(&self, request: Bytes, kind: Item, now: Instant) -> Result<(), HolderError> {
        self.consume_indexed_at(request, None, kind, now)
    }

    fn consume_indexed_at(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
        kind: Item,
        now: Instant,
    ) -> Result<(), HolderError> {
        let inner = &self.inner;
        // Without the lock: the parts from the receiver's index when it came
        // with one, else from a walk of every item reading its error markers.
        let parts =
            match index.and_then(|i| wire::split_indexed(&request, i, kind, Markers::Errors)) {
                Some(parts) => parts,
                None => wire::split_by(&request, kind, Markers::Errors)?,
            };
        let held = Request::new(request.clone());
        let scopes = wire::scoped(parts, &inner.contexts);
        let mut out = Vec::new();
        {
            let mut st = lock(&inner.state);
            if st.stopped {
                return Err(HolderError::Stopped);
            }
            for (ctx, traces) in &scopes {
                for items in traces {
                    let Some(id) = items.id else { continue };
                    if st.not_sampled.get(&id).is_some() {
                        inner.late.inc_by(items.count);
                        continue;
                    }
                    // A new trace needs room: the map is consulted only when full.
                    if st.traces() as u64 >= inner.settings.num_traces && !st.holds(&id) {
                        while st.traces() as u64 >= inner.settings.num_traces {
                            let Some(old) = st.pop_oldest(None) else {
                                break;
                            };
                            inner.early.inc();
                            done(&mut st, old, &mut out);
                        }
                    }
                    st.append(id, ctx, &held, items, kind, now);
                    while st.bytes() > inner.settings.max_buffered_bytes {
                        let Some(old) = st.pop_oldest(None) else {
                            break;
                        };
                        inner.early.inc();
                        done(&mut st, old, &mut out);
                    }
                }
            }
            inner.publish(&st);
        }
        inner.assembly.run(out, now);
        Ok(())
    }

    /// Starts the timer that lets traces go when their `join_window` has
    /// passed. Needs a tokio runtime. Calling it again does nothing.
    pub fn start(&self) -> Result<(), HolderError> {
        self.inner
            .timer
            .start(
                self.inner.settings.join_window,
                &self.inner,
                |inner, now| Holder { inner }.tick_at(now),
            )
            .map_err(|_| HolderError::NoRuntime)
    }

    /// Lets go every trace first seen `join_window` or more before `now`,
    /// assembling the failing ones. The timer calls this.
    pub fn tick_at(&self, now: Instant) {
        let inner = &self.inner;
        let Some(due) = now.checked_sub(inner.settings.join_window) else {
            return;
        };
        loop {
            let mut out = Vec::new();
            {
                let mut st = lock(&inner.state);
                while out.len() < 64 {
                    let Some(old) = st.pop_oldest(Some(due)) else {
                        break;
                    };
                    done(&mut st, old, &mut out);
                }
                inner.publish(&st);
            }
            if out.is_empty() {
                return;
            }
            inner.assembly.run(out, now);
        }
    }

    /// Stops the timer and assembles every failing trace still held (their
    /// window cut short rather than lost). Later batches are refused.
    pub async fn shutdown(&self) {
        self.inner.timer.stop().await;
        let holder = self.clone();
        let drained = tokio::task::spawn_blocking(move || holder.shutdown_now(Instant::now()));
        if drained.await.is_err() {
            warn!("The envelope holder's shutdown drain panicked; traces still held are lost.");
        }
    }

    /// The synchronous part of [`Holder::shutdown`].
    pub fn shutdown_now(&self, now: Instant) {
        let inner = &self.inner;
        let mut out = Vec::new();
        {
            let mut st = lock(&inner.state);
            st.stopped = true;
            while let Some(old) = st.pop_oldest(None) {
                done(&mut st, old, &mut out);
            }
            inner.publish(&st);
        }
        inner.assembly.run(out, now);
    }

    /// What the holder holds now.
    pub fn stats(&self) -> HolderStats {
        let st = lock(&self.inner.state);
        HolderStats {
            traces_held: st.traces() as u64,
            spans_held: st.spans,
            records_held: st.records,
            bytes_held: st.bytes(),
        }
    }
}

impl Inner {
    fn publish(&self, st: &State) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.traces_held.set(gauge(st.traces() as u64));
        self.spans_held.set(gauge(st.spans));
        self.records_held.set(gauge(st.records));
        self.bytes_held.set(gauge(st.bytes()));
    }
}

/// Records a trace as let go (late items are dropped) and keeps it for
/// assembly when it failed.
fn done(st: &mut State, (id, held): (TraceId, Held), out: &mut Vec<(TraceId, Held)>) {
    st.not_sampled.insert(id, ());
    if held.error {
        out.push((id, held));
    }
}
