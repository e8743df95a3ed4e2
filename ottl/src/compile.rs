//! From syntax tree to compiled form: resolving paths in a context, inferring the
//! context of a statement whose paths carry a context prefix, looking up functions
//! and matching arguments to parameters. Every error names the column it is about.

use regex::Regex;

use crate::ast::{Arg, BoolExpr, Call, Expr, Key, PathExpr};
use crate::compiled::{CArg, CBool, CCall, CExpr, CKey, CPath};
use crate::context::ContextKind;
use crate::enums;
use crate::error::Error;
use crate::functions::{self, FuncDef, ParamKind};
use crate::path::{self, Field, Owner};
use crate::value::Value;

pub(crate) struct Compiler<'s> {
    pub src: &'s str,
    pub ctx: ContextKind,
}

impl Compiler<'_> {
    fn err(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::at(self.src, at, msg)
    }

    pub(crate) fn editor(&self, call: &Call) -> Result<CCall, Error> {
        if !call.name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(self.err(
                call.at,
                format!(
                    "editor names must start with a lowercase letter but got '{}'",
                    call.name
                ),
            ));
        }
        if !call.keys.is_empty() {
            return Err(self.err(
                call.at,
                format!(
                    "only paths and converters may be indexed, not editors, but got {}",
                    call.name
                ),
            ));
        }
        self.call(call, true)
    }

    fn call(&self, call: &Call, editor: bool) -> Result<CCall, Error> {
        let def = functions::lookup(&call.name)
            .ok_or_else(|| self.err(call.at, format!("undefined function \"{}\"", call.name)))?;
        if def.editor != editor {
            let msg = if editor {
                format!(
                    "`{}` is a converter, not an editor: a statement starts with an editor such as set",
                    call.name
                )
            } else {
                format!(
                    "converter names must start with an uppercase letter but got '{}'",
                    call.name
                )
            };
            return Err(self.err(call.at, msg));
        }
        let mut slots: Vec<Option<&Arg>> = vec![None; def.params.len()];
        let mut named_seen = false;
        for (n, arg) in call.args.iter().enumerate() {
            let slot = match &arg.name {
                Some(name) => {
                    named_seen = true;
                    def.params
                        .iter()
                        .position(|p| p.name == name)
                        .ok_or_else(|| {
                            self.err(
                                arg.at,
                                format!("{} has no parameter named `{name}`", def.name),
                            )
                        })?
                }
                None if named_seen => {
                    return Err(self.err(arg.at, "unnamed argument used after named argument"));
                }
                None if n >= def.params.len() => {
                    return Err(self.err(
                        arg.at,
                        format!(
                            "incorrect number of arguments: {} takes at most {}, got {}",
                            def.name,
                            def.params.len(),
                            call.args.len()
                        ),
                    ));
                }
                None => n,
            };
            if slots[slot].is_some() {
                return Err(self.err(
                    arg.at,
                    format!("`{}` is given twice", def.params[slot].name),
                ));
            }
            slots[slot] = Some(arg);
        }
        let mut args = Vec::with_capacity(def.params.len());
        for (p, slot) in def.params.iter().zip(slots) {
            let Some(arg) = slot else {
                if p.optional {
                    args.push(CArg::Absent);
                    continue;
                }
                return Err(self.err(
                    call.at,
                    format!("{} is missing its required argument `{}`", def.name, p.name),
                ));
            };
            args.push(self.arg(def, p.kind, p.name, arg)?);
        }
        let keys = self.keys(&call.keys, call.at)?;
        Ok(CCall { def, args, keys })
    }

    fn arg(&self, def: &FuncDef, kind: ParamKind, name: &str, arg: &Arg) -> Result<CArg, Error> {
        match kind {
            ParamKind::Value => Ok(CArg::Value(self.expr(&arg.value)?)),
            ParamKind::Target => match &arg.value {
                Expr::Path(p) => Ok(CArg::Target(self.path(p)?)),
                _ => Err(self.err(
                    arg.at,
                    format!("the `{name}` argument of {} must be a path", def.name),
                )),
            },
            ParamKind::Regex => match &arg.value {
                Expr::Str(s) => Regex::new(s)
                    .map(|r| CArg::Regex(Box::new(r)))
                    .map_err(|e| {
                        self.err(
                            arg.at,
                            format!("invalid regex for `{name}` of {}: {e}", def.name),
                        )
                    }),
                _ => Err(self.err(
                    arg.at,
                    format!(
                        "the `{name}` argument of {} must be a string literal",
                        def.name
                    ),
                )),
            },
            ParamKind::Function => match &arg.value {
                Expr::Ident { at, name: f } => match functions::lookup(f) {
                    Some(fd) if !fd.editor && fd.params.len() == 1 => Ok(CArg::Func(fd)),
                    _ => Err(self.err(*at, format!("`{f}` is not a converter of one argument"))),
                },
                _ => Err(self.err(
                    arg.at,
                    format!(
                        "the `{name}` argument of {} must name a converter, e.g. SHA256",
                        def.name
                    ),
                )),
            },
        }
    }

    pub(crate) fn expr(&self, e: &Expr) -> Result<CExpr, Error> {
        Ok(match e {
            Expr::Nil => CExpr::Lit(Value::Nil),
            Expr::Bool(b) => CExpr::Lit(Value::Bool(*b)),
            Expr::Int(i) => CExpr::Lit(Value::Int(*i)),
            Expr::Float(f) => CExpr::Lit(Value::Double(*f)),
            Expr::Str(s) => CExpr::Lit(Value::Str(s.clone())),
            Expr::Bytes(b) => CExpr::Lit(Value::Bytes(b.clone())),
            Expr::Ident { at, name } => {
                CExpr::Lit(Value::Int(enums::lookup(name).ok_or_else(|| {
                    self.err(*at, format!("enum symbol, {name}, not found"))
                })?))
            }
            Expr::Path(p) => CExpr::Path(self.path(p)?),
            Expr::Call(c) => CExpr::Call(Box::new(self.call(c, false)?)),
            Expr::List(items) => CExpr::List(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Map(items) => CExpr::Map(
                items
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.expr(v)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            Expr::Math {
                left, op, right, ..
            } => CExpr::Math(Box::new(self.expr(left)?), *op, Box::new(self.expr(right)?)),
        })
    }

    pub(crate) fn condition(&self, b: &BoolExpr) -> Result<CBool, Error> {
        Ok(match b {
            BoolExpr::Or(v) => CBool::Or(
                v.iter()
                    .map(|b| self.condition(b))
                    .collect::<Result<_, _>>()?,
            ),
            BoolExpr::And(v) => CBool::And(
                v.iter()
                    .map(|b| self.condition(b))
                    .collect::<Result<_, _>>()?,
            ),
            BoolExpr::Not(b) => CBool::Not(Box::new(self.condition(b)?)),
            BoolExpr::Const(c) => CBool::Const(*c),
            BoolExpr::Converter(c) => CBool::Call(self.call(c, false)?),
            BoolExpr::Compare { left, op, right } => {
                CBool::Cmp(self.expr(left)?, *op, self.expr(right)?)
            }
        })
    }

    fn keys(&self, keys: &[Key], at: usize) -> Result<Vec<CKey>, Error> {
        keys.iter()
            .map(|k| {
                Ok(match k {
                    Key::Str(s) => CKey::Str(s.clone()),
                    Key::Int(i) => CKey::Int(*i),
                    Key::Expr(e) => match e.as_ref() {
                        Expr::Path(_) | Expr::Call(_) => CKey::Expr(self.expr(e)?),
                        _ => {
                            return Err(self.err(
                                at,
                                "a key must be a string, an integer, a path or a converter",
                            ));
                        }
                    },
                })
            })
            .collect()
    }

    fn path(&self, p: &PathExpr) -> Result<CPath, Error> {
        let first = &p.fields[0].name;
        let (ctx, fields) = match ContextKind::from_name(first) {
            Some(k) if p.fields.len() > 1 => {
                if !self.ctx.reaches(k) {
                    return Err(self.err(
                        p.at,
                        format!(
                            "a statement in the {} context cannot use {k} paths",
                            self.ctx
                        ),
                    ));
                }
                if !p.fields[0].keys.is_empty() {
                    return Err(self.err(
                        p.at,
                        format!("the context name `{first}` cannot be indexed"),
                    ));
                }
                (k, &p.fields[1..])
            }
            _ => (self.ctx, &p.fields[..]),
        };
        let (last, before) = fields
            .split_last()
            .ok_or_else(|| self.err(p.at, "empty path"))?;
        if let Some(f) = before.iter().find(|f| !f.keys.is_empty()) {
            return Err(self.err(p.at, format!("`{}` cannot be indexed here", f.name)));
        }
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let field = if names == ["cache"] {
            Field::Attributes(Owner::Cache)
        } else {
            path::resolve(ctx, &names).map_err(|m| self.err(p.at, m))?
        };
        if !last.keys.is_empty() && !field.takes_keys() {
            return Err(self.err(
                p.at,
                format!("`{}` is not a map and cannot be indexed", names.join(".")),
            ));
        }
        Ok(CPath {
            field,
            keys: self.keys(&last.keys, p.at)?,
        })
    }
}

/// The context a statement's prefixed paths point to: the deepest of them, which must
/// reach all the others. `None` when no path has a context prefix.
pub(crate) fn infer(
    src: &str,
    editor: Option<&Call>,
    cond: Option<&BoolExpr>,
) -> Result<Option<ContextKind>, Error> {
    let mut found: Vec<(ContextKind, usize)> = Vec::new();
    if let Some(c) = editor {
        walk_call(c, &mut found);
    }
    if let Some(b) = cond {
        walk_bool(b, &mut found);
    }
    let Some(&(deepest, _)) = found.iter().max_by_key(|(k, _)| k.depth()) else {
        return Ok(None);
    };
    if let Some((other, at)) = found.iter().find(|(k, _)| !deepest.reaches(*k)) {
        return Err(Error::at(
            src,
            *at,
            format!("{other} paths cannot be used together with {deepest} paths in one statement"),
        ));
    }
    Ok(Some(deepest))
}

fn walk_call(c: &Call, out: &mut Vec<(ContextKind, usize)>) {
    for a in &c.args {
        walk_expr(&a.value, out);
    }
    walk_keys(&c.keys, out);
}

fn walk_keys(keys: &[Key], out: &mut Vec<(ContextKind, usize)>) {
    for k in keys {
        if let Key::Expr(e) = k {
            walk_expr(e, out);
        }
    }
}

fn walk_expr(e: &Expr, out: &mut Vec<(ContextKind, usize)>) {
    match e {
        Expr::Path(p) => {
            if p.fields.len() > 1
                && let Some(k) = ContextKind::from_name(&p.fields[0].name)
            {
                out.push((k, p.at));
            }
            for f in &p.fields {
                walk_keys(&f.keys, out);
            }
        }
        Expr::Call(c) => walk_call(c, out),
        Expr::List(items) => items.iter().for_each(|i| walk_expr(i, out)),
        Expr::Map(items) => items.iter().for_each(|(_, v)| walk_expr(v, out)),
        Expr::Math { left, right, .. } => {
            walk_expr(left, out);
            walk_expr(right, out);
        }
        _ => {}
    }
}

fn walk_bool(b: &BoolExpr, out: &mut Vec<(ContextKind, usize)>) {
    match b {
        BoolExpr::Or(v) | BoolExpr::And(v) => v.iter().for_each(|b| walk_bool(b, out)),
        BoolExpr::Not(b) => walk_bool(b, out),
        BoolExpr::Const(_) => {}
        BoolExpr::Converter(c) => walk_call(c, out),
        BoolExpr::Compare { left, right, .. } => {
            walk_expr(left, out);
            walk_expr(right, out);
        }
    }
}
