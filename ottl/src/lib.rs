//! OTTL, the OpenTelemetry Transformation Language: the language of otelcol's
//! `transform` and `filter` processors, parsed and evaluated over OTLP data.
//!
//! A statement (`set(attributes["env"], "prod") where name == "GET /"`) is parsed
//! ([`parser`], written with `winnow`), compiled for a [`ContextKind`] (paths
//! resolved, functions looked up, regexes compiled: [`compile`]) and then run on
//! items through a [`TransformContext`] that borrows one resource, scope and item of a
//! request. A condition is the boolean expression alone, as the `filter` processor
//! and `where` clauses use it.
//!
//! Errors in a statement name the column they start at ([`Error`]); errors on one
//! item ([`EvalError`]) leave it to the caller to propagate, log or ignore them
//! (otelcol's `error_mode`). docs/ottl.md lists what is supported.

pub mod ast;
mod compile;
mod compiled;
mod context;
pub mod enums;
mod error;
mod eval;
mod functions;
pub mod parser;
mod path;
mod value;

pub use context::{ContextKind, Item, TransformContext};
pub use error::{Error, EvalError};
pub use functions::names as function_names;
pub use value::{CmpOp, Value, compare};

use compile::Compiler;
use compiled::{CBool, CCall};

/// A compiled statement: an editor call and its optional `where` condition.
#[derive(Debug, Clone)]
pub struct Statement {
    text: String,
    context: ContextKind,
    editor: CCall,
    condition: Option<CBool>,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    text: String,
    context: ContextKind,
    condition: CBool,
}

/// Where a statement's context comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextChoice<'a> {
    /// Given by the config (`context: span`): unprefixed paths are relative to it.
    Given(ContextKind),
    /// Inferred from the context prefixes of the statement's paths (the deepest one),
    /// which must be one of these.
    Infer(&'a [ContextKind]),
}

fn choose(
    src: &str,
    choice: ContextChoice<'_>,
    inferred: Option<ContextKind>,
) -> Result<ContextKind, Error> {
    match choice {
        ContextChoice::Given(k) => Ok(k),
        ContextChoice::Infer(allowed) => {
            let Some(k) = inferred else {
                let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
                return Err(Error::at(
                    src,
                    0,
                    format!(
                        "cannot infer the context: prefix paths with one of {} (e.g. `{}.attributes`), or use the `context:` form",
                        names.join(", "),
                        names.last().copied().unwrap_or("span")
                    ),
                ));
            };
            if !allowed.contains(&k) {
                let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
                return Err(Error::at(
                    src,
                    0,
                    format!(
                        "the {k} context is not available here (expected one of {})",
                        names.join(", ")
                    ),
                ));
            }
            Ok(k)
        }
    }
}

impl Statement {
    /// Parses and compiles a statement.
    pub fn parse(src: &str, choice: ContextChoice<'_>) -> Result<Statement, Error> {
        let ast = parser::parse_statement(src)?;
        let inferred = compile::infer(src, Some(&ast.editor), ast.condition.as_ref())?;
        let context = choose(src, choice, inferred)?;
        let c = Compiler { src, ctx: context };
        let editor = c.editor(&ast.editor)?;
        let condition = ast.condition.as_ref().map(|b| c.condition(b)).transpose()?;
        Ok(Statement {
            text: src.to_owned(),
            context,
            editor,
            condition,
        })
    }

    /// The context the statement runs in.
    pub fn context(&self) -> ContextKind {
        self.context
    }

    /// The statement as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs the statement on one item: evaluates the condition, then the editor.
    /// Returns whether the editor ran.
    pub fn execute(&self, tc: &mut TransformContext<'_>) -> Result<bool, EvalError> {
        if let Some(c) = &self.condition
            && !eval::holds(c, tc)?
        {
            return Ok(false);
        }
        eval::call(&self.editor, tc)?;
        Ok(true)
    }
}

impl Condition {
    /// Parses and compiles a condition.
    pub fn parse(src: &str, choice: ContextChoice<'_>) -> Result<Condition, Error> {
        let ast = parser::parse_condition(src)?;
        let inferred = compile::infer(src, None, Some(&ast))?;
        let context = choose(src, choice, inferred)?;
        let condition = Compiler { src, ctx: context }.condition(&ast)?;
        Ok(Condition {
            text: src.to_owned(),
            context,
            condition,
        })
    }

    /// The context the condition is evaluated in.
    pub fn context(&self) -> ContextKind {
        self.context
    }

    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the condition holds for one item.
    pub fn eval(&self, tc: &mut TransformContext<'_>) -> Result<bool, EvalError> {
        eval::holds(&self.condition, tc)
    }
}
