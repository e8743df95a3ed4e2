//! Rows of interest (`row-interest` in `wit/types.wit`): the rows a
//! processor guest declared it needs, and the tests that pick them, one on
//! the encoded bytes (for the wire view builder) and one on the decoded
//! request (for the prost path), which agree on every request both read.
//!
//! The wire test reads only what it must: a span's fields are walked once,
//! and of its attributes only the key, of its events only the name, so a
//! row that is not wanted costs a walk over its framing, not a view. The
//! first rule that matches ends the walk.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use pdata::wire::field::{event, key_value, log_record, span};
use pdata::wire::{Reader, WireResult as R};

use super::bindings::row_interest::Rule;

/// Most rules one declaration may hold: every rule is tested on every row.
pub const MAX_RULES: usize = 64;
/// Longest name or prefix in a rule, in bytes.
pub const MAX_RULE_BYTES: usize = 256;

/// A declared interest, checked. A batch shows the guest only the rows that
/// match one of its rules (see the `row-interest` interface).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    span_events: Vec<Box<[u8]>>,
    span_prefixes: Vec<Box<[u8]>>,
    all_spans: bool,
    log_prefixes: Vec<Box<[u8]>>,
    log_event_names: Vec<Box<[u8]>>,
    all_logs: bool,
}

impl Interest {
    /// Checks a declaration. `Err` names the limit it breaks.
    pub(crate) fn from_rules(rules: &[Rule]) -> Result<Interest, String> {
        if rules.len() > MAX_RULES {
            return Err(format!(
                "{} rules, more than the {MAX_RULES} allowed",
                rules.len()
            ));
        }
        let mut out = Interest::default();
        for rule in rules {
            let (list, s) = match rule {
                Rule::SpanEvent(s) => (&mut out.span_events, s),
                Rule::SpanAttributePrefix(s) => (&mut out.span_prefixes, s),
                Rule::LogAttributePrefix(s) => (&mut out.log_prefixes, s),
                Rule::LogEventName(s) => (&mut out.log_event_names, s),
                Rule::AllSpans => {
                    out.all_spans = true;
                    continue;
                }
                Rule::AllLogs => {
                    out.all_logs = true;
                    continue;
                }
            };
            if s.len() > MAX_RULE_BYTES {
                return Err(format!(
                    "rule string of {} bytes, longer than {MAX_RULE_BYTES}",
                    s.len()
                ));
            }
            list.push(s.as_bytes().into());
        }
        Ok(out)
    }

    /// Spans with an event named `name`.
    pub fn span_event(mut self, name: &str) -> Self {
        self.span_events.push(name.as_bytes().into());
        self
    }

    /// Spans with an attribute whose key starts with `prefix`.
    pub fn span_attribute_prefix(mut self, prefix: &str) -> Self {
        self.span_prefixes.push(prefix.as_bytes().into());
        self
    }

    /// Log records with an attribute whose key starts with `prefix`.
    pub fn log_attribute_prefix(mut self, prefix: &str) -> Self {
        self.log_prefixes.push(prefix.as_bytes().into());
        self
    }

    /// Log records whose `event_name` is `name`.
    pub fn log_event_name(mut self, name: &str) -> Self {
        self.log_event_names.push(name.as_bytes().into());
        self
    }

    /// Every span.
    pub fn all_spans(mut self) -> Self {
        self.all_spans = true;
        self
    }

    /// Every log record.
    pub fn all_logs(mut self) -> Self {
        self.all_logs = true;
        self
    }

    /// Tested on every attribute key of every row: the first byte (where
    /// most keys differ) before a call to compare the rest.
    #[inline(always)]
    fn any_prefix(prefixes: &[Box<[u8]>], key: &[u8]) -> bool {
        prefixes.iter().any(|p| match p.first() {
            None => true,
            Some(b) => key.first() == Some(b) && key.starts_with(p),
        })
    }

    #[inline(always)]
    fn any_name(names: &[Box<[u8]>], name: &[u8]) -> bool {
        names.iter().any(|n| **n == *name)
    }

    /// Every span is shown.
    pub fn all_spans_shown(&self) -> bool {
        self.all_spans
    }

    /// Every log record is shown.
    pub fn all_logs_shown(&self) -> bool {
        self.all_logs
    }

    /// An attribute with this key shows its span.
    #[inline(always)]
    pub fn span_key(&self, key: &[u8]) -> bool {
        Self::any_prefix(&self.span_prefixes, key)
    }

    /// An event with this name shows its span.
    #[inline(always)]
    pub fn span_event_name(&self, name: &[u8]) -> bool {
        Self::any_name(&self.span_events, name)
    }

    /// An attribute with this key shows its log record.
    #[inline(always)]
    pub fn log_key(&self, key: &[u8]) -> bool {
        Self::any_prefix(&self.log_prefixes, key)
    }

    /// This `event_name` shows its log record.
    #[inline(always)]
    pub fn log_event(&self, name: &[u8]) -> bool {
        Self::any_name(&self.log_event_names, name)
    }

    fn any_key(prefixes: &[Box<[u8]>], attrs: &[KeyValue]) -> bool {
        !prefixes.is_empty()
            && attrs
                .iter()
                .any(|kv| Self::any_prefix(prefixes, kv.key.as_bytes()))
    }

    /// Whether the decoded `span` is shown.
    pub fn span(&self, s: &Span) -> bool {
        self.all_spans
            || Self::any_key(&self.span_prefixes, &s.attributes)
            || (!self.span_events.is_empty()
                && s.events
                    .iter()
                    .any(|e| Self::any_name(&self.span_events, e.name.as_bytes())))
    }

    /// Whether the decoded `log` is shown.
    pub fn log(&self, l: &LogRecord) -> bool {
        self.all_logs
            || Self::any_key(&self.log_prefixes, &l.attributes)
            || (!self.log_event_names.is_empty()
                && Self::any_name(&self.log_event_names, l.event_name.as_bytes()))
    }

    /// Whether the encoded span `buf` is shown, as [`Interest::span`] says
    /// of what prost decodes it to. An error: bytes the walk cannot read
    /// (the caller leaves them to prost).
    #[inline]
    pub fn span_wire(&self, buf: &[u8]) -> R<bool> {
        if self.all_spans {
            return Ok(true);
        }
        let (prefixes, names) = (&self.span_prefixes[..], &self.span_events[..]);
        if prefixes.is_empty() && names.is_empty() {
            return Ok(false);
        }
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                span::ATTRIBUTES if !prefixes.is_empty() => {
                    if Self::any_prefix(prefixes, kv_key(r.message(wt)?)?) {
                        return Ok(true);
                    }
                }
                span::EVENTS if !names.is_empty() => {
                    let name = last_string(r.message(wt)?, event::NAME)?;
                    if Self::any_name(names, name) {
                        return Ok(true);
                    }
                }
                _ => r.skip(wt)?,
            }
        }
        Ok(false)
    }

    /// As [`Interest::span_wire`], for an encoded log record.
    #[inline]
    pub fn log_wire(&self, buf: &[u8]) -> R<bool> {
        if self.all_logs {
            return Ok(true);
        }
        let (prefixes, names) = (&self.log_prefixes[..], &self.log_event_names[..]);
        if prefixes.is_empty() && names.is_empty() {
            return Ok(false);
        }
        let mut r = Reader::new(buf);
        // `event_name` is a singular string: the last one counts.
        let mut event_name: &[u8] = &[];
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                log_record::ATTRIBUTES if !prefixes.is_empty() => {
                    if Self::any_prefix(prefixes, kv_key(r.message(wt)?)?) {
                        return Ok(true);
                    }
                }
                log_record::EVENT_NAME => event_name = r.message(wt)?,
                _ => r.skip(wt)?,
            }
        }
        Ok(!names.is_empty() && Self::any_name(names, event_name))
    }
}

/// A `KeyValue`'s key as prost decodes it (the last `key` field; empty when
/// there is none).
#[inline(always)]
fn kv_key(buf: &[u8]) -> R<&[u8]> {
    last_string(buf, key_value::KEY)
}

/// The last occurrence of the length-delimited field `tag` of `buf` (prost
/// keeps the last of a singular string), empty when absent.
#[inline(always)]
fn last_string(buf: &[u8], tag: u32) -> R<&[u8]> {
    let mut out: &[u8] = &[];
    let mut r = Reader::new(buf);
    while !r.done() {
        let (t, wt) = r.key()?;
        if t == tag {
            out = r.message(wt)?;
        } else {
            r.skip(wt)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use prost::Message;

    fn kv(key: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue("v".into())),
            }),
            ..Default::default()
        }
    }

    fn span(attrs: &[&str], events: &[&str]) -> Span {
        Span {
            name: "s".into(),
            attributes: attrs.iter().map(|k| kv(k)).collect(),
            events: events
                .iter()
                .map(|n| Event {
                    name: (*n).into(),
                    attributes: vec![kv("exception.stacktrace")],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The three tests agree (decoded, wire, and wire fused with pdata's
    /// scan), on each of a set of spans.
    fn agree(i: &Interest, s: &Span) -> bool {
        let bytes = s.encode_to_vec();
        let wire = i.span_wire(&bytes).expect("reads");
        assert_eq!(wire, i.span(s), "{s:?}");
        let (_, fused) =
            pdata::wire::check_span_matching(&bytes, |k| i.span_key(k), |n| i.span_event_name(n))
                .expect("scans");
        assert_eq!(fused || i.all_spans_shown(), wire, "{s:?}");
        wire
    }

    #[test]
    fn spans_by_event_name_and_attribute_prefix() {
        let i = Interest::default()
            .span_event("exception")
            .span_attribute_prefix("code.");
        assert!(agree(&i, &span(&["a", "code.file.path"], &[])));
        assert!(agree(&i, &span(&["a"], &["start", "exception"])));
        assert!(!agree(
            &i,
            &span(&["a", "xcode.file", "code"], &["exceptions"])
        ));
        assert!(!agree(&i, &span(&[], &[])));
        assert!(agree(&Interest::default().all_spans(), &span(&[], &[])));
        // Only log rules: no span is shown.
        let logs = Interest::default().log_attribute_prefix("");
        assert!(!agree(&logs, &span(&["a"], &["exception"])));
        // The empty prefix: any span with an attribute.
        let any = Interest::default().span_attribute_prefix("");
        assert!(agree(&any, &span(&["a"], &[])));
        assert!(!agree(&any, &span(&[], &["exception"])));
    }

    #[test]
    fn logs_by_attribute_prefix_and_event_name() {
        let i = Interest::default()
            .log_attribute_prefix("exception.")
            .log_event_name("exception");
        let log = |attrs: &[&str], event: &str| LogRecord {
            attributes: attrs.iter().map(|k| kv(k)).collect(),
            event_name: event.into(),
            ..Default::default()
        };
        for (l, want) in [
            (log(&["a", "exception.type"], ""), true),
            (log(&["a"], "exception"), true),
            (log(&["a", "exception"], "exceptions"), false),
            (log(&[], ""), false),
        ] {
            let bytes = l.encode_to_vec();
            assert_eq!(i.log_wire(&bytes).expect("reads"), want);
            assert_eq!(i.log(&l), want);
            let fused = pdata::wire::check_log_record_matching(
                &bytes,
                |k| i.log_key(k),
                |n| i.log_event(n),
            );
            assert_eq!(fused.expect("scans").1, want);
        }
        assert!(Interest::default().all_logs().log(&log(&[], "")));
    }

    /// prost keeps the last of a repeated singular string: so does the wire
    /// test.
    #[test]
    fn a_repeated_key_counts_its_last_occurrence() {
        // KeyValue { key: "code.x", key: "plain" }, then the reverse.
        let kv_bytes = |first: &[u8], last: &[u8]| {
            let mut kv = vec![0x0a, first.len() as u8];
            kv.extend_from_slice(first);
            kv.extend_from_slice(&[0x0a, last.len() as u8]);
            kv.extend_from_slice(last);
            // Span field 9 (attributes).
            let mut span = vec![0x4a, kv.len() as u8];
            span.extend_from_slice(&kv);
            span
        };
        let i = Interest::default().span_attribute_prefix("code.");
        for (first, last) in [(&b"code.x"[..], &b"plain"[..]), (b"plain", b"code.x")] {
            let buf = kv_bytes(first, last);
            let decoded = Span::decode(&buf[..]).expect("decodes");
            assert_eq!(i.span_wire(&buf).expect("reads"), i.span(&decoded));
        }
    }

    #[test]
    fn declarations_past_the_limits_are_refused() {
        let many = vec![Rule::AllSpans; MAX_RULES + 1];
        assert!(Interest::from_rules(&many).is_err());
        let long = [Rule::SpanEvent("x".repeat(MAX_RULE_BYTES + 1))];
        assert!(Interest::from_rules(&long).is_err());
        let ok = [
            Rule::SpanEvent("exception".into()),
            Rule::SpanAttributePrefix("code.".into()),
            Rule::LogAttributePrefix("exception.".into()),
            Rule::LogEventName("exception".into()),
        ];
        assert_eq!(
            Interest::from_rules(&ok),
            Ok(Interest::default()
                .span_event("exception")
                .span_attribute_prefix("code.")
                .log_attribute_prefix("exception.")
                .log_event_name("exception"))
        );
    }
}
