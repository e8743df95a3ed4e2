//! The per-row decision against a real index and a traceback python3 prints
//! at test time: the added attributes, and each reason a row passes
//! unchanged.

use std::collections::HashMap;

use symbols::{Language, format_symbol_id, symbol_id};
use tracemend_sdk::NewValue;

use super::*;
use crate::attributes as a;
use crate::outcome::Reason;
use crate::testdata::{SHA_A, SHA_B, index_bytes, python_traceback};

fn symbolizer() -> Symbolizer {
    let config = Config::parse(&format!(
        r#"{{"indexes":[
            {{"service":"shop","commit":"{SHA_A}","data":"shop_a"}},
            {{"service":"shop","commit":"{SHA_B}","data":"shop_b_missing"}},
            {{"service":"cart","commit":"{SHA_A}","data":"junk"}},
            {{"service":"cart","commit":"{SHA_B}","data":"shop_a"}}
        ]}}"#
    ))
    .expect("valid config");
    let mut blobs = HashMap::new();
    blobs.insert("shop_a".to_owned(), index_bytes(SHA_A));
    blobs.insert("junk".to_owned(), b"TMSYMIDX but not really".to_vec());
    Symbolizer::new(config, Box::new(move |name| blobs.get(name).cloned()))
}

fn get<'v>(attrs: &'v Attrs, key: &str) -> Option<&'v NewValue> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn row<'a>(trace: Option<&'a str>) -> RowInput<'a> {
    RowInput {
        service: Some("shop"),
        commit: Some(&SHA_A[..12]),
        language: Some("python"),
        stacktrace: trace,
        code: CodeInput::default(),
    }
}

fn total_id() -> NewValue {
    format_symbol_id(symbol_id(
        Language::Python,
        "shop/orders.py",
        "shop.orders.Order.total",
    ))
    .into()
}

#[test]
fn an_exception_gets_its_top_in_app_frame_symbol_owners_and_commit() {
    let trace = python_traceback("ok");
    let mut s = symbolizer();
    let mut tally = Tally::default();
    let attrs = s.enrich(&row(Some(&trace)), &mut tally);
    let want = |k: &str| get(&attrs, k).cloned().unwrap_or(NewValue::Empty);
    assert_eq!(want(a::CODE_FUNCTION), "shop.orders.Order.total".into());
    assert_eq!(want(a::CODE_FILE), "shop/orders.py".into());
    // `raise ValueError` is line 7 of ORDERS_PY.
    assert_eq!(want(a::CODE_LINE), NewValue::Int(7));
    assert_eq!(want(a::SYMBOL_ID), total_id());
    assert_eq!(want(a::OWNERS), NewValue::Array(vec!["@shop-team".into()]));
    assert_eq!(want(a::COMMIT), SHA_A.into());
    assert_eq!(want(a::LAST_CHANGE_COMMIT), SHA_A.into());
    let NewValue::String(fp) = want(a::FINGERPRINT) else {
        panic!("fingerprint missing: {attrs:?}")
    };
    assert_eq!(fp.len(), 32);
    let NewValue::Array(frames) = want(a::FRAMES) else {
        panic!("frames missing: {attrs:?}")
    };
    // Innermost first: total (7), place (12), then the `-c` module frame.
    let field = |f: &NewValue, k: &str| match f {
        NewValue::KvList(kv) => kv.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        _ => None,
    };
    assert_eq!(field(&frames[0], "line"), Some(NewValue::Int(7)));
    assert_eq!(field(&frames[0], "in_app"), Some(NewValue::Bool(true)));
    assert_eq!(field(&frames[0], "symbol_id"), Some(total_id()));
    assert_eq!(field(&frames[1], "line"), Some(NewValue::Int(12)));
    assert_eq!(
        field(&frames[1], "symbol"),
        Some("shop.orders.place".into())
    );
    let last = frames.last().expect("frames");
    assert_eq!(field(last, "in_app"), Some(NewValue::Bool(false)));
    assert_eq!(tally.get(crate::outcome::ENRICHED_EXCEPTION), 1);

    // The same failure after a deploy that moved lines groups the same.
    let moved = trace.replace("line 7,", "line 6,");
    let again = s.enrich(&row(Some(&moved)), &mut tally);
    assert_eq!(get(&again, a::FINGERPRINT), get(&attrs, a::FINGERPRINT));
}

#[test]
fn every_failure_passes_the_row_unchanged_and_counts_its_reason() {
    let trace = python_traceback("reasons");
    let mut s = symbolizer();
    let cases: Vec<(RowInput<'_>, Reason)> = vec![
        (
            RowInput {
                service: None,
                ..row(Some(&trace))
            },
            Reason::NoService,
        ),
        (
            RowInput {
                commit: None,
                ..row(Some(&trace))
            },
            Reason::NoCommit,
        ),
        (
            RowInput {
                commit: Some("fedcba9876"),
                ..row(Some(&trace))
            },
            Reason::UnknownCommit,
        ),
        (
            RowInput {
                commit: Some(SHA_B),
                ..row(Some(&trace))
            },
            Reason::MissingBlob,
        ),
        (
            RowInput {
                service: Some("cart"),
                ..row(Some(&trace))
            },
            Reason::CorruptBlob,
        ),
        (
            RowInput {
                service: Some("cart"),
                commit: Some(SHA_B),
                ..row(Some(&trace))
            },
            Reason::CommitMismatch,
        ),
    ];
    let unparsable = "this is not a stack trace\n";
    let vendored = trace.replace("/srv/shop/", "/lib/python3/site-packages/vendored/");
    let moved = trace.replace("line 7,", "line 99,");
    let mut all = cases;
    all.push((row(Some(unparsable)), Reason::UnparsableTrace));
    all.push((row(Some(&vendored)), Reason::NoInAppFrame));
    all.push((row(Some(&moved)), Reason::OutsideIndex));
    for (input, reason) in all {
        let mut tally = Tally::default();
        let attrs = s.enrich(&input, &mut tally);
        assert!(attrs.is_empty(), "{reason:?}: {attrs:?}");
        assert_eq!(tally.get(reason.counter()), 1, "{reason:?}: {tally:?}");
    }
}

#[test]
fn rows_without_exception_or_code_attributes_are_not_looked_at() {
    let mut s = symbolizer();
    let mut tally = Tally::default();
    assert!(
        s.enrich(&RowInput::default(), &mut tally).is_empty(),
        "nothing to do"
    );
    let mut seen = 0;
    tally.flush(|_, _| seen += 1);
    assert_eq!(seen, 0, "not even counted");
}

#[test]
fn code_attributes_resolve_by_line_then_by_function() {
    let mut s = symbolizer();
    let mut tally = Tally::default();
    let code = |file, line, function| RowInput {
        code: CodeInput {
            file,
            line,
            function,
        },
        ..row(None)
    };
    let init_id = format_symbol_id(symbol_id(
        Language::Python,
        "shop/orders.py",
        "shop.orders.Order.__init__",
    ));
    // A container path, a line inside `__init__`.
    let attrs = s.enrich(
        &code(Some("/app/shop/orders.py"), Some(3), None),
        &mut tally,
    );
    assert_eq!(get(&attrs, a::SYMBOL_ID), Some(&init_id.into()));
    assert_eq!(
        get(&attrs, a::OWNERS),
        Some(&NewValue::Array(vec!["@shop-team".into()]))
    );
    assert!(
        get(&attrs, a::CODE_FUNCTION).is_none(),
        "input is not rewritten"
    );
    // No line: the function's tail names it.
    let attrs = s.enrich(
        &code(Some("/build/x/shop/orders.py"), None, Some("Order.total")),
        &mut tally,
    );
    assert_eq!(get(&attrs, a::SYMBOL_ID), Some(&total_id()));
    // Only a qualified function name.
    let attrs = s.enrich(&code(None, None, Some("shop.orders.place")), &mut tally);
    assert_eq!(
        get(&attrs, a::SYMBOL_NAME),
        Some(&"shop.orders.place".into())
    );
    // Only a file: owners and commit, no symbol.
    let attrs = s.enrich(&code(Some("shop/orders.py"), None, None), &mut tally);
    assert!(get(&attrs, a::SYMBOL_ID).is_none());
    assert_eq!(get(&attrs, a::COMMIT), Some(&SHA_A.into()));
    assert_eq!(tally.get(crate::outcome::ENRICHED_CODE), 4);

    for (file, line, function) in [
        (Some("shop/other.py"), Some(1), None),
        (Some("orders.py"), Some(1), None), // one component: below the minimum
        (Some("shop/orders.py"), Some(13), None),
        (None, None, Some("nowhere")),
    ] {
        let mut t = Tally::default();
        let attrs = s.enrich(&code(file, line, function), &mut t);
        assert!(attrs.is_empty(), "{file:?} {line:?}: {attrs:?}");
        assert_eq!(t.get(Reason::OutsideIndex.counter()), 1);
    }
}
