//! A batch's way in: split by trace on the wire, then each trace's spans of each
//! scope routed: forwarded (no trace id), following a cached decision (late
//! spans), waiting beside a decision in progress, or held, deciding the oldest
//! traces early when the buffer is full.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use pdata::wire::index::RequestIndex;
use prost::Message;

use super::buffer::{Item, State};
use super::decide::{Out, take};
use super::held::{Group, Request};
use super::wire::{self, Markers, ScopeCtx, TraceItems};
use super::{Inner, TailSampling, TailSamplingError, lock};

impl TailSampling {
    /// Takes one batch. Waits for space first when `block_on_overflow` is set
    /// and the buffer is full (the timer must be running to make space).
    pub async fn consume(
        &self,
        batch: &ExportTraceServiceRequest,
    ) -> Result<(), TailSamplingError> {
        self.consume_bytes(Bytes::from(batch.encode_to_vec())).await
    }

    /// Takes one batch, an encoded `ExportTraceServiceRequest` (it is never
    /// decoded here; the bytes are copied once, see
    /// [`TailSampling::consume_bytes`] to hold them without a copy). Waits
    /// for space first as [`TailSampling::consume`].
    pub async fn consume_encoded(&self, request: &[u8]) -> Result<(), TailSamplingError> {
        self.consume_bytes(Bytes::copy_from_slice(request)).await
    }

    /// Takes one batch, an encoded `ExportTraceServiceRequest` as received:
    /// never decoded, and held as it is (the spans of held traces are ranges
    /// of these bytes). Waits for space first as [`TailSampling::consume`].
    pub async fn consume_bytes(&self, request: Bytes) -> Result<(), TailSamplingError> {
        self.consume_indexed(request, None).await
    }

    /// [`TailSampling::consume_bytes`] with the receiver's side index of
    /// `request` ([`pdata::Batch::indexed_chunks`]): split by trace from the
    /// index, without walking its spans. An index that does not fit is
    /// ignored (the spans are walked).
    pub async fn consume_indexed(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
    ) -> Result<(), TailSamplingError> {
        if self.inner.config.block_on_overflow {
            loop {
                let notified = self.inner.space.notified();
                if !self.full() || lock(&self.inner.state).stopped {
                    break;
                }
                notified.await;
            }
        }
        self.consume_indexed_at(request, index, Instant::now())
    }

    /// Takes one batch as if it arrived at `now` (a test or an embedder with
    /// its own clock). Never waits: a full buffer decides its oldest traces
    /// early.
    pub fn consume_at(
        &self,
        batch: &ExportTraceServiceRequest,
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        self.consume_bytes_at(Bytes::from(batch.encode_to_vec()), now)
    }

    /// [`TailSampling::consume_at`] for an encoded request (copied once).
    pub fn consume_encoded_at(
        &self,
        request: &[u8],
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        self.consume_bytes_at(Bytes::copy_from_slice(request), now)
    }

    /// [`TailSampling::consume_at`] for an encoded request, held as it is.
    pub fn consume_bytes_at(&self, request: Bytes, now: Instant) -> Result<(), TailSamplingError> {
        self.consume_indexed_at(request, None, now)
    }

    /// [`TailSampling::consume_bytes_at`] with the receiver's side index.
    pub fn consume_indexed_at(
        &self,
        request: Bytes,
        index: Option<&RequestIndex>,
        now: Instant,
    ) -> Result<(), TailSamplingError> {
        let inner = &self.inner;
        // Splitting and building the contexts need no lock.
        let canonical;
        let indexed =
            index.and_then(|i| wire::split_indexed(&request, i, Item::Span, Markers::None));
        let split = match indexed {
            Some(parts) => Ok(parts),
            None => wire::split(&request),
        };
        let (bytes, parts) = match split {
            Ok(parts) => (&request, parts),
            Err(e) => {
                // The split reads only what OTLP writes; prost also accepts a few
                // encodings it does not (e.g. unknown fields of the deprecated group
                // type). Such a request is held as prost re-encodes it.
                let Ok(decoded) = ExportTraceServiceRequest::decode(&request[..]) else {
                    return Err(e.into());
                };
                canonical = Bytes::from(decoded.encode_to_vec());
                (&canonical, wire::split(&canonical)?)
            }
        };
        let held = Request::new(bytes.clone());
        let scopes = wire::scoped(parts, &inner.contexts);
        let mut out = Out::default();
        {
            let mut st = lock(&inner.state);
            if st.stopped {
                return Err(TailSamplingError::Stopped);
            }
            for (ctx, traces) in &scopes {
                for items in traces {
                    inner.route(&mut st, ctx, &held, items, now, &mut out);
                }
            }
            inner.begin(&mut st, &out);
            inner.publish(&mut st);
        }
        inner.finish(out, now);
        Ok(())
    }
}

impl Inner {
    /// Sends one scope's spans of one trace where they belong.
    fn route(
        &self,
        st: &mut State,
        ctx: &Arc<ScopeCtx>,
        request: &Arc<Request>,
        items: &TraceItems,
        now: Instant,
        out: &mut Out,
    ) {
        let Some(id) = items.id else {
            // No trace to sample them with: forward rather than lose them.
            let (request, n) = self.release_spans(ctx, request, items, None);
            out.release(request, n);
            return;
        };
        if let Some(policy) = st.sampled.get(&id).cloned() {
            self.count_late(true, items.count);
            let (request, n) = self.release_spans(ctx, request, items, Some(&policy));
            out.release(request, n);
            return;
        }
        if st.not_sampled.get(&id).is_some() {
            self.count_late(false, items.count);
            return;
        }
        if !st.deciding.is_empty()
            && let Some(waiting) = st.deciding.get_mut(&id)
        {
            // Being decided outside the lock: follow that decision.
            waiting.push(Group::of(
                Item::Span,
                ctx,
                request,
                &items.runs,
                items.count,
            ));
            return;
        }
        // A new trace needs room: the map is consulted only when full.
        if st.traces() as u64 >= self.config.num_traces && !st.holds(&id) {
            while st.traces() as u64 >= self.config.num_traces {
                let Some((old, held)) = st.pop_oldest(None) else {
                    break;
                };
                self.count_early("num_traces");
                take(st, old, held, out);
            }
        }
        let size = st
            .append(id, ctx, request, items, Item::Span, now)
            .span_bytes;
        let max = self.config.maximum_trace_size_bytes;
        if max > 0 && size > max {
            if st.remove(&id).is_some() {
                self.count_decided("(too_large)", false);
                st.not_sampled.insert(id, ());
            }
            return;
        }
        while st.bytes() > self.config.max_buffered_bytes {
            let Some((old, held)) = st.pop_oldest(None) else {
                break;
            };
            self.count_early("max_buffered_bytes");
            take(st, old, held, out);
        }
    }

    /// Spans of one scope as an encoded request, with the policy attribute
    /// if asked; and their count.
    fn release_spans(
        &self,
        ctx: &Arc<ScopeCtx>,
        request: &Arc<Request>,
        items: &TraceItems,
        policy: Option<&str>,
    ) -> (Vec<u8>, u64) {
        let g = Group::of(Item::Span, ctx, request, &items.runs, items.count);
        (
            wire::encode_request(&[&g], &self.policy_extra(policy)),
            g.count,
        )
    }

    /// The encoded policy attribute for spans kept by `policy`, or nothing.
    pub(super) fn policy_extra(&self, policy: Option<&str>) -> Vec<u8> {
        match policy {
            Some(p) if self.config.record_policy && !p.is_empty() => wire::policy_attribute(p),
            _ => Vec::new(),
        }
    }
}
