//! Editors and converters run through whole statements on a log record. Each table
//! names the otelcol-contrib test it is ported from (`pkg/ottl/ottlfuncs/...`);
//! inputs and expected outputs are theirs.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use ottl::{ContextChoice, ContextKind, Item, Statement, TransformContext, Value};
use sha2::{Digest, Sha256};

fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}

fn map(items: &[(&str, Value)]) -> Value {
    Value::Map(
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Runs `statement` (log context) on a record whose attributes are `attrs`; returns
/// the attributes after it, or the error.
fn run(statement: &str, attrs: &Value) -> Result<Value, String> {
    let st = Statement::parse(statement, ContextChoice::Given(ContextKind::Log))
        .map_err(|e| e.to_string())?;
    let Value::Map(m) = attrs else {
        panic!("attrs must be a map")
    };
    let mut log = LogRecord {
        attributes: m
            .iter()
            .map(|(k, v)| opentelemetry_proto::tonic::common::v1::KeyValue {
                key: k.clone(),
                value: Some(v.to_any()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut resource = Resource::default();
    let mut scope = InstrumentationScope::default();
    let mut tc = TransformContext::new(&mut resource, &mut scope, Item::Log(&mut log));
    st.execute(&mut tc).map_err(|e| e.to_string())?;
    Ok(Value::from_attributes(&log.attributes))
}

/// The value of converter expression `expr` (`Nil` when it gives nil).
fn conv(expr: &str) -> Result<Value, String> {
    let out = run(&format!(r#"set(attributes["out"], {expr})"#), &map(&[]))?;
    Ok(out.map_get("out").cloned().unwrap_or(Value::Nil))
}

#[test]
fn truncate_all() {
    // func_truncate_all_test.go: Test_truncateAll, Test_truncateAll_validation
    let input = map(&[
        ("test", s("hello world")),
        ("test2", Value::Int(3)),
        ("test3", Value::Bool(true)),
    ]);
    for (limit, want) in [(1, "h"), (0, ""), (100, "hello world"), (11, "hello world")] {
        let got = run(&format!("truncate_all(attributes, {limit})"), &input).expect("runs");
        assert_eq!(
            got,
            map(&[
                ("test", s(want)),
                ("test2", Value::Int(3)),
                ("test3", Value::Bool(true))
            ]),
            "limit {limit}"
        );
    }
    let e = run("truncate_all(attributes, -1)", &input).expect_err("negative");
    assert!(
        e.contains("invalid limit for truncate_all function, -1 cannot be negative"),
        "{e}"
    );
}

#[test]
fn limit() {
    // func_limit_test.go: Test_limit, Test_limit_validation
    let input = map(&[
        ("test", s("hello world")),
        ("test2", Value::Int(3)),
        ("test3", Value::Bool(true)),
    ]);
    let all = input.clone();
    let cases: Vec<(&str, Value)> = vec![
        (
            "limit(attributes, 1, [])",
            map(&[("test", s("hello world"))]),
        ),
        ("limit(attributes, 0, [])", map(&[])),
        ("limit(attributes, 100, [])", all.clone()),
        ("limit(attributes, 3, [])", all),
        (
            r#"limit(attributes, 2, ["test3"])"#,
            map(&[("test", s("hello world")), ("test3", Value::Bool(true))]),
        ),
        (
            r#"limit(attributes, 2, ["test", "test3"])"#,
            map(&[("test", s("hello world")), ("test3", Value::Bool(true))]),
        ),
        (
            r#"limit(attributes, 1, ["te"])"#,
            map(&[("test", s("hello world"))]),
        ),
        (
            r#"limit(attributes, 2, ["te", "test3"])"#,
            map(&[("test", s("hello world")), ("test3", Value::Bool(true))]),
        ),
    ];
    for (st, want) in cases {
        assert_eq!(run(st, &input).expect(st), want, "{st}");
    }
    assert!(run("limit(attributes, -1, [])", &input).is_err());
    assert!(run(r#"limit(attributes, 1, ["test", "test"])"#, &input).is_err());
}

#[test]
fn replace_pattern() {
    // func_replace_pattern_test.go: Test_replacePattern. otelcol's table hashes with a
    // test-only `Test` function (`hash(%s)`); SHA256 stands in for it here.
    let input = "application passwd=sensitivedtata otherarg=notsensitive key1 key2";
    let sha = |x: &str| hex::encode(Sha256::digest(x.as_bytes()));
    let cases: Vec<(&str, &str, String)> = vec![
        (
            input,
            r#""passwd\\=([^\\s]*)\\s?", "$1", SHA256, "passwd=%s""#,
            format!(
                "application passwd={}otherarg=notsensitive key1 key2",
                sha("sensitivedtata")
            ),
        ),
        (
            input,
            r#""passwd\\=([^\\s]*)", "passwd", SHA256"#,
            format!(
                "application {} otherarg=notsensitive key1 key2",
                sha("passwd")
            ),
        ),
        (
            input,
            r#""passwd\\=[^\\s]*\\s?", "$1", SHA256"#,
            format!("application {}otherarg=notsensitive key1 key2", sha("")),
        ),
        (
            input,
            r#""passwd\\=[^\\s]*\\s?", "$1""#,
            "application otherarg=notsensitive key1 key2".to_owned(),
        ),
        (
            input,
            r#""passwd\\=[^\\s]*", "passwd=***", SHA256, "%s (passwd)""#,
            format!(
                "application {} (passwd) otherarg=notsensitive key1 key2",
                sha("passwd=***")
            ),
        ),
        (
            input,
            r#""passwd\\=[^\\s]*(\\s?)", "passwd=*** ""#,
            "application passwd=*** otherarg=notsensitive key1 key2".to_owned(),
        ),
        (
            input,
            r#""nomatch\\=[^\\s]*(\\s?)", "shouldnotbeinoutput""#,
            input.to_owned(),
        ),
        (
            input,
            r#""key[^\\s]*(\\s?)", "**** ""#,
            "application passwd=sensitivedtata otherarg=notsensitive **** **** ".to_owned(),
        ),
        (
            input,
            r#""(\\w+)=(\\w+)", "$1:$2""#,
            "application passwd:sensitivedtata otherarg:notsensitive key1 key2".to_owned(),
        ),
        (
            input,
            r#""passwd\\=[^\\s]*(\\s?)", "passwd=$$$$$$ ""#,
            "application passwd=$$$ otherarg=notsensitive key1 key2".to_owned(),
        ),
        (
            "user_id=42 parent_user_id=423",
            r#""\\d+", "$0", SHA256"#,
            format!("user_id={} parent_user_id={}", sha("42"), sha("423")),
        ),
        ("abc", r#""b", "$0", SHA256"#, format!("a{}c", sha("b"))),
        ("aaaa", r#""a", "$0", SHA256"#, sha("a").repeat(4)),
    ];
    for (input, args, want) in cases {
        let st = format!(r#"replace_pattern(attributes["s"], {args})"#);
        let got = run(&st, &map(&[("s", s(input))])).expect(&st);
        assert_eq!(got, map(&[("s", s(&want))]), "{st}");
    }
    // Test_replacePattern_bad_input: a non-string target is left alone.
    let got = run(
        r#"replace_pattern(attributes["s"], "regexp", "{replacement}")"#,
        &map(&[("s", Value::Int(1))]),
    )
    .expect("runs");
    assert_eq!(got, map(&[("s", Value::Int(1))]));
    // Test_replacePatterns_invalid_pattern: refused when the statement is compiled.
    let e = run(r#"replace_pattern(attributes["s"], "*", "x")"#, &map(&[])).expect_err("bad regex");
    assert!(e.contains("invalid regex"), "{e}");
}

#[test]
fn concat() {
    // func_concat_test.go: Test_concat
    let cases: &[(&str, &str)] = &[
        (r#"Concat(["hello", "world"], " ")"#, "hello world"),
        (r#"Concat(["hello", nil, "world"], "")"#, "hello<nil>world"),
        (r#"Concat(["hello", 1], "")"#, "hello1"),
        (r#"Concat(["hello", 3.14159], "")"#, "hello3.14159"),
        (r#"Concat(["hello", true], " ")"#, "hello true"),
        (
            r#"Concat([0x00000000000000000ed2e63cbe71f5a8], "")"#,
            "00000000000000000ed2e63cbe71f5a8",
        ),
        (r#"Concat([[1, 2], [3, 4]], ",")"#, "[1,2],[3,4]"),
        (
            r#"Concat([{"a": "b"}, {"c": "d"}], ",")"#,
            r#"{"a":"b"},{"c":"d"}"#,
        ),
        (r#"Concat(["", "", ""], "__")"#, "____"),
        (r#"Concat(["hello"], "-")"#, "hello"),
        (r#"Concat([], "-")"#, ""),
        (r#"Concat([], "")"#, ""),
    ];
    for (expr, want) in cases {
        assert_eq!(conv(expr).expect(expr), s(want), "{expr}");
    }
}

#[test]
fn is_match() {
    // func_is_match_test.go: Test_isMatch, Test_isMatch_validation
    let cases: &[(&str, bool)] = &[
        (r#"IsMatch("hello world", "hello.*")"#, true),
        (r#"IsMatch("goodbye world", "hello.*")"#, false),
        (
            r#"IsMatch("-12.001", "[-+]?\\d*\\.\\d+([eE][-+]?\\d+)?")"#,
            true,
        ),
        (r#"IsMatch(true, "true")"#, true),
        (r#"IsMatch(1, "\\d")"#, true),
        (r#"IsMatch(1.1, "\\d\\.\\d")"#, true),
        (r#"IsMatch(nil, "impossible to match")"#, false),
        (
            r#"IsMatch(attributes["missing"], "impossible to match")"#,
            false,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(conv(expr).expect(expr), Value::Bool(*want), "{expr}");
    }
    assert!(conv(r#"IsMatch("anything", "\\K")"#).is_err());
}

#[test]
fn int() {
    // func_int_test.go: Test_Int
    let cases: &[(&str, Value)] = &[
        (r#"Int("50")"#, Value::Int(50)),
        (r#"Int("")"#, Value::Nil),
        (r#"Int("test")"#, Value::Nil),
        ("Int(333)", Value::Int(333)),
        ("Int(2.7)", Value::Int(2)),
        ("Int(55.0)", Value::Int(55)),
        ("Int(true)", Value::Int(1)),
        ("Int(false)", Value::Int(0)),
        ("Int(nil)", Value::Nil),
    ];
    for (expr, want) in cases {
        assert_eq!(&conv(expr).expect(expr), want, "{expr}");
    }
    assert!(conv(r#"Int({"a": 1})"#).is_err());
}

#[test]
fn sha256_parse_json_len_and_types() {
    assert_eq!(
        conv(r#"SHA256("hello world")"#).expect("runs"),
        s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
    );
    assert_eq!(
        conv(r#"ParseJSON("{\"a\": 1, \"b\": [true, \"x\"], \"c\": {\"d\": null}}")"#)
            .expect("runs"),
        map(&[
            ("a", Value::Double(1.0)),
            ("b", Value::List(vec![Value::Bool(true), s("x")])),
            ("c", map(&[("d", Value::Nil)])),
        ])
    );
    assert!(conv(r#"ParseJSON("not json")"#).is_err());
    assert_eq!(conv(r#"Len("hello")"#).expect("runs"), Value::Int(5));
    assert_eq!(conv("Len([1, 2, 3])").expect("runs"), Value::Int(3));
    assert_eq!(conv(r#"String(1.5)"#).expect("runs"), s("1.5"));
    assert_eq!(conv(r#"Double("2.5")"#).expect("runs"), Value::Double(2.5));
    assert_eq!(conv(r#"IsString("x")"#).expect("runs"), Value::Bool(true));
    assert_eq!(conv("IsString(1)").expect("runs"), Value::Bool(false));
    assert_eq!(conv(r#"Split("a,b,c", ",")[1]"#).expect("runs"), s("b"));
    assert_eq!(conv(r#"ToUpperCase("abc")"#).expect("runs"), s("ABC"));
    assert_eq!(
        conv(r#"Substring("abcdef", 1, 3)"#).expect("runs"),
        s("bcd")
    );
    assert_eq!(conv("1 + 2 * 3").expect("runs"), Value::Int(7));
    assert_eq!(conv("(1 + 2) * 3").expect("runs"), Value::Int(9));
    assert_eq!(conv("10 / 4.0").expect("runs"), Value::Double(2.5));
    assert!(
        conv("1 / 0")
            .expect_err("division by zero")
            .contains("divide by zero")
    );
}

#[test]
fn map_editors() {
    let input = map(&[
        ("a", s("1")),
        ("b", Value::Int(2)),
        ("http.url", s("x")),
        ("http.method", s("GET")),
    ]);
    assert_eq!(
        run(r#"delete_key(attributes, "a")"#, &input).expect("runs"),
        map(&[
            ("b", Value::Int(2)),
            ("http.url", s("x")),
            ("http.method", s("GET"))
        ])
    );
    assert_eq!(
        run(r#"delete_matching_keys(attributes, "^http\\.")"#, &input).expect("runs"),
        map(&[("a", s("1")), ("b", Value::Int(2))])
    );
    assert_eq!(
        run(r#"keep_keys(attributes, ["b", "http.url"])"#, &input).expect("runs"),
        map(&[("b", Value::Int(2)), ("http.url", s("x"))])
    );
    assert_eq!(
        run(r#"keep_matching_keys(attributes, "^http")"#, &input).expect("runs"),
        map(&[("http.url", s("x")), ("http.method", s("GET"))])
    );
    assert_eq!(
        run(
            r#"replace_all_patterns(attributes, "value", "^G(ET)$", "g$1")"#,
            &input
        )
        .expect("runs"),
        map(&[
            ("a", s("1")),
            ("b", Value::Int(2)),
            ("http.url", s("x")),
            ("http.method", s("gET"))
        ])
    );
    assert_eq!(
        run(
            r#"replace_all_patterns(attributes, "key", "^http\\.", "")"#,
            &input
        )
        .expect("runs"),
        map(&[
            ("a", s("1")),
            ("b", Value::Int(2)),
            ("url", s("x")),
            ("method", s("GET"))
        ])
    );
    assert_eq!(
        run(
            r#"replace_match(attributes["http.url"], "x*", "y")"#,
            &input
        )
        .expect("runs")
        .map_get("http.url"),
        Some(&s("y"))
    );
    assert_eq!(
        run(r#"replace_all_matches(attributes, "G*", "post")"#, &input)
            .expect("runs")
            .map_get("http.method"),
        Some(&s("post"))
    );
}

#[test]
fn merge_maps() {
    // func_merge_maps_test.go: Test_MergeMaps (insert, update and upsert strategies)
    let input = map(&[("attr1", s("value1"))]);
    let cases: &[(&str, Value)] = &[
        (
            r#"merge_maps(attributes, {"attr2": "value2"}, "upsert")"#,
            map(&[("attr1", s("value1")), ("attr2", s("value2"))]),
        ),
        (
            r#"merge_maps(attributes, {"attr1": "value3"}, "upsert")"#,
            map(&[("attr1", s("value3"))]),
        ),
        (
            r#"merge_maps(attributes, {"attr1": "value3", "attr2": "value2"}, "insert")"#,
            map(&[("attr1", s("value1")), ("attr2", s("value2"))]),
        ),
        (
            r#"merge_maps(attributes, {"attr1": "value3", "attr2": "value2"}, "update")"#,
            map(&[("attr1", s("value3"))]),
        ),
    ];
    for (st, want) in cases {
        assert_eq!(&run(st, &input).expect(st), want, "{st}");
    }
    assert!(run(r#"merge_maps(attributes, {"a": 1}, "replace")"#, &input).is_err());
}

#[test]
fn set_nested_keys_and_nil() {
    let input = map(&[
        ("m", map(&[("x", Value::Int(1))])),
        ("l", Value::List(vec![s("a"), s("b")])),
    ]);
    let got = run(r#"set(attributes["m"]["y"], "z")"#, &input).expect("runs");
    assert_eq!(
        got.map_get("m"),
        Some(&map(&[("x", Value::Int(1)), ("y", s("z"))]))
    );
    let got = run(r#"set(attributes["l"][1], "c")"#, &input).expect("runs");
    assert_eq!(got.map_get("l"), Some(&Value::List(vec![s("a"), s("c")])));
    let e = run(r#"set(attributes["l"][5], "c")"#, &input).expect_err("out of range");
    assert!(e.contains("out of bounds"), "{e}");
    // set with a nil value changes nothing (func_set.go).
    assert_eq!(
        run(r#"set(attributes["m"], nil)"#, &input).expect("runs"),
        input
    );
    let got = run(r#"set(attributes["new"]["deep"], 1)"#, &input).expect("runs");
    assert_eq!(got.map_get("new"), Some(&map(&[("deep", Value::Int(1))])));
}
