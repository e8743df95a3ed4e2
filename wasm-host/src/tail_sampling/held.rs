//! Held items are byte ranges of the request they came in. A received request
//! (the receiver's `Bytes`, never copied) is held once, shared by every trace
//! with items in it; a trace holds, per scope, the runs of its consecutive
//! framed items (`ScopeSpans.spans` or `ScopeLogs.log_records` fields: key,
//! length, message) as they lie in that request.
//!
//! The accounting rule: a held run keeps its whole request alive, so a request
//! is charged its full length (plus [`REQUEST_OVERHEAD`]) from when the first
//! of its runs enters the buffer until the last one leaves it. [`Request`]
//! counts its runs in the buffer for that. A run is an `Arc<Request>` and a
//! range rather than a `Bytes` slice so that the count can be reached from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use smallvec::SmallVec;

use super::buffer::Item;
use super::wire::ScopeCtx;

/// Charged per held request on top of its length: the `Request` and its
/// reference-counted share of the receiver's buffer.
pub(crate) const REQUEST_OVERHEAD: u64 = 64;

/// A received encoded request some of whose items are (or were) held.
#[derive(Debug)]
pub(crate) struct Request {
    bytes: Bytes,
    /// Runs of this request in the buffer. Changed only under the buffer's
    /// lock; atomic because the request is shared with threads that decide.
    in_buffer: AtomicUsize,
}

impl Request {
    pub(crate) fn new(bytes: Bytes) -> Arc<Self> {
        Arc::new(Request {
            bytes,
            in_buffer: AtomicUsize::new(0),
        })
    }

    /// What the buffer charges while any run of this request is in it.
    pub(crate) fn charge(&self) -> u64 {
        self.bytes.len() as u64 + REQUEST_OVERHEAD
    }

    /// Notes a run entering the buffer: true for the first (start charging).
    pub(crate) fn enter(&self) -> bool {
        self.in_buffer.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// Notes a run leaving the buffer: true for the last (stop charging).
    pub(crate) fn leave(&self) -> bool {
        self.in_buffer.fetch_sub(1, Ordering::Relaxed) == 1
    }
}

/// Consecutive framed items of one trace under one scope, as they lie in
/// their request.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) request: Arc<Request>,
    start: usize,
    end: usize,
}

impl Run {
    /// `start..end` of `request`: a range the split found in its bytes.
    pub(crate) fn new(request: &Arc<Request>, (start, end): (usize, usize)) -> Run {
        Run {
            request: request.clone(),
            start,
            end,
        }
    }

    /// The framed items.
    pub(crate) fn bytes(&self) -> &[u8] {
        // The split found this range in these bytes; an empty slice rather
        // than a panic should that ever not hold.
        self.request
            .bytes
            .get(self.start..self.end)
            .unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Items of one trace under one scope, of one kind: runs in arrival order.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) kind: Item,
    pub(crate) ctx: Arc<ScopeCtx>,
    pub(crate) runs: SmallVec<[Run; 1]>,
    /// Items in the runs.
    pub(crate) count: u64,
}

impl Group {
    /// The items `runs` (ranges of `request`, `count` items in all) under `ctx`.
    pub(crate) fn of(
        kind: Item,
        ctx: &Arc<ScopeCtx>,
        request: &Arc<Request>,
        runs: &[(usize, usize)],
        count: u64,
    ) -> Group {
        Group {
            kind,
            ctx: ctx.clone(),
            runs: runs.iter().map(|r| Run::new(request, *r)).collect(),
            count,
        }
    }

    /// Bytes of the framed items.
    pub(crate) fn len(&self) -> usize {
        self.runs.iter().map(Run::len).sum()
    }
}
