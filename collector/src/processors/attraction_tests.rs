//! contrib's `attraction_test.go` tables, ported: each case is the actions, the input
//! attributes and the attributes expected (compared as maps, as there).

use std::collections::BTreeMap;

use super::*;

fn actions(yaml: &str) -> Actions {
    let list: Vec<ActionConfig> = serde_yaml::from_str(yaml).expect("yaml");
    compile(&list, "actions").expect("valid actions")
}

fn attrs(yaml: &str) -> Vec<KeyValue> {
    let v: Value = serde_yaml::from_str(yaml).expect("yaml");
    match any_value(&v).expect("value").value {
        Some(any_value::Value::KvlistValue(l)) => l.values,
        None => Vec::new(),
        other => panic!("not a map: {other:?}"),
    }
}

fn raw(kvs: &[KeyValue]) -> BTreeMap<String, AnyValue> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect()
}

/// Runs each (input, expected) pair through `acts`.
fn table(acts: &str, cases: &[(&str, &str)]) {
    let a = actions(acts);
    for (input, expected) in cases {
        let mut got = attrs(input);
        a.apply(&mut got);
        assert_eq!(raw(&got), raw(&attrs(expected)), "input {input}");
    }
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn insert_value() {
    table(
        "[{key: attribute1, action: insert, value: 123}]",
        &[
            ("{}", "{attribute1: 123}"),
            ("{anotherkey: bob}", "{anotherkey: bob, attribute1: 123}"),
            ("{attribute1: bob}", "{attribute1: bob}"),
        ],
    );
}

#[test]
fn insert_from_attribute() {
    table(
        "[{key: string key, action: insert, from_attribute: anotherkey}]",
        &[
            ("{}", "{}"),
            ("{bob: 1}", "{bob: 1}"),
            (
                "{anotherkey: 8892342}",
                "{anotherkey: 8892342, string key: 8892342}",
            ),
            (
                "{anotherkey: 8892342, string key: here}",
                "{anotherkey: 8892342, string key: here}",
            ),
        ],
    );
}

#[test]
fn update_value_and_from_attribute() {
    table(
        "[{key: db.secret, action: update, value: redacted}]",
        &[
            ("{}", "{}"),
            ("{boo: foo}", "{boo: foo}"),
            ("{db.secret: password1234}", "{db.secret: redacted}"),
        ],
    );
    table(
        "[{key: boo, action: update, from_attribute: foo}]",
        &[
            ("{}", "{}"),
            ("{boo: bob}", "{boo: bob}"),
            ("{foo: over there}", "{foo: over there}"),
            (
                "{foo: there is a party over here, boo: not here}",
                "{foo: there is a party over here, boo: there is a party over here}",
            ),
        ],
    );
}

#[test]
fn upsert_value_and_from_attribute() {
    table(
        "[{key: region, action: upsert, value: planet-earth}]",
        &[
            ("{}", "{region: planet-earth}"),
            (
                "{mission: to mars}",
                "{mission: to mars, region: planet-earth}",
            ),
            (
                "{mission: to mars, region: solar system}",
                "{mission: to mars, region: planet-earth}",
            ),
        ],
    );
    table(
        "[{key: new_user_key, action: upsert, from_attribute: user_key}]",
        &[
            ("{}", "{}"),
            ("{boo: ghosts are scary}", "{boo: ghosts are scary}"),
            (
                "{user_key: 2245, foo: c}",
                "{user_key: 2245, new_user_key: 2245, foo: c}",
            ),
            (
                "{user_key: 2245, new_user_key: 5422, foo: c}",
                "{user_key: 2245, new_user_key: 2245, foo: c}",
            ),
        ],
    );
}

#[test]
fn extract() {
    table(
        r#"[{key: user_key, action: extract, pattern: '^\/api\/v1\/document\/(?P<new_user_key>.*)\/update\/(?P<version>.*)$'}]"#,
        &[
            ("{}", "{}"),
            ("{boo: ghosts}", "{boo: ghosts}"),
            (
                "{boo: ghosts, user_key: 1234}",
                "{boo: ghosts, user_key: 1234}",
            ),
            ("{user_key: does not match}", "{user_key: does not match}"),
            (
                "{user_key: /api/v1/document/12345678/update}",
                "{user_key: /api/v1/document/12345678/update}",
            ),
            (
                "{user_key: /api/v1/document/12345678/update/v1, foo: c}",
                "{user_key: /api/v1/document/12345678/update/v1, new_user_key: '12345678', version: v1, foo: c}",
            ),
            (
                "{user_key: /api/v1/document/12345678/update/v1, new_user_key: '2321', version: na}",
                "{user_key: /api/v1/document/12345678/update/v1, new_user_key: '12345678', version: v1}",
            ),
        ],
    );
}

#[test]
fn delete_by_key_and_pattern() {
    table(
        "[{key: duplicate_key, pattern: '^duplicate_key_.', action: delete}]",
        &[
            ("{}", "{}"),
            ("{boo: ghosts}", "{boo: ghosts}"),
            (
                "{duplicate_key: 3245.6, original_key: 3245.6}",
                "{original_key: 3245.6}",
            ),
            (
                "{duplicate_key_a: 3245.6, duplicate_key_b: 3245.6, duplicate_key_c: 3245.6, original_key: 3245.6, not_duplicate_key: 3246.6}",
                "{original_key: 3245.6, not_duplicate_key: 3246.6}",
            ),
        ],
    );
    table(
        "[{pattern: 'duplicate.*', action: delete}]",
        &[
            ("{}", "{}"),
            (
                "{duplicate_key: 3245.6, original_key: 3245.6}",
                "{original_key: 3245.6}",
            ),
        ],
    );
}

#[test]
fn hash_values_of_every_type() {
    let a = actions("[{key: updateme, pattern: '^updatemeby.*', action: hash}]");
    let cases: Vec<(&str, String)> = vec![
        ("{updateme: foo}", sha(b"foo")),
        ("{updateme: 24}", sha(&24i64.to_le_bytes())),
        ("{updateme: 2.4}", sha(&2.4f64.to_bits().to_le_bytes())),
        ("{updateme: true}", sha(&[1])),
        ("{updateme: false}", sha(&[0])),
        ("{updatemebyregexp: false}", sha(&[0])),
    ];
    for (input, want) in cases {
        let mut got = attrs(input);
        a.apply(&mut got);
        assert_eq!(got[0].value, Some(str_value(want)), "{input}");
    }
    let mut untouched = attrs("{boo: foo, donotupdatemebyregexp: false}");
    a.apply(&mut untouched);
    assert_eq!(
        raw(&untouched),
        raw(&attrs("{boo: foo, donotupdatemebyregexp: false}"))
    );
}

#[test]
fn from_attribute_of_itself_changes_nothing() {
    table(
        "[{key: boo, action: insert, from_attribute: boo}, {key: boo, action: update, from_attribute: boo}, {key: boo, action: upsert, from_attribute: boo}]",
        &[("{boo: ghosts are scary}", "{boo: ghosts are scary}")],
    );
}

#[test]
fn actions_run_in_order() {
    table(
        "[{key: operation, action: insert, value: default}, {key: svc.operation, action: upsert, from_attribute: operation}, {key: operation, action: delete}]",
        &[
            ("{foo: c}", "{foo: c, svc.operation: default}"),
            (
                "{foo: c, operation: arithmetic}",
                "{foo: c, svc.operation: arithmetic}",
            ),
            (
                "{foo: c, svc.operation: some value}",
                "{foo: c, svc.operation: default}",
            ),
            (
                "{foo: c, operation: arithmetic, svc.operation: add}",
                "{foo: c, svc.operation: arithmetic}",
            ),
        ],
    );
}

#[test]
fn convert_like_otelcol() {
    table(
        "[{key: a, action: convert, converted_type: int}, {key: b, action: convert, converted_type: int}, {key: c, action: convert, converted_type: int}, {key: d, action: convert, converted_type: int}]",
        &[
            (
                "{a: '12', b: 3.9, c: true, d: x}",
                "{a: 12, b: 3, c: 1, d: x}",
            ),
            ("{}", "{}"),
        ],
    );
    table(
        "[{key: a, action: convert, converted_type: double}, {key: b, action: convert, converted_type: double}, {key: c, action: convert, converted_type: double}, {key: d, action: convert, converted_type: double}]",
        &[(
            "{a: '1.5', b: 3, c: false, d: x}",
            "{a: 1.5, b: 3.0, c: 0.0, d: x}",
        )],
    );
    table(
        "[{key: a, action: convert, converted_type: string}, {key: b, action: convert, converted_type: string}, {key: c, action: convert, converted_type: string}]",
        &[("{a: 12, b: 2.5, c: true}", "{a: '12', b: '2.5', c: 'true'}")],
    );
}

#[test]
fn from_context_finds_nothing_and_is_warned_about() {
    let list: Vec<ActionConfig> =
        serde_yaml::from_str("[{key: dest, action: insert, from_context: metadata.tenant}]")
            .expect("yaml");
    let a = compile(&list, "actions").expect("valid");
    let mut got = Vec::new();
    a.apply(&mut got);
    assert!(got.is_empty());
    let w = warnings(&list, "actions");
    assert_eq!(w[0].path, "actions[0].from_context");
}

#[test]
fn action_names_are_case_insensitive() {
    actions(
        "[{key: one, action: Delete}, {key: two, value: 123, action: INSERT}, {key: three, from_attribute: two, action: upDaTE}, {key: two, pattern: '^/api/v1/document/(?P<documentId>.*)/update$', action: EXTRact}]",
    );
}

/// contrib's `TestInvalidConfig`, with our paths and messages.
#[test]
fn invalid_actions_are_refused_with_their_path() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[{key: one, action: delete}, {key: '', value: 123, action: upsert}]",
            "actions[1].key",
            "needs a key",
        ),
        (
            "[{key: invalid, action: invalid}]",
            "actions[0].action",
            "unknown action `invalid`",
        ),
        ("[{key: k}]", "actions[0].action", "required"),
        (
            "[{key: k, action: insert}]",
            "actions[0]",
            "exactly one of value",
        ),
        (
            "[{key: k, value: 1, from_attribute: aa, action: upsert}]",
            "actions[0]",
            "(2 set)",
        ),
        (
            "[{key: k, pattern: '(?P<w>.*?)$', from_attribute: aa, action: insert}]",
            "actions[0].pattern",
            "does not use pattern",
        ),
        (
            "[{key: aa, action: extract}]",
            "actions[0].pattern",
            "needs a pattern",
        ),
        (
            "[{key: k, pattern: '(?P<w>.*?)$', value: v, action: extract}]",
            "actions[0]",
            "does not use value",
        ),
        (
            "[{key: aa, pattern: '(?P<unclosed>.*?$', action: extract}]",
            "actions[0].pattern",
            "invalid regular expression",
        ),
        (
            "[{key: aa, pattern: '.*$', action: extract}]",
            "actions[0].pattern",
            "no named groups",
        ),
        (
            "[{key: aa, pattern: '^(?P<a>.*)/(.*)$', action: extract}]",
            "actions[0].pattern",
            "unnamed group",
        ),
        (
            "[{action: delete}]",
            "actions[0]",
            "a key, a pattern or both",
        ),
        (
            "[{key: a, value: 1, action: delete}]",
            "actions[0]",
            "does not use value",
        ),
        (
            "[{key: a, action: convert}]",
            "actions[0].converted_type",
            "needs converted_type",
        ),
        (
            "[{key: a, action: convert, converted_type: float}]",
            "actions[0].converted_type",
            "unknown type `float`",
        ),
        (
            "[{key: a, value: 1, action: insert, converted_type: int}]",
            "actions[0].converted_type",
            "does not use converted_type",
        ),
        (
            "[{key: a, value: !tag 1, action: insert}]",
            "actions[0].value",
            "YAML tags",
        ),
    ];
    for (yaml, path, message) in cases {
        let list: Vec<ActionConfig> = serde_yaml::from_str(yaml).expect("yaml");
        let e = compile(&list, "actions").expect_err(yaml);
        assert_eq!(e[0].path, *path, "{yaml}: {e:?}");
        assert!(e[0].message.contains(message), "{yaml}: {}", e[0].message);
    }
}
