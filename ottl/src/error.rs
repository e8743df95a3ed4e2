//! Errors: [`Error`] for a statement that does not parse or compile (it names the
//! column), [`EvalError`] for one that fails on a particular item.

use std::fmt;

/// A statement or condition that cannot be used, with the column (1-based, in
/// characters) its problem starts at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Error {
    /// 1-based column of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The statement as written.
    pub statement: String,
}

impl Error {
    /// An error at byte offset `offset` of `src`.
    pub fn at(src: &str, offset: usize, message: impl Into<String>) -> Error {
        let offset = offset.min(src.len());
        let column = src.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        Error {
            column,
            message: message.into(),
            statement: src.to_owned(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at column {} of `{}`",
            self.message, self.column, self.statement
        )
    }
}

/// A statement that failed on one item (a type mismatch, an index out of range, a
/// converter given a value it cannot convert).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl EvalError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> EvalError {
        EvalError(msg.into())
    }
}
