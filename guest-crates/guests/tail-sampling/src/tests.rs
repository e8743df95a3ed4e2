//! Unit tests of the configuration (parsing, validation, evaluation order).
//! Each policy's own tests are in its file under `policy/`; whole-trace
//! behaviour is tested through the host in `wasm-host/tests/tail_sampling/`.

use crate::config;

fn parse_err(json: &str) -> String {
    match config::parse(json) {
        Ok(_) => panic!("expected an error for {json}"),
        Err(e) => e,
    }
}

#[test]
fn ottl_condition_is_accepted_and_its_block_checked() {
    let c = config::parse(
        r#"{"policies":[{"name":"o","type":"ottl_condition","ottl_condition":{"error_mode":"ignore","span":["x"],"spanevent":["y"]}}]}"#,
    )
    .expect("accepted: the host compiles the conditions");
    assert_eq!(c.policies[0].name, "o");
    let e = parse_err(
        r#"{"policies":[{"name":"o","type":"ottl_condition","ottl_condition":{"spans":["x"]}}]}"#,
    );
    assert!(
        e.contains("policies[0].ottl_condition") && e.contains("spans"),
        "{e}"
    );
}

#[test]
fn unknown_type_and_keys_are_errors() {
    let e = parse_err(r#"{"policies":[{"name":"x","type":"magic"}]}"#);
    assert!(e.contains("unknown policy type \"magic\""), "{e}");
    let e = parse_err(
        r#"{"policies":[{"name":"x","type":"latency","latency":{"threshold_ms":5,"bogus":1}}]}"#,
    );
    assert!(
        e.contains("policies[0].latency") && e.contains("bogus"),
        "{e}"
    );
    let e = parse_err(r#"{"policies":[{"name":"x","type":"always_sample","extra":1}]}"#);
    assert!(e.contains("policies[0].extra"), "{e}");
    let e = parse_err(r#"{"policies":[],"nope":true}"#);
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn a_block_of_another_type_is_an_error() {
    // The contrib README's "Rule 7" has this typo.
    let e = parse_err(
        r#"{"policies":[{"name":"d","type":"boolean_attribute","string_attribute":{"key":"k","value":true}}]}"#,
    );
    assert!(e.contains("did you mean `boolean_attribute:`"), "{e}");
}

#[test]
fn names_are_required_and_unique() {
    let e = parse_err(r#"{"policies":[{"type":"always_sample"}]}"#);
    assert!(e.contains("policies[0].name"), "{e}");
    let e = parse_err(
        r#"{"policies":[{"name":"a","type":"always_sample"},{"name":"a","type":"always_sample"}]}"#,
    );
    assert!(e.contains("duplicate policy name \"a\""), "{e}");
    let e = parse_err(r#"{"policies":[]}"#);
    assert!(e.contains("at least one policy"), "{e}");
}

#[test]
fn field_rules() {
    for (json, want) in [
        (
            r#"{"name":"s","type":"status_code","status_code":{"status_codes":["BAD"]}}"#,
            "unknown status code \"BAD\"",
        ),
        (
            r#"{"name":"s","type":"status_code","status_code":{"status_codes":[]}}"#,
            "at least one status code",
        ),
        (
            r#"{"name":"r","type":"string_attribute","string_attribute":{"key":"k","values":["("],"enabled_regex_matching":true}}"#,
            "values[0]",
        ),
        (
            r#"{"name":"n","type":"numeric_attribute","numeric_attribute":{"key":"k"}}"#,
            "min_value and/or max_value",
        ),
        (
            r#"{"name":"l","type":"latency","latency":{"threshold_ms":10,"upper_threshold_ms":5}}"#,
            "below threshold_ms",
        ),
        (
            r#"{"name":"c","type":"span_count","span_count":{"min_spans":10,"max_spans":5}}"#,
            "below min_spans",
        ),
        (
            r#"{"name":"r","type":"rate_limiting","rate_limiting":{"spans_per_second":0}}"#,
            "greater than 0",
        ),
        (
            r#"{"name":"l","type":"latency"}"#,
            "needs a `latency:` block",
        ),
        (
            r#"{"name":"a","type":"and","and":{"and_sub_policy":[{"name":"d","type":"drop","drop":{"drop_sub_policy":[{"name":"x","type":"always_sample"}]}}]}}"#,
            "only allowed at the top level",
        ),
        (
            r#"{"name":"c","type":"composite","composite":{"max_total_spans_per_second":10,"policy_order":["nope"],"composite_sub_policy":[{"name":"a","type":"always_sample"}]}}"#,
            "policy_order[0]",
        ),
    ] {
        let e = parse_err(&format!(r#"{{"policies":[{json}]}}"#));
        assert!(e.contains(want), "{json}: {e}");
    }
}

#[test]
fn drop_policies_are_evaluated_first() {
    let c = config::parse(
        r#"{"policies":[{"name":"a","type":"always_sample"},{"name":"d","type":"drop","drop":{"drop_sub_policy":[{"name":"x","type":"always_sample"}]}}]}"#,
    )
    .expect("valid");
    let names: Vec<&str> = c.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["d", "a"]);
}

#[test]
fn attribute_keys_are_gathered_from_nested_policies_once() {
    let cfg = config::parse(
        r#"{"policies":[
            {"name":"a","type":"string_attribute","string_attribute":{"key":"k1","values":["x"]}},
            {"name":"b","type":"and","and":{"and_sub_policy":[
                {"name":"b1","type":"numeric_attribute","numeric_attribute":{"key":"k2","min_value":1,"max_value":2}},
                {"name":"b2","type":"not","not":{"not_sub_policy":{"name":"b3","type":"boolean_attribute","boolean_attribute":{"key":"k3","value":true}}}}
            ]}},
            {"name":"c","type":"drop","drop":{"drop_sub_policy":[
                {"name":"c1","type":"string_attribute","string_attribute":{"key":"k1","values":["y"]}}
            ]}},
            {"name":"d","type":"latency","latency":{"threshold_ms":5}}
        ]}"#,
    )
    .expect("valid");
    let mut keys = crate::policy::attribute_keys(cfg.policies.iter().map(|p| &p.policy));
    keys.sort();
    assert_eq!(keys, ["k1", "k2", "k3"]);
}
