//! What the builder refuses (what only prost can judge, what prost refuses),
//! the validated builder's one difference, and the string attributes read in
//! one fixed shape.

use super::*;

pub(super) fn one_span(attributes: Vec<KeyValue>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "s".into(),
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn nested(depth: usize) -> AnyValue {
    let mut v = AnyValue {
        value: Some(any_value::Value::IntValue(7)),
    };
    for _ in 0..depth {
        v = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    v
}

/// Encodings prost reads but the builder leaves to it: repeated singular
/// messages (prost merges them), two `AnyValue` members, groups, deep nesting.
#[test]
fn what_only_prost_can_judge_is_refused() {
    let rs = ResourceSpans {
        resource: Some(Resource::default()),
        ..Default::default()
    }
    .encode_to_vec();
    // A ResourceSpans whose `resource` comes twice.
    let mut twice = rs.clone();
    twice.extend_from_slice(&rs);
    let mut req = vec![0x0a];
    encode_varint(twice.len() as u64, &mut req);
    req.extend_from_slice(&twice);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // An AnyValue with a string and then an int: prost keeps the int.
    let mut any = AnyValue {
        value: Some(any_value::Value::StringValue("a".into())),
    }
    .encode_to_vec();
    any.extend(
        AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        }
        .encode_to_vec(),
    );
    let mut kv = vec![0x0a, 0x01, b'k', 0x12];
    encode_varint(any.len() as u64, &mut kv);
    kv.extend_from_slice(&any);
    let mut span = vec![0x4a];
    encode_varint(kv.len() as u64, &mut span);
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // An unknown group in a span: prost skips it.
    let req = wrap_span(&[0xc3, 0x3e, 0x08, 0x01, 0xc4, 0x3e]);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));

    // Nesting: built while well inside prost's limit, refused near it.
    let shallow = one_span(vec![KeyValue {
        key: "k".into(),
        value: Some(nested(20)),
        ..Default::default()
    }]);
    let wire = wire_traces(&[shallow.encode_to_vec()]).expect("20 levels are built");
    assert_same(&wire, &BatchView::from_traces(&shallow), "nested");
    let deep = one_span(vec![KeyValue {
        key: "k".into(),
        value: Some(nested(40)),
        ..Default::default()
    }]);
    assert!(ExportTraceServiceRequest::decode(&deep.encode_to_vec()[..]).is_ok());
    assert_eq!(wire_traces(&[deep.encode_to_vec()]), Err(WireFallback));
}

#[test]
fn what_prost_refuses_is_refused() {
    // A key that is not UTF-8.
    let kv = [0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // A span name given as a varint.
    let req = wrap_span(&[0x28, 0x01]);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // An entity ref (not shown to guests) with a bad string.
    let mut res = vec![0x1a, 0x03, 0x0a, 0x01, 0xff];
    let mut rs = vec![0x0a, res.len() as u8];
    rs.append(&mut res);
    let mut req = vec![0x0a, rs.len() as u8];
    req.extend_from_slice(&rs);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(&[req]), Err(WireFallback));
    // Truncated.
    let good = one_span(vec![]).encode_to_vec();
    assert_eq!(
        wire_traces(&[good[..good.len() - 1].to_vec()]),
        Err(WireFallback)
    );
}

/// A request with one resource, one scope and one span made of `span`'s bytes.
fn wrap_span(span: &[u8]) -> Vec<u8> {
    let wrap = |tag: u8, inner: &[u8]| {
        let mut out = vec![tag];
        encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(inner);
        out
    };
    wrap(0x0a, &wrap(0x12, &wrap(0x12, span)))
}

/// The validated builder skips only the UTF-8 check: a valid request with
/// non-ASCII strings everywhere is built as the decoded path builds it, the
/// refusals about prost's merging rules and malformed bytes stand, and a
/// string that is not UTF-8 (which pdata's scan would have refused) is not
/// looked at.
#[test]
fn the_validated_builder_skips_only_the_utf8_check() {
    let mut rng = Rng(0x5eed_0006);
    for n in 0..500 {
        let req = traces(&mut rng);
        let wire = validated_traces(&[req.encode_to_vec()]).expect("built");
        assert_same(&wire, &BatchView::from_traces(&req), &format!("traces {n}"));
        let req = logs(&mut rng);
        let mut v = BatchView::default();
        v.fill_logs_validated(&[req.encode_to_vec()])
            .expect("built");
        assert_same(&v, &BatchView::from_logs(&req), &format!("logs {n}"));
    }

    // Malformed: truncated, a name given as a varint.
    let good = one_span(vec![]).encode_to_vec();
    assert_eq!(
        validated_traces(&[good[..good.len() - 1].to_vec()]),
        Err(WireFallback)
    );
    assert_eq!(
        validated_traces(&[wrap_span(&[0x28, 0x01])]),
        Err(WireFallback)
    );
    // A span whose `status` comes twice: prost merges the two.
    let status = [0x7a, 0x02, 0x18, 0x01];
    let mut span = status.to_vec();
    span.extend_from_slice(&status);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_ok());
    assert_eq!(validated_traces(&[req]), Err(WireFallback));

    // A key that is not UTF-8: refused when checked, copied when trusted.
    let kv = [0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert_eq!(wire_traces(std::slice::from_ref(&req)), Err(WireFallback));
    let v = validated_traces(&[req]).expect("not checked again");
    assert_eq!(v.packed().arena, [0xc3, 0x28]);
    // The same in the short string attribute read without the field loop.
    let kv = [0x0a, 0x01, b'k', 0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    assert!(ExportTraceServiceRequest::decode(&req[..]).is_err());
    assert_eq!(wire_traces(std::slice::from_ref(&req)), Err(WireFallback));
    let v = validated_traces(&[req]).expect("not checked again");
    assert_eq!(v.packed().arena, [b'k', 0xc3, 0x28]);
}

/// String attributes in the shape read without the field loop, and shapes
/// next to it (long lengths, a second member, trailing fields, nesting near
/// the limit) that the loop reads, all build the decoded view.
#[test]
fn short_string_attributes_and_their_neighbours() {
    let s = |v: &str| AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    };
    let kv = |k: &str, v: Option<AnyValue>| KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    };
    let long = "x".repeat(200);
    let req = one_span(vec![
        kv("k", Some(s("v"))),
        kv("", Some(s("v"))),
        kv("k", Some(s(""))),
        kv("k", None),
        kv(&long, Some(s("v"))),
        kv("k", Some(s(&long))),
        kv("é", Some(s("日本"))),
        kv(
            "k",
            Some(AnyValue {
                value: Some(any_value::Value::IntValue(3)),
            }),
        ),
    ]);
    let wire = wire_traces(&[req.encode_to_vec()]).expect("built");
    assert_same(&wire, &BatchView::from_traces(&req), "attributes");

    // The short shape with an unknown field after the value: the loop skips it.
    let kv = [0x0a, 0x01, b'k', 0x12, 0x03, 0x0a, 0x01, b'v', 0x18, 0x01];
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    let req = wrap_span(&span);
    let decoded = ExportTraceServiceRequest::decode(&req[..]).expect("prost decodes");
    let wire = wire_traces(&[req]).expect("built");
    assert_same(&wire, &BatchView::from_traces(&decoded), "trailing field");

    // A short string attribute as deep as the builder goes, and one deeper.
    let in_list = |depth: usize| {
        let mut v = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv_str("k", "v")],
            })),
        };
        for _ in 0..depth {
            v = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
            };
        }
        one_span(vec![KeyValue {
            key: "a".into(),
            value: Some(v),
            ..Default::default()
        }])
    };
    let (mut built, mut refused) = (0, 0);
    for depth in 25..35 {
        let req = in_list(depth);
        match wire_traces(&[req.encode_to_vec()]) {
            Ok(w) => {
                built += 1;
                assert_same(&w, &BatchView::from_traces(&req), "deep");
            }
            Err(WireFallback) => refused += 1,
        }
    }
    assert!(built > 0 && refused > 0, "{built} built, {refused} refused");
}

pub(super) fn kv_str(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}
