//! The OTTL grammar (otelcol-contrib's `pkg/ottl/grammar.go`), written with `winnow`.
//!
//! Statements are `editor(args) where condition`; conditions are boolean expressions
//! (`or` of `and` of optionally negated comparisons, booleans, converters and
//! parenthesized expressions). Values are literals, paths, converter calls, enums,
//! lists, maps and `+ - * /` math. Editors start with a lowercase letter, converters with
//! an uppercase one.

use winnow::ascii::multispace0;
use winnow::combinator::{alt, cut_err, delimited, eof, not, opt, preceded, separated, terminated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location};
use winnow::token::{any, one_of, take_while};

use crate::ast::{Arg, BoolExpr, Call, Expr, Field, Key, MathOp, PathExpr, StatementAst};
use crate::error::Error;
use crate::value::CmpOp;

type In<'s> = LocatingSlice<&'s str>;
type PResult<T> = ModalResult<T>;

/// Parses one statement.
pub fn parse_statement(src: &str) -> Result<StatementAst, Error> {
    let s = run(src, statement)?;
    check_statement(src, &s)?;
    Ok(s)
}

/// Parses one condition (a boolean expression).
pub fn parse_condition(src: &str) -> Result<BoolExpr, Error> {
    let b = run(src, |i: &mut In<'_>| {
        terminated(bool_expr, (multispace0, eof)).parse_next(i)
    })?;
    check_condition(src, &b)?;
    Ok(b)
}

fn run<T>(src: &str, mut p: impl FnMut(&mut In<'_>) -> PResult<T>) -> Result<T, Error> {
    (|i: &mut In<'_>| p(i))
        .parse(LocatingSlice::new(src))
        .map_err(|e| {
            let reason = e.inner().to_string().replace('\n', "; ");
            let reason = if reason.is_empty() {
                "unexpected input".to_owned()
            } else {
                reason
            };
            Error::at(src, e.offset(), format!("syntax error: {reason}"))
        })
}

fn statement(i: &mut In<'_>) -> PResult<StatementAst> {
    let editor = preceded(multispace0, call).parse_next(i)?;
    let condition = opt(preceded(
        (multispace0, keyword("where")),
        cut_err(bool_expr),
    ))
    .parse_next(i)?;
    cut_err((multispace0, eof))
        .context(StrContext::Expected(StrContextValue::Description(
            "`where` or the end of the statement",
        )))
        .parse_next(i)?;
    Ok(StatementAst { editor, condition })
}

/// A token after optional whitespace.
fn sym<'s>(t: &'static str) -> impl Parser<In<'s>, &'s str, ErrMode<ContextError>> {
    preceded(multispace0, t).context(StrContext::Expected(StrContextValue::StringLiteral(t)))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A whole word (not the prefix of a longer name).
fn keyword<'s>(k: &'static str) -> impl Parser<In<'s>, &'s str, ErrMode<ContextError>> {
    terminated(k, not(one_of(is_ident_char)))
}

fn ident<'s>(i: &mut In<'s>) -> PResult<&'s str> {
    preceded(
        multispace0,
        (
            one_of(|c: char| c.is_ascii_alphabetic()),
            take_while(0.., is_ident_char),
        )
            .take(),
    )
    .context(StrContext::Label("name"))
    .parse_next(i)
}

const KEYWORDS: &[&str] = &["and", "or", "not", "where", "true", "false", "nil"];

// ---- boolean expressions

fn bool_expr(i: &mut In<'_>) -> PResult<BoolExpr> {
    let mut terms: Vec<BoolExpr> =
        separated(1.., and_term, (multispace0, keyword("or"))).parse_next(i)?;
    Ok(if terms.len() == 1 {
        terms.remove(0)
    } else {
        BoolExpr::Or(terms)
    })
}

fn and_term(i: &mut In<'_>) -> PResult<BoolExpr> {
    let mut values: Vec<BoolExpr> =
        separated(1.., bool_value, (multispace0, keyword("and"))).parse_next(i)?;
    Ok(if values.len() == 1 {
        values.remove(0)
    } else {
        BoolExpr::And(values)
    })
}

fn bool_value(i: &mut In<'_>) -> PResult<BoolExpr> {
    let negated = opt((multispace0, keyword("not"))).parse_next(i)?.is_some();
    let inner = alt((
        comparison,
        preceded(multispace0, keyword("true")).value(BoolExpr::Const(true)),
        preceded(multispace0, keyword("false")).value(BoolExpr::Const(false)),
        converter_condition,
        delimited(sym("("), bool_expr, cut_err(sym(")"))),
    ))
    .context(StrContext::Expected(StrContextValue::Description(
        "a condition",
    )))
    .parse_next(i)?;
    Ok(if negated {
        BoolExpr::Not(Box::new(inner))
    } else {
        inner
    })
}

fn converter_condition(i: &mut In<'_>) -> PResult<BoolExpr> {
    let c = call.parse_next(i)?;
    if c.name.starts_with(|ch: char| ch.is_ascii_lowercase()) {
        return Err(ErrMode::Backtrack(ContextError::new()));
    }
    Ok(BoolExpr::Converter(c))
}

fn comparison(i: &mut In<'_>) -> PResult<BoolExpr> {
    let left = value.parse_next(i)?;
    let op = preceded(
        multispace0,
        alt((
            "==".value(CmpOp::Eq),
            "!=".value(CmpOp::Ne),
            "<=".value(CmpOp::Le),
            ">=".value(CmpOp::Ge),
            "<".value(CmpOp::Lt),
            ">".value(CmpOp::Gt),
        )),
    )
    .parse_next(i)?;
    let right = cut_err(value)
        .context(StrContext::Expected(StrContextValue::Description(
            "a value after the comparison",
        )))
        .parse_next(i)?;
    Ok(BoolExpr::Compare { left, op, right })
}

// ---- values

/// A value: a math expression over literals, paths and converters (a lone literal
/// is the degenerate case).
fn value(i: &mut In<'_>) -> PResult<Expr> {
    let mut left = mul_term.parse_next(i)?;
    loop {
        let next = opt((multispace0, one_of(['+', '-'])).with_span()).parse_next(i)?;
        let Some(((_, c), span)) = next else { break };
        let op = if c == '+' { MathOp::Add } else { MathOp::Sub };
        let right = cut_err(mul_term).parse_next(i)?;
        left = Expr::Math {
            at: span.end - 1,
            left: Box::new(left),
            op,
            right: Box::new(right),
        };
    }
    Ok(left)
}

fn mul_term(i: &mut In<'_>) -> PResult<Expr> {
    let mut left = factor.parse_next(i)?;
    loop {
        let next = opt((multispace0, one_of(['*', '/'])).with_span()).parse_next(i)?;
        let Some(((_, c), span)) = next else { break };
        let op = if c == '*' { MathOp::Mul } else { MathOp::Div };
        let right = cut_err(factor).parse_next(i)?;
        left = Expr::Math {
            at: span.end - 1,
            left: Box::new(left),
            op,
            right: Box::new(right),
        };
    }
    Ok(left)
}

fn factor(i: &mut In<'_>) -> PResult<Expr> {
    alt((delimited(sym("("), value, sym(")")), primary)).parse_next(i)
}

fn primary(i: &mut In<'_>) -> PResult<Expr> {
    multispace0.parse_next(i)?;
    alt((
        keyword("nil").value(Expr::Nil),
        keyword("true").value(Expr::Bool(true)),
        keyword("false").value(Expr::Bool(false)),
        bytes_literal,
        number,
        string_literal.map(Expr::Str),
        list,
        map,
        named,
    ))
    .context(StrContext::Expected(StrContextValue::Description(
        "a value",
    )))
    .parse_next(i)
}

fn bytes_literal(i: &mut In<'_>) -> PResult<Expr> {
    let digits = preceded("0x", take_while(1.., |c: char| c.is_ascii_hexdigit())).parse_next(i)?;
    hex::decode(digits)
        .map(Expr::Bytes)
        .map_err(|_| expected(i, "an even number of hex digits after `0x`"))
}

/// A committed error (no backtracking) saying what was expected here.
fn expected(i: &In<'_>, what: &'static str) -> ErrMode<ContextError> {
    use winnow::error::AddContext;
    ErrMode::Cut(ContextError::new().add_context(
        i,
        &winnow::stream::Stream::checkpoint(i),
        StrContext::Expected(StrContextValue::Description(what)),
    ))
}

fn number(i: &mut In<'_>) -> PResult<Expr> {
    let digits = |n| take_while(n, |c: char| c.is_ascii_digit());
    let text = (
        opt(one_of(['+', '-'])),
        alt((
            (
                digits(0..),
                '.',
                digits(1..),
                opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digits(1..))),
            )
                .void(),
            digits(1..).void(),
        )),
        not(one_of(is_ident_char)),
    )
        .take()
        .parse_next(i)?;
    if text.contains('.') {
        text.parse::<f64>()
            .map(Expr::Float)
            .map_err(|_| expected(i, "a number"))
    } else {
        text.parse::<i64>()
            .map(Expr::Int)
            .map_err(|_| expected(i, "an integer that fits in 64 bits"))
    }
}

/// A double-quoted string with Go escapes (`strconv.Unquote`).
fn string_literal(i: &mut In<'_>) -> PResult<String> {
    '"'.parse_next(i)?;
    let mut out = String::new();
    loop {
        let c = cut_err(any)
            .context(StrContext::Expected(StrContextValue::Description(
                "a closing `\"`",
            )))
            .parse_next(i)?;
        match c {
            '"' => return Ok(out),
            '\\' => out.push(cut_err(escape).parse_next(i)?),
            c => out.push(c),
        }
    }
}

fn escape(i: &mut In<'_>) -> PResult<char> {
    let c = any.parse_next(i)?;
    let hex_char = |i: &mut In<'_>, n: usize| -> PResult<char> {
        let digits = take_while(n..=n, |c: char| c.is_ascii_hexdigit()).parse_next(i)?;
        u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| expected(i, "a valid Unicode code point"))
    };
    Ok(match c {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        '\\' => '\\',
        '"' => '"',
        'x' => hex_char(i, 2)?,
        'u' => hex_char(i, 4)?,
        'U' => hex_char(i, 8)?,
        _ => {
            return Err(expected(
                i,
                "a valid escape (\\\\, \\\", \\n, \\t, \\xHH, \\uHHHH); write a regex backslash as \\\\",
            ));
        }
    })
}

fn list(i: &mut In<'_>) -> PResult<Expr> {
    '['.parse_next(i)?;
    let items: Vec<Expr> = separated(0.., value, sym(",")).parse_next(i)?;
    opt(sym(",")).parse_next(i)?;
    cut_err(sym("]")).parse_next(i)?;
    Ok(Expr::List(items))
}

fn map(i: &mut In<'_>) -> PResult<Expr> {
    '{'.parse_next(i)?;
    let mut items = Vec::new();
    loop {
        multispace0.parse_next(i)?;
        if opt('}').parse_next(i)?.is_some() {
            return Ok(Expr::Map(items));
        }
        let key = cut_err(string_literal)
            .context(StrContext::Expected(StrContextValue::Description(
                "a string map key or `}`",
            )))
            .parse_next(i)?;
        cut_err(sym(":")).parse_next(i)?;
        let v = cut_err(value).parse_next(i)?;
        items.push((key, v));
        opt(sym(",")).parse_next(i)?;
    }
}

/// What starts with a name: a converter call, an enum or function name, or a path.
fn named(i: &mut In<'_>) -> PResult<Expr> {
    let at = i.current_token_start();
    let checkpoint = winnow::stream::Stream::checkpoint(i);
    let name = ident.parse_next(i)?;
    if KEYWORDS.contains(&name) {
        return Err(ErrMode::Backtrack(ContextError::new()));
    }
    let calls = opt(peek_paren).parse_next(i)?.is_some();
    if calls {
        winnow::stream::Stream::reset(i, &checkpoint);
        return call.map(Expr::Call).parse_next(i);
    }
    if name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Ok(Expr::Ident {
            at,
            name: name.to_owned(),
        });
    }
    let mut fields = vec![Field {
        name: name.to_owned(),
        keys: keys.parse_next(i)?,
    }];
    while opt(sym(".")).parse_next(i)?.is_some() {
        let name = cut_err(ident)
            .context(StrContext::Expected(StrContextValue::Description(
                "a field name after `.`",
            )))
            .parse_next(i)?;
        fields.push(Field {
            name: name.to_owned(),
            keys: keys.parse_next(i)?,
        });
    }
    Ok(Expr::Path(PathExpr { at, fields }))
}

fn peek_paren(i: &mut In<'_>) -> PResult<()> {
    winnow::combinator::peek(sym("(")).void().parse_next(i)
}

fn keys(i: &mut In<'_>) -> PResult<Vec<Key>> {
    let mut out = Vec::new();
    // No whitespace before `[`: `attributes ["k"]` is not an index in otelcol either.
    while opt('[').parse_next(i)?.is_some() {
        multispace0.parse_next(i)?;
        let key = cut_err(alt((
            string_literal.map(Key::Str),
            terminated(number, winnow::combinator::peek(sym("]"))).map(|n| match n {
                Expr::Int(n) => Key::Int(n),
                other => Key::Expr(Box::new(other)),
            }),
            value.map(|v| Key::Expr(Box::new(v))),
        )))
        .context(StrContext::Expected(StrContextValue::Description(
            "a string key, an integer index or a path",
        )))
        .parse_next(i)?;
        cut_err(sym("]")).parse_next(i)?;
        out.push(key);
    }
    Ok(out)
}

/// `name(args)keys`: an editor or a converter.
fn call(i: &mut In<'_>) -> PResult<Call> {
    multispace0.parse_next(i)?;
    let at = i.current_token_start();
    let name = ident.parse_next(i)?;
    sym("(").parse_next(i)?;
    let args: Vec<Arg> = cut_err(separated(0.., arg, sym(","))).parse_next(i)?;
    cut_err(sym(")"))
        .context(StrContext::Expected(StrContextValue::Description(
            "`,` between arguments",
        )))
        .parse_next(i)?;
    let keys = keys.parse_next(i)?;
    Ok(Call {
        at,
        name: name.to_owned(),
        args,
        keys,
    })
}

fn arg(i: &mut In<'_>) -> PResult<Arg> {
    multispace0.parse_next(i)?;
    let at = i.current_token_start();
    let name = opt(terminated(
        ident.verify(|n: &str| n.starts_with(|c: char| c.is_ascii_lowercase())),
        (multispace0, '=', not('=')),
    ))
    .parse_next(i)?;
    let value = value.parse_next(i)?;
    Ok(Arg {
        at,
        name: name.map(str::to_owned),
        value,
    })
}

#[cfg(test)]
mod tests;

/// The rules otelcol checks after parsing (`checkForCustomError`): converters in
/// value positions start with an uppercase letter, editors are not indexed, and a
/// capitalized name without a call is an enum (all capitals) or a function argument.
fn check_statement(src: &str, s: &StatementAst) -> Result<(), Error> {
    let mut problems = Vec::new();
    if s.editor.name.starts_with(|c: char| c.is_ascii_uppercase()) {
        problems.push((
            s.editor.at,
            format!(
                "editor names must start with a lowercase letter but got '{}'",
                s.editor.name
            ),
        ));
    }
    if !s.editor.keys.is_empty() {
        problems.push((
            s.editor.at,
            format!(
                "only paths and converters may be indexed, not editors, but got {}",
                s.editor.name
            ),
        ));
    }
    check_args(&s.editor, &mut problems);
    if let Some(c) = &s.condition {
        check_bool(c, &mut problems);
    }
    report(src, problems)
}

fn check_condition(src: &str, b: &BoolExpr) -> Result<(), Error> {
    let mut problems = Vec::new();
    check_bool(b, &mut problems);
    report(src, problems)
}

fn report(src: &str, problems: Vec<(usize, String)>) -> Result<(), Error> {
    match problems.first() {
        None => Ok(()),
        Some((at, _)) => {
            let msg: Vec<String> = problems.iter().map(|(_, m)| m.clone()).collect();
            Err(Error::at(src, *at, msg.join("; ")))
        }
    }
}

fn check_bool(b: &BoolExpr, out: &mut Vec<(usize, String)>) {
    match b {
        BoolExpr::Or(v) | BoolExpr::And(v) => v.iter().for_each(|b| check_bool(b, out)),
        BoolExpr::Not(b) => check_bool(b, out),
        BoolExpr::Const(_) => {}
        BoolExpr::Converter(c) => check_converter(c, out),
        BoolExpr::Compare { left, right, .. } => {
            check_expr(left, false, out);
            check_expr(right, false, out);
        }
    }
}

fn check_converter(c: &Call, out: &mut Vec<(usize, String)>) {
    if c.name.starts_with(|ch: char| ch.is_ascii_lowercase()) {
        out.push((
            c.at,
            format!(
                "converter names must start with an uppercase letter but got '{}'",
                c.name
            ),
        ));
        if !c.keys.is_empty() {
            out.push((
                c.at,
                format!(
                    "only paths and converters may be indexed, not editors, but got {}",
                    c.name
                ),
            ));
        }
    }
    check_args(c, out);
}

fn check_args(c: &Call, out: &mut Vec<(usize, String)>) {
    for a in &c.args {
        check_expr(&a.value, true, out);
    }
}

fn check_expr(e: &Expr, argument: bool, out: &mut Vec<(usize, String)>) {
    match e {
        Expr::Call(c) => check_converter(c, out),
        Expr::Ident { at, name } if !argument && name.chars().any(|c| c.is_ascii_lowercase()) => out.push((
            *at,
            format!("`{name}` is neither an enum (capital letters only) nor a call (missing `(...)`)"),
        )),
        Expr::List(items) => items.iter().for_each(|i| check_expr(i, false, out)),
        Expr::Map(items) => items.iter().for_each(|(_, v)| check_expr(v, false, out)),
        Expr::Math { left, right, .. } => {
            check_expr(left, false, out);
            check_expr(right, false, out);
        }
        Expr::Path(p) => {
            for f in &p.fields {
                for k in &f.keys {
                    if let Key::Expr(e) = k {
                        check_expr(e, false, out);
                    }
                }
            }
        }
        _ => {}
    }
}
