//! JavaScript and TypeScript: functions (declared or bound to a variable), classes,
//! methods, TS interfaces, enums and namespaces; qualified names are the module
//! path (without extension) then the nesting (`src/api/users.UserService.save`).

use symbols::DefKind;
use tree_sitter::Node;

use super::{Item, ModuleDef, Rules, Scope, field, nested, text};
use crate::naming::RepoNames;

pub(crate) struct JavaScript;

fn is_function_value(node: Option<Node<'_>>) -> bool {
    node.is_some_and(|v| {
        matches!(
            v.kind(),
            "arrow_function" | "function_expression" | "function" | "generator_function"
        )
    })
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_owned()
}

impl Rules for JavaScript {
    fn module(&self, path: &str, _root: Node<'_>, _src: &[u8], _names: &RepoNames) -> ModuleDef {
        crate::naming::js_module(path)
    }

    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item> {
        let in_class = scope.kind == DefKind::Class;
        match node.kind() {
            "function_declaration" | "generator_function_declaration" => Some(nested(
                DefKind::Function,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "class_declaration" | "abstract_class_declaration" | "class" => Some(nested(
                DefKind::Class,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "method_definition" => Some(nested(
                DefKind::Method,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "variable_declarator" if is_function_value(node.child_by_field_name("value")) => {
                let name = node.child_by_field_name("name")?;
                (name.kind() == "identifier")
                    .then(|| nested(DefKind::Function, text(name, src), scope, "."))
            }
            "public_field_definition" | "field_definition"
                if in_class && is_function_value(node.child_by_field_name("value")) =>
            {
                let name = field(node, "name", src).or_else(|| field(node, "property", src))?;
                Some(nested(DefKind::Method, name, scope, "."))
            }
            "interface_declaration" => Some(nested(
                DefKind::Interface,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "enum_declaration" => {
                Some(nested(DefKind::Enum, field(node, "name", src)?, scope, "."))
            }
            "internal_module" | "module" => {
                let name = node.child_by_field_name("name")?;
                (name.kind() == "identifier")
                    .then(|| nested(DefKind::Namespace, text(name, src), scope, "."))
            }
            "call_expression" => {
                let f = node.child_by_field_name("function")?;
                match f.kind() {
                    "identifier" if text(f, src) == "require" => {
                        let args = node.child_by_field_name("arguments")?;
                        let mut c = args.walk();
                        let first = args.named_children(&mut c).next()?;
                        (first.kind() == "string")
                            .then(|| Item::Imports(vec![unquote(text(first, src))]))
                    }
                    "identifier" => Some(Item::Call(text(f, src).to_owned())),
                    "member_expression" => Some(Item::Call(field(f, "property", src)?.to_owned())),
                    _ => None,
                }
            }
            "new_expression" => {
                let c = node.child_by_field_name("constructor")?;
                match c.kind() {
                    "identifier" => Some(Item::Call(text(c, src).to_owned())),
                    "member_expression" => Some(Item::Call(field(c, "property", src)?.to_owned())),
                    _ => None,
                }
            }
            "import_statement" | "export_statement" => {
                let source = field(node, "source", src)?;
                Some(Item::Imports(vec![unquote(source)]))
            }
            _ => None,
        }
    }
}
