//! Held spans are kept protobuf-encoded, not as prost structs: a decoded span
//! costs several times its encoded size (a heap allocation per string and
//! attribute), and most held spans are dropped unread. A released trace is
//! written straight back as an encoded `ExportTraceServiceRequest` by
//! framing the stored bytes, so kept spans are never decoded on their way out.
//!
//! Message layouts used (OTLP `trace.proto`):
//! `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`,
//! `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }`,
//! `ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }`,
//! `Span { ... repeated KeyValue attributes = 9; ... }`.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use prost::encoding::{
    WireType, decode_varint, encode_key, encode_length_delimiter, encoded_len_varint,
};

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

/// Appends `span` framed as a `ScopeSpans.spans` entry.
pub(crate) fn push_span(out: &mut Vec<u8>, span: &Span) {
    encode_key(2, WireType::LengthDelimited, out);
    // Writing to a Vec cannot fail.
    let _ = span.encode_length_delimited(out);
}

/// Bytes `push_span` appends for `span`.
pub(crate) fn framed_len(span: &Span) -> usize {
    let n = span.encoded_len();
    1 + encoded_len_varint(n as u64) + n
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

/// Writes the framed spans of `spans`, each with `extra` appended to the
/// span message (a repeated field appended to a message's encoding adds
/// one element: here, one attribute).
fn spans_with(out: &mut Vec<u8>, mut spans: &[u8], extra: &[u8]) {
    if extra.is_empty() {
        out.extend_from_slice(spans);
        return;
    }
    while let Some((&key, rest)) = spans.split_first() {
        let mut rest = rest;
        let Ok(len) = decode_varint(&mut rest) else {
            return;
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(rest.len());
        let (body, after) = rest.split_at(len);
        out.push(key);
        let _ = encode_length_delimiter(len + extra.len(), out);
        out.extend_from_slice(body);
        out.extend_from_slice(extra);
        spans = after;
    }
}

/// Encodes `groups` as one `ExportTraceServiceRequest`, grouping scopes
/// under their resource. `extra` is appended to every span (see
/// [`policy_attribute`]); empty for none.
pub(crate) fn encode_request(groups: &[&Group], extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut done = vec![false; groups.len()];
    let mut rs = Vec::new();
    let mut ss = Vec::new();
    for i in 0..groups.len() {
        if done[i] {
            continue;
        }
        let res = &groups[i].ctx.resource;
        rs.clear();
        if let Some(r) = &res.resource {
            field_bytes(&mut rs, 1, r);
        }
        for j in i..groups.len() {
            let g = groups[j];
            if done[j] || !Arc::ptr_eq(&g.ctx.resource, res) && !same_resource(&g.ctx.resource, res)
            {
                continue;
            }
            done[j] = true;
            ss.clear();
            if let Some(s) = &g.ctx.scope {
                field_bytes(&mut ss, 1, s);
            }
            spans_with(&mut ss, &g.spans, extra);
            if !g.ctx.schema_url.is_empty() {
                field_bytes(&mut ss, 3, g.ctx.schema_url.as_bytes());
            }
            field_bytes(&mut rs, 2, &ss);
        }
        if !res.schema_url.is_empty() {
            field_bytes(&mut rs, 3, res.schema_url.as_bytes());
        }
        field_bytes(&mut out, 1, &rs);
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
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn span(name: &str) -> Span {
        Span {
            trace_id: vec![1; 16],
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
        push_span(&mut spans, &span("a"));
        push_span(&mut spans, &span("b"));
        assert_eq!(spans.len(), framed_len(&span("a")) + framed_len(&span("b")));
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
}
