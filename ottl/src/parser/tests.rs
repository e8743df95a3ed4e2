//! Grammar tests. The accept/reject tables are ported from otelcol-contrib
//! `pkg/ottl/parser_test.go` (`Test_parseStatement`, `Test_parseCondition`,
//! `Test_parseValueExpression`); the structure tests are ours.

use super::*;

const CONVERTER_NAME: &str = "converter names must start with an uppercase letter";
const EDITOR_INDEX: &str = "only paths and converters may be indexed";

/// `None`: must parse; `Some("")`: must fail; `Some(text)`: must fail with `text`.
fn check(result: Result<(), Error>, input: &str, want: Option<&str>) {
    match (result, want) {
        (Ok(()), None) => {}
        (Ok(()), Some(_)) => panic!("{input}: parsed, expected an error"),
        (Err(e), None) => panic!("{input}: {e}"),
        (Err(e), Some(text)) => {
            assert!(
                e.to_string().contains(text),
                "{input}: {e} does not contain {text:?}"
            )
        }
    }
}

#[test]
fn statements_accepted_and_rejected_as_otelcol_does() {
    // pkg/ottl/parser_test.go: Test_parseStatement
    let cases: &[(&str, Option<&str>)] = &[
        (r#"set("#, Some("")),
        (r#"set("foo)"#, Some("")),
        (r#"set(name.)"#, Some("")),
        (r#"("foo")"#, Some("")),
        (r#"set("foo") where name =||= "fido""#, Some("")),
        (r#"set(span_id, SpanIDWrapper{not a hex string})"#, Some("")),
        (r#"set(span_id, SpanIDWrapper{01})"#, Some("")),
        (
            r#"set(trace_id, TraceIDWrapper{0102030405060708090a0b0c0d0e0f})"#,
            Some(""),
        ),
        (r#"set("foo") where name = "fido""#, Some("")),
        (r#"set("foo") where name or "fido""#, Some("")),
        (r#"set("foo") where name and "fido""#, Some("")),
        (r#"set("foo") where name and"#, Some("")),
        (r#"set("foo") where name or"#, Some("")),
        (r#"set("foo") where ("#, Some("")),
        (r#"set("foo") where )"#, Some("")),
        (r#"set("foo") where (name == "fido"))"#, Some("")),
        (r#"set("foo") where ((name == "fido")"#, Some("")),
        (r#"Set()"#, Some("")),
        (r#"set(int())"#, Some(CONVERTER_NAME)),
        (r#"set(1 + int())"#, Some(CONVERTER_NAME)),
        (r#"set(int() + 1)"#, Some(CONVERTER_NAME)),
        (r#"set(1 * int())"#, Some(CONVERTER_NAME)),
        (r#"set(1 * 1 + (2 * int()))"#, Some(CONVERTER_NAME)),
        (r#"set() where int() == 1"#, Some(CONVERTER_NAME)),
        (r#"set() where 1 == int()"#, Some(CONVERTER_NAME)),
        (r#"set() where true and 1 == int() "#, Some(CONVERTER_NAME)),
        (r#"set() where false or 1 == int() "#, Some(CONVERTER_NAME)),
        (
            r#"set(foo.attributes["bar"].cat)["key"]"#,
            Some(EDITOR_INDEX),
        ),
        (r#"set(foo.attributes["bar"].cat, "dog")"#, None),
        (
            r#"set(set = foo.attributes["animal"], val = "dog") where animal == "cat""#,
            None,
        ),
        (
            r#"test() where service == "pinger" or foo.attributes["endpoint"] == "/x/alive""#,
            None,
        ),
        (
            r#"test() where service == "pinger" or foo.attributes["verb"] == "GET" and foo.attributes["endpoint"] == "/x/alive""#,
            None,
        ),
        (r#"test() where animal > "cat""#, None),
        (r#"test() where animal >= "cat""#, None),
        (r#"test() where animal <= "cat""#, None),
        (r#"test() where animal < "cat""#, None),
        (r#"test() where animal =< "dog""#, Some("")),
        (r#"test() where animal => "dog""#, Some("")),
        (r#"test() where animal <> "dog""#, Some("")),
        (r#"test() where animal = "dog""#, Some("")),
        (r#"test() where animal"#, Some("")),
        (r#"test() where animal =="#, Some("")),
        (r#"test() where =="#, Some("")),
        (r#"test() where == animal"#, Some("")),
        (r#"test() where attributes["path"] == "/healthcheck""#, None),
        (r#"test() where one() == 1"#, Some("")),
        (r#"test(fail())"#, Some(CONVERTER_NAME)),
        (r#"Test()"#, Some("")),
        (
            r#"set() where test(foo)["key"] == "bar""#,
            Some(CONVERTER_NAME),
        ),
        (
            r#"set() where test(foo)["key"] == "bar""#,
            Some(EDITOR_INDEX),
        ),
    ];
    for (input, want) in cases {
        check(parse_statement(input).map(|_| ()), input, *want);
    }
}

#[test]
fn conditions_accepted_and_rejected_as_otelcol_does() {
    // pkg/ottl/parser_test.go: Test_parseCondition
    let cases: &[(&str, Option<&str>)] = &[
        (r#"set("#, Some("")),
        (r#"set("foo)"#, Some("")),
        (r#"set(name.)"#, Some("")),
        (r#"("foo")"#, Some("")),
        (r#"name =||= "fido""#, Some("")),
        (r#"name = "fido""#, Some("")),
        (r#"name or "fido""#, Some("")),
        (r#"name and "fido""#, Some("")),
        (r#"name and"#, Some("")),
        (r#"name or"#, Some("")),
        (r#"("#, Some("")),
        (r#")"#, Some("")),
        (r#"(name == "fido"))"#, Some("")),
        (r#"((name == "fido")"#, Some("")),
        (r#"set()"#, Some("")),
        (r#"Int() == 1"#, None),
        (r#"1 == Int()"#, None),
        (r#"true and 1 == Int() "#, None),
        (r#"false or 1 == Int() "#, None),
        (
            r#"service == "pinger" or foo.attributes["endpoint"] == "/x/alive""#,
            None,
        ),
        (
            r#"service == "pinger" or foo.attributes["verb"] == "GET" and foo.attributes["endpoint"] == "/x/alive""#,
            None,
        ),
        (r#"animal > "cat""#, None),
        (r#"animal >= "cat""#, None),
        (r#"animal <= "cat""#, None),
        (r#"animal < "cat""#, None),
        (r#"animal =< "dog""#, Some("")),
        (r#"animal => "dog""#, Some("")),
        (r#"animal <> "dog""#, Some("")),
        (r#"animal = "dog""#, Some("")),
        (r#"animal"#, Some("")),
        (r#"animal =="#, Some("")),
        (r#"=="#, Some("")),
        (r#"== animal"#, Some("")),
        (r#"attributes["path"] == "/healthcheck""#, None),
        (r#"One() == 1"#, None),
        (r#"test(fail())"#, Some("")),
        (r#"Test()"#, None),
        (r#""test" == Foo"#, Some("")),
        (r#"test(animal) == "dog""#, Some(CONVERTER_NAME)),
        (r#"test(animal)["kind"] == "birds""#, Some(CONVERTER_NAME)),
        (r#"test(animal)["kind"] == "birds""#, Some(EDITOR_INDEX)),
    ];
    for (input, want) in cases {
        check(parse_condition(input).map(|_| ()), input, *want);
    }
}

#[test]
fn math_binds_tighter_than_comparison_and_left_to_right() {
    let b = parse_condition("1 + 2 * 3 - 4 == attributes[\"x\"]").expect("parses");
    let BoolExpr::Compare {
        left,
        op: CmpOp::Eq,
        ..
    } = b
    else {
        panic!("{b:?}")
    };
    // (1 + (2 * 3)) - 4
    let Expr::Math {
        op: MathOp::Sub,
        left: l,
        ..
    } = left
    else {
        panic!("{left:?}")
    };
    let Expr::Math {
        op: MathOp::Add,
        right: r,
        ..
    } = *l
    else {
        panic!()
    };
    assert!(matches!(
        *r,
        Expr::Math {
            op: MathOp::Mul,
            ..
        }
    ));
}

#[test]
fn literals_parse_as_in_the_otelcol_lexer() {
    let s = parse_statement(r#"set(x, [1, -2, 3.5, .5, 0x0aff, "a\"b\\n", true, nil, {"k": 1, "l": [] }, SPAN_KIND_SERVER])"#)
        .expect("parses");
    let Expr::List(items) = &s.editor.args[1].value else {
        panic!()
    };
    assert_eq!(items[0], Expr::Int(1));
    assert_eq!(items[1], Expr::Int(-2));
    assert_eq!(items[2], Expr::Float(3.5));
    assert_eq!(items[3], Expr::Float(0.5));
    assert_eq!(items[4], Expr::Bytes(vec![0x0a, 0xff]));
    assert_eq!(items[5], Expr::Str("a\"b\\n".to_owned()));
    assert_eq!(items[6], Expr::Bool(true));
    assert_eq!(items[7], Expr::Nil);
    assert!(matches!(&items[8], Expr::Map(m) if m.len() == 2));
    assert!(matches!(&items[9], Expr::Ident { name, .. } if name == "SPAN_KIND_SERVER"));
}

#[test]
fn and_binds_tighter_than_or_and_not_applies_to_one_value() {
    let b = parse_condition(r#"not a == 1 or b == 2 and (c == 3 or d == 4)"#).expect("parses");
    let BoolExpr::Or(terms) = b else { panic!() };
    assert!(matches!(terms[0], BoolExpr::Not(_)));
    let BoolExpr::And(values) = &terms[1] else {
        panic!()
    };
    assert!(matches!(values[1], BoolExpr::Or(_)));
}

#[test]
fn paths_have_fields_and_keys() {
    let s = parse_statement(r#"set(resource.attributes["a"][0]["b"], cache[attributes["k"]])"#)
        .expect("parses");
    let Expr::Path(p) = &s.editor.args[0].value else {
        panic!()
    };
    assert_eq!(p.fields.len(), 2);
    assert_eq!(
        p.fields[1].keys,
        vec![Key::Str("a".into()), Key::Int(0), Key::Str("b".into())]
    );
    let Expr::Path(c) = &s.editor.args[1].value else {
        panic!()
    };
    assert!(matches!(&c.fields[0].keys[0], Key::Expr(_)));
}

#[test]
fn errors_point_at_the_column() {
    let e = parse_statement(r#"set(name, "x") where name == "#).expect_err("incomplete");
    assert_eq!(e.column, 30, "{e}");
    let e = parse_statement(r#"set(attributes["a"], "b" "c")"#).expect_err("missing comma");
    assert_eq!(e.column, 26, "{e}");
    let e = parse_statement(r#"set(x, "\q")"#).expect_err("bad escape");
    assert!(e.to_string().contains("escape"), "{e}");
}
