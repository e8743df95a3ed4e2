//! Paths of every context, context inference, comparisons and errors with columns.
//! The comparison table follows otelcol-contrib `pkg/ottl/compare_test.go`
//! (`Test_compare`): mismatched types are unequal, ints and doubles compare as
//! numbers, nil equals only nil.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use ottl::{
    CmpOp, Condition, ContextChoice, ContextKind, Item, Statement, TransformContext, Value, compare,
};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
        ..Default::default()
    }
}

fn span() -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "GET /users".to_owned(),
        kind: 2,
        attributes: vec![kv("http.route", "/users")],
        status: Some(Status {
            code: 2,
            message: "boom".to_owned(),
        }),
        events: vec![span::Event {
            name: "exception".to_owned(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

const TRACES: &[ContextKind] = &[
    ContextKind::Resource,
    ContextKind::Scope,
    ContextKind::Span,
    ContextKind::SpanEvent,
];

#[test]
fn span_paths_read_and_write() {
    let mut resource = Resource {
        attributes: vec![kv("service.name", "api")],
        ..Default::default()
    };
    let mut scope = InstrumentationScope {
        name: "lib".to_owned(),
        ..Default::default()
    };
    let mut sp = span();
    let statements = [
        r#"set(span.attributes["svc"], resource.attributes["service.name"])"#,
        r#"set(span.name, Concat([span.name, scope.name], " @ ")) where span.kind == SPAN_KIND_SERVER"#,
        r#"set(span.attributes["error"], true) where span.status.code == STATUS_CODE_ERROR and not IsMatch(span.status.message, "^ok")"#,
        r#"set(span.attributes["tid"], span.trace_id.string)"#,
        r#"set(span.status.code, STATUS_CODE_OK) where span.attributes["http.route"] == "/nope""#,
    ];
    for st in statements {
        let st = Statement::parse(st, ContextChoice::Infer(TRACES)).expect(st);
        assert_eq!(st.context(), ContextKind::Span, "{}", st.text());
        let mut tc = TransformContext::new(&mut resource, &mut scope, Item::Span(&mut sp));
        st.execute(&mut tc)
            .unwrap_or_else(|e| panic!("{}: {e}", st.text()));
    }
    let attrs = Value::from_attributes(&sp.attributes);
    assert_eq!(attrs.map_get("svc"), Some(&Value::Str("api".into())));
    assert_eq!(attrs.map_get("error"), Some(&Value::Bool(true)));
    assert_eq!(attrs.map_get("tid"), Some(&Value::Str("01".repeat(16))));
    assert_eq!(sp.name, "GET /users @ lib");
    assert_eq!(sp.status.as_ref().map(|s| s.code), Some(2));
    // A statement with only resource paths runs once per resource.
    let st = Statement::parse(
        r#"set(resource.attributes["touched"], "yes")"#,
        ContextChoice::Infer(TRACES),
    )
    .expect("parses");
    assert_eq!(st.context(), ContextKind::Resource);
    st.execute(&mut TransformContext::resource(&mut resource))
        .expect("runs");
    assert_eq!(
        Value::from_attributes(&resource.attributes).map_get("touched"),
        Some(&Value::Str("yes".into()))
    );
}

#[test]
fn span_event_context_reads_its_span() {
    let mut resource = Resource::default();
    let mut scope = InstrumentationScope::default();
    let mut sp = span();
    let st = Statement::parse(
        r#"set(spanevent.attributes["span"], span.name) where spanevent.name == "exception""#,
        ContextChoice::Infer(TRACES),
    )
    .expect("parses");
    assert_eq!(st.context(), ContextKind::SpanEvent);
    let mut tc = TransformContext::new(
        &mut resource,
        &mut scope,
        Item::SpanEvent {
            span: &mut sp,
            index: 0,
        },
    );
    assert!(st.execute(&mut tc).expect("runs"));
    assert_eq!(
        Value::from_attributes(&sp.events[0].attributes).map_get("span"),
        Some(&Value::Str("GET /users".into()))
    );
}

#[test]
fn datapoint_context() {
    let mut resource = Resource::default();
    let mut scope = InstrumentationScope::default();
    let mut m = Metric {
        name: "requests".to_owned(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                value: Some(number_data_point::Value::AsInt(7)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let st = Statement::parse(
        r#"set(attributes["big"], true) where value_int > 5 and metric.name == "requests" and metric.type == METRIC_DATA_TYPE_GAUGE"#,
        ContextChoice::Given(ContextKind::DataPoint),
    )
    .expect("parses");
    let mut tc = TransformContext::new(
        &mut resource,
        &mut scope,
        Item::DataPoint {
            metric: &mut m,
            index: 0,
        },
    );
    assert!(st.execute(&mut tc).expect("runs"));
    let Some(metric::Data::Gauge(g)) = &m.data else {
        panic!()
    };
    assert_eq!(
        Value::from_attributes(&g.data_points[0].attributes).map_get("big"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn conditions_and_inference_errors() {
    let c = Condition::parse(
        r#"span.name == "GET /users" or span.kind == 3"#,
        ContextChoice::Infer(TRACES),
    )
    .expect("parses");
    let (mut r, mut s, mut sp) = (Resource::default(), InstrumentationScope::default(), span());
    assert!(
        c.eval(&mut TransformContext::new(
            &mut r,
            &mut s,
            Item::Span(&mut sp)
        ))
        .expect("evals")
    );

    let e = Statement::parse(r#"set(attributes["x"], "y")"#, ContextChoice::Infer(TRACES))
        .expect_err("no prefix");
    assert!(e.message.contains("cannot infer the context"), "{e}");
    let e = Statement::parse(
        r#"set(log.attributes["x"], "y")"#,
        ContextChoice::Infer(TRACES),
    )
    .expect_err("log in traces");
    assert!(e.message.contains("log context is not available"), "{e}");
    let e =
        Statement::parse(r#"set(span.nme, "y")"#, ContextChoice::Infer(TRACES)).expect_err("typo");
    assert_eq!(e.column, 5, "{e}");
    assert!(
        e.message
            .contains("`nme` is not a path of the span context"),
        "{e}"
    );
    let e = Statement::parse(
        r#"set(name, Nope(1))"#,
        ContextChoice::Given(ContextKind::Span),
    )
    .expect_err("unknown");
    assert_eq!(e.column, 11, "{e}");
    let e = Statement::parse(
        r#"set(name, SPAN_KIND_NOPE)"#,
        ContextChoice::Given(ContextKind::Span),
    )
    .expect_err("enum");
    assert!(e.message.contains("SPAN_KIND_NOPE"), "{e}");
    let e = Statement::parse(r#"set(name)"#, ContextChoice::Given(ContextKind::Span))
        .expect_err("arity");
    assert!(
        e.message.contains("missing its required argument `value`"),
        "{e}"
    );
    let e = Statement::parse(r#"set("x", name)"#, ContextChoice::Given(ContextKind::Span))
        .expect_err("target");
    assert!(e.message.contains("must be a path"), "{e}");
    let e = Statement::parse(
        r#"set(resource.attributes["a"], "b") where span.name == "x""#,
        ContextChoice::Given(ContextKind::Resource),
    )
    .expect_err("resource cannot reach span");
    assert!(e.message.contains("cannot use span paths"), "{e}");
}

#[test]
fn runtime_type_errors_are_reported_not_panics() {
    let (mut r, mut s, mut sp) = (Resource::default(), InstrumentationScope::default(), span());
    let st =
        Statement::parse("set(name, 5)", ContextChoice::Given(ContextKind::Span)).expect("parses");
    let e = st
        .execute(&mut TransformContext::new(
            &mut r,
            &mut s,
            Item::Span(&mut sp),
        ))
        .expect_err("type");
    assert!(
        e.to_string().contains("name takes a string, got int"),
        "{e}"
    );
    let st = Statement::parse(
        r#"set(trace_id, 0x01)"#,
        ContextChoice::Given(ContextKind::Span),
    )
    .expect("parses");
    let e = st
        .execute(&mut TransformContext::new(
            &mut r,
            &mut s,
            Item::Span(&mut sp),
        ))
        .expect_err("length");
    assert!(e.to_string().contains("16 bytes"), "{e}");
}

#[test]
fn comparison_rules() {
    use CmpOp::*;
    let i = Value::Int;
    let d = Value::Double;
    let st = |x: &str| Value::Str(x.to_owned());
    // (a, b, [eq, ne, lt, le, gt, ge])
    let table: Vec<(Value, Value, [bool; 6])> = vec![
        (
            Value::Nil,
            Value::Nil,
            [true, false, false, true, false, true],
        ),
        (
            Value::Nil,
            st("x"),
            [false, true, false, false, false, false],
        ),
        (
            st("x"),
            Value::Nil,
            [false, true, false, false, false, false],
        ),
        (i(1), i(1), [true, false, false, true, false, true]),
        (i(1), i(2), [false, true, true, true, false, false]),
        (i(2), d(1.5), [false, true, false, false, true, true]),
        (d(1.0), i(1), [true, false, false, true, false, true]),
        (st("a"), st("b"), [false, true, true, true, false, false]),
        (st("1"), i(1), [false, true, false, false, false, false]),
        (
            Value::Bool(false),
            Value::Bool(true),
            [false, true, true, true, false, false],
        ),
        (
            Value::Bytes(vec![1]),
            Value::Bytes(vec![2]),
            [false, true, true, true, false, false],
        ),
        (
            Value::Map(vec![("a".into(), i(1)), ("b".into(), i(2))]),
            Value::Map(vec![("b".into(), i(2)), ("a".into(), i(1))]),
            [true, false, false, false, false, false],
        ),
        (
            Value::List(vec![i(1)]),
            Value::List(vec![i(2)]),
            [false, true, false, false, false, false],
        ),
    ];
    for (a, b, want) in table {
        for (op, w) in [Eq, Ne, Lt, Le, Gt, Ge].into_iter().zip(want) {
            assert_eq!(compare(&a, &b, op), w, "{a:?} {} {b:?}", op.symbol());
        }
    }
}
