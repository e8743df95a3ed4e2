use prost::Message;

use super::*;
use crate::otlp::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::common::v1::InstrumentationScope;
use crate::otlp::resource::v1::Resource;
use crate::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::Event};
use crate::wire::scan::{scan, scan_into};

/// A length-delimited field (tags below 16).
fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

fn span(trace: u8) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![1; 8],
        ..Default::default()
    }
}

fn index_of(signal: Signal, buf: &[u8]) -> RequestIndex {
    let mut b = Builder::new(signal, buf).expect("fits");
    let with = scan_into(signal, buf, &mut b).expect("scans");
    assert_eq!(
        with,
        scan(signal, buf).expect("scans"),
        "the index changes no verdict"
    );
    b.finish()
}

#[test]
fn ranges_point_at_the_framed_items_and_the_framing() {
    let resource = Resource {
        dropped_attributes_count: 1,
        ..Default::default()
    }
    .encode_to_vec();
    let scope = InstrumentationScope {
        name: "lib".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let s1 = span(1).encode_to_vec();
    let mut s2 = span(2);
    s2.events.push(Event {
        name: "exception".into(),
        ..Default::default()
    });
    let s2 = s2.encode_to_vec();
    // The scope field given twice (a decoder merges them), a schema URL, two spans.
    let mut ss = field(1, &scope);
    ss.extend(field(2, &s1));
    ss.extend(field(3, b"https://scope"));
    ss.extend(field(1, &scope));
    ss.extend(field(2, &s2));
    let mut rs = field(1, &resource);
    rs.extend(field(2, &ss));
    rs.extend(field(3, b"https://res"));
    rs.extend(field(2, &[]));
    let req = [field(1, &rs), field(1, &[])].concat();
    let idx = index_of(Signal::Traces, &req);
    let at = |r: &Range32| &req[r.start as usize..r.end as usize];
    assert_eq!(idx.len, req.len());
    assert!(idx.describes(&req) && !idx.describes(&req[1..]));
    assert_eq!(idx.resources.len(), 2);
    let r0 = &idx.resources[0];
    assert_eq!(
        r0.resource.iter().map(at).collect::<Vec<_>>(),
        [&resource[..]]
    );
    assert_eq!(at(&r0.schema_url), b"https://res");
    assert_eq!(r0.scopes, 0..2);
    assert_eq!(idx.resources[1].scopes, 2..2);
    assert!(idx.resources[1].resource.is_empty());
    let sc = &idx.scopes[0];
    assert_eq!(
        sc.scope.iter().map(at).collect::<Vec<_>>(),
        [&scope[..], &scope[..]]
    );
    assert_eq!(at(&sc.schema_url), b"https://scope");
    assert_eq!(sc.items, 0..2);
    assert_eq!(idx.scopes[1].items, 2..2);
    assert_eq!(at(&idx.items[0].framed), &field(2, &s1)[..]);
    assert_eq!(at(&idx.items[1].framed), &field(2, &s2)[..]);
    assert_eq!(idx.items[0].trace_id, Some([1; 16]));
    assert_eq!(
        idx.items.iter().map(|i| i.error).collect::<Vec<_>>(),
        [false, true]
    );
}

#[test]
fn the_last_status_code_and_trace_id_count_as_a_decoder_keeps_them() {
    let status = |code: i32| {
        Status {
            code,
            message: String::new(),
        }
        .encode_to_vec()
    };
    let base = span(1).encode_to_vec();
    let cases: [(Vec<u8>, bool); 5] = [
        ([base.clone(), field(15, &status(2))].concat(), true),
        // ERROR then OK: the last code wins.
        (
            [base.clone(), field(15, &status(2)), field(15, &status(1))].concat(),
            false,
        ),
        // ERROR then a status without a code: merged, the code stays ERROR.
        (
            [base.clone(), field(15, &status(2)), field(15, &[])].concat(),
            true,
        ),
        ([base.clone(), field(15, &status(1))].concat(), false),
        // A second trace id: the last one is the span's.
        ([base.clone(), field(1, &[7; 16])].concat(), false),
    ];
    for (i, (s, error)) in cases.iter().enumerate() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans::default()],
                ..Default::default()
            }],
        };
        // Spliced in by hand: prost would write one status and one trace id.
        let ss = field(2, s);
        let rs = field(2, &ss);
        let bytes = [req.encode_to_vec(), field(1, &rs)].concat();
        let idx = index_of(Signal::Traces, &bytes);
        assert_eq!(idx.items.len(), 1, "case {i}");
        assert_eq!(idx.items[0].error, *error, "case {i}");
        let want = if i == 4 { [7; 16] } else { [1; 16] };
        assert_eq!(idx.items[0].trace_id, Some(want), "case {i}");
    }
}

#[test]
fn refused_requests_leave_no_usable_index() {
    let s = span(1).encode_to_vec();
    let req = field(1, &field(2, &field(2, &s)));
    for cut in 1..req.len() {
        let part = &req[..cut];
        let mut b = Builder::new(Signal::Traces, part).expect("fits");
        assert!(
            scan_into(Signal::Traces, part, &mut b).is_err(),
            "a cut request is refused at {cut}"
        );
    }
}
