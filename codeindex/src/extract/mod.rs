//! Definitions and edges of one source file, from its tree-sitter syntax tree.
//! The walk is shared; each language's file says which nodes are definitions,
//! calls and imports, and how names are qualified.

mod go;
mod java;
mod javascript;
mod python;
mod rust;

use symbols::{DefKind, DefinitionInput, EdgeInput, EdgeKind, Language};
use tree_sitter::{Node, Parser};

use crate::naming::RepoNames;

/// A file that could not be indexed past its module definition.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The file is not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The grammar found a syntax error.
    #[error("syntax error at line {line}")]
    Syntax {
        /// 1-based line of the first error node.
        line: usize,
    },
    /// The grammar could not be loaded or the parse did not finish.
    #[error("parser: {0}")]
    Parser(String),
}

/// The enclosing definition while walking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'s> {
    /// Its kind.
    pub kind: DefKind,
    /// What nested names are qualified with (`app.models.User`, `crate::m::Foo`).
    pub prefix: &'s str,
}

/// A definition found by a language's rules.
#[derive(Debug, Clone)]
pub(crate) struct Def {
    pub kind: DefKind,
    pub name: String,
    pub qualified_name: String,
    /// The prefix of definitions nested in this one.
    pub prefix: String,
}

/// What a node is, to the index.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Def(Def),
    Call(String),
    Imports(Vec<String>),
}

/// A file's module definition: its name, qualified name and the prefix of its
/// top-level definitions.
#[derive(Debug, Clone)]
pub(crate) struct ModuleDef {
    pub name: String,
    pub qualified_name: String,
    pub prefix: String,
}

/// A language's part of the walk.
pub(crate) trait Rules {
    /// The module definition of the file at `path`.
    fn module(&self, path: &str, root: Node<'_>, src: &[u8], names: &RepoNames) -> ModuleDef;
    /// What `node` is, if anything, inside `scope`.
    fn item(&self, node: Node<'_>, src: &[u8], scope: Scope<'_>) -> Option<Item>;
}

/// The text of a node ("" if it is not valid UTF-8, which a file that passed the
/// UTF-8 check cannot produce at node boundaries).
pub(crate) fn text<'s>(node: Node<'_>, src: &'s [u8]) -> &'s str {
    node.utf8_text(src).unwrap_or("")
}

/// The text of a node's field.
pub(crate) fn field<'s>(node: Node<'_>, name: &str, src: &'s [u8]) -> Option<&'s str> {
    node.child_by_field_name(name).map(|n| text(n, src))
}

/// A definition named `name` under `scope`, joined with `sep`, whose nested
/// definitions are qualified by its own qualified name.
pub(crate) fn nested(kind: DefKind, name: &str, scope: Scope<'_>, sep: &str) -> Item {
    let qualified_name = if scope.prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{}{sep}{name}", scope.prefix)
    };
    Item::Def(Def {
        kind,
        name: name.to_owned(),
        prefix: qualified_name.clone(),
        qualified_name,
    })
}

/// One tree-sitter parser per grammar, reused across files.
#[derive(Default)]
pub struct Parsers {
    parsers: Vec<(Grammar, Parser)>,
}

/// The grammars: TypeScript has two (`.ts` and `.tsx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    Python,
    Go,
    Java,
    JavaScript,
    TypeScript,
    Tsx,
    Rust,
}

impl Grammar {
    fn of(language: Language, path: &str) -> Grammar {
        match language {
            Language::Python => Grammar::Python,
            Language::Go => Grammar::Go,
            Language::Java => Grammar::Java,
            Language::JavaScript => Grammar::JavaScript,
            Language::TypeScript if path.ends_with(".tsx") => Grammar::Tsx,
            Language::TypeScript => Grammar::TypeScript,
            Language::Rust => Grammar::Rust,
        }
    }

    fn language(self) -> tree_sitter::Language {
        match self {
            Grammar::Python => tree_sitter_python::LANGUAGE.into(),
            Grammar::Go => tree_sitter_go::LANGUAGE.into(),
            Grammar::Java => tree_sitter_java::LANGUAGE.into(),
            Grammar::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Grammar::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Grammar::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Grammar::Rust => tree_sitter_rust::LANGUAGE.into(),
        }
    }
}

impl Parsers {
    fn get(&mut self, grammar: Grammar) -> Result<&mut Parser, ExtractError> {
        let pos = match self.parsers.iter().position(|(g, _)| *g == grammar) {
            Some(pos) => pos,
            None => {
                let mut parser = Parser::new();
                parser
                    .set_language(&grammar.language())
                    .map_err(|e| ExtractError::Parser(e.to_string()))?;
                self.parsers.push((grammar, parser));
                self.parsers.len() - 1
            }
        };
        Ok(&mut self.parsers[pos].1)
    }
}

/// A file's definitions (the module definition first) and edges.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Definitions, parents by index into this list.
    pub definitions: Vec<DefinitionInput>,
    /// Call and import edges, sources by index into `definitions`.
    pub edges: Vec<EdgeInput>,
}

/// The number of lines of `src` (a last line without a newline counts).
pub fn line_count(src: &[u8]) -> u32 {
    let newlines = src.iter().filter(|&&b| b == b'\n').count();
    let partial = usize::from(!src.is_empty() && src.last() != Some(&b'\n'));
    u32::try_from(newlines + partial).unwrap_or(u32::MAX).max(1)
}

/// The module definition alone, for files that cannot be parsed: they stay in the
/// index (so the in-app test and owners still work) without inner definitions.
pub fn module_only(language: Language, path: &str, lines: u32, names: &RepoNames) -> Extracted {
    let module = crate::naming::fallback_module(language, path, names);
    Extracted {
        definitions: vec![module_input(module, lines.max(1))],
        edges: Vec::new(),
    }
}

fn module_input(m: ModuleDef, lines: u32) -> DefinitionInput {
    DefinitionInput {
        start_line: 1,
        end_line: lines,
        kind: DefKind::Module,
        name: m.name,
        qualified_name: m.qualified_name,
        parent: None,
        last_change: None,
    }
}

/// Parses `src` and extracts its definitions and edges.
pub fn extract(
    parsers: &mut Parsers,
    language: Language,
    path: &str,
    src: &[u8],
    names: &RepoNames,
) -> Result<Extracted, ExtractError> {
    std::str::from_utf8(src).map_err(|_| ExtractError::NotUtf8)?;
    let parser = parsers.get(Grammar::of(language, path))?;
    let tree = parser
        .parse(src, None)
        .ok_or_else(|| ExtractError::Parser("the parse did not finish".into()))?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(ExtractError::Syntax {
            line: first_error_line(root),
        });
    }
    let rules: &dyn Rules = match language {
        Language::Python => &python::Python,
        Language::Go => &go::Go,
        Language::Java => &java::Java,
        Language::JavaScript | Language::TypeScript => &javascript::JavaScript,
        Language::Rust => &rust::Rust,
    };
    let lines = line_count(src);
    let module = rules.module(path, root, src, names);
    let mut prefixes = vec![module.prefix.clone()];
    let mut out = Extracted {
        definitions: vec![module_input(module, lines)],
        edges: Vec::new(),
    };
    let mut cursor = root.walk();
    let mut stack: Vec<(Node<'_>, usize)> = root
        .children(&mut cursor)
        .map(|c| (c, 0))
        .collect::<Vec<_>>();
    stack.reverse();
    while let Some((node, scope_idx)) = stack.pop() {
        let scope = Scope {
            kind: out.definitions[scope_idx].kind,
            prefix: &prefixes[scope_idx],
        };
        let line = node.start_position().row as u32 + 1;
        let mut child_scope = scope_idx;
        match rules.item(node, src, scope) {
            Some(Item::Def(def)) => {
                let end = node.end_position();
                let mut end_line = end.row as u32 + 1;
                if end.column == 0 && end_line > line {
                    end_line -= 1; // the node ends with the line's newline
                }
                out.definitions.push(DefinitionInput {
                    start_line: line,
                    end_line: end_line.min(lines),
                    kind: def.kind,
                    name: def.name,
                    qualified_name: def.qualified_name,
                    parent: Some(scope_idx),
                    last_change: None,
                });
                prefixes.push(def.prefix);
                child_scope = out.definitions.len() - 1;
            }
            Some(Item::Call(target)) => out.edges.push(EdgeInput {
                from: scope_idx,
                kind: EdgeKind::Call,
                target,
                line,
            }),
            Some(Item::Imports(targets)) => {
                for target in targets {
                    out.edges.push(EdgeInput {
                        from: scope_idx,
                        kind: EdgeKind::Import,
                        target,
                        line,
                    });
                }
            }
            None => {}
        }
        let first = stack.len();
        stack.extend(node.children(&mut cursor).map(|c| (c, child_scope)));
        stack[first..].reverse();
    }
    Ok(out)
}

/// The line of the first error or missing node.
fn first_error_line(root: Node<'_>) -> usize {
    let mut cursor = root.walk();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            return node.start_position().row + 1;
        }
        if node.has_error() {
            let first = stack.len();
            stack.extend(node.children(&mut cursor));
            stack[first..].reverse();
        }
    }
    root.start_position().row + 1
}
