//! Compiled statements and conditions: the AST with paths resolved, functions looked
//! up, arguments checked and regexes compiled, so evaluation does no lookups.

use regex::Regex;

use crate::ast::MathOp;
use crate::functions::FuncDef;
use crate::path::Field;
use crate::value::{CmpOp, Value};

/// A compiled value expression.
#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Lit(Value),
    Path(CPath),
    Call(Box<CCall>),
    List(Vec<CExpr>),
    Map(Vec<(String, CExpr)>),
    Math(Box<CExpr>, MathOp, Box<CExpr>),
}

/// A resolved path with its keys.
#[derive(Debug, Clone)]
pub(crate) struct CPath {
    pub field: Field,
    pub keys: Vec<CKey>,
}

/// A key of a path or converter result.
#[derive(Debug, Clone)]
pub(crate) enum CKey {
    Str(String),
    Int(i64),
    Expr(CExpr),
}

/// A function call with its arguments in parameter order.
#[derive(Debug, Clone)]
pub(crate) struct CCall {
    pub def: &'static FuncDef,
    pub args: Vec<CArg>,
    pub keys: Vec<CKey>,
}

/// One argument, compiled for the kind of parameter it fills.
#[derive(Debug, Clone)]
pub(crate) enum CArg {
    /// Evaluated when the function runs.
    Value(CExpr),
    /// A path the editor writes.
    Target(CPath),
    /// A regex literal, compiled once.
    Regex(Box<Regex>),
    /// A converter passed by name (`SHA256`).
    Func(&'static FuncDef),
    /// An optional parameter not given.
    Absent,
}

/// A compiled boolean expression.
#[derive(Debug, Clone)]
pub(crate) enum CBool {
    Or(Vec<CBool>),
    And(Vec<CBool>),
    Not(Box<CBool>),
    Const(bool),
    Call(CCall),
    Cmp(CExpr, CmpOp, CExpr),
}
