//! A guest that declared the rows it needs (`edit-all` with
//! `{"interest": true}`: spans with an `exception` event or a `pick.*`
//! attribute, log records with a `pick.*` attribute) edits exactly those,
//! and their resources and scopes, through both the encoded and the decoded
//! path; every other row passes unchanged; a batch without such a row does
//! not reach it; a guest that declares nothing sees every row.

use super::*;

fn load_interested() -> WasmProcessor {
    let mut cfg = WasmProcessorConfig::for_module(guest("edit_all"));
    cfg.config = serde_json::json!({ "interest": true });
    WasmProcessor::load("wasm/edit_all", &cfg, &runtime()).expect("loads")
}

fn plain(name: &str) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.into(),
        attributes: vec![kv("http.route", s("/"))],
        ..Default::default()
    }
}

fn picked(name: &str) -> Span {
    let mut span = plain(name);
    span.attributes.push(kv("pick.me", Value::BoolValue(true)));
    span
}

fn failed(name: &str) -> Span {
    let mut span = plain(name);
    span.events.push(Event {
        name: "exception".into(),
        ..Default::default()
    });
    span.links.push(Link {
        trace_id: vec![9; 16],
        span_id: vec![9; 8],
        ..Default::default()
    });
    span
}

fn group(service: &str, scopes: Vec<Vec<Span>>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(service))],
            ..Default::default()
        }),
        scope_spans: scopes
            .into_iter()
            .map(|spans| ScopeSpans {
                spans,
                ..Default::default()
            })
            .collect(),
        schema_url: String::new(),
    }
}

/// Three resources: the first with a shown span in its first scope only,
/// the second with one to drop, the third with none.
fn request() -> ExportTraceServiceRequest {
    let mut drop = picked("f");
    drop.attributes.push(kv("drop", Value::BoolValue(true)));
    ExportTraceServiceRequest {
        resource_spans: vec![
            group(
                "svc-0",
                vec![vec![plain("a"), picked("b"), failed("c")], vec![plain("d")]],
            ),
            group("svc-1", vec![vec![plain("e"), drop]]),
            group("svc-2", vec![vec![plain("g")]]),
        ],
    }
}

fn has(attrs: &[KeyValue], key: &str) -> bool {
    attrs.iter().any(|kv| kv.key == key)
}

#[test]
fn edits_land_on_the_rows_shown_and_nowhere_else() {
    let p = load_interested();
    let mut decoded = request();
    let applied = p.process_traces(&mut decoded).expect("edits apply");
    assert_eq!(applied.spans_dropped, 1);
    let names: Vec<&str> = decoded
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b.renamed", "c.renamed", "d", "e", "g"]);
    let rs = &decoded.resource_spans;
    let resource = |r: usize| &rs[r].resource.as_ref().expect("resource").attributes;
    assert!(has(resource(0), "res.edited") && has(resource(1), "res.edited"));
    assert!(!has(resource(2), "res.edited"), "a resource not shown");
    let scope_edited = |r: usize, s: usize| {
        rs[r].scope_spans[s]
            .scope
            .as_ref()
            .is_some_and(|sc| has(&sc.attributes, "scope.edited"))
    };
    assert!(scope_edited(0, 0) && scope_edited(1, 0));
    assert!(
        !scope_edited(0, 1) && !scope_edited(2, 0),
        "scopes not shown"
    );
    let c = &rs[0].scope_spans[0].spans[2];
    assert!(has(&c.attributes, "nested") && has(&c.events[0].attributes, "event.edited"));
    assert!(has(&c.links[0].attributes, "link.edited"));
    assert_eq!(rs[0].scope_spans[0].spans[0], plain("a"), "untouched");
    assert_eq!(rs[0].scope_spans[1].spans[0], plain("d"), "untouched");

    // The same from the bytes, edited as bytes.
    let mut batch = Encoded::new(vec![request().encode_to_vec()]);
    assert_eq!(p.process_traces_batch(&mut batch), Ok(applied));
    assert!(batch.decoded.is_none(), "edited as bytes, never decoded");
    assert_eq!(batch.items, Some(6));
    assert_eq!(batch.request(), decoded);
    // Split into fragments, one resource each.
    let req = request();
    let chunks = req
        .resource_spans
        .iter()
        .map(|rs| {
            ExportTraceServiceRequest {
                resource_spans: vec![rs.clone()],
            }
            .encode_to_vec()
        })
        .collect();
    let mut batch = Encoded::new(chunks);
    assert_eq!(p.process_traces_batch(&mut batch), Ok(applied));
    assert_eq!(batch.request(), decoded);

    // A guest that declares nothing sees (and edits) every row.
    let mut all = request();
    let applied = load("edit_all").process_traces(&mut all).expect("edits");
    assert_eq!(applied.spans_dropped, 1);
    assert!(
        all.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .all(|s| s.name.ends_with(".renamed"))
    );
}

#[test]
fn a_batch_without_rows_of_interest_does_not_reach_the_guest() {
    let p = load_interested();
    let calls = p.call_count();
    let plain_only = ExportTraceServiceRequest {
        resource_spans: vec![group("svc-0", vec![vec![plain("a"), plain("b")]])],
    };
    let mut batch = Encoded::new(vec![plain_only.encode_to_vec()]);
    assert_eq!(p.process_traces_batch(&mut batch), Ok(Applied::default()));
    assert!(
        batch.decoded.is_none() && batch.items.is_none(),
        "untouched"
    );
    let mut decoded = plain_only.clone();
    assert_eq!(p.process_traces(&mut decoded), Ok(Applied::default()));
    assert_eq!(decoded, plain_only);
    assert_eq!(p.call_count(), calls, "the guest was not called");
    p.process_traces(&mut request()).expect("edits apply");
    assert_eq!(p.call_count(), calls + 1);
}

#[test]
fn log_records_of_interest_are_edited_alone() {
    let p = load_interested();
    let mut req = logs();
    let records = &mut req.resource_logs[0].scope_logs[0].log_records;
    records[1].attributes.push(kv("pick.x", s("y")));
    records[3].attributes.push(kv("pick.x", s("y")));
    let original = req.clone();
    let mut decoded = req.clone();
    let applied = p.process_logs(&mut decoded).expect("edits apply");
    let got = &decoded.resource_logs[0].scope_logs[0].log_records;
    let was = &original.resource_logs[0].scope_logs[0].log_records;
    for i in [0, 2] {
        assert_eq!(got[i], was[i], "record {i} not shown");
    }
    for i in [1, 3] {
        assert!(has(&got[i].attributes, "severity"), "record {i} edited");
        assert!(!has(&got[i].attributes, "remove.me"));
    }
    let mut batch = Encoded::new(vec![req.encode_to_vec()]);
    assert_eq!(p.process_logs_batch(&mut batch), Ok(applied));
    assert!(batch.decoded.is_none(), "edited as bytes");
    assert_eq!(batch.request(), decoded);
}
