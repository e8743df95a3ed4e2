//! The batch type: one OTLP export request of one signal, encoded, decoded, or both.

use std::sync::Arc;

use bytes::{BufMut, Bytes};
use prost::Message;

use crate::Signal;
use crate::otlp::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use crate::otlp::metrics::v1::{ResourceMetrics, ScopeMetrics, metric};
use crate::otlp::trace::v1::{ResourceSpans, ScopeSpans};
use crate::validate;
use crate::wire::index::{self, RequestIndex};

/// The decoded content of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

/// Why a request body could not be turned into a batch.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed OTLP protobuf {signal} request: {source}")]
    Protobuf {
        signal: Signal,
        source: prost::DecodeError,
    },
    #[error("malformed OTLP JSON {signal} request: {source}")]
    Json {
        signal: Signal,
        source: serde_json::Error,
    },
}

/// A batch accepted from a client, with what was rejected from it (OTLP partial success).
#[derive(Debug)]
pub struct Received {
    pub batch: Batch,
    /// Items removed because they can never be valid (e.g. a trace id that is not 16 bytes).
    pub rejected: usize,
    /// Why items were rejected; empty when none were.
    pub rejection: String,
}

/// One OTLP export request of one signal, moving through a pipeline.
///
/// Concatenating two encoded export requests yields a valid request holding both (every
/// request message is one repeated field), so batches that were never decoded merge
/// without decoding. A batch is moved, not shared; clone it only to fan out.
#[derive(Debug, Clone)]
pub struct Batch {
    signal: Signal,
    items: usize,
    /// Encoded request fragments whose concatenation is the request. `None` once the
    /// decoded payload has been modified.
    encoded: Option<Vec<Bytes>>,
    /// Every fragment of `encoded` was accepted by the validating scan (`wire::scan::scan`),
    /// so readers of the bytes may skip what it checked; see [`Batch::validated`].
    scanned: bool,
    decoded: Option<Payload>,
    /// The side index of each fragment of `encoded` (same length), `None` for a
    /// fragment without one; empty when no fragment has one. Dropped whenever the
    /// bytes change. See [`Batch::from_protobuf_indexed`].
    index: Vec<Option<Arc<RequestIndex>>>,
}

impl Batch {
    /// Decodes and validates a protobuf request body. Invalid items are removed and
    /// reported; when nothing was removed the received bytes are kept for forwarding.
    pub fn from_protobuf(signal: Signal, body: Bytes) -> Result<Received, DecodeError> {
        Self::from_protobuf_with(signal, body, false)
    }

    /// [`Batch::from_protobuf`], and when the validating scan accepts the body, the
    /// side index of it made in the same walk ([`crate::wire::index`]: each item's
    /// place, trace id and error markers), kept beside the bytes for components that
    /// take requests apart by trace ([`Batch::indexed_chunks`]). The receiver asks for
    /// it only for pipelines with such a component: the scan without it records
    /// nothing.
    pub fn from_protobuf_indexed(signal: Signal, body: Bytes) -> Result<Received, DecodeError> {
        Self::from_protobuf_with(signal, body, true)
    }

    fn from_protobuf_with(
        signal: Signal,
        body: Bytes,
        indexed: bool,
    ) -> Result<Received, DecodeError> {
        // Fast path: a validating scan, no decode. Anything it does not accept, and
        // requests with invalid items to remove, take the full decode below.
        // Metrics are never scanned, so never indexed.
        let mut builder = if indexed && signal != Signal::Metrics {
            index::Builder::new(signal, &body)
        } else {
            None
        };
        let scanned = match &mut builder {
            Some(b) => crate::wire::scan::scan_into(signal, &body, b),
            None => crate::wire::scan::scan(signal, &body),
        };
        if let Ok(scan) = scanned
            && scan.invalid == 0
        {
            let index = builder
                .map(|b| vec![Some(Arc::new(b.finish()))])
                .unwrap_or_default();
            return Ok(Received {
                batch: Batch {
                    signal,
                    items: scan.items,
                    encoded: Some(vec![body]),
                    scanned: true,
                    decoded: None,
                    index,
                },
                rejected: 0,
                rejection: String::new(),
            });
        }
        let payload = match signal {
            Signal::Traces => ExportTraceServiceRequest::decode(body.clone()).map(Payload::Traces),
            Signal::Logs => ExportLogsServiceRequest::decode(body.clone()).map(Payload::Logs),
            Signal::Metrics => {
                ExportMetricsServiceRequest::decode(body.clone()).map(Payload::Metrics)
            }
        }
        .map_err(|source| DecodeError::Protobuf { signal, source })?;
        Ok(Self::received(payload, Some(body)))
    }

    /// A protobuf request body whose reader already made every check of the validating
    /// scan and found `items` items, none to remove ([`crate::ProtobufIntake`]): kept
    /// as bytes and [`Batch::validated`], as [`Batch::from_protobuf`] would keep it.
    /// Bytes not so checked must go through [`Batch::from_protobuf`]: later readers
    /// trust validated bytes to decode.
    pub fn from_checked_protobuf(signal: Signal, body: Bytes, items: usize) -> Batch {
        Batch {
            signal,
            items,
            encoded: Some(vec![body]),
            scanned: true,
            decoded: None,
            index: Vec::new(),
        }
    }

    /// Decodes and validates an OTLP/JSON request body.
    pub fn from_json(signal: Signal, body: &[u8]) -> Result<Received, DecodeError> {
        let payload = match signal {
            Signal::Traces => serde_json::from_slice(body).map(Payload::Traces),
            Signal::Logs => serde_json::from_slice(body).map(Payload::Logs),
            Signal::Metrics => serde_json::from_slice(body).map(Payload::Metrics),
        }
        .map_err(|source| DecodeError::Json { signal, source })?;
        Ok(Self::received(payload, None))
    }

    fn received(mut payload: Payload, body: Option<Bytes>) -> Received {
        let (rejected, rejection) = validate::remove_invalid(&mut payload);
        let items = payload.item_count();
        // Keep the wire bytes only when they still equal the payload; the decoded form is
        // dropped so a pass-through pipeline holds one copy.
        let batch = match body {
            Some(bytes) if rejected == 0 => Batch {
                signal: payload.signal(),
                items,
                encoded: Some(vec![bytes]),
                // prost accepted these bytes, the scan did not: prost's rules differ
                // (it does not bound nesting as the scan does), so claim nothing.
                scanned: false,
                decoded: None,
                index: Vec::new(),
            },
            _ => Batch::from_payload(payload),
        };
        Received {
            batch,
            rejected,
            rejection,
        }
    }

    pub fn from_payload(payload: Payload) -> Batch {
        Batch {
            signal: payload.signal(),
            items: payload.item_count(),
            encoded: None,
            scanned: false,
            decoded: Some(payload),
            index: Vec::new(),
        }
    }

    /// An empty batch of the given signal (zero bytes encode an empty request).
    pub fn empty(signal: Signal) -> Batch {
        Batch {
            signal,
            items: 0,
            encoded: Some(Vec::new()),
            // No fragments: nothing unscanned.
            scanned: true,
            decoded: None,
            index: Vec::new(),
        }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Spans, log records or metric data points in the batch.
    pub fn item_count(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The protobuf encoding as held, without decoding or copying: fragments whose
    /// concatenation is the request (one per received body merged in). `None` once the
    /// content was modified, when only the decoded form is current. Held bytes always
    /// decode: they were accepted by the validating scan or by prost.
    pub fn encoded(&self) -> Option<&[Bytes]> {
        self.encoded.as_deref()
    }

    /// `true` when [`Batch::encoded`] holds bytes that all passed pdata's validating
    /// scan of traces and logs requests (`Batch::from_protobuf`'s fast path, or merges
    /// of such batches): every field is well-formed with the wire type its schema
    /// gives, every `string` field is UTF-8, and `AnyValue` nesting is bounded. A
    /// reader of the bytes may then skip those checks (the WASM host's view builder
    /// skips UTF-8 validation). `false` when the bytes were accepted by prost instead,
    /// or when only the decoded form is current.
    pub fn validated(&self) -> bool {
        self.scanned && self.encoded.is_some()
    }

    /// The decoded content, decoding on first use. The encoded form is kept.
    pub fn payload(&mut self) -> &Payload {
        self.ensure_decoded();
        match &self.decoded {
            Some(p) => p,
            None => unreachable!("ensure_decoded sets the payload"),
        }
    }

    /// Changes the content. The item count is recomputed and the encoded form dropped.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Payload) -> R) -> R {
        self.ensure_decoded();
        self.encoded = None;
        self.scanned = false;
        self.index.clear();
        let payload = match &mut self.decoded {
            Some(p) => p,
            None => unreachable!("ensure_decoded sets the payload"),
        };
        let r = f(payload);
        self.items = payload.item_count();
        r
    }

    /// Replaces the content with an encoded request of this batch's signal:
    /// `chunks`, fragments whose concatenation is the request (each a whole request),
    /// holding `items` items. For bytes known to decode, as [`Batch::encoded`]
    /// promises: `validated` only when every fragment would pass the validating scan
    /// (see [`Batch::validated`]). The decoded form, if any, is dropped. The WASM host
    /// applies a guest's edits to the received bytes and puts the result here, so the
    /// stages after it still forward bytes.
    pub fn replace_encoded(&mut self, chunks: Vec<Bytes>, items: usize, validated: bool) {
        self.items = items;
        self.encoded = Some(chunks);
        self.scanned = validated;
        self.decoded = None;
        // The index described the bytes replaced.
        self.index.clear();
    }

    /// Lets `f` change the content; `f` also returns whether it changed anything. When
    /// it did not, the received bytes are kept, so the batch is forwarded without
    /// re-encoding (a processor that only looked).
    pub fn modify_if_changed<R>(&mut self, f: impl FnOnce(&mut Payload) -> (R, bool)) -> R {
        self.ensure_decoded();
        let payload = match &mut self.decoded {
            Some(p) => p,
            None => unreachable!("ensure_decoded sets the payload"),
        };
        let (r, changed) = f(payload);
        if changed {
            self.items = payload.item_count();
            self.encoded = None;
            self.scanned = false;
            self.index.clear();
        }
        r
    }

    /// Takes the decoded content out of the batch.
    pub fn into_payload(mut self) -> Payload {
        self.ensure_decoded();
        self.decoded.unwrap_or_else(|| Payload::empty(self.signal))
    }

    fn ensure_decoded(&mut self) {
        if self.decoded.is_some() {
            return;
        }
        let chunks = self.encoded.as_deref().unwrap_or_default();
        // Bytes we hold were validated when the batch was made, so decoding cannot fail;
        // if it somehow does, an empty payload keeps the invariant and the count says so.
        let payload = Payload::decode_chunks(self.signal, chunks)
            .unwrap_or_else(|_| Payload::empty(self.signal));
        self.decoded = Some(payload);
    }

    /// Size of the protobuf encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        match (&self.encoded, &self.decoded) {
            (Some(chunks), _) => chunks.iter().map(Bytes::len).sum(),
            (None, Some(p)) => p.encoded_len(),
            (None, None) => 0,
        }
    }

    /// Writes the protobuf encoding of the request into `buf`.
    pub fn encode_to(&self, buf: &mut impl BufMut) {
        match (&self.encoded, &self.decoded) {
            (Some(chunks), _) => {
                for c in chunks {
                    buf.put_slice(c);
                }
            }
            (None, Some(p)) => p.encode_to(buf),
            (None, None) => {}
        }
    }

    /// The protobuf encoding as one buffer (no copy when the batch is one received body).
    pub fn to_protobuf(&self) -> Bytes {
        if let Some(chunks) = &self.encoded
            && chunks.len() == 1
        {
            return chunks[0].clone();
        }
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut buf);
        Bytes::from(buf)
    }

    /// The protobuf encoding as buffers whose concatenation is the request: the
    /// received bodies themselves when the batch was never modified (no copy).
    pub fn to_chunks(&self) -> Vec<Bytes> {
        match &self.encoded {
            Some(chunks) => chunks.clone(),
            None => vec![self.to_protobuf()],
        }
    }

    /// [`Batch::to_chunks`] with each chunk's side index when it has one (a fragment
    /// received through [`Batch::from_protobuf_indexed`] and unchanged since). Without
    /// encoded bytes, one chunk and no index.
    pub fn indexed_chunks(&self) -> Vec<(Bytes, Option<Arc<RequestIndex>>)> {
        match &self.encoded {
            Some(chunks) => chunks
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), self.index.get(i).cloned().flatten()))
                .collect(),
            None => vec![(self.to_protobuf(), None)],
        }
    }

    /// Whether some fragment carries a side index ([`Batch::indexed_chunks`]).
    pub fn has_index(&self) -> bool {
        self.index.iter().any(Option::is_some)
    }

    /// The OTLP/JSON encoding of the request.
    pub fn to_json(&mut self) -> String {
        // Serializing prost types with derived serde impls cannot fail.
        match self.payload() {
            Payload::Traces(r) => serde_json::to_string(r),
            Payload::Logs(r) => serde_json::to_string(r),
            Payload::Metrics(r) => serde_json::to_string(r),
        }
        .unwrap_or_default()
    }

    /// Appends `other` (of the same signal) to this batch.
    pub fn merge(&mut self, mut other: Batch) {
        debug_assert_eq!(self.signal, other.signal);
        if other.items == 0 && other.encoded_len() == 0 {
            return;
        }
        if self.items == 0 && self.encoded_len() == 0 {
            *self = other;
            return;
        }
        if self.decoded.is_none()
            && other.decoded.is_none()
            && let (Some(mine), Some(theirs)) = (&mut self.encoded, other.encoded.take())
        {
            // Each fragment keeps its own index (offsets are per fragment); a side
            // without one pads with `None`, so the two lists stay aligned.
            if !self.index.is_empty() || !other.index.is_empty() {
                self.index.resize(mine.len(), None);
                other.index.resize(theirs.len(), None);
                self.index.append(&mut other.index);
            }
            mine.extend(theirs);
            self.scanned &= other.scanned;
            self.items += other.items;
            return;
        }
        let theirs = other.into_payload();
        self.modify(|p| p.append(theirs));
    }

    /// Splits off the first `max_items` items into a new batch, keeping the rest.
    /// Returns `None` when the batch holds no more than `max_items`.
    pub fn split_front(&mut self, max_items: usize) -> Option<Batch> {
        if self.items <= max_items || max_items == 0 {
            return None;
        }
        let front = self.modify(|p| p.split_front(max_items));
        Some(Batch::from_payload(front))
    }
}

impl Payload {
    pub fn empty(signal: Signal) -> Payload {
        match signal {
            Signal::Traces => Payload::Traces(Default::default()),
            Signal::Logs => Payload::Logs(Default::default()),
            Signal::Metrics => Payload::Metrics(Default::default()),
        }
    }

    pub fn signal(&self) -> Signal {
        match self {
            Payload::Traces(_) => Signal::Traces,
            Payload::Logs(_) => Signal::Logs,
            Payload::Metrics(_) => Signal::Metrics,
        }
    }

    fn decode_chunks(signal: Signal, chunks: &[Bytes]) -> Result<Payload, prost::DecodeError> {
        let mut payload = Payload::empty(signal);
        for chunk in chunks {
            // `merge` appends repeated fields, which is what concatenation means.
            match &mut payload {
                Payload::Traces(r) => r.merge(chunk.clone())?,
                Payload::Logs(r) => r.merge(chunk.clone())?,
                Payload::Metrics(r) => r.merge(chunk.clone())?,
            }
        }
        Ok(payload)
    }

    /// Spans, log records or metric data points.
    pub fn item_count(&self) -> usize {
        match self {
            Payload::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            Payload::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
            Payload::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(|m| data_point_count(m.data.as_ref()))
                .sum(),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Payload::Traces(r) => r.encoded_len(),
            Payload::Logs(r) => r.encoded_len(),
            Payload::Metrics(r) => r.encoded_len(),
        }
    }

    fn encode_to(&self, buf: &mut impl BufMut) {
        // Encoding into a growable buffer cannot run out of space.
        let _ = match self {
            Payload::Traces(r) => r.encode(buf),
            Payload::Logs(r) => r.encode(buf),
            Payload::Metrics(r) => r.encode(buf),
        };
    }

    fn append(&mut self, other: Payload) {
        match (self, other) {
            (Payload::Traces(a), Payload::Traces(b)) => a.resource_spans.extend(b.resource_spans),
            (Payload::Logs(a), Payload::Logs(b)) => a.resource_logs.extend(b.resource_logs),
            (Payload::Metrics(a), Payload::Metrics(b)) => {
                a.resource_metrics.extend(b.resource_metrics)
            }
            // Pipelines are typed by signal; a mismatch is a wiring bug caught in tests.
            (a, b) => debug_assert_eq!(a.signal(), b.signal()),
        }
    }

    fn split_front(&mut self, max_items: usize) -> Payload {
        match self {
            Payload::Traces(r) => Payload::Traces(ExportTraceServiceRequest {
                resource_spans: split_traces(&mut r.resource_spans, max_items),
            }),
            Payload::Logs(r) => Payload::Logs(ExportLogsServiceRequest {
                resource_logs: split_logs(&mut r.resource_logs, max_items),
            }),
            Payload::Metrics(r) => Payload::Metrics(ExportMetricsServiceRequest {
                resource_metrics: split_metrics(&mut r.resource_metrics, max_items),
            }),
        }
    }
}

fn data_point_count(data: Option<&metric::Data>) -> usize {
    match data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Moves the first `budget` spans of `from` into a new list, keeping resource and scope.
fn split_traces(from: &mut Vec<ResourceSpans>, mut budget: usize) -> Vec<ResourceSpans> {
    let mut out = Vec::new();
    while budget > 0 && !from.is_empty() {
        let rs = &mut from[0];
        let n: usize = rs.scope_spans.iter().map(|s| s.spans.len()).sum();
        if n <= budget {
            budget -= n;
            out.push(from.remove(0));
            continue;
        }
        let mut taken = ResourceSpans {
            resource: rs.resource.clone(),
            scope_spans: Vec::new(),
            schema_url: rs.schema_url.clone(),
        };
        while budget > 0 && !rs.scope_spans.is_empty() {
            let ss = &mut rs.scope_spans[0];
            if ss.spans.len() <= budget {
                budget -= ss.spans.len();
                taken.scope_spans.push(rs.scope_spans.remove(0));
            } else {
                taken.scope_spans.push(ScopeSpans {
                    scope: ss.scope.clone(),
                    spans: ss.spans.drain(..budget).collect(),
                    schema_url: ss.schema_url.clone(),
                });
                budget = 0;
            }
        }
        out.push(taken);
    }
    out
}

fn split_logs(from: &mut Vec<ResourceLogs>, mut budget: usize) -> Vec<ResourceLogs> {
    let mut out = Vec::new();
    while budget > 0 && !from.is_empty() {
        let rl = &mut from[0];
        let n: usize = rl.scope_logs.iter().map(|s| s.log_records.len()).sum();
        if n <= budget {
            budget -= n;
            out.push(from.remove(0));
            continue;
        }
        let mut taken = ResourceLogs {
            resource: rl.resource.clone(),
            scope_logs: Vec::new(),
            schema_url: rl.schema_url.clone(),
        };
        while budget > 0 && !rl.scope_logs.is_empty() {
            let sl = &mut rl.scope_logs[0];
            if sl.log_records.len() <= budget {
                budget -= sl.log_records.len();
                taken.scope_logs.push(rl.scope_logs.remove(0));
            } else {
                taken.scope_logs.push(ScopeLogs {
                    scope: sl.scope.clone(),
                    log_records: sl.log_records.drain(..budget).collect(),
                    schema_url: sl.schema_url.clone(),
                });
                budget = 0;
            }
        }
        out.push(taken);
    }
    out
}

/// Metrics split at metric granularity: a single metric with more data points than the
/// budget travels whole, so a split batch may exceed the budget by that metric.
fn split_metrics(from: &mut Vec<ResourceMetrics>, mut budget: usize) -> Vec<ResourceMetrics> {
    let mut out = Vec::new();
    while budget > 0 && !from.is_empty() {
        let rm = &mut from[0];
        let n: usize = rm
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .map(|m| data_point_count(m.data.as_ref()))
            .sum();
        if n <= budget {
            budget -= n;
            out.push(from.remove(0));
            continue;
        }
        let mut taken = ResourceMetrics {
            resource: rm.resource.clone(),
            scope_metrics: Vec::new(),
            schema_url: rm.schema_url.clone(),
        };
        while budget > 0 && !rm.scope_metrics.is_empty() {
            let sm = &mut rm.scope_metrics[0];
            let mut moved = ScopeMetrics {
                scope: sm.scope.clone(),
                metrics: Vec::new(),
                schema_url: sm.schema_url.clone(),
            };
            while budget > 0 && !sm.metrics.is_empty() {
                let points = data_point_count(sm.metrics[0].data.as_ref());
                budget = budget.saturating_sub(points.max(1));
                moved.metrics.push(sm.metrics.remove(0));
            }
            if sm.metrics.is_empty() {
                rm.scope_metrics.remove(0);
            }
            taken.scope_metrics.push(moved);
        }
        out.push(taken);
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod index_tests;
