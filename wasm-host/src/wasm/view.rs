//! Builds the batch view a guest reads: one string arena plus packed
//! little-endian row tables (`wit/layout.rs`), written from the decoded prost
//! request. [`view_wire`](super::view_wire) builds the same view straight
//! from the encoded request; keep the two in step (field order included:
//! the wire builder appends strings and nodes in the order used here). Strings are appended to the arena, never allocated
//! one by one; the buffers are reused from call to call, so a warm instance
//! builds its view without allocating at all.
//!
//! Rows are numbered in request order (resource by resource, scope by scope),
//! and [`RowIndex`] remembers where each row came from so edits can be
//! applied back to the request.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;

use std::sync::Arc;

use super::bindings::types;
use super::edits::u32_at;
use super::interest::Interest;
use super::layout_shared::{self as layout, NONE};

/// Where each row of a view came from in the request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowIndex {
    /// Resource row -> resource group index (identity, kept for the count).
    pub(crate) resources: u32,
    /// Scope row -> (resource group, scope group).
    pub(crate) scopes: Vec<(u32, u32)>,
    /// Span row -> (resource group, scope group, span).
    pub(crate) spans: Vec<(u32, u32, u32)>,
    /// Event row -> (span row, event).
    pub(crate) events: Vec<(u32, u32)>,
    /// Link row -> (span row, link).
    pub(crate) links: Vec<(u32, u32)>,
    /// Log row -> (resource group, scope group, record).
    pub(crate) logs: Vec<(u32, u32, u32)>,
    /// When the guest declared an interest: which of the rows above it was
    /// shown. The tables above then list every resource, scope, span and
    /// log record of the request (the edits' walk over the bytes needs
    /// them all), events and links only those of shown spans (they are
    /// numbered as the guest sees them, their span rows as above). `None`:
    /// every row was shown, numbered as above.
    pub(crate) shown: Option<Shown>,
}

/// The rows a guest was shown when it declared an interest: its row `i` of
/// each table is row `shown[i]` of the [`RowIndex`]. Increasing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    pub(crate) resources: Vec<u32>,
    pub(crate) scopes: Vec<u32>,
    pub(crate) spans: Vec<u32>,
    pub(crate) logs: Vec<u32>,
}

impl RowIndex {
    fn clear(&mut self) {
        self.resources = 0;
        self.scopes.clear();
        self.spans.clear();
        self.events.clear();
        self.links.clear();
        self.logs.clear();
        if let Some(s) = &mut self.shown {
            s.resources.clear();
            s.scopes.clear();
            s.spans.clear();
            s.logs.clear();
        }
    }

    /// Starts a build for `interest`: `shown` kept (empty) with one.
    fn start(&mut self, interest: Option<&Interest>) {
        match (interest, &self.shown) {
            (Some(_), None) => self.shown = Some(Shown::default()),
            (None, Some(_)) => self.shown = None,
            _ => {}
        }
    }
}

/// Lengths of the tables a resource or scope row writes to, taken before
/// it: a row no shown item needs is undone to them
/// ([`BatchView::rollback`]). Both builders write a group's row first and
/// undo it, so their views stay equal.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    arena: usize,
    resources: usize,
    scopes: usize,
    values: usize,
}

/// A batch in the guest's layout, plus the row index back into the request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchView {
    /// The string arena.
    pub arena: Vec<u8>,
    /// Resource rows.
    pub resources: Vec<u8>,
    /// Scope rows.
    pub scopes: Vec<u8>,
    /// Span rows.
    pub spans: Vec<u8>,
    /// Event rows.
    pub events: Vec<u8>,
    /// Link rows.
    pub links: Vec<u8>,
    /// Log record rows.
    pub logs: Vec<u8>,
    /// `AnyValue` nodes.
    pub values: Vec<u8>,
    pub(crate) index: RowIndex,
    /// Working notes of the wire builder ([`view_wire`](super::view_wire)):
    /// (reserved node, start, end) of attributes found in a first pass whose
    /// values are written after it. Empty between calls, so it never makes
    /// two equal views differ.
    pub(super) scratch: Vec<(u32, usize, usize)>,
    /// The chunk the wire builder is reading; default between calls.
    pub(super) src: super::view_wire::WireSrc,
    /// Spans or log records the wire builder read whose ids pdata's
    /// validating scan calls invalid (see `BatchView::fill_traces_checked`).
    pub(super) invalid_ids: u32,
    /// The rows the guest declared it needs (`row-interest`); `None`: all.
    /// Kept across builds ([`BatchView::clear`] leaves it).
    pub(crate) interest: Option<Arc<Interest>>,
}

/// A fixed-width row under construction.
pub(super) struct Row<const N: usize>(pub(super) [u8; N]);

impl<const N: usize> Row<N> {
    pub(super) fn new() -> Self {
        Row([0; N])
    }
    pub(super) fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(super) fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(super) fn str(&mut self, off: usize, (o, l): (u32, u32)) -> &mut Self {
        self.u32(off, o).u32(off + 4, l)
    }
}

pub(super) fn len32(n: usize) -> u32 {
    // Batches are far below 4 GiB (gRPC caps messages at a few MiB); saturate
    // rather than wrap if one ever is not, the guest then sees empty strings.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl BatchView {
    /// Builds the view of a traces request.
    pub fn from_traces(req: &ExportTraceServiceRequest) -> Self {
        let mut v = BatchView::default();
        v.fill_traces(req);
        v
    }

    /// Builds the view of a logs request.
    pub fn from_logs(req: &ExportLogsServiceRequest) -> Self {
        let mut v = BatchView::default();
        v.fill_logs(req);
        v
    }

    /// Empties every buffer, keeping the capacity.
    pub fn clear(&mut self) {
        for b in [
            &mut self.arena,
            &mut self.resources,
            &mut self.scopes,
            &mut self.spans,
            &mut self.events,
            &mut self.links,
            &mut self.logs,
            &mut self.values,
        ] {
            b.clear();
        }
        self.index.clear();
        self.scratch.clear();
        self.invalid_ids = 0;
    }

    /// Number of spans in the request (shown to the guest or not).
    pub fn span_count(&self) -> usize {
        self.index.spans.len()
    }

    /// Number of log records in the request (shown to the guest or not).
    pub fn log_count(&self) -> usize {
        self.index.logs.len()
    }

    /// Shows the guest only the rows `interest` picks from now on (`None`:
    /// every row, the default).
    pub fn set_interest(&mut self, interest: Option<Arc<Interest>>) {
        self.interest = interest;
    }

    /// Span rows the guest is shown.
    pub fn shown_spans(&self) -> usize {
        self.spans.len() / layout::span::SIZE
    }

    /// Log record rows the guest is shown.
    pub fn shown_logs(&self) -> usize {
        self.logs.len() / layout::log::SIZE
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            arena: self.arena.len(),
            resources: self.resources.len(),
            scopes: self.scopes.len(),
            values: self.values.len(),
        }
    }

    /// Undoes a resource or scope row no shown item needs.
    pub(super) fn rollback(&mut self, m: Mark) {
        self.arena.truncate(m.arena);
        self.resources.truncate(m.resources);
        self.scopes.truncate(m.scopes);
        self.values.truncate(m.values);
    }

    /// Starts a build: empties the buffers and the index, and readies the
    /// shown-row maps for `interest`.
    pub(super) fn start(&mut self, interest: Option<&Interest>) {
        self.clear();
        self.index.start(interest);
    }

    /// The guest's row number of the next resource row.
    pub(super) fn next_resource_row(&self) -> u32 {
        len32(self.resources.len() / layout::resource::SIZE)
    }

    /// The guest's row number of the next scope row.
    pub(super) fn next_scope_row(&self) -> u32 {
        len32(self.scopes.len() / layout::scope::SIZE)
    }

    /// The guest's row number of the next span row.
    pub(super) fn next_span_row(&self) -> u32 {
        len32(self.spans.len() / layout::span::SIZE)
    }

    /// After a resource group (request resource `ri`, its row written at
    /// `m`): kept if it holds a shown item (`any`), else undone. Without an
    /// interest every group is kept.
    pub(super) fn end_resource(&mut self, m: Mark, ri: u32, any: bool) {
        if let Some(shown) = &mut self.index.shown {
            if any {
                shown.resources.push(ri);
            } else {
                self.rollback(m);
            }
        }
    }

    /// As [`BatchView::end_resource`], for the scope group at full row
    /// `row`.
    pub(super) fn end_scope(&mut self, m: Mark, row: u32, any: bool) {
        if let Some(shown) = &mut self.index.shown {
            if any {
                shown.scopes.push(row);
            } else {
                self.rollback(m);
            }
        }
    }

    /// Appends a resource row (its attributes' nodes first), as both signals
    /// write it.
    fn push_resource(&mut self, resource: Option<&Resource>, schema_url: &str) {
        use layout::resource as r;
        let (attrs, dropped) = match resource {
            Some(res) => (res.attributes.as_slice(), res.dropped_attributes_count),
            None => (&[][..], 0),
        };
        let (af, ac) = self.attrs(attrs);
        let url = self.str(schema_url.as_bytes());
        let mut row = Row::<{ r::SIZE }>::new();
        row.u32(r::ATTRS_FIRST, af)
            .u32(r::ATTRS_COUNT, ac)
            .u32(r::DROPPED_ATTRS, dropped);
        row.str(r::SCHEMA_URL, url);
        self.resources.extend_from_slice(&row.0);
        self.index.resources += 1;
    }

    /// Replaces the contents with the view of `req` (only the rows of
    /// interest, when the guest declared one).
    pub fn fill_traces(&mut self, req: &ExportTraceServiceRequest) {
        use layout::{event as e, link as l, span as sp};
        let interest = self.interest.clone();
        let f = interest.as_deref();
        self.start(f);
        for (ri, rs) in req.resource_spans.iter().enumerate() {
            let ri = ri as u32;
            let rmark = self.mark();
            let resource_row = self.next_resource_row();
            self.push_resource(rs.resource.as_ref(), &rs.schema_url);
            let mut any_in_resource = false;
            for (si, ss) in rs.scope_spans.iter().enumerate() {
                let smark = self.mark();
                let full_scope = len32(self.index.scopes.len());
                let scope_row = self.next_scope_row();
                self.push_scope(resource_row, ss.scope.as_ref(), &ss.schema_url);
                self.index.scopes.push((ri, si as u32));
                let mut any = false;
                for (pi, span) in ss.spans.iter().enumerate() {
                    let full_row = len32(self.index.spans.len());
                    self.index.spans.push((ri, si as u32, pi as u32));
                    if let Some(f) = f {
                        if !f.span(span) {
                            continue;
                        }
                        if let Some(shown) = &mut self.index.shown {
                            shown.spans.push(full_row);
                        }
                    }
                    any = true;
                    let span_row = self.next_span_row();
                    let mut row = Row::<{ sp::SIZE }>::new();
                    row.u32(sp::SCOPE, scope_row)
                        .str(sp::TRACE_ID, self.str(&span.trace_id))
                        .str(sp::SPAN_ID, self.str(&span.span_id))
                        .str(sp::PARENT_SPAN_ID, self.str(&span.parent_span_id))
                        .str(sp::TRACE_STATE, self.str(span.trace_state.as_bytes()))
                        .str(sp::NAME, self.str(span.name.as_bytes()))
                        .u32(sp::KIND, span.kind as u32)
                        .u32(sp::FLAGS, span.flags)
                        .u64(sp::START, span.start_time_unix_nano)
                        .u64(sp::END, span.end_time_unix_nano);
                    let (af, ac) = self.attrs(&span.attributes);
                    row.u32(sp::ATTRS_FIRST, af)
                        .u32(sp::ATTRS_COUNT, ac)
                        .u32(sp::DROPPED_ATTRS, span.dropped_attributes_count);
                    if let Some(st) = &span.status {
                        row.u32(sp::STATUS_CODE, st.code as u32)
                            .str(sp::STATUS_MESSAGE, self.str(st.message.as_bytes()));
                    }
                    row.u32(sp::EVENTS_FIRST, len32(self.index.events.len()))
                        .u32(sp::EVENTS_COUNT, len32(span.events.len()))
                        .u32(sp::DROPPED_EVENTS, span.dropped_events_count)
                        .u32(sp::LINKS_FIRST, len32(self.index.links.len()))
                        .u32(sp::LINKS_COUNT, len32(span.links.len()))
                        .u32(sp::DROPPED_LINKS, span.dropped_links_count);
                    self.spans.extend_from_slice(&row.0);
                    for (ei, ev) in span.events.iter().enumerate() {
                        self.index.events.push((full_row, ei as u32));
                        let (af, ac) = self.attrs(&ev.attributes);
                        let mut row = Row::<{ e::SIZE }>::new();
                        row.u32(e::SPAN, span_row)
                            .str(e::NAME, self.str(ev.name.as_bytes()))
                            .u32(e::ATTRS_FIRST, af)
                            .u32(e::ATTRS_COUNT, ac)
                            .u32(e::DROPPED_ATTRS, ev.dropped_attributes_count)
                            .u64(e::TIME, ev.time_unix_nano);
                        self.events.extend_from_slice(&row.0);
                    }
                    for (li, link) in span.links.iter().enumerate() {
                        self.index.links.push((full_row, li as u32));
                        let (af, ac) = self.attrs(&link.attributes);
                        let mut row = Row::<{ l::SIZE }>::new();
                        row.u32(l::SPAN, span_row)
                            .str(l::TRACE_ID, self.str(&link.trace_id))
                            .str(l::SPAN_ID, self.str(&link.span_id))
                            .str(l::TRACE_STATE, self.str(link.trace_state.as_bytes()))
                            .u32(l::ATTRS_FIRST, af)
                            .u32(l::ATTRS_COUNT, ac)
                            .u32(l::DROPPED_ATTRS, link.dropped_attributes_count)
                            .u32(l::FLAGS, link.flags);
                        self.links.extend_from_slice(&row.0);
                    }
                }
                self.end_scope(smark, full_scope, any);
                any_in_resource |= any;
            }
            self.end_resource(rmark, ri, any_in_resource);
        }
    }

    /// Replaces the contents with the view of `req` (only the rows of
    /// interest, when the guest declared one).
    pub fn fill_logs(&mut self, req: &ExportLogsServiceRequest) {
        use layout::log as lg;
        let interest = self.interest.clone();
        let f = interest.as_deref();
        self.start(f);
        for (ri, rl) in req.resource_logs.iter().enumerate() {
            let ri = ri as u32;
            let rmark = self.mark();
            let resource_row = self.next_resource_row();
            self.push_resource(rl.resource.as_ref(), &rl.schema_url);
            let mut any_in_resource = false;
            for (si, sl) in rl.scope_logs.iter().enumerate() {
                let smark = self.mark();
                let full_scope = len32(self.index.scopes.len());
                let scope_row = self.next_scope_row();
                self.push_scope(resource_row, sl.scope.as_ref(), &sl.schema_url);
                self.index.scopes.push((ri, si as u32));
                let mut any = false;
                for (li, rec) in sl.log_records.iter().enumerate() {
                    let full_row = len32(self.index.logs.len());
                    self.index.logs.push((ri, si as u32, li as u32));
                    if let Some(f) = f {
                        if !f.log(rec) {
                            continue;
                        }
                        if let Some(shown) = &mut self.index.shown {
                            shown.logs.push(full_row);
                        }
                    }
                    any = true;
                    // Attributes, then the body: the order the wire builder
                    // meets them in (it writes attributes in its first pass).
                    let (af, ac) = self.attrs(&rec.attributes);
                    let body = match &rec.body {
                        Some(b) => {
                            let n = self.reserve_nodes(1);
                            self.write_value(n, NONE, (0, 0), Some(b));
                            n
                        }
                        None => NONE,
                    };
                    let mut row = Row::<{ lg::SIZE }>::new();
                    row.u32(lg::SCOPE, scope_row)
                        .u32(lg::SEVERITY_NUMBER, rec.severity_number as u32)
                        .u64(lg::TIME, rec.time_unix_nano)
                        .u64(lg::OBSERVED_TIME, rec.observed_time_unix_nano)
                        .str(lg::SEVERITY_TEXT, self.str(rec.severity_text.as_bytes()))
                        .u32(lg::BODY, body)
                        .u32(lg::ATTRS_FIRST, af)
                        .u32(lg::ATTRS_COUNT, ac)
                        .u32(lg::DROPPED_ATTRS, rec.dropped_attributes_count)
                        .u32(lg::FLAGS, rec.flags)
                        .str(lg::TRACE_ID, self.str(&rec.trace_id))
                        .str(lg::SPAN_ID, self.str(&rec.span_id))
                        .str(lg::EVENT_NAME, self.str(rec.event_name.as_bytes()));
                    self.logs.extend_from_slice(&row.0);
                }
                self.end_scope(smark, full_scope, any);
                any_in_resource |= any;
            }
            self.end_resource(rmark, ri, any_in_resource);
        }
    }

    fn push_scope(
        &mut self,
        resource_row: u32,
        scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
        schema_url: &str,
    ) {
        use layout::scope as s;
        let mut row = Row::<{ s::SIZE }>::new();
        row.u32(s::RESOURCE, resource_row);
        if let Some(sc) = scope {
            let (af, ac) = self.attrs(&sc.attributes);
            row.str(s::NAME, self.str(sc.name.as_bytes()))
                .str(s::VERSION, self.str(sc.version.as_bytes()))
                .u32(s::ATTRS_FIRST, af)
                .u32(s::ATTRS_COUNT, ac)
                .u32(s::DROPPED_ATTRS, sc.dropped_attributes_count);
        } else {
            row.u32(
                s::ATTRS_FIRST,
                len32(self.values.len() / layout::value::SIZE),
            );
        }
        row.str(s::SCHEMA_URL, self.str(schema_url.as_bytes()));
        self.scopes.extend_from_slice(&row.0);
    }

    // Inlined: called for every string of every row, by both builders.
    #[inline(always)]
    pub(super) fn str(&mut self, bytes: &[u8]) -> (u32, u32) {
        let off = len32(self.arena.len());
        self.arena.extend_from_slice(bytes);
        (off, len32(bytes.len()))
    }

    #[inline]
    pub(super) fn reserve_nodes(&mut self, n: usize) -> u32 {
        let first = len32(self.values.len() / layout::value::SIZE);
        self.values
            .resize(self.values.len() + n * layout::value::SIZE, 0);
        first
    }

    /// Writes attributes as a contiguous run of keyed root nodes; nested
    /// values go after the run.
    fn attrs(&mut self, kvs: &[KeyValue]) -> (u32, u32) {
        let first = self.reserve_nodes(kvs.len());
        for (i, kv) in kvs.iter().enumerate() {
            let key = self.str(kv.key.as_bytes());
            self.write_value(first + i as u32, NONE, key, kv.value.as_ref());
        }
        (first, len32(kvs.len()))
    }

    fn write_value(&mut self, index: u32, parent: u32, key: (u32, u32), value: Option<&AnyValue>) {
        use layout::value as v;
        let mut payload = [0u8; 8];
        let pair = |p: &mut [u8; 8], (a, b): (u32, u32)| {
            p[..4].copy_from_slice(&a.to_le_bytes());
            p[4..].copy_from_slice(&b.to_le_bytes());
        };
        let kind = match value.and_then(|a| a.value.as_ref()) {
            // `string_value_strindex` points into a profiles dictionary that
            // traces and logs do not have: there is no string to show.
            None | Some(any_value::Value::StringValueStrindex(_)) => v::KIND_EMPTY,
            Some(any_value::Value::StringValue(s)) => {
                pair(&mut payload, self.str(s.as_bytes()));
                v::KIND_STRING
            }
            Some(any_value::Value::BoolValue(b)) => {
                payload[0] = *b as u8;
                v::KIND_BOOL
            }
            Some(any_value::Value::IntValue(i)) => {
                payload = i.to_le_bytes();
                v::KIND_INT
            }
            Some(any_value::Value::DoubleValue(d)) => {
                payload = d.to_bits().to_le_bytes();
                v::KIND_DOUBLE
            }
            Some(any_value::Value::BytesValue(b)) => {
                pair(&mut payload, self.str(b));
                v::KIND_BYTES
            }
            Some(any_value::Value::ArrayValue(arr)) => {
                let first = self.reserve_nodes(arr.values.len());
                for (i, item) in arr.values.iter().enumerate() {
                    self.write_value(first + i as u32, index, (0, 0), Some(item));
                }
                pair(&mut payload, (first, len32(arr.values.len())));
                v::KIND_ARRAY
            }
            Some(any_value::Value::KvlistValue(kv)) => {
                let first = self.reserve_nodes(kv.values.len());
                for (i, entry) in kv.values.iter().enumerate() {
                    let k = self.str(entry.key.as_bytes());
                    self.write_value(first + i as u32, index, k, entry.value.as_ref());
                }
                pair(&mut payload, (first, len32(kv.values.len())));
                v::KIND_KVLIST
            }
        };
        self.put_node(index, kind, parent, key, payload);
    }

    /// Fills value node `index`, reserved earlier by [`BatchView::reserve_nodes`].
    #[inline]
    pub(super) fn put_node(
        &mut self,
        index: u32,
        kind: u8,
        parent: u32,
        key: (u32, u32),
        payload: [u8; 8],
    ) {
        use layout::value as v;
        let start = index as usize * v::SIZE;
        let row = &mut self.values[start..start + v::SIZE];
        row[v::KIND] = kind;
        row[v::PARENT..v::PARENT + 4].copy_from_slice(&parent.to_le_bytes());
        row[v::KEY..v::KEY + 4].copy_from_slice(&key.0.to_le_bytes());
        row[v::KEY + 4..v::KEY + 8].copy_from_slice(&key.1.to_le_bytes());
        row[v::PAYLOAD..v::PAYLOAD + 8].copy_from_slice(&payload);
    }

    /// The same view with its arena rebuilt from what the rows point at, in
    /// table and row order, and every empty string at offset 0. Views built
    /// different ways (from decoded structs, which copy each string, or from
    /// the encoding, whose arena is the received bytes) show a guest the
    /// same batch exactly when their packed forms are equal.
    pub fn packed(&self) -> BatchView {
        use layout::{event, link, log, resource, scope, span, value};
        let mut arena = Vec::new();
        let mut repack = |table: &[u8], size: usize, fields: &dyn Fn(&[u8]) -> &'static [usize]| {
            let mut out = table.to_vec();
            for row in out.chunks_exact_mut(size) {
                for &off in fields(row) {
                    let o = u32_at(row, off) as usize;
                    let l = u32_at(row, off + 4) as usize;
                    let bytes = self.arena.get(o..o.saturating_add(l)).unwrap_or_default();
                    let at = if bytes.is_empty() {
                        0
                    } else {
                        len32(arena.len())
                    };
                    arena.extend_from_slice(bytes);
                    row[off..off + 4].copy_from_slice(&at.to_le_bytes());
                    row[off + 4..off + 8].copy_from_slice(&len32(bytes.len()).to_le_bytes());
                }
            }
            out
        };
        let resources = repack(&self.resources, resource::SIZE, &|_| {
            &[resource::SCHEMA_URL]
        });
        let scopes = repack(&self.scopes, scope::SIZE, &|_| {
            &[scope::NAME, scope::VERSION, scope::SCHEMA_URL]
        });
        let spans = repack(&self.spans, span::SIZE, &|_| {
            &[
                span::TRACE_ID,
                span::SPAN_ID,
                span::PARENT_SPAN_ID,
                span::TRACE_STATE,
                span::NAME,
                span::STATUS_MESSAGE,
            ]
        });
        let events = repack(&self.events, event::SIZE, &|_| &[event::NAME]);
        let links = repack(&self.links, link::SIZE, &|_| {
            &[link::TRACE_ID, link::SPAN_ID, link::TRACE_STATE]
        });
        let logs = repack(&self.logs, log::SIZE, &|_| {
            &[
                log::SEVERITY_TEXT,
                log::TRACE_ID,
                log::SPAN_ID,
                log::EVENT_NAME,
            ]
        });
        let values = repack(&self.values, value::SIZE, &|row| match row[value::KIND] {
            value::KIND_STRING | value::KIND_BYTES => &[value::KEY, value::PAYLOAD],
            _ => &[value::KEY],
        });
        BatchView {
            arena,
            resources,
            scopes,
            spans,
            events,
            links,
            logs,
            values,
            index: self.index.clone(),
            scratch: Vec::new(),
            src: Default::default(),
            // Not part of what the guest sees.
            invalid_ids: 0,
            interest: None,
        }
    }

    /// Moves the buffers into the WIT record for a call (no copy).
    pub(crate) fn take_record(&mut self) -> types::Batch {
        use std::mem::take;
        types::Batch {
            arena: take(&mut self.arena),
            resources: take(&mut self.resources),
            scopes: take(&mut self.scopes),
            spans: take(&mut self.spans),
            events: take(&mut self.events),
            links: take(&mut self.links),
            logs: take(&mut self.logs),
            values: take(&mut self.values),
        }
    }

    /// Moves the buffers back after the call, keeping their capacity.
    pub(crate) fn restore(&mut self, b: types::Batch) {
        self.arena = b.arena;
        self.resources = b.resources;
        self.scopes = b.scopes;
        self.spans = b.spans;
        self.events = b.events;
        self.links = b.links;
        self.logs = b.logs;
        self.values = b.values;
    }
}
