//! The pool of pre-encoded request bodies that senders replay.
//!
//! Building and encoding requests costs far more CPU than sending them, so it all
//! happens before the clock starts and the send loop only clones a `Bytes` handle.
//! Ids are unique across the pool, and each further pass over it re-keys the trace ids
//! (see `rekey`), except in pre-compressed bodies, which repeat ids once per pass.
//! gzip bodies are compressed here, once, for gRPC as well as HTTP.

use bytes::Bytes;

use crate::client::frame_compressed;
use crate::encode::{self, Compression, EncodeError, Encoding};
use crate::generate::{Generator, Shape, Signal};
use crate::rekey::TraceIdSlots;

/// One encoded request body ready to send.
#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes on the wire (compressed if the pool was built compressed).
    pub bytes: Bytes,
    /// Spans or log records in the request.
    pub items: u64,
    /// Where the trace ids are, for re-keying on later passes.
    pub trace_ids: TraceIdSlots,
}

/// What to put in the pool.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    /// Signal of every request.
    pub signal: Signal,
    /// Items per request.
    pub batch_size: usize,
    /// Distinct full-size requests to build, at most.
    pub pool_size: usize,
    /// Total items to send, if the run is bounded by count: the last request then
    /// carries the remainder so the total is exact.
    pub total_items: Option<u64>,
    /// Body encoding.
    pub encoding: Encoding,
    /// Compress bodies once here, rather than per send.
    pub compression: Compression,
    /// Wrap each compressed body as a gRPC message (compressed flag, length), for the
    /// client that sends pre-compressed gRPC.
    pub grpc_frame: bool,
    /// Seed for ids.
    pub seed: u64,
    /// Timestamp of the first generated item.
    pub base_time_ns: u64,
}

/// Encoded request bodies, replayed round-robin.
#[derive(Debug, Clone)]
pub struct Pool {
    bodies: Vec<Body>,
    /// A smaller last request that makes a count-bounded run send exactly its total.
    remainder: Option<Body>,
    total_requests: Option<u64>,
}

impl Pool {
    /// Generates and encodes every body in `plan`.
    pub fn build(shape: &Shape, plan: &PoolPlan) -> Result<Self, EncodeError> {
        let batch = plan.batch_size.max(1) as u64;
        let (full, rest) = match plan.total_items {
            Some(total) => (total / batch, total % batch),
            None => (u64::MAX, 0),
        };
        let distinct = full.min(plan.pool_size.max(1) as u64) as usize;
        let mut generator = Generator::new(shape.clone(), plan.seed, plan.base_time_ns);
        let mut make = |items: u64| -> Result<Body, EncodeError> {
            let request = generator.request(plan.signal, items as usize);
            let mut bytes = encode::encode(&request, plan.encoding)?;
            let trace_ids = if plan.compression == Compression::Gzip {
                bytes = encode::gzip(&bytes)?;
                if plan.grpc_frame {
                    bytes = frame_compressed(&bytes)?;
                }
                TraceIdSlots::None
            } else {
                TraceIdSlots::find(&bytes, plan.signal, plan.encoding)?
            };
            Ok(Body {
                bytes: bytes.into(),
                items,
                trace_ids,
            })
        };
        let bodies = (0..distinct)
            .map(|_| make(batch))
            .collect::<Result<Vec<_>, _>>()?;
        let remainder = if rest > 0 { Some(make(rest)?) } else { None };
        Ok(Self {
            bodies,
            remainder,
            total_requests: plan.total_items.map(|_| full + u64::from(rest > 0)),
        })
    }

    /// Requests a count-bounded run sends; `None` when bounded by time.
    pub fn total_requests(&self) -> Option<u64> {
        self.total_requests
    }

    /// What to send as the `n`th request of the run: the pooled body, with its trace ids
    /// re-keyed for the pass over the pool that `n` falls in.
    pub fn request(&self, n: u64) -> Body {
        let body = self.get(n);
        let pass = n / self.bodies.len().max(1) as u64;
        Body {
            bytes: body.trace_ids.apply(&body.bytes, pass),
            items: body.items,
            trace_ids: TraceIdSlots::None,
        }
    }

    /// The pooled body for the `n`th request of the run.
    pub fn get(&self, n: u64) -> &Body {
        if let (Some(total), Some(last)) = (self.total_requests, &self.remainder)
            && n + 1 == total
        {
            return last;
        }
        match self.bodies.len() {
            // Only a remainder exists (total below one batch).
            0 => self.remainder.as_ref().unwrap_or(&EMPTY),
            len => &self.bodies[(n % len as u64) as usize],
        }
    }

    /// Distinct bodies held.
    pub fn len(&self) -> usize {
        self.bodies.len() + usize::from(self.remainder.is_some())
    }

    /// Whether the pool holds no bodies (a run of zero items).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Average encoded size of a full request, in bytes.
    pub fn mean_body_bytes(&self) -> usize {
        match self.bodies.len() {
            0 => self.remainder.as_ref().map_or(0, |b| b.bytes.len()),
            n => self.bodies.iter().map(|b| b.bytes.len()).sum::<usize>() / n,
        }
    }
}

static EMPTY: Body = Body {
    bytes: Bytes::from_static(&[]),
    items: 0,
    trace_ids: TraceIdSlots::None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    use std::collections::HashSet;

    fn plan(total: Option<u64>) -> PoolPlan {
        PoolPlan {
            signal: Signal::Traces,
            batch_size: 100,
            pool_size: 8,
            total_items: total,
            encoding: Encoding::Proto,
            compression: Compression::None,
            grpc_frame: false,
            seed: 5,
            base_time_ns: 0,
        }
    }

    #[test]
    fn count_bounded_run_sends_exactly_the_total() -> Result<(), EncodeError> {
        let pool = Pool::build(&Shape::default(), &plan(Some(1_050)))?;
        let total = pool.total_requests().unwrap_or_default();
        assert_eq!(total, 11);
        let items: u64 = (0..total).map(|n| pool.get(n).items).sum();
        assert_eq!(items, 1_050);
        assert_eq!(pool.get(10).items, 50);
        assert_eq!(pool.get(3).items, 100);
        Ok(())
    }

    #[test]
    fn below_one_batch_is_one_small_request() -> Result<(), EncodeError> {
        let pool = Pool::build(&Shape::default(), &plan(Some(7)))?;
        assert_eq!(pool.total_requests(), Some(1));
        assert_eq!(pool.get(0).items, 7);
        Ok(())
    }

    #[test]
    fn bodies_hold_distinct_trace_ids() -> Result<(), Box<dyn std::error::Error>> {
        let pool = Pool::build(&Shape::default(), &plan(None))?;
        assert_eq!(pool.len(), 8);
        assert_eq!(pool.total_requests(), None);
        let mut trace_ids = HashSet::new();
        for n in 0..8 {
            let req = ExportTraceServiceRequest::decode(pool.get(n).bytes.clone())?;
            let spans = &req.resource_spans[0].scope_spans[0].spans;
            assert_eq!(spans.len(), 100);
            trace_ids.extend(spans.iter().map(|s| s.trace_id.clone()));
        }
        // 800 spans at 5 per trace.
        assert_eq!(trace_ids.len(), 160);
        Ok(())
    }

    fn trace_ids(signal: Signal, encoding: Encoding, body: &Bytes) -> Vec<String> {
        use crate::generate::ExportRequest;
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        let request = match encoding {
            Encoding::Proto => match signal {
                Signal::Traces => ExportRequest::Traces(
                    ExportTraceServiceRequest::decode(body.clone())
                        .ok()
                        .unwrap_or_default(),
                ),
                Signal::Logs => ExportRequest::Logs(
                    ExportLogsServiceRequest::decode(body.clone())
                        .ok()
                        .unwrap_or_default(),
                ),
            },
            Encoding::Json => match signal {
                Signal::Traces => {
                    ExportRequest::Traces(serde_json::from_slice(body).ok().unwrap_or_default())
                }
                Signal::Logs => {
                    ExportRequest::Logs(serde_json::from_slice(body).ok().unwrap_or_default())
                }
            },
        };
        let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        match request {
            ExportRequest::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| hex(&s.trace_id))
                .collect(),
            ExportRequest::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
                .map(|l| hex(&l.trace_id))
                .collect(),
        }
    }

    #[test]
    fn later_passes_get_fresh_trace_ids() -> Result<(), EncodeError> {
        for signal in [Signal::Traces, Signal::Logs] {
            for encoding in [Encoding::Proto, Encoding::Json] {
                let mut p = plan(None);
                p.signal = signal;
                p.encoding = encoding;
                p.pool_size = 4;
                p.batch_size = 10;
                let pool = Pool::build(&Shape::default(), &p)?;
                let mut seen = HashSet::new();
                // Three passes over a pool of 4 requests of 10 items, 5 per trace.
                for n in 0..12 {
                    let body = pool.request(n);
                    let ids = trace_ids(signal, encoding, &body.bytes);
                    assert_eq!(ids.len(), 10, "{signal:?} {encoding:?} request {n} decodes");
                    for pair in ids.chunks(5) {
                        assert!(pair.iter().all(|id| *id == pair[0]), "a trace keeps one id");
                    }
                    for id in ids.iter().step_by(5) {
                        assert!(
                            seen.insert(id.clone()),
                            "{signal:?} {encoding:?}: {id} repeats"
                        );
                    }
                }
                assert_eq!(seen.len(), 24);
            }
        }
        Ok(())
    }

    #[test]
    fn gzip_pool_is_compressed() -> Result<(), EncodeError> {
        let mut p = plan(Some(200));
        p.compression = Compression::Gzip;
        let pool = Pool::build(&Shape::default(), &p)?;
        // gzip magic number.
        assert_eq!(&pool.get(0).bytes[..2], &[0x1f, 0x8b]);
        p.grpc_frame = true;
        let pool = Pool::build(&Shape::default(), &p)?;
        // Compressed-flag, 4-byte length, then the gzip stream.
        let body = &pool.get(0).bytes;
        assert_eq!(body[0], 1);
        assert_eq!(&body[5..7], &[0x1f, 0x8b]);
        Ok(())
    }
}
