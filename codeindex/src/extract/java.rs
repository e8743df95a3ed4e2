//! Java: classes, interfaces, enums, records, methods and constructors; qualified
//! names as the JVM prints them in stack traces (`com.x.Outer$Inner.method`,
//! constructors as `<init>`).

use symbols::DefKind;
use tree_sitter::Node;

use super::{Item, ModuleDef, Rules, Scope, field, nested, text};
use crate::naming::RepoNames;

pub(crate) struct Java;

fn is_type(kind: DefKind) -> bool {
    matches!(kind, DefKind::Class | DefKind::Interface | DefKind::Enum)
}

impl Rules for Java {
    fn module(&self, path: &str, root: Node<'_>, src: &[u8], _names: &RepoNames) -> ModuleDef {
        let mut cursor = root.walk();
        let package = root
            .children(&mut cursor)
            .find(|c| c.kind() == "package_declaration")
            .and_then(|c| {
                let mut cc = c.walk();
                c.named_children(&mut cc)
                    .find(|n| matches!(n.kind(), "scoped_identifier" | "identifier"))
                    .map(|n| text(n, src).to_owned())
            })
            .unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        ModuleDef {
            qualified_name: path.to_owned(),
            name,
            prefix: package,
        }
    }

    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item> {
        let type_kind = match node.kind() {
            "class_declaration" | "record_declaration" => Some(DefKind::Class),
            "interface_declaration" | "annotation_type_declaration" => Some(DefKind::Interface),
            "enum_declaration" => Some(DefKind::Enum),
            _ => None,
        };
        if let Some(kind) = type_kind {
            let sep = if is_type(scope.kind) { "$" } else { "." };
            return Some(nested(kind, field(node, "name", src)?, scope, sep));
        }
        match node.kind() {
            "method_declaration" => Some(nested(
                DefKind::Method,
                field(node, "name", src)?,
                scope,
                ".",
            )),
            "constructor_declaration" | "compact_constructor_declaration" => {
                Some(nested(DefKind::Method, "<init>", scope, "."))
            }
            "method_invocation" => Some(Item::Call(field(node, "name", src)?.to_owned())),
            "object_creation_expression" => {
                let ty = field(node, "type", src)?;
                let base = ty.split('<').next().unwrap_or(ty);
                let base = base.rsplit('.').next().unwrap_or(base);
                Some(Item::Call(base.trim().to_owned()))
            }
            "import_declaration" => {
                let t = text(node, src)
                    .trim_start_matches("import")
                    .trim()
                    .trim_start_matches("static ")
                    .trim_end_matches(';')
                    .trim();
                Some(Item::Imports(vec![t.split_whitespace().collect()]))
            }
            _ => None,
        }
    }
}
