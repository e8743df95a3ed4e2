//! Evaluating compiled expressions and conditions against a [`TransformContext`].

use crate::ast::MathOp;
use crate::compiled::{CBool, CCall, CExpr, CKey, CPath};
use crate::context::TransformContext;
use crate::error::EvalError;
use crate::path::{self, Field, KeyValueRef};
use crate::value::{Value, compare};

/// The value of an expression.
pub(crate) fn eval(e: &CExpr, tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    match e {
        CExpr::Lit(v) => Ok(v.clone()),
        CExpr::Path(p) => get_path(p, tc),
        CExpr::Call(c) => call(c, tc),
        CExpr::List(items) => items
            .iter()
            .map(|i| eval(i, tc))
            .collect::<Result<_, _>>()
            .map(Value::List),
        CExpr::Map(items) => items
            .iter()
            .map(|(k, v)| Ok((k.clone(), eval(v, tc)?)))
            .collect::<Result<_, EvalError>>()
            .map(Value::Map),
        CExpr::Math(l, op, r) => math(eval(l, tc)?, *op, eval(r, tc)?),
    }
}

/// Runs a function and indexes its result.
pub(crate) fn call(c: &CCall, tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    let v = (c.def.run)(&c.args, tc)?;
    if c.keys.is_empty() {
        return Ok(v);
    }
    let keys = keys(&c.keys, tc)?;
    path::index(v, &keys)
}

/// Whether a condition holds.
pub(crate) fn holds(b: &CBool, tc: &mut TransformContext<'_>) -> Result<bool, EvalError> {
    Ok(match b {
        CBool::Or(v) => {
            for b in v {
                if holds(b, tc)? {
                    return Ok(true);
                }
            }
            false
        }
        CBool::And(v) => {
            for b in v {
                if !holds(b, tc)? {
                    return Ok(false);
                }
            }
            true
        }
        CBool::Not(b) => !holds(b, tc)?,
        CBool::Const(c) => *c,
        CBool::Call(c) => match call(c, tc)? {
            Value::Bool(b) => b,
            other => {
                return Err(EvalError::new(format!(
                    "{} returned a {}, not a bool, where a condition was expected",
                    c.def.name,
                    other.type_name()
                )));
            }
        },
        CBool::Cmp(l, op, r) => {
            let l = eval(l, tc)?;
            let r = eval(r, tc)?;
            compare(&l, &r, *op)
        }
    })
}

fn keys<'k>(
    keys: &'k [CKey],
    tc: &mut TransformContext<'_>,
) -> Result<Vec<KeyValueRef<'k>>, EvalError> {
    keys.iter()
        .map(|k| match k {
            CKey::Str(s) => Ok(KeyValueRef::Str(std::borrow::Cow::Borrowed(s))),
            CKey::Int(i) => Ok(KeyValueRef::Int(*i)),
            CKey::Expr(e) => match eval(e, tc)? {
                Value::Str(s) => Ok(KeyValueRef::Str(std::borrow::Cow::Owned(s))),
                Value::Int(i) => Ok(KeyValueRef::Int(i)),
                other => Err(EvalError::new(format!(
                    "a key must be a string or an int, got {}",
                    other.type_name()
                ))),
            },
        })
        .collect()
}

/// Reads a path.
pub(crate) fn get_path(p: &CPath, tc: &mut TransformContext<'_>) -> Result<Value, EvalError> {
    if p.keys.is_empty() {
        return path::get(tc, p.field);
    }
    let keys = keys(&p.keys, tc)?;
    match p.field {
        Field::Attributes(o) => path::get_in_kvs(path::kvs(tc, o)?, &keys),
        other => path::index(path::get(tc, other)?, &keys),
    }
}

/// Writes a path (`Nil` is not written, as in otelcol's `set`).
pub(crate) fn set_path(
    p: &CPath,
    tc: &mut TransformContext<'_>,
    v: Value,
) -> Result<(), EvalError> {
    if v == Value::Nil {
        return Ok(());
    }
    if p.keys.is_empty() {
        return path::set(tc, p.field, v);
    }
    let keys = keys(&p.keys, tc)?;
    match p.field {
        Field::Attributes(o) => path::set_in_kvs(path::kvs_mut(tc, o)?, &keys, v),
        Field::Body => path::set_in_any(path::body_mut(tc)?, &keys, v),
        _ => Err(EvalError::new("this path cannot be indexed")),
    }
}

/// `+ - * /` on ints (checked) and doubles; an int and a double compute as doubles.
fn math(l: Value, op: MathOp, r: Value) -> Result<Value, EvalError> {
    let overflow = || EvalError::new("integer overflow in a math expression");
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => Ok(Value::Int(match op {
            MathOp::Add => a.checked_add(b).ok_or_else(overflow)?,
            MathOp::Sub => a.checked_sub(b).ok_or_else(overflow)?,
            MathOp::Mul => a.checked_mul(b).ok_or_else(overflow)?,
            MathOp::Div => {
                if b == 0 {
                    return Err(EvalError::new("attempted to divide by zero"));
                }
                a.checked_div(b).ok_or_else(overflow)?
            }
        })),
        (Value::Int(a), Value::Double(b)) => double_math(a as f64, op, b),
        (Value::Double(a), Value::Int(b)) => double_math(a, op, b as f64),
        (Value::Double(a), Value::Double(b)) => double_math(a, op, b),
        (l, r) => Err(EvalError::new(format!(
            "math needs ints or doubles, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn double_math(a: f64, op: MathOp, b: f64) -> Result<Value, EvalError> {
    Ok(Value::Double(match op {
        MathOp::Add => a + b,
        MathOp::Sub => a - b,
        MathOp::Mul => a * b,
        MathOp::Div => {
            if b == 0.0 {
                return Err(EvalError::new("attempted to divide by zero"));
            }
            a / b
        }
    }))
}
