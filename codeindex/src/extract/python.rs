//! Python: modules, classes, functions and methods; qualified names as Python's
//! `__qualname__` prefixed with the module (`pkg.mod.Class.method`,
//! `pkg.mod.outer.<locals>.inner`).

use symbols::DefKind;
use tree_sitter::Node;

use super::{Def, Item, ModuleDef, Rules, Scope, field, nested, text};
use crate::naming::RepoNames;

pub(crate) struct Python;

impl Rules for Python {
    fn module(&self, path: &str, _root: Node<'_>, _src: &[u8], _names: &RepoNames) -> ModuleDef {
        crate::naming::python_module(path)
    }

    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item> {
        match node.kind() {
            "function_definition" => {
                let name = field(node, "name", src)?;
                let kind = if scope.kind == DefKind::Class {
                    DefKind::Method
                } else {
                    DefKind::Function
                };
                let Item::Def(def) = nested(kind, name, scope, ".") else {
                    return None;
                };
                // Python qualifies names nested in a function with `<locals>`.
                let prefix = format!("{}.<locals>", def.qualified_name);
                Some(Item::Def(Def { prefix, ..def }))
            }
            "class_definition" => Some(nested(
                DefKind::Class,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "call" => {
                let f = node.child_by_field_name("function")?;
                match f.kind() {
                    "identifier" => Some(Item::Call(text(f, src).to_owned())),
                    "attribute" => Some(Item::Call(field(f, "attribute", src)?.to_owned())),
                    _ => None,
                }
            }
            "import_statement" => {
                let mut cursor = node.walk();
                let names = node
                    .children_by_field_name("name", &mut cursor)
                    .map(|n| match n.kind() {
                        "aliased_import" => field(n, "name", src).unwrap_or("").to_owned(),
                        _ => text(n, src).to_owned(),
                    })
                    .filter(|n| !n.is_empty())
                    .collect();
                Some(Item::Imports(names))
            }
            "import_from_statement" => Some(Item::Imports(vec![
                field(node, "module_name", src)?.to_owned(),
            ])),
            _ => None,
        }
    }
}
