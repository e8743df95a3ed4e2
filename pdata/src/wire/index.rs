//! A side index of one encoded traces or logs request, made by the receiver's
//! validating scan in its walk of every item ([`crate::Batch::from_protobuf_indexed`]):
//! where each resource, scope and item lies in the request, each item's trace id and
//! whether it shows an error. Components that hold whole traces (the tail-sampling
//! buffer, the envelope exporter) take a request apart with it instead of walking every
//! span again, when the bytes are out of cache.
//!
//! An index describes the bytes it was made from and nothing else: a
//! [`crate::Batch`] drops it whenever its bytes change.
//!
//! Error markers, as the envelope exporter defines them: a span shows an error when
//! its status code (the last one given, as prost merges repeated `status` fields) is
//! `ERROR` or it has an event named `exception`; a log record when one of its
//! attributes is `exception.type`.

use std::ops::Range;

use crate::Signal;
use crate::group::{self, TraceId};

/// `Status.code` of an error.
pub const STATUS_CODE_ERROR: u64 = 2;

/// The event name that marks a span as failing.
pub const EXCEPTION_EVENT: &[u8] = b"exception";

/// The log record attribute that marks an exception record.
pub const EXCEPTION_TYPE: &[u8] = b"exception.type";

/// A byte range of the indexed request.
pub type Range32 = Range<u32>;

/// One span or log record of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedItem {
    /// The framed item (its key, length and message) in the request.
    pub framed: Range32,
    /// The item's `trace_id` as a decoder keeps it (the last one given), or `None` when
    /// it is not 16 bytes.
    pub trace_id: Option<TraceId>,
    /// The item shows an error (the module's error markers).
    pub error: bool,
}

/// One `ScopeSpans` or `ScopeLogs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedScope {
    /// Payloads of its `scope` field occurrences, in order (a decoder merges them).
    pub scope: Vec<Range32>,
    /// Its `schema_url` (the last one given); empty when absent.
    pub schema_url: Range32,
    /// Its items: a range of [`RequestIndex::items`].
    pub items: Range<usize>,
}

/// One `ResourceSpans` or `ResourceLogs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedResource {
    /// Payloads of its `resource` field occurrences, in order.
    pub resource: Vec<Range32>,
    /// Its `schema_url` (the last one given); empty when absent.
    pub schema_url: Range32,
    /// Its scopes: a range of [`RequestIndex::scopes`].
    pub scopes: Range<usize>,
}

/// The index of one encoded request (one fragment of a [`crate::Batch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIndex {
    /// The signal of the request.
    pub signal: Signal,
    /// Length of the indexed request: an index offered with other bytes is refused by
    /// [`RequestIndex::describes`].
    pub len: usize,
    /// Resources in request order.
    pub resources: Vec<IndexedResource>,
    /// Scopes of all resources, in request order.
    pub scopes: Vec<IndexedScope>,
    /// Items of all scopes, in request order.
    pub items: Vec<IndexedItem>,
}

impl RequestIndex {
    /// Whether this index can describe `request` (same length); a cheap guard against
    /// an index paired with the wrong bytes, not a proof.
    pub fn describes(&self, request: &[u8]) -> bool {
        self.len == request.len()
    }
}

/// What the validating scan tells an index as it walks a request. The scan calls it
/// with subslices of the request it scans; `()` ignores everything (the scan without
/// an index).
pub(crate) trait Sink {
    fn resource(&mut self);
    fn resource_message(&mut self, payload: &[u8]);
    fn resource_schema(&mut self, payload: &[u8]);
    fn scope(&mut self);
    fn scope_message(&mut self, payload: &[u8]);
    fn scope_schema(&mut self, payload: &[u8]);
    fn item(&mut self, framed: &[u8], trace_id: Option<&[u8]>, error: bool);
}

impl Sink for () {
    #[inline(always)]
    fn resource(&mut self) {}
    #[inline(always)]
    fn resource_message(&mut self, _: &[u8]) {}
    #[inline(always)]
    fn resource_schema(&mut self, _: &[u8]) {}
    #[inline(always)]
    fn scope(&mut self) {}
    #[inline(always)]
    fn scope_message(&mut self, _: &[u8]) {}
    #[inline(always)]
    fn scope_schema(&mut self, _: &[u8]) {}
    #[inline(always)]
    fn item(&mut self, _: &[u8], _: Option<&[u8]>, _: bool) {}
}

/// Builds a [`RequestIndex`] from the scan's calls.
pub(crate) struct Builder {
    /// Address of the request's first byte: a subslice's offset is its address minus
    /// this.
    origin: usize,
    index: RequestIndex,
}

impl Builder {
    /// A builder for `request`, or `None` when its offsets do not fit 32 bits (such a
    /// request is not indexed).
    pub(crate) fn new(signal: Signal, request: &[u8]) -> Option<Builder> {
        u32::try_from(request.len()).ok()?;
        Some(Builder {
            origin: request.as_ptr() as usize,
            index: RequestIndex {
                signal,
                len: request.len(),
                resources: Vec::new(),
                scopes: Vec::new(),
                // Requests of a few hundred bytes an item: sized once, not grown.
                items: Vec::with_capacity(request.len() / 256),
            },
        })
    }

    pub(crate) fn finish(self) -> RequestIndex {
        self.index
    }

    /// Where `part` (a subslice of the request) lies in it. Offsets fit: the request's
    /// length was checked in [`Builder::new`].
    #[inline]
    fn range(&self, part: &[u8]) -> Range32 {
        let start = part.as_ptr() as usize - self.origin;
        start as u32..(start + part.len()) as u32
    }
}

impl Sink for Builder {
    fn resource(&mut self) {
        let at = self.index.scopes.len();
        self.index.resources.push(IndexedResource {
            resource: Vec::new(),
            schema_url: 0..0,
            scopes: at..at,
        });
    }

    fn resource_message(&mut self, payload: &[u8]) {
        let r = self.range(payload);
        if let Some(last) = self.index.resources.last_mut() {
            last.resource.push(r);
        }
    }

    fn resource_schema(&mut self, payload: &[u8]) {
        let r = self.range(payload);
        if let Some(last) = self.index.resources.last_mut() {
            last.schema_url = r;
        }
    }

    fn scope(&mut self) {
        let at = self.index.items.len();
        self.index.scopes.push(IndexedScope {
            scope: Vec::new(),
            schema_url: 0..0,
            items: at..at,
        });
        if let Some(last) = self.index.resources.last_mut() {
            last.scopes.end = self.index.scopes.len();
        }
    }

    fn scope_message(&mut self, payload: &[u8]) {
        let r = self.range(payload);
        if let Some(last) = self.index.scopes.last_mut() {
            last.scope.push(r);
        }
    }

    fn scope_schema(&mut self, payload: &[u8]) {
        let r = self.range(payload);
        if let Some(last) = self.index.scopes.last_mut() {
            last.schema_url = r;
        }
    }

    #[inline]
    fn item(&mut self, framed: &[u8], trace_id: Option<&[u8]>, error: bool) {
        let framed = self.range(framed);
        self.index.items.push(IndexedItem {
            framed,
            trace_id: trace_id.and_then(group::trace_id),
            error,
        });
        if let Some(last) = self.index.scopes.last_mut() {
            last.items.end = self.index.items.len();
        }
    }
}

#[cfg(test)]
mod tests;
