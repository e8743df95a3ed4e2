//! Held spans are kept protobuf-encoded, not as prost structs: a decoded span
//! costs several times its encoded size (a heap allocation per string and
//! attribute), and most held spans are dropped unread. Incoming requests are
//! split by trace on the wire ([`split`]: only the framing and each span's
//! `trace_id` are read) and the span messages held as they came. A trace to
//! decide or release is written straight back as an encoded
//! `ExportTraceServiceRequest` by framing the stored bytes, so the host never
//! decodes a span.
//!
//! Message layouts used (OTLP `trace.proto`):
//! `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`,
//! `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }`,
//! `ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }`,
//! `Span { ... repeated KeyValue attributes = 9; ... }`.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use prost::encoding::{
    WireType, decode_varint, encode_key, encode_length_delimiter, encoded_len_varint,
};

use super::TraceId;
use super::buffer::Charge;

/// A resource, encoded once per input `ResourceSpans` and shared by the
/// spans that came with it.
#[derive(Debug)]
pub(crate) struct ResourceCtx {
    /// The encoded `Resource` message, if the input had one.
    pub(crate) resource: Option<Vec<u8>>,
    pub(crate) schema_url: String,
    /// Counts this context's bytes while it lives.
    pub(crate) _charge: Option<Charge>,
}

/// An instrumentation scope and its resource, shared likewise.
#[derive(Debug)]
pub(crate) struct ScopeCtx {
    pub(crate) resource: Arc<ResourceCtx>,
    /// The encoded `InstrumentationScope` message, if the input had one.
    pub(crate) scope: Option<Vec<u8>>,
    pub(crate) schema_url: String,
    /// Counts this context's bytes while it lives.
    pub(crate) _charge: Option<Charge>,
}

impl ScopeCtx {
    /// Same resource and scope content (contexts from different batches
    /// are different allocations).
    pub(crate) fn same_as(&self, other: &ScopeCtx) -> bool {
        (Arc::ptr_eq(&self.resource, &other.resource)
            || (self.resource.resource == other.resource.resource
                && self.resource.schema_url == other.resource.schema_url))
            && self.scope == other.scope
            && self.schema_url == other.schema_url
    }
}

/// Spans of one trace under one scope: each span framed as field 2 of
/// `ScopeSpans` (key, length, message), concatenated.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) ctx: Arc<ScopeCtx>,
    pub(crate) spans: Vec<u8>,
    pub(crate) count: u64,
}

/// Appends the encoded span message `body` framed as a `ScopeSpans.spans`
/// entry (key, length, message).
pub(crate) fn push_span(out: &mut Vec<u8>, body: &[u8]) {
    encode_key(2, WireType::LengthDelimited, out);
    let _ = encode_length_delimiter(body.len(), out);
    out.extend_from_slice(body);
}

/// Bytes `push_span` appends for a span message of `len` bytes.
pub(crate) fn framed_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// Why an encoded request could not be split by trace.
#[derive(Debug, thiserror::Error)]
#[error("malformed OTLP trace request: {0}")]
pub struct WireError(&'static str);

/// One field of a message in the wire format.
enum Value<'a> {
    /// Varints and fixed-width scalars: not needed here, only skipped.
    Scalar,
    Bytes(&'a [u8]),
}

/// The fields of one message, in order.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        // Keys and most lengths are one byte: read those without the
        // general decoder (a span is a few dozen fields).
        if let Some((&b, rest)) = self.buf.split_first()
            && b < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(b));
        }
        decode_varint(&mut self.buf).map_err(|_| WireError("bad varint"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError("field runs past the end of its message"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let field = (|| {
            let key = self.varint()?;
            let tag = u32::try_from(key >> 3).map_err(|_| WireError("field number too large"))?;
            if tag == 0 {
                return Err(WireError("field number 0"));
            }
            let value = match key & 7 {
                0 => {
                    self.varint()?;
                    Value::Scalar
                }
                1 => {
                    self.take(8)?;
                    Value::Scalar
                }
                2 => {
                    let len = usize::try_from(self.varint()?)
                        .map_err(|_| WireError("length too large"))?;
                    Value::Bytes(self.take(len)?)
                }
                5 => {
                    self.take(4)?;
                    Value::Scalar
                }
                // Groups (3, 4) are not used by OTLP; prost would refuse them
                // inside these messages too.
                _ => return Err(WireError("unsupported wire type")),
            };
            Ok((tag, value))
        })();
        if field.is_err() {
            // Stop after the first error.
            self.buf = &[];
        }
        Some(field)
    }
}

/// A length-delimited field's bytes; another wire type for a message or
/// string field is malformed.
fn bytes(v: Value<'_>) -> Result<&[u8], WireError> {
    match v {
        Value::Bytes(b) => Ok(b),
        Value::Scalar => Err(WireError("wrong wire type for a message or string field")),
    }
}

fn string(v: Value<'_>) -> Result<&str, WireError> {
    std::str::from_utf8(bytes(v)?).map_err(|_| WireError("schema_url is not UTF-8"))
}

/// Appends a message field's occurrence: protobuf merges repeated
/// occurrences of a singular message field, and concatenating their
/// encodings is exactly that merge.
fn merge_into<'a>(slot: &mut Option<Vec<&'a [u8]>>, b: &'a [u8]) {
    slot.get_or_insert_with(Vec::new).push(b);
}

fn joined(parts: Option<Vec<&[u8]>>) -> Option<Vec<u8>> {
    parts.map(|p| p.concat())
}

/// One input `ResourceSpans`, split.
pub(crate) struct ResourcePart<'a> {
    /// The encoded `Resource`, if present.
    pub(crate) resource: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    pub(crate) scopes: Vec<ScopePart<'a>>,
}

/// One input `ScopeSpans`, its spans grouped by trace.
pub(crate) struct ScopePart<'a> {
    /// The encoded `InstrumentationScope`, if present.
    pub(crate) scope: Option<Vec<u8>>,
    pub(crate) schema_url: &'a str,
    /// Span messages by trace id, traces in first-seen order, spans in
    /// arrival order; spans without a 16-byte trace id under `None`.
    pub(crate) traces: Vec<(Option<TraceId>, Vec<&'a [u8]>)>,
}

/// Splits an encoded `ExportTraceServiceRequest` into resources, scopes and
/// the span messages of each trace, without decoding spans: only the
/// framing and each span's `trace_id` (field 1) are read. The span bytes are
/// borrowed from `request`, to be held as they came.
///
/// Only the structure is checked; the content of spans, resources and
/// scopes is not (the collector's receivers validate requests before they
/// reach a processor).
pub(crate) fn split(request: &[u8]) -> Result<Vec<ResourcePart<'_>>, WireError> {
    let mut out = Vec::new();
    for field in Fields::new(request) {
        if let (1, v) = field? {
            out.push(resource_spans(bytes(v)?)?);
        }
    }
    Ok(out)
}

fn resource_spans(buf: &[u8]) -> Result<ResourcePart<'_>, WireError> {
    let mut resource = None;
    let mut schema_url = "";
    let mut scopes = Vec::new();
    for field in Fields::new(buf) {
        match field? {
            (1, v) => merge_into(&mut resource, bytes(v)?),
            (2, v) => scopes.push(scope_spans(bytes(v)?)?),
            (3, v) => schema_url = string(v)?,
            _ => {}
        }
    }
    Ok(ResourcePart {
        resource: joined(resource),
        schema_url,
        scopes,
    })
}

fn scope_spans(buf: &[u8]) -> Result<ScopePart<'_>, WireError> {
    let mut scope = None;
    let mut schema_url = "";
    let mut traces: Vec<(Option<TraceId>, Vec<&[u8]>)> = Vec::new();
    // Most scopes hold a few traces of several spans each: the last trace
    // seen is checked first, the index only past it.
    let mut index: HashMap<Option<TraceId>, usize> = HashMap::new();
    for field in Fields::new(buf) {
        match field? {
            (1, v) => merge_into(&mut scope, bytes(v)?),
            (2, v) => {
                let span = bytes(v)?;
                let id = trace_id(span)?;
                match traces.last_mut() {
                    Some((last, spans)) if *last == id => spans.push(span),
                    _ => match index.get(&id) {
                        Some(&i) => traces[i].1.push(span),
                        None => {
                            index.insert(id, traces.len());
                            traces.push((id, vec![span]));
                        }
                    },
                }
            }
            (3, v) => schema_url = string(v)?,
            _ => {}
        }
    }
    Ok(ScopePart {
        scope: joined(scope),
        schema_url,
        traces,
    })
}

/// A span's trace id (the last occurrence of field 1 wins, as in prost), or
/// `None` when it is not 16 bytes.
fn trace_id(span: &[u8]) -> Result<Option<TraceId>, WireError> {
    let mut id = None;
    for field in Fields::new(span) {
        if let (1, v) = field? {
            id = Some(bytes(v)?);
        }
    }
    Ok(id.and_then(|b| TraceId::try_from(b).ok()))
}

fn field_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, out);
    let _ = encode_length_delimiter(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// The encoded `Span.attributes` entry `tailsampling.policy = <policy>`.
pub(crate) fn policy_attribute(policy: &str) -> Vec<u8> {
    let kv = KeyValue {
        key: "tailsampling.policy".to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(policy.to_owned())),
        }),
    };
    let mut out = Vec::new();
    encode_key(9, WireType::LengthDelimited, &mut out);
    let _ = kv.encode_length_delimited(&mut out);
    out
}

/// The framed spans of `spans`, each split into its key byte and message.
fn frames(mut spans: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&key, mut rest) = spans.split_first()?;
        // `push_span` wrote these frames: a bad length cannot occur, and
        // would end the iteration rather than read past the buffer.
        let len = decode_varint(&mut rest).ok()?;
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(rest.len());
        let (body, after) = rest.split_at(len);
        spans = after;
        Some((key, body))
    })
}

/// Bytes [`spans_with`] writes.
fn spans_with_len(spans: &[u8], extra: &[u8]) -> usize {
    if extra.is_empty() {
        return spans.len();
    }
    frames(spans)
        .map(|(_, body)| {
            1 + encoded_len_varint((body.len() + extra.len()) as u64) + body.len() + extra.len()
        })
        .sum()
}

/// Writes the framed spans of `spans`, each with `extra` appended to the
/// span message (a repeated field appended to a message's encoding adds
/// one element: here, one attribute).
fn spans_with(out: &mut Vec<u8>, spans: &[u8], extra: &[u8]) {
    if extra.is_empty() {
        out.extend_from_slice(spans);
        return;
    }
    for (key, body) in frames(spans) {
        out.push(key);
        let _ = encode_length_delimiter(body.len() + extra.len(), out);
        out.extend_from_slice(body);
        out.extend_from_slice(extra);
    }
}

/// Bytes of a length-delimited field (tag below 16) holding `n` bytes.
fn field_len(n: usize) -> usize {
    1 + encoded_len_varint(n as u64) + n
}

fn opt_field_len(b: Option<&[u8]>) -> usize {
    b.map_or(0, |b| field_len(b.len()))
}

fn str_field_len(s: &str) -> usize {
    if s.is_empty() { 0 } else { field_len(s.len()) }
}

/// Bytes of `g` as a `ScopeSpans` message.
fn scope_spans_len(g: &Group, extra: &[u8]) -> usize {
    opt_field_len(g.ctx.scope.as_deref())
        + spans_with_len(&g.spans, extra)
        + str_field_len(&g.ctx.schema_url)
}

/// A group and its size as a `ScopeSpans` message.
type SizedGroup<'a> = (&'a Group, usize);

/// Encodes `groups` as one `ExportTraceServiceRequest`, grouping scopes
/// under their resource. `extra` is appended to every span (see
/// [`policy_attribute`]); empty for none. Message lengths are computed
/// first, so every byte is written once, into one allocation.
pub(crate) fn encode_request(groups: &[&Group], extra: &[u8]) -> Vec<u8> {
    // Groups by resource, in first-seen order (usually one group in all).
    let mut by_resource: Vec<(&Arc<ResourceCtx>, Vec<SizedGroup<'_>>)> = Vec::new();
    for g in groups {
        let len = scope_spans_len(g, extra);
        let res = &g.ctx.resource;
        match by_resource
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, res) || same_resource(r, res))
        {
            Some((_, members)) => members.push((g, len)),
            None => by_resource.push((res, vec![(g, len)])),
        }
    }
    let sized: Vec<usize> = by_resource
        .iter()
        .map(|(res, members)| {
            opt_field_len(res.resource.as_deref())
                + members.iter().map(|(_, n)| field_len(*n)).sum::<usize>()
                + str_field_len(&res.schema_url)
        })
        .collect();
    let mut out = Vec::with_capacity(sized.iter().map(|n| field_len(*n)).sum());
    for ((res, members), rs_len) in by_resource.iter().zip(sized) {
        encode_key(1, WireType::LengthDelimited, &mut out);
        let _ = encode_length_delimiter(rs_len, &mut out);
        if let Some(r) = &res.resource {
            field_bytes(&mut out, 1, r);
        }
        for (g, ss_len) in members {
            encode_key(2, WireType::LengthDelimited, &mut out);
            let _ = encode_length_delimiter(*ss_len, &mut out);
            if let Some(s) = &g.ctx.scope {
                field_bytes(&mut out, 1, s);
            }
            spans_with(&mut out, &g.spans, extra);
            if !g.ctx.schema_url.is_empty() {
                field_bytes(&mut out, 3, g.ctx.schema_url.as_bytes());
            }
        }
        if !res.schema_url.is_empty() {
            field_bytes(&mut out, 3, res.schema_url.as_bytes());
        }
    }
    out
}

fn same_resource(a: &ResourceCtx, b: &ResourceCtx) -> bool {
    a.resource == b.resource && a.schema_url == b.schema_url
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(name: &str) -> Span {
        span_of(1, name)
    }

    fn span_of(trace: u8, name: &str) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![2; 8],
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn framing_round_trips_and_appends_the_policy_attribute() {
        let resource = Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                key_strindex: 0,
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("svc".into())),
                }),
            }],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "lib".into(),
            ..Default::default()
        };
        let rctx = Arc::new(ResourceCtx {
            resource: Some(resource.encode_to_vec()),
            schema_url: "https://r".into(),
            _charge: None,
        });
        let sctx = Arc::new(ScopeCtx {
            resource: rctx,
            scope: Some(scope.encode_to_vec()),
            schema_url: String::new(),
            _charge: None,
        });
        let mut spans = Vec::new();
        push_span(&mut spans, &span("a").encode_to_vec());
        push_span(&mut spans, &span("b").encode_to_vec());
        assert_eq!(
            spans.len(),
            framed_len(span("a").encoded_len()) + framed_len(span("b").encoded_len())
        );
        let g = Group {
            ctx: sctx,
            spans,
            count: 2,
        };
        let expected = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope),
                    spans: vec![span("a"), span("b")],
                    schema_url: String::new(),
                }],
                schema_url: "https://r".into(),
            }],
        };
        let bytes = encode_request(&[&g], &[]);
        assert_eq!(bytes, expected.encode_to_vec());
        let tagged = encode_request(&[&g], &policy_attribute("errors"));
        let decoded = ExportTraceServiceRequest::decode(&tagged[..]).expect("decodes");
        for s in &decoded.resource_spans[0].scope_spans[0].spans {
            assert_eq!(s.attributes.len(), 1);
            assert_eq!(s.attributes[0].key, "tailsampling.policy");
        }
    }

    #[test]
    fn split_groups_spans_by_trace_and_keeps_their_bytes() {
        let scope = InstrumentationScope {
            name: "lib".into(),
            ..Default::default()
        };
        let mut no_trace = span("none");
        no_trace.trace_id = vec![7; 3];
        let spans = vec![
            span_of(1, "a"),
            span_of(2, "b"),
            span_of(1, "c"),
            no_trace.clone(),
            span_of(3, "d"),
            span_of(2, "e"),
        ];
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope.clone()),
                    spans: spans.clone(),
                    schema_url: "https://s".into(),
                }],
                schema_url: "https://r".into(),
            }],
        };
        let bytes = req.encode_to_vec();
        let parts = split(&bytes).expect("splits");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].schema_url, "https://r");
        assert_eq!(parts[0].resource.as_deref(), Some(&[][..]));
        let sp = &parts[0].scopes[0];
        assert_eq!(sp.schema_url, "https://s");
        assert_eq!(sp.scope, Some(scope.encode_to_vec()));
        let got: Vec<(Option<TraceId>, Vec<Vec<u8>>)> = sp
            .traces
            .iter()
            .map(|(id, s)| (*id, s.iter().map(|b| b.to_vec()).collect()))
            .collect();
        let enc = |i: usize| spans[i].encode_to_vec();
        assert_eq!(
            got,
            vec![
                (Some([1; 16]), vec![enc(0), enc(2)]),
                (Some([2; 16]), vec![enc(1), enc(5)]),
                (None, vec![no_trace.encode_to_vec()]),
                (Some([3; 16]), vec![enc(4)]),
            ]
        );
    }

    #[test]
    fn split_merges_repeated_resources_and_refuses_broken_framing() {
        let a = Resource {
            attributes: vec![KeyValue {
                key: "a".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let b = Resource {
            attributes: vec![KeyValue {
                key: "b".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        // ResourceSpans with `resource` twice: prost merges them.
        let mut rs = Vec::new();
        field_bytes(&mut rs, 1, &a.encode_to_vec());
        field_bytes(&mut rs, 1, &b.encode_to_vec());
        let mut req = Vec::new();
        field_bytes(&mut req, 1, &rs);
        let merged = ExportTraceServiceRequest::decode(&req[..]).expect("prost decodes");
        let parts = split(&req).expect("splits");
        let resource = parts[0].resource.clone().expect("resource");
        assert_eq!(
            Resource::decode(&resource[..]).expect("decodes"),
            merged.resource_spans[0].resource.clone().expect("merged")
        );
        // A length past the end, a group, a bad varint.
        for bad in [&[0x0a, 0x05, 0x12][..], &[0x0b][..], &[0x0a, 0xff][..]] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
        assert!(split(&[]).expect("empty request").is_empty());
    }

    #[test]
    fn encoding_groups_scopes_under_their_resource() {
        let ctx = |res: &Arc<ResourceCtx>, scope: &str, url: &str| {
            Arc::new(ScopeCtx {
                resource: res.clone(),
                scope: Some(
                    InstrumentationScope {
                        name: scope.into(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                ),
                schema_url: url.into(),
                _charge: None,
            })
        };
        let res = |name: &str, url: &str| {
            Arc::new(ResourceCtx {
                resource: Some(
                    Resource {
                        attributes: vec![KeyValue {
                            key: name.into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }
                    .encode_to_vec(),
                ),
                schema_url: url.into(),
                _charge: None,
            })
        };
        let group = |ctx: Arc<ScopeCtx>, names: &[&str]| {
            let mut spans = Vec::new();
            for n in names {
                push_span(&mut spans, &span(n).encode_to_vec());
            }
            Group {
                ctx,
                spans,
                count: names.len() as u64,
            }
        };
        let (r1, r2) = (res("a", "https://r1"), res("b", ""));
        // A second context with r1's content (from a later batch) joins r1.
        let r1_again = res("a", "https://r1");
        let groups = [
            group(ctx(&r1, "s1", "https://s1"), &["x", "y"]),
            group(ctx(&r2, "s2", ""), &["z"]),
            group(ctx(&r1_again, "s3", ""), &["w"]),
        ];
        let refs: Vec<&Group> = groups.iter().collect();
        for extra in [Vec::new(), policy_attribute("p")] {
            let bytes = encode_request(&refs, &extra);
            let req = ExportTraceServiceRequest::decode(&bytes[..]).expect("decodes");
            // (resource schema, [(scope schema, [span names])]).
            type Shape = Vec<(String, Vec<(String, Vec<String>)>)>;
            let shape: Shape = req
                .resource_spans
                .iter()
                .map(|rs| {
                    (
                        rs.schema_url.clone(),
                        rs.scope_spans
                            .iter()
                            .map(|ss| {
                                (
                                    ss.scope
                                        .as_ref()
                                        .map(|s| s.name.clone())
                                        .unwrap_or_default(),
                                    ss.spans.iter().map(|s| s.name.clone()).collect(),
                                )
                            })
                            .collect(),
                    )
                })
                .collect();
            let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            assert_eq!(
                shape,
                vec![
                    (
                        "https://r1".to_string(),
                        vec![
                            ("s1".to_string(), v(&["x", "y"])),
                            ("s3".to_string(), v(&["w"]))
                        ]
                    ),
                    (String::new(), vec![("s2".to_string(), v(&["z"]))]),
                ]
            );
            assert_eq!(
                req.resource_spans[0].scope_spans[0].schema_url,
                "https://s1"
            );
            let attrs = usize::from(!extra.is_empty());
            for rs in &req.resource_spans {
                for ss in &rs.scope_spans {
                    assert!(ss.spans.iter().all(|s| s.attributes.len() == attrs));
                }
            }
            // Exactly sized: prost writes the same bytes for what it decoded.
            assert_eq!(bytes, req.encode_to_vec());
        }
    }
}
