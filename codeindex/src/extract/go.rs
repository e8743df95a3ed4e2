//! Go: functions, methods, struct and interface types; qualified names as the Go
//! runtime prints them (`example.com/mod/pkg.Func`, `pkg.(*T).Method`,
//! `pkg.T.Method`, `main.main`).

use symbols::DefKind;
use tree_sitter::Node;

use super::{Def, Item, ModuleDef, Rules, Scope, field, nested, text};
use crate::naming::RepoNames;

pub(crate) struct Go;

impl Rules for Go {
    fn module(&self, path: &str, root: Node<'_>, src: &[u8], names: &RepoNames) -> ModuleDef {
        let mut cursor = root.walk();
        let package = root
            .children(&mut cursor)
            .find(|c| c.kind() == "package_clause")
            .and_then(|c| {
                let mut cc = c.walk();
                c.named_children(&mut cc)
                    .find(|n| n.kind() == "package_identifier")
                    .map(|n| text(n, src).to_owned())
            });
        names.go_module(path, package.as_deref())
    }

    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item> {
        match node.kind() {
            "function_declaration" => Some(nested(
                DefKind::Function,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "method_declaration" => {
                let name = field(node, "name", src)?;
                let receiver = receiver_type(node, src)?;
                let qualified_name = format!("{}.{receiver}.{name}", scope.prefix);
                Some(Item::Def(Def {
                    kind: DefKind::Method,
                    name: name.to_owned(),
                    prefix: qualified_name.clone(),
                    qualified_name,
                }))
            }
            "type_spec" => {
                let kind = match node.child_by_field_name("type")?.kind() {
                    "struct_type" => DefKind::Struct,
                    "interface_type" => DefKind::Interface,
                    _ => return None,
                };
                Some(nested(kind, field(node, "name", src)?, scope, "."))
            }
            "call_expression" => {
                let f = node.child_by_field_name("function")?;
                match f.kind() {
                    "identifier" => Some(Item::Call(text(f, src).to_owned())),
                    "selector_expression" => Some(Item::Call(field(f, "field", src)?.to_owned())),
                    _ => None,
                }
            }
            "import_spec" => {
                let path = field(node, "path", src)?.trim_matches(|c| c == '"' || c == '`');
                Some(Item::Imports(vec![path.to_owned()]))
            }
            _ => None,
        }
    }
}

/// `(*T)` for a pointer receiver, `T` for a value one, type parameters dropped.
fn receiver_type(method: Node<'_>, src: &[u8]) -> Option<String> {
    let list = method.child_by_field_name("receiver")?;
    let mut cursor = list.walk();
    let param = list
        .named_children(&mut cursor)
        .find(|n| n.kind() == "parameter_declaration")?;
    let mut ty = param.child_by_field_name("type")?;
    let mut pointer = false;
    if ty.kind() == "pointer_type" {
        pointer = true;
        let mut c = ty.walk();
        ty = ty.named_children(&mut c).next()?;
    }
    let base = text(ty, src);
    let base = base.split('[').next().unwrap_or(base).trim();
    Some(if pointer {
        format!("(*{base})")
    } else {
        base.to_owned()
    })
}
