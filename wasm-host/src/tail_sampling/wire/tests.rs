use super::*;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::tail_sampling::held::{Group, Request};

/// `spans` framed as `ScopeSpans.spans` fields, held as one run of a request.
fn group_of(ctx: Arc<ScopeCtx>, spans: &[Span]) -> Group {
    let framed = ScopeSpans {
        spans: spans.to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let len = framed.len();
    let request = Request::new(Bytes::from(framed));
    Group::of(Item::Span, &ctx, &request, &[(0, len)], spans.len() as u64)
}

/// The item messages in `runs` of `request`.
fn messages(request: &[u8], runs: &[(usize, usize)]) -> Vec<Vec<u8>> {
    runs.iter()
        .flat_map(|&(s, e)| frames(&request[s..e]).map(<[u8]>::to_vec))
        .collect()
}

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
    let g = group_of(sctx, &[span("a"), span("b")]);
    assert_eq!(
        g.len(),
        [span("a"), span("b")]
            .iter()
            .map(|s| field_len(s.encoded_len()))
            .sum::<usize>()
    );
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
        span_of(3, "f"),
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
    let got: Vec<(Option<TraceId>, Vec<Vec<u8>>, u64)> = sp
        .traces
        .iter()
        .map(|t| (t.id, messages(&bytes, &t.runs), t.count))
        .collect();
    let enc = |i: usize| spans[i].encode_to_vec();
    assert_eq!(
        got,
        vec![
            (Some([1; 16]), vec![enc(0), enc(2)], 2),
            (Some([2; 16]), vec![enc(1), enc(6)], 2),
            (None, vec![no_trace.encode_to_vec()], 1),
            (Some([3; 16]), vec![enc(4), enc(5)], 2),
        ]
    );
    // Neighbours of one trace are one run, framed as they came; others are not.
    let runs = |id: u8| {
        sp.traces
            .iter()
            .find(|t| t.id == Some([id; 16]))
            .map(|t| t.runs.len())
    };
    assert_eq!((runs(1), runs(2), runs(3)), (Some(2), Some(2), Some(1)));
    let three = sp
        .traces
        .iter()
        .find(|t| t.id == Some([3; 16]))
        .expect("trace 3");
    assert_eq!(
        three.bytes(),
        (field_len(enc(4).len()) + field_len(enc(5).len())) as u64
    );
    // Nothing was asked of the markers.
    assert!(sp.traces.iter().all(|t| !t.error));
}

#[test]
fn split_reads_error_markers_in_the_same_walk() {
    let mut failing = span_of(2, "b");
    failing.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span_of(1, "a"), failing, span_of(2, "c")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let errors = |markers| -> Vec<(Option<TraceId>, bool)> {
        split_by(&req, Item::Span, markers).expect("splits")[0].scopes[0]
            .traces
            .iter()
            .map(|t| (t.id, t.error))
            .collect()
    };
    assert_eq!(
        errors(Markers::Errors),
        vec![(Some([1; 16]), false), (Some([2; 16]), true)]
    );
    assert_eq!(
        errors(Markers::None),
        vec![(Some([1; 16]), false), (Some([2; 16]), false)]
    );
    // Log records: their trace id is field 9, an exception record has `exception.type`.
    let record = |trace: u8, key: &str| LogRecord {
        trace_id: vec![trace; 16],
        attributes: vec![KeyValue {
            key: key.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(1, "exception.type"), record(2, "http.route")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let parts = split_by(&logs, Item::Log, Markers::Errors).expect("splits");
    let got: Vec<_> = parts[0].scopes[0]
        .traces
        .iter()
        .map(|t| (t.id, t.error))
        .collect();
    assert_eq!(got, vec![(Some([1; 16]), true), (Some([2; 16]), false)]);
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
        group_of(ctx, &names.iter().map(|n| span(n)).collect::<Vec<_>>())
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
