//! The syntax tree the parser builds. Every node that a later error may point at keeps
//! its byte offset in the statement (`at`).

use crate::value::CmpOp;

/// A parsed statement: `editor(args) where condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementAst {
    /// The editor call.
    pub editor: Call,
    /// The `where` clause.
    pub condition: Option<BoolExpr>,
}

/// A function call: an editor (lowercase name) or a converter (uppercase name).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Byte offset of the name.
    pub at: usize,
    /// The function's name.
    pub name: String,
    /// The arguments, in order.
    pub args: Vec<Arg>,
    /// Indexes applied to a converter's result: `Split(x, ",")[0]`.
    pub keys: Vec<Key>,
}

/// One argument, optionally named (`name = value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// Byte offset of the argument.
    pub at: usize,
    /// The parameter name, for a named argument.
    pub name: Option<String>,
    /// The argument's value.
    pub value: Expr,
}

/// A value expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal, unescaped.
    Str(String),
    /// A `0x...` literal.
    Bytes(Vec<u8>),
    /// An uppercase name without arguments: an enum (`SPAN_KIND_SERVER`) or, where a
    /// parameter takes a function, a function name (`SHA256`).
    Ident {
        /// Byte offset.
        at: usize,
        /// The name.
        name: String,
    },
    /// A path into the telemetry.
    Path(PathExpr),
    /// A converter call.
    Call(Call),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{"k": v}`
    Map(Vec<(String, Expr)>),
    /// A binary math expression.
    Math {
        /// Byte offset of the operator.
        at: usize,
        /// Left operand.
        left: Box<Expr>,
        /// The operator.
        op: MathOp,
        /// Right operand.
        right: Box<Expr>,
    },
}

/// `+ - * /`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A path: dot-separated fields, each with optional keys.
#[derive(Debug, Clone, PartialEq)]
pub struct PathExpr {
    /// Byte offset of the path.
    pub at: usize,
    /// The fields, e.g. `resource`, `attributes["k"]`.
    pub fields: Vec<Field>,
}

/// One dot-separated part of a path.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its `[...]` keys.
    pub keys: Vec<Key>,
}

/// A `[...]` index: a string map key, an integer list index, or an expression
/// (a path or converter) that yields one of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// `["k"]`
    Str(String),
    /// `[0]`
    Int(i64),
    /// `[attributes["which"]]`
    Expr(Box<Expr>),
}

/// A boolean expression: `or` of `and` of terms.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    /// Any of them.
    Or(Vec<BoolExpr>),
    /// All of them.
    And(Vec<BoolExpr>),
    /// `not x`
    Not(Box<BoolExpr>),
    /// `true` / `false`
    Const(bool),
    /// A converter returning a bool, e.g. `IsMatch(name, "x")`.
    Converter(Call),
    /// `left op right`
    Compare {
        /// Left operand.
        left: Expr,
        /// The operator.
        op: CmpOp,
        /// Right operand.
        right: Expr,
    },
}
