//! Rust: functions, methods, structs, enums, traits, impl blocks and inline
//! modules; qualified names as Rust backtraces print them (`crate::m::Type::method`,
//! `crate::m::func`), an impl block as `crate::m::<impl Trait for Type>`.

use symbols::DefKind;
use tree_sitter::Node;

use super::{Def, Item, ModuleDef, Rules, Scope, field, nested, text};
use crate::naming::RepoNames;

pub(crate) struct Rust;

/// A type's path without generic arguments or references (`&mut Foo<T>` -> `Foo`).
fn base_type(t: &str) -> String {
    let t = t.trim_start_matches('&').trim_start_matches("mut ").trim();
    let t = t.split('<').next().unwrap_or(t);
    t.split_whitespace().collect()
}

impl Rules for Rust {
    fn module(&self, path: &str, _root: Node<'_>, _src: &[u8], names: &RepoNames) -> ModuleDef {
        names.rust_module(path)
    }

    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item> {
        match node.kind() {
            "function_item" => {
                let kind = if matches!(scope.kind, DefKind::Impl | DefKind::Trait) {
                    DefKind::Method
                } else {
                    DefKind::Function
                };
                Some(nested(kind, field(node, "name", src)?, scope, "::"))
            }
            "struct_item" | "union_item" => Some(nested(
                DefKind::Struct,
                field(node, "name", src)?,
                scope,
                "::",
            )),
            "enum_item" => Some(nested(
                DefKind::Enum,
                field(node, "name", src)?,
                scope,
                "::",
            )),
            "trait_item" => Some(nested(
                DefKind::Trait,
                field(node, "name", src)?,
                scope,
                "::",
            )),
            "mod_item" if node.child_by_field_name("body").is_some() => Some(nested(
                DefKind::Namespace,
                field(node, "name", src)?,
                scope,
                "::",
            )),
            "impl_item" => {
                let ty = base_type(field(node, "type", src)?);
                let header = match field(node, "trait", src) {
                    Some(tr) => format!("<impl {} for {ty}>", base_type(tr)),
                    None => format!("<impl {ty}>"),
                };
                let join = |s: &str| {
                    if scope.prefix.is_empty() {
                        s.to_owned()
                    } else {
                        format!("{}::{s}", scope.prefix)
                    }
                };
                Some(Item::Def(Def {
                    kind: DefKind::Impl,
                    name: ty.clone(),
                    qualified_name: join(&header),
                    prefix: join(&ty),
                }))
            }
            "call_expression" => {
                let f = node.child_by_field_name("function")?;
                let f = if f.kind() == "generic_function" {
                    f.child_by_field_name("function")?
                } else {
                    f
                };
                match f.kind() {
                    "identifier" => Some(Item::Call(text(f, src).to_owned())),
                    "scoped_identifier" => Some(Item::Call(field(f, "name", src)?.to_owned())),
                    "field_expression" => Some(Item::Call(field(f, "field", src)?.to_owned())),
                    _ => None,
                }
            }
            "use_declaration" => {
                let arg = field(node, "argument", src)?;
                Some(Item::Imports(vec![arg.split_whitespace().collect()]))
            }
            _ => None,
        }
    }
}
