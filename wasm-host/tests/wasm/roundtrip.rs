//! Every edit kind, applied by the host from a real guest (`edit-all`),
//! including nested `AnyValue` values and bodies copied through the view.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use wasm_host::wasm::WasmProcessor;

use crate::common::*;

fn nested_expected() -> Value {
    // Mirrors `nested()` in guest-crates/guests/edit-all.
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    Value::KvlistValue(KeyValueList {
        values: vec![
            kv(
                "a",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(s("x")),
                        },
                        AnyValue {
                            value: Some(Value::KvlistValue(KeyValueList {
                                values: vec![kv("b", Value::BytesValue(vec![0, 159, 255]))],
                            })),
                        },
                    ],
                }),
            ),
            kv("d", Value::DoubleValue(1.5)),
            kv("t", Value::BoolValue(true)),
            KeyValue {
                key: "e".into(),
                value: Some(AnyValue { value: None }),
                ..Default::default()
            },
        ],
    })
}

#[test]
fn every_trace_edit_kind_round_trips() {
    let rt = runtime();
    let p = WasmProcessor::load("wasm/edit_all", &config("edit_all"), &rt).unwrap();
    let mut req = traces(3);
    // Span 1 of the first scope: something to remove, something to copy.
    let target = &mut req.resource_spans[0].scope_spans[0].spans[1];
    target.attributes.push(kv("remove.me", s("secret")));
    target
        .attributes
        .push(kv("copy.src", nested_body().value.unwrap()));
    // Span 2 of the first scope is dropped by the guest.
    req.resource_spans[0].scope_spans[0].spans[2]
        .attributes
        .push(kv("drop", Value::BoolValue(true)));
    let before = all_spans(&req).len();

    let applied = p.process_traces(&mut req).expect("applied");
    assert_eq!(applied.spans_dropped, 1);
    assert_eq!(all_spans(&req).len(), before - 1);

    for rs in &req.resource_spans {
        let res = rs.resource.as_ref().unwrap();
        assert_eq!(attr(&res.attributes, "res.edited"), Some(&s("yes")));
        for ss in &rs.scope_spans {
            let scope = ss.scope.as_ref().unwrap();
            assert_eq!(
                attr(&scope.attributes, "scope.edited"),
                Some(&Value::IntValue(7))
            );
            for sp in &ss.spans {
                assert!(sp.name.ends_with(".renamed"), "{}", sp.name);
                assert_eq!(sp.status.as_ref().unwrap(), &error_status());
                assert_eq!(attr(&sp.attributes, "nested"), Some(&nested_expected()));
                assert!(attr(&sp.attributes, "remove.me").is_none());
                assert!(
                    attr(&sp.attributes, "drop").is_none(),
                    "dropped span is gone"
                );
                // Attributes the guest did not touch are intact.
                assert_eq!(attr(&sp.attributes, "http.route"), Some(&s("/users/{id}")));
                for ev in &sp.events {
                    assert_eq!(attr(&ev.attributes, "event.edited"), Some(&s("exception")));
                    assert_eq!(
                        attr(&ev.attributes, "exception.type"),
                        Some(&s("ValueError"))
                    );
                }
                for l in &sp.links {
                    assert_eq!(
                        attr(&l.attributes, "link.edited"),
                        Some(&Value::IntValue(16))
                    );
                }
            }
        }
    }
    let copied = &req.resource_spans[0].scope_spans[0].spans[1];
    assert_eq!(copied.name, "op-0-0-1.renamed");
    assert_eq!(
        attr(&copied.attributes, "copy.dst"),
        nested_body().value.as_ref()
    );
}

#[test]
fn every_log_edit_kind_round_trips_nested_bodies() {
    let rt = runtime();
    let p = WasmProcessor::load("wasm/edit_all", &config("edit_all"), &rt).unwrap();
    let mut req = logs(vec![
        Some(nested_body()),
        None,
        Some(AnyValue {
            value: Some(s("plain")),
        }),
    ]);
    req.resource_logs[0].scope_logs[0].log_records[1]
        .attributes
        .push(kv("drop", Value::BoolValue(true)));

    let applied = p.process_logs(&mut req).expect("applied");
    assert_eq!(applied.logs_dropped, 1);
    let recs = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs.len(), 2);
    for (rec, (orig, depth)) in recs.iter().zip([
        (nested_body(), 3),
        (
            AnyValue {
                value: Some(s("plain")),
            },
            0,
        ),
    ]) {
        let Some(Value::KvlistValue(body)) = rec.body.as_ref().and_then(|b| b.value.as_ref())
        else {
            panic!("body replaced by a kvlist: {:?}", rec.body)
        };
        assert_eq!(
            attr(&body.values, "orig"),
            orig.value.as_ref(),
            "body copied through the view"
        );
        assert_eq!(attr(&body.values, "depth"), Some(&Value::IntValue(depth)));
        assert_eq!(attr(&rec.attributes, "severity"), Some(&s("ERROR")));
        assert!(attr(&rec.attributes, "remove.me").is_none());
        assert!(attr(&rec.attributes, "n").is_some());
    }
}

#[test]
fn dropping_every_span_leaves_no_empty_groups() {
    let rt = runtime();
    let p = WasmProcessor::load("wasm/edit_all", &config("edit_all"), &rt).unwrap();
    let mut req = traces(2);
    for sp in req
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans)
    {
        sp.attributes.push(kv("drop", Value::BoolValue(true)));
    }
    let applied = p.process_traces(&mut req).unwrap();
    assert_eq!(applied.spans_dropped, 6);
    assert!(req.resource_spans.is_empty());
}

#[test]
fn example_plugin_adds_attribute() {
    let rt = runtime();
    let mut cfg = config("add_attribute");
    cfg.config = serde_json::json!({ "key": "team", "value": "payments", "only_errors": true });
    let p = WasmProcessor::load("wasm/add_attribute", &cfg, &rt).unwrap();
    let mut req = traces(2);
    req.resource_spans[1].scope_spans[1].spans[0].status = Some(error_status());
    let applied = p.process_traces(&mut req).unwrap();
    assert_eq!(applied.edits, 1);
    let tagged: Vec<_> = all_spans(&req)
        .into_iter()
        .filter(|sp| attr(&sp.attributes, "team") == Some(&s("payments")))
        .map(|sp| sp.name.clone())
        .collect();
    assert_eq!(tagged, vec!["op-1-1-0".to_string()]);
}

#[test]
fn granted_data_blob_is_readable_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("greeting.txt");
    std::fs::write(&path, "hello from a blob").unwrap();
    let rt = runtime();
    let mut cfg = config("edit_all");
    cfg.grants.data.insert("greeting".into(), path.into());
    let p = WasmProcessor::load("wasm/edit_all", &cfg, &rt).unwrap();
    let mut req = traces(1);
    p.process_traces(&mut req).unwrap();
    let res = req.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(attr(&res.attributes, "blob"), Some(&s("hello from a blob")));
    // Without the grant the guest sees no blob.
    let p = WasmProcessor::load("wasm/edit_all", &config("edit_all"), &rt).unwrap();
    let mut req = traces(1);
    p.process_traces(&mut req).unwrap();
    assert!(
        attr(
            &req.resource_spans[0].resource.as_ref().unwrap().attributes,
            "blob"
        )
        .is_none()
    );
}
