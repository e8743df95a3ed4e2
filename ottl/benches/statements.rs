//! Cost of the five statements of `loadgen/bench/otlp-transform-otlp.yaml` per span
//! (10 attributes each), against reading one attribute, in the same run: the OTTL
//! evaluator's share of the `transform` processor, without the pipeline.
//!
//! `cargo bench -p ottl --bench statements`

use std::hint::black_box;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use ottl::{ContextChoice, ContextKind, Item, Statement, TransformContext};

const STATEMENTS: [&str; 5] = [
    r#"set(span.attributes["env"], "bench")"#,
    r#"set(span.attributes["service"], resource.attributes["service.name"])"#,
    r#"replace_pattern(span.name, "[0-9]+", "N")"#,
    r#"delete_key(span.attributes, "loadgen.attr.0")"#,
    r#"set(span.attributes["slow"], true) where span.end_time_unix_nano - span.start_time_unix_nano > 1000000"#,
];

fn kv(k: String, v: String) -> KeyValue {
    KeyValue {
        key: k,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

fn spans(n: usize) -> Vec<Span> {
    (0..n)
        .map(|i| Span {
            name: format!("GET /api/v1/items/{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_100_000_000,
            attributes: (0..10)
                .map(|a| kv(format!("loadgen.attr.{a}"), format!("value-{i}-{a}")))
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// This thread's CPU time so far (Linux `schedstat`, nanoseconds): on a shared machine
/// wall time measures the neighbours as much as the code.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// CPU nanoseconds per span of running `statements` over fresh copies of `base`.
fn measure(statements: &[Statement], base: &[Span]) -> f64 {
    let mut resource = Resource {
        attributes: vec![kv("service.name".into(), "bench".into())],
        ..Default::default()
    };
    let mut scope = InstrumentationScope::default();
    let mut runs = 0u32;
    let mut spent = 0u64;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let mut batch = base.to_vec();
        let t = cpu_ns();
        for span in &mut batch {
            let mut tc = TransformContext::new(&mut resource, &mut scope, Item::Span(span));
            for st in statements {
                let _ = black_box(st.execute(&mut tc));
            }
        }
        spent += cpu_ns() - t;
        runs += 1;
        black_box(batch);
    }
    spent as f64 / (f64::from(runs) * base.len() as f64)
}

fn main() {
    let traces = [ContextKind::Resource, ContextKind::Scope, ContextKind::Span];
    let compile = |list: &[&str]| -> Vec<Statement> {
        list.iter()
            .map(|s| {
                Statement::parse(s, ContextChoice::Infer(&traces)).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect()
    };
    let five = compile(&STATEMENTS);
    let one = compile(&[r#"set(span.attributes["x"], span.attributes["loadgen.attr.1"])"#]);
    let base = spans(1000);
    println!(
        "one set of one attribute: {:.0} ns/span",
        measure(&one, &base)
    );
    println!(
        "the five benchmark statements: {:.0} ns/span",
        measure(&five, &base)
    );
}
