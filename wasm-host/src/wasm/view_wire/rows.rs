//! The builder's row writers: resources, scopes, spans with their events and
//! links, and log records, each message read in two passes (see the parent
//! module) and written in the decoded path's order.

use pdata::wire::field::{
    event, link, log_record, resource, resource_items, scope, scope_items, span,
};
use pdata::wire::{Reader, WireResult as R};

use super::super::interest::Interest;
use super::super::layout_shared::{self as layout, NONE};
use super::super::view::{BatchView, Row, len32};
use super::{
    Each, Run, Signal, entity_ref, once, optional_id, scope_group, status_fields, text, valid_id,
};

impl BatchView {
    /// A `ResourceSpans` or `ResourceLogs` (level 1): the same three fields.
    pub(super) fn wire_resource<const T: bool>(
        &mut self,
        buf: &[u8],
        ri: u32,
        signal: Signal,
        f: Option<&Interest>,
    ) -> R<()> {
        use layout::resource as rs;
        let mut resource = None;
        let mut url: &[u8] = &[];
        let mut scopes = Run::default();
        let mut r = Reader::new(buf);
        while !r.done() {
            let at = r.pos();
            let (tag, wt) = r.key()?;
            match tag {
                resource_items::RESOURCE => once(&mut resource, r.message(wt)?)?,
                resource_items::SCOPES => {
                    r.message(wt)?;
                    scopes.saw(at);
                }
                resource_items::SCHEMA_URL => url = text::<T>(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        let rmark = self.mark();
        let resource_row = self.next_resource_row();
        let (attrs, dropped) = match resource {
            Some(m) => self.wire_resource_attrs::<T>(m)?,
            None => ((self.node_count(), 0), 0),
        };
        let url = self.wire_str(url);
        let mut row = Row::<{ rs::SIZE }>::new();
        row.u32(rs::ATTRS_FIRST, attrs.0)
            .u32(rs::ATTRS_COUNT, attrs.1)
            .u32(rs::DROPPED_ATTRS, dropped)
            .str(rs::SCHEMA_URL, url);
        self.resources.extend_from_slice(&row.0);
        self.index.resources += 1;
        let mut each = Each::new(buf, resource_items::SCOPES, scopes);
        let mut si = 0u32;
        let mut any = false;
        while let Some(m) = each.field()? {
            any |= match signal {
                Signal::Traces => self.wire_scope_spans::<T>(m, (ri, resource_row), si, f)?,
                Signal::Logs => self.wire_scope_logs::<T>(m, (ri, resource_row), si, f)?,
            };
            si += 1;
        }
        self.end_resource(rmark, ri, any);
        Ok(())
    }

    /// A `Resource` (level 2): its attributes and dropped count. Entity refs
    /// are not shown to guests but are checked as prost would decode them.
    pub(super) fn wire_resource_attrs<const T: bool>(
        &mut self,
        buf: &[u8],
    ) -> R<((u32, u32), u32)> {
        let attrs = self.attrs_start();
        let mut dropped = 0u32;
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                resource::ATTRIBUTES => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 3)?;
                }
                resource::DROPPED_ATTRIBUTES_COUNT => dropped = r.varint_field(wt)? as u32,
                resource::ENTITY_REFS => entity_ref::<T>(r.message(wt)?)?,
                _ => r.skip(wt)?,
            }
        }
        Ok((self.wire_attrs::<T>(buf, attrs, 3)?, dropped))
    }

    /// A `ScopeSpans` of request resource `ri` (the guest's resource row
    /// `rrow`): whether it holds a span the guest is shown.
    pub(super) fn wire_scope_spans<const T: bool>(
        &mut self,
        buf: &[u8],
        (ri, rrow): (u32, u32),
        si: u32,
        f: Option<&Interest>,
    ) -> R<bool> {
        let g = scope_group::<T>(buf)?;
        let smark = self.mark();
        let full_scope = len32(self.index.scopes.len());
        let scope_row = self.next_scope_row();
        self.wire_scope::<T>(rrow, g.scope, g.url)?;
        self.index.scopes.push((ri, si));
        let mut each = Each::new(buf, scope_items::ITEMS, g.items);
        let mut pi = 0u32;
        let mut any = false;
        while let Some(m) = each.field()? {
            if let Some(f) = f
                && !self.span_shown::<T>(f, m)?
            {
                self.index.spans.push((ri, si, pi));
            } else {
                self.wire_span::<T>(m, scope_row, ri, si, pi)?;
                any = true;
            }
            pi += 1;
        }
        self.end_scope(smark, full_scope, any);
        Ok(any)
    }

    /// As [`BatchView::wire_scope_spans`], for a `ScopeLogs`.
    pub(super) fn wire_scope_logs<const T: bool>(
        &mut self,
        buf: &[u8],
        (ri, rrow): (u32, u32),
        si: u32,
        f: Option<&Interest>,
    ) -> R<bool> {
        let g = scope_group::<T>(buf)?;
        let smark = self.mark();
        let full_scope = len32(self.index.scopes.len());
        let scope_row = self.next_scope_row();
        self.wire_scope::<T>(rrow, g.scope, g.url)?;
        self.index.scopes.push((ri, si));
        let mut each = Each::new(buf, scope_items::ITEMS, g.items);
        let mut li = 0u32;
        let mut any = false;
        while let Some(m) = each.field()? {
            if let Some(f) = f
                && !self.log_shown::<T>(f, m)?
            {
                self.index.logs.push((ri, si, li));
            } else {
                self.wire_log::<T>(m, scope_row, ri, si, li)?;
                any = true;
            }
            li += 1;
        }
        self.end_scope(smark, full_scope, any);
        Ok(any)
    }

    /// Whether the span `m` is shown to a guest with interest `f`. Scanned
    /// bytes (`T`) need only the interest's own walk. Untrusted ones get
    /// pdata's validating scan of the span with the interest's tests in the
    /// same pass: a span not shown is not built, and the builder must still
    /// answer for it as the scan would (it is stricter than prost, so what
    /// the builder accepts prost decodes, and a checked fill counts invalid
    /// ids). A shown span is built, with the builder's own checks. (The
    /// builder's refusals about prost's merging concern only what a guest is
    /// shown.)
    #[inline]
    fn span_shown<const T: bool>(&mut self, f: &Interest, m: &[u8]) -> R<bool> {
        if T || f.all_spans_shown() {
            return f.span_wire(m);
        }
        let (valid, shown) =
            pdata::wire::check_span_matching(m, |k| f.span_key(k), |n| f.span_event_name(n))?;
        if !shown && !valid {
            self.invalid_ids += 1;
        }
        Ok(shown)
    }

    /// As [`BatchView::span_shown`], for a log record.
    #[inline]
    fn log_shown<const T: bool>(&mut self, f: &Interest, m: &[u8]) -> R<bool> {
        if T || f.all_logs_shown() {
            return f.log_wire(m);
        }
        let (valid, shown) =
            pdata::wire::check_log_record_matching(m, |k| f.log_key(k), |n| f.log_event(n))?;
        if !shown && !valid {
            self.invalid_ids += 1;
        }
        Ok(shown)
    }

    /// The scope row, as `push_scope` writes it: a scope given (even empty)
    /// gets its strings in the arena, an absent one does not.
    pub(super) fn wire_scope<const T: bool>(
        &mut self,
        rrow: u32,
        scope: Option<&[u8]>,
        url: &[u8],
    ) -> R<()> {
        use layout::scope as s;
        let mut row = Row::<{ s::SIZE }>::new();
        row.u32(s::RESOURCE, rrow);
        match scope {
            Some(buf) => {
                // InstrumentationScope, level 3.
                let (mut name, mut version): (&[u8], &[u8]) = (&[], &[]);
                let attrs = self.attrs_start();
                let mut dropped = 0u32;
                let mut r = Reader::new(buf);
                while !r.done() {
                    let (tag, wt) = r.key()?;
                    match tag {
                        scope::NAME => name = text::<T>(&mut r, wt)?,
                        scope::VERSION => version = text::<T>(&mut r, wt)?,
                        scope::ATTRIBUTES => {
                            let kv = r.message(wt)?;
                            self.attr::<T>(&r, kv, 4)?;
                        }
                        scope::DROPPED_ATTRIBUTES_COUNT => dropped = r.varint_field(wt)? as u32,
                        _ => r.skip(wt)?,
                    }
                }
                let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
                row.str(s::NAME, self.wire_str(name))
                    .str(s::VERSION, self.wire_str(version))
                    .u32(s::ATTRS_FIRST, af)
                    .u32(s::ATTRS_COUNT, ac)
                    .u32(s::DROPPED_ATTRS, dropped);
            }
            None => {
                row.u32(s::ATTRS_FIRST, self.node_count());
            }
        }
        row.str(s::SCHEMA_URL, self.wire_str(url));
        self.scopes.extend_from_slice(&row.0);
        Ok(())
    }

    /// A `Span` (level 3).
    pub(super) fn wire_span<const T: bool>(
        &mut self,
        buf: &[u8],
        scope_row: u32,
        ri: u32,
        si: u32,
        pi: u32,
    ) -> R<()> {
        use layout::span as sp;
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut trace_state, mut name): (&[u8], &[u8]) = (&[], &[]);
        let (mut kind, mut flags, mut start, mut end) = (0u32, 0u32, 0u64, 0u64);
        let (mut d_attrs, mut d_events, mut d_links) = (0u32, 0u32, 0u32);
        let attrs = self.attrs_start();
        let (mut events, mut links) = (Run::default(), Run::default());
        let mut status = None;
        let mut r = Reader::new(buf);
        // One field's effect, whatever order it comes in.
        macro_rules! field {
            ($tag:expr, $wt:expr, $at:expr) => {
                match $tag {
                    span::TRACE_ID => trace_id = r.message($wt)?,
                    span::SPAN_ID => span_id = r.message($wt)?,
                    span::TRACE_STATE => trace_state = text::<T>(&mut r, $wt)?,
                    span::PARENT_SPAN_ID => parent = r.message($wt)?,
                    span::NAME => name = text::<T>(&mut r, $wt)?,
                    // Enums decode as `i32`, then show as `u32`: the low 32 bits.
                    span::KIND => kind = r.varint_field($wt)? as u32,
                    span::START_TIME => start = r.fixed64($wt)?,
                    span::END_TIME => end = r.fixed64($wt)?,
                    span::ATTRIBUTES => {
                        let kv = r.message($wt)?;
                        self.attr::<T>(&r, kv, 4)?;
                    }
                    span::DROPPED_ATTRIBUTES_COUNT => d_attrs = r.varint_field($wt)? as u32,
                    span::EVENTS => {
                        r.message($wt)?;
                        events.saw($at);
                    }
                    span::DROPPED_EVENTS_COUNT => d_events = r.varint_field($wt)? as u32,
                    span::LINKS => {
                        r.message($wt)?;
                        links.saw($at);
                    }
                    span::DROPPED_LINKS_COUNT => d_links = r.varint_field($wt)? as u32,
                    span::STATUS => once(&mut status, r.message($wt)?)?,
                    span::FLAGS => flags = r.fixed32($wt)?,
                    _ => r.skip($wt)?,
                }
            };
        }
        // Fields come in field-number order from prost and every other
        // common encoder: expect them so, one predictable branch per field,
        // instead of a jump table the CPU mispredicts field after field. The
        // first field out of that order hands the rest to the loop below,
        // which reads any order with the same effect per field.
        let mut at = 0;
        let mut next = if r.done() { None } else { Some(r.key()?) };
        macro_rules! take {
            ($($n:literal)*) => {$(
                while let Some(($n, wt)) = next {
                    field!($n, wt, at);
                    at = r.pos();
                    next = if r.done() { None } else { Some(r.key()?) };
                }
            )*};
        }
        take!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        while let Some((tag, wt)) = next {
            field!(tag, wt, at);
            at = r.pos();
            next = if r.done() { None } else { Some(r.key()?) };
        }
        let status = status.map(status_fields::<T>).transpose()?;
        // The scan's item rule (pdata's `wire::span`), for the checked fill.
        if !(valid_id(trace_id, 16) && valid_id(span_id, 8) && optional_id(parent, 8)) {
            self.invalid_ids += 1;
        }
        let full_row = len32(self.index.spans.len());
        self.index.spans.push((ri, si, pi));
        if let Some(shown) = &mut self.index.shown {
            shown.spans.push(full_row);
        }
        let span_row = self.next_span_row();
        let mut row = Row::<{ sp::SIZE }>::new();
        row.u32(sp::SCOPE, scope_row)
            .str(sp::TRACE_ID, self.wire_str(trace_id))
            .str(sp::SPAN_ID, self.wire_str(span_id))
            .str(sp::PARENT_SPAN_ID, self.wire_str(parent))
            .str(sp::TRACE_STATE, self.wire_str(trace_state))
            .str(sp::NAME, self.wire_str(name))
            .u32(sp::KIND, kind)
            .u32(sp::FLAGS, flags)
            .u64(sp::START, start)
            .u64(sp::END, end);
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
        row.u32(sp::ATTRS_FIRST, af)
            .u32(sp::ATTRS_COUNT, ac)
            .u32(sp::DROPPED_ATTRS, d_attrs);
        if let Some((code, message)) = status {
            row.u32(sp::STATUS_CODE, code)
                .str(sp::STATUS_MESSAGE, self.wire_str(message));
        }
        row.u32(sp::EVENTS_FIRST, len32(self.index.events.len()))
            .u32(sp::EVENTS_COUNT, events.count)
            .u32(sp::DROPPED_EVENTS, d_events)
            .u32(sp::LINKS_FIRST, len32(self.index.links.len()))
            .u32(sp::LINKS_COUNT, links.count)
            .u32(sp::DROPPED_LINKS, d_links);
        self.spans.extend_from_slice(&row.0);
        let mut each = Each::new(buf, span::EVENTS, events);
        let mut ei = 0u32;
        while let Some(m) = each.field()? {
            self.index.events.push((full_row, ei));
            self.wire_event::<T>(m, span_row)?;
            ei += 1;
        }
        let mut each = Each::new(buf, span::LINKS, links);
        let mut li = 0u32;
        while let Some(m) = each.field()? {
            self.index.links.push((full_row, li));
            self.wire_link::<T>(m, span_row)?;
            li += 1;
        }
        Ok(())
    }

    /// A span event (level 4).
    pub(super) fn wire_event<const T: bool>(&mut self, buf: &[u8], span_row: u32) -> R<()> {
        use layout::event as e;
        let mut name: &[u8] = &[];
        let (mut time, mut dropped) = (0u64, 0u32);
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                event::TIME => time = r.fixed64(wt)?,
                event::NAME => name = text::<T>(&mut r, wt)?,
                event::ATTRIBUTES => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 5)?;
                }
                event::DROPPED_ATTRIBUTES_COUNT => dropped = r.varint_field(wt)? as u32,
                _ => r.skip(wt)?,
            }
        }
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 5)?;
        let mut row = Row::<{ e::SIZE }>::new();
        row.u32(e::SPAN, span_row)
            .str(e::NAME, self.wire_str(name))
            .u32(e::ATTRS_FIRST, af)
            .u32(e::ATTRS_COUNT, ac)
            .u32(e::DROPPED_ATTRS, dropped)
            .u64(e::TIME, time);
        self.events.extend_from_slice(&row.0);
        Ok(())
    }

    /// A span link (level 4).
    pub(super) fn wire_link<const T: bool>(&mut self, buf: &[u8], span_row: u32) -> R<()> {
        use layout::link as l;
        let (mut trace_id, mut span_id, mut trace_state): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut dropped, mut flags) = (0u32, 0u32);
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                link::TRACE_ID => trace_id = r.message(wt)?,
                link::SPAN_ID => span_id = r.message(wt)?,
                link::TRACE_STATE => trace_state = text::<T>(&mut r, wt)?,
                link::ATTRIBUTES => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 5)?;
                }
                link::DROPPED_ATTRIBUTES_COUNT => dropped = r.varint_field(wt)? as u32,
                link::FLAGS => flags = r.fixed32(wt)?,
                _ => r.skip(wt)?,
            }
        }
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 5)?;
        let mut row = Row::<{ l::SIZE }>::new();
        row.u32(l::SPAN, span_row)
            .str(l::TRACE_ID, self.wire_str(trace_id))
            .str(l::SPAN_ID, self.wire_str(span_id))
            .str(l::TRACE_STATE, self.wire_str(trace_state))
            .u32(l::ATTRS_FIRST, af)
            .u32(l::ATTRS_COUNT, ac)
            .u32(l::DROPPED_ATTRS, dropped)
            .u32(l::FLAGS, flags);
        self.links.extend_from_slice(&row.0);
        Ok(())
    }

    /// A `LogRecord` (level 3).
    pub(super) fn wire_log<const T: bool>(
        &mut self,
        buf: &[u8],
        scope_row: u32,
        ri: u32,
        si: u32,
        li: u32,
    ) -> R<()> {
        use layout::log as lg;
        let (mut time, mut observed) = (0u64, 0u64);
        let (mut severity, mut dropped, mut flags) = (0u32, 0u32, 0u32);
        let (mut severity_text, mut trace_id, mut span_id, mut event_name): (
            &[u8],
            &[u8],
            &[u8],
            &[u8],
        ) = (&[], &[], &[], &[]);
        let mut body = None;
        let attrs = self.attrs_start();
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                log_record::TIME => time = r.fixed64(wt)?,
                log_record::SEVERITY_NUMBER => severity = r.varint_field(wt)? as u32,
                log_record::SEVERITY_TEXT => severity_text = text::<T>(&mut r, wt)?,
                log_record::BODY => once(&mut body, r.message(wt)?)?,
                log_record::ATTRIBUTES => {
                    let kv = r.message(wt)?;
                    self.attr::<T>(&r, kv, 4)?;
                }
                log_record::DROPPED_ATTRIBUTES_COUNT => dropped = r.varint_field(wt)? as u32,
                log_record::FLAGS => flags = r.fixed32(wt)?,
                log_record::TRACE_ID => trace_id = r.message(wt)?,
                log_record::SPAN_ID => span_id = r.message(wt)?,
                log_record::OBSERVED_TIME => observed = r.fixed64(wt)?,
                log_record::EVENT_NAME => event_name = text::<T>(&mut r, wt)?,
                _ => r.skip(wt)?,
            }
        }
        let full_row = len32(self.index.logs.len());
        self.index.logs.push((ri, si, li));
        if let Some(shown) = &mut self.index.shown {
            shown.logs.push(full_row);
        }
        // The scan's item rule (pdata's `wire::log_record`).
        if !(optional_id(trace_id, 16) && optional_id(span_id, 8)) {
            self.invalid_ids += 1;
        }
        // The body after the attributes, whose run the first pass wrote.
        let (af, ac) = self.wire_attrs::<T>(buf, attrs, 4)?;
        let body = match body {
            Some(b) => {
                let n = self.reserve_nodes(1);
                self.wire_value::<T>(n, NONE, (0, 0), Some(b), 4)?;
                n
            }
            None => NONE,
        };
        let mut row = Row::<{ lg::SIZE }>::new();
        row.u32(lg::SCOPE, scope_row)
            .u32(lg::SEVERITY_NUMBER, severity)
            .u64(lg::TIME, time)
            .u64(lg::OBSERVED_TIME, observed)
            .str(lg::SEVERITY_TEXT, self.wire_str(severity_text))
            .u32(lg::BODY, body)
            .u32(lg::ATTRS_FIRST, af)
            .u32(lg::ATTRS_COUNT, ac)
            .u32(lg::DROPPED_ATTRS, dropped)
            .u32(lg::FLAGS, flags)
            .str(lg::TRACE_ID, self.wire_str(trace_id))
            .str(lg::SPAN_ID, self.wire_str(span_id))
            .str(lg::EVENT_NAME, self.wire_str(event_name));
        self.logs.extend_from_slice(&row.0);
        Ok(())
    }
}
