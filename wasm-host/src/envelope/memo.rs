//! Dedupe before assembly: a failing trace whose *evidence* (what the
//! assembler's fingerprint is computed from) equals that of a trace already
//! assembled maps to that trace's fingerprint; when the fingerprint's dedupe
//! window is still open, the trace is counted as a deduplicated occurrence
//! without calling the guest (which, with the schema check and the data
//! contract, is most of the cost of a failing trace, and nearly every
//! failing trace is deduplicated).
//!
//! The evidence key is exact (the bytes read, not a hash of them): equal keys
//! mean equal evidence. It holds, in the order the guest sees the trace
//! (spans grouped by resource as [`crate::tail_sampling::wire::encode_request`]
//! writes them):
//! - each span's kind, status code, whether its trace id (16 bytes) and span
//!   id (8 bytes) are valid, its parent's position in the trace, its
//!   resource's listed attributes and its own listed attributes;
//! - each `exception` event of a span with its listed attributes;
//! - each log record carrying `exception.type`, with its listed attributes
//!   and the position of the span it names;
//! - the order of those exception records by time (events first, then log
//!   records; ties in that order), not the times themselves.
//!
//! Ids, times, names and every attribute not listed are left out, so the
//! traces of one failure at one place meet in one key. That is sound only
//! for an assembler whose fingerprint, and whether it builds an envelope at
//! all, is a function of the key: `builtin:envelope` is, with
//! [`Evidence::builtin`]; a third-party assembler opts in with the
//! exporter's `dedupe_before_assembly` and names what else it reads
//! (docs/envelopes.md, "Dedupe before assembly").

use std::collections::HashMap;
use std::sync::Arc;

use pdata::wire::field::{self, key_value, resource, scope_items};
use pdata::wire::{self, Reader};

use super::signals;
use crate::tail_sampling::buffer::{Held, Item};
use crate::tail_sampling::held::Group;
use crate::tail_sampling::wire::{ResourceCtx, WireError, same_resource};

/// Keys remembered at most, and their bytes at most: past either the memo
/// starts again empty (a miss costs one assembly, as without the memo).
const MAX_KEYS: usize = 10_000;
const MAX_KEY_BYTES: usize = 16 << 20;

/// The attribute names the evidence key reads, by where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Resource attributes.
    pub resource: Vec<String>,
    /// Span attributes.
    pub span: Vec<String>,
    /// Attributes of `exception` span events and exception log records.
    pub exception: Vec<String>,
}

impl Evidence {
    /// What `builtin:envelope` reads to decide whether it builds an envelope
    /// and to compute its fingerprint: the service, the runtime hints the
    /// stack parser takes, the commit (`commit_attributes`: the guest's
    /// list), the request's method, path and route, `error.type`, and the
    /// exception's type, message and stack trace.
    pub fn builtin(commit_attributes: &[String]) -> Self {
        let own = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut resource = own(&[
            "service.name",
            "telemetry.sdk.language",
            "process.runtime.name",
        ]);
        resource.extend(commit_attributes.iter().cloned());
        Evidence {
            resource,
            span: own(&[
                "http.request.method",
                "http.method",
                "url.path",
                "http.target",
                "url.full",
                "http.url",
                "http.route",
                "error.type",
            ]),
            exception: own(&[
                "exception.type",
                "exception.message",
                "exception.stacktrace",
            ]),
        }
    }

    /// These and `extra` at every level (a third-party assembler's own
    /// reads).
    pub fn with_extra(mut self, extra: &[String]) -> Self {
        for list in [&mut self.resource, &mut self.span, &mut self.exception] {
            for name in extra {
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        self
    }
}

/// Evidence keys of traces assembled, each with the fingerprint of the one
/// envelope the assembler built from it.
#[derive(Default)]
pub(crate) struct Memo {
    map: HashMap<Box<[u8]>, Arc<str>, foldhash::fast::RandomState>,
    bytes: usize,
}

impl Memo {
    /// The fingerprint assembled from `key`'s evidence before, if any.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<str>> {
        self.map.get(key).cloned()
    }

    /// Remembers that `key`'s evidence was assembled into `fingerprint`.
    pub(crate) fn insert(&mut self, key: Vec<u8>, fingerprint: &str) {
        if self.map.len() >= MAX_KEYS || self.bytes + key.len() > MAX_KEY_BYTES {
            self.map.clear();
            self.bytes = 0;
        }
        let len = key.len();
        if self
            .map
            .insert(key.into_boxed_slice(), Arc::from(fingerprint))
            .is_none()
        {
            self.bytes += len;
        }
    }
}

/// Section tags of the key (each section's payload delimits itself).
const RESOURCE: u8 = b'R';
const SPAN: u8 = b'S';
const ATTRIBUTE: u8 = b'A';
const EVENT: u8 = b'E';
const LOG: u8 = b'L';
const PARENTS: u8 = b'P';
const ORDER: u8 = b'T';

/// The evidence key of `held` (see the module docs).
pub(crate) fn key(held: &Held, ev: &Evidence) -> Result<Vec<u8>, WireError> {
    let mut k = Key::default();
    for (res, groups) in request_order(&held.of(Item::Span)) {
        let ri = k.resource(res, ev)?;
        for run in groups.iter().flat_map(|g| &g.runs) {
            wire::for_each_field(run.bytes(), scope_items::ITEMS, |span| k.span(span, ri, ev))?;
        }
    }
    for (_, groups) in request_order(&held.of(Item::Log)) {
        for run in groups.iter().flat_map(|g| &g.runs) {
            wire::for_each_field(run.bytes(), scope_items::ITEMS, |record| k.log(record, ev))?;
        }
    }
    Ok(k.finish())
}

/// Groups by resource in first-seen order: the order in which
/// `encode_request` writes them, so the guest's.
fn request_order<'g>(groups: &[&'g Group]) -> Vec<(&'g Arc<ResourceCtx>, Vec<&'g Group>)> {
    let mut out: Vec<(&Arc<ResourceCtx>, Vec<&Group>)> = Vec::new();
    for g in groups {
        let res = &g.ctx.resource;
        match out
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, res) || same_resource(r, res))
        {
            Some((_, members)) => members.push(g),
            None => out.push((res, vec![g])),
        }
    }
    out
}

#[derive(Default)]
struct Key {
    out: Vec<u8>,
    /// Listed attributes of each distinct resource met so far.
    resources: Vec<Vec<u8>>,
    /// Span and parent ids, by position (for the parent links, read last).
    ids: Vec<(Vec<u8>, Vec<u8>)>,
    /// Log records' span ids, by record (linked to spans at the end).
    log_links: Vec<Vec<u8>>,
    /// Times of the exception records, in the guest's reading order.
    times: Vec<u64>,
}

impl Key {
    /// The index of `res`'s listed attributes among the resources met.
    fn resource(&mut self, res: &ResourceCtx, ev: &Evidence) -> Result<usize, WireError> {
        let mut listed = Vec::new();
        if let Some(r) = &res.resource {
            wire::for_each_field(r, resource::ATTRIBUTES, |kv| {
                put_listed(&mut listed, kv, &ev.resource)
            })?;
        }
        if let Some(i) = self.resources.iter().position(|r| *r == listed) {
            return Ok(i);
        }
        self.out.push(RESOURCE);
        put_bytes(&mut self.out, &listed);
        self.resources.push(listed);
        Ok(self.resources.len() - 1)
    }

    fn span(&mut self, span: &[u8], resource: usize, ev: &Evidence) -> Result<(), WireError> {
        use field::span as f;
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut kind = 0;
        let mut code = None;
        let mut body = Vec::new();
        let mut r = Reader::new(span);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                f::TRACE_ID => trace_id = r.message(wt)?,
                f::SPAN_ID => span_id = r.message(wt)?,
                f::PARENT_SPAN_ID => parent = r.message(wt)?,
                f::KIND => kind = r.varint_field(wt)?,
                f::STATUS => {
                    if let Some(c) = signals::status_code(r.message(wt)?)? {
                        code = Some(c);
                    }
                }
                f::ATTRIBUTES => put_listed(&mut body, r.message(wt)?, &ev.span)?,
                f::EVENTS => self.event(&mut body, r.message(wt)?, ev)?,
                _ => r.skip(wt)?,
            }
        }
        self.out.push(SPAN);
        put_varint(&mut self.out, resource as u64);
        put_varint(&mut self.out, kind);
        put_varint(&mut self.out, code.map_or(0, |c| c.saturating_add(1)));
        self.out
            .push(u8::from(valid_id(trace_id, 16)) | (u8::from(valid_id(span_id, 8)) << 1));
        put_bytes(&mut self.out, &body);
        self.ids.push((span_id.to_vec(), parent.to_vec()));
        Ok(())
    }

    /// An `exception` event's listed attributes into `body`; other events
    /// are not evidence.
    fn event(&mut self, body: &mut Vec<u8>, event: &[u8], ev: &Evidence) -> Result<(), WireError> {
        use field::event as f;
        let mut name: &[u8] = &[];
        let mut time = 0;
        let mut listed = Vec::new();
        let mut r = Reader::new(event);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                f::NAME => name = r.string(wt)?,
                f::TIME => time = r.fixed64(wt)?,
                f::ATTRIBUTES => put_listed(&mut listed, r.message(wt)?, &ev.exception)?,
                _ => r.skip(wt)?,
            }
        }
        if name == b"exception" {
            body.push(EVENT);
            put_bytes(body, &listed);
            self.times.push(time);
        }
        Ok(())
    }

    /// A log record with `exception.type`; other records are not evidence.
    fn log(&mut self, record: &[u8], ev: &Evidence) -> Result<(), WireError> {
        use field::log_record as f;
        let (mut time, mut observed) = (0, 0);
        let mut span_id: &[u8] = &[];
        let mut exception = false;
        let mut listed = Vec::new();
        let mut r = Reader::new(record);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                f::TIME => time = r.fixed64(wt)?,
                f::OBSERVED_TIME => observed = r.fixed64(wt)?,
                f::SPAN_ID => span_id = r.message(wt)?,
                f::ATTRIBUTES => {
                    let kv = r.message(wt)?;
                    exception = exception || signals::is_exception_type(kv)?;
                    put_listed(&mut listed, kv, &ev.exception)?;
                }
                _ => r.skip(wt)?,
            }
        }
        if exception {
            self.out.push(LOG);
            put_bytes(&mut self.out, &listed);
            self.log_links.push(span_id.to_vec());
            // The guest's record time: the time, else the observed time.
            self.times.push(if time == 0 { observed } else { time });
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        // Positions, not ids: the first span with the id, as the guest
        // looks spans up (an empty id names none).
        let position = |id: &[u8]| -> u64 {
            if id.is_empty() {
                return 0;
            }
            self.ids
                .iter()
                .position(|(s, _)| s == id)
                .map_or(0, |i| i as u64 + 1)
        };
        let links: Vec<u64> = self
            .ids
            .iter()
            .map(|(_, p)| p.as_slice())
            .chain(self.log_links.iter().map(Vec::as_slice))
            .map(position)
            .collect();
        self.out.push(PARENTS);
        for l in links {
            put_varint(&mut self.out, l);
        }
        let mut order: Vec<usize> = (0..self.times.len()).collect();
        // Stable: equal times keep the reading order, as the guest's
        // "earliest, first on a tie" does.
        order.sort_by_key(|&i| self.times[i]);
        self.out.push(ORDER);
        for i in order {
            put_varint(&mut self.out, i as u64);
        }
        self.out
    }
}

/// Appends the encoded `KeyValue` `kv` (key and value bytes as received)
/// when its key is one of `names`.
fn put_listed(out: &mut Vec<u8>, kv: &[u8], names: &[String]) -> Result<(), WireError> {
    let Some(key) = wire::last_field(kv, key_value::KEY)? else {
        return Ok(());
    };
    if names.iter().any(|n| n.as_bytes() == key) {
        out.push(ATTRIBUTE);
        put_bytes(out, kv);
    }
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    prost::encoding::encode_varint(v, out);
}

/// An id of `len` bytes, not all zero (what the assembler requires of the
/// failing span's ids).
fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}
