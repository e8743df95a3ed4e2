//! A Python source file as a concrete syntax tree (tree-sitter-python): finding the
//! definitions and statements a template edits, and applying byte-range edits that keep
//! everything else (formatting, comments) exactly as it was.

use tree_sitter::{Node, Parser, Tree};

/// Why a source file cannot be worked on.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The tree-sitter grammar could not be loaded (a build problem).
    #[error("the Python grammar cannot be loaded: {0}")]
    Grammar(String),
    /// The file did not parse at all.
    #[error("{0} cannot be parsed as Python")]
    Unparsable(String),
}

/// A parsed Python file.
pub struct PySource {
    text: String,
    tree: Tree,
}

/// One replacement of a byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// First byte replaced.
    pub start: usize,
    /// One past the last byte replaced.
    pub end: usize,
    /// The new text.
    pub text: String,
}

fn parse_tree(text: &str, name: &str) -> Result<Tree, SourceError> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .map_err(|e| SourceError::Grammar(e.to_string()))?;
    parser
        .parse(text, None)
        .ok_or_else(|| SourceError::Unparsable(name.to_string()))
}

/// Whether `text` parses as Python without syntax errors.
pub fn parses_cleanly(text: &str) -> bool {
    parse_tree(text, "candidate").is_ok_and(|t| !t.root_node().has_error())
}

impl PySource {
    /// Parses `text` (`name` is for errors).
    pub fn parse(text: &str, name: &str) -> Result<Self, SourceError> {
        let tree = parse_tree(text, name)?;
        Ok(Self {
            text: text.to_string(),
            tree,
        })
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of `node`.
    pub fn node_text(&self, node: Node<'_>) -> &str {
        &self.text[node.byte_range()]
    }

    /// The root node.
    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// The function definition named by the last part of `qualified` (`Cart.total` ->
    /// `total`), preferring the one that contains `line` (1-based) when given.
    pub fn function(&self, qualified: &str, line: Option<u32>) -> Option<Node<'_>> {
        let name = qualified.rsplit('.').next().unwrap_or(qualified);
        let mut found = Vec::new();
        collect(self.root(), &mut |n| {
            if n.kind() == "function_definition"
                && n.child_by_field_name("name")
                    .is_some_and(|id| self.node_text(id) == name)
            {
                found.push(n);
            }
        });
        match line {
            Some(line) => found
                .iter()
                .copied()
                .find(|n| contains_row(*n, line))
                .or_else(|| found.first().copied()),
            None => found.first().copied(),
        }
    }

    /// The outermost statement of `within` that starts on `line` (1-based), or the
    /// innermost statement that contains it.
    pub fn statement_at<'a>(&self, within: Node<'a>, line: u32) -> Option<Node<'a>> {
        let row = line.checked_sub(1)? as usize;
        let mut best: Option<Node<'a>> = None;
        collect(within, &mut |n| {
            if n.id() != within.id()
                && is_statement(n.kind())
                && n.start_position().row <= row
                && n.end_position().row >= row
            {
                // Deeper matches come later in the walk: keep the innermost one.
                best = Some(n);
            }
        });
        best
    }

    /// Nodes of `kind` inside `within` that lie on `line` (1-based).
    pub fn nodes_on_line<'a>(&'a self, within: Node<'a>, line: u32, kind: &str) -> Vec<Node<'a>> {
        let row = (line as usize).saturating_sub(1);
        let mut out = Vec::new();
        collect(within, &mut |n| {
            if n.kind() == kind && n.start_position().row <= row && n.end_position().row >= row {
                out.push(n);
            }
        });
        out
    }

    /// Nodes of `kind` anywhere inside `within`.
    pub fn nodes_of<'a>(&'a self, within: Node<'a>, kind: &str) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        collect(within, &mut |n| {
            if n.kind() == kind {
                out.push(n);
            }
        });
        out
    }

    /// The leading whitespace of the line `node` starts on.
    pub fn indent_of(&self, node: Node<'_>) -> String {
        let start = self.text[..node.start_byte()]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        self.text[start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect()
    }

    /// The file's own indentation step: a tab, or the smallest run of spaces that
    /// indents a line (four spaces when nothing is indented).
    pub fn indent_unit(&self) -> String {
        let mut smallest: Option<usize> = None;
        for line in self.text.lines() {
            if line.starts_with('\t') {
                return "\t".into();
            }
            let n = line.chars().take_while(|c| *c == ' ').count();
            if n > 0 && n < line.len() {
                smallest = Some(smallest.map_or(n, |s| s.min(n)));
            }
        }
        " ".repeat(smallest.unwrap_or(4))
    }

    /// Byte offset of the start of the line `node` starts on.
    pub fn line_start(&self, node: Node<'_>) -> usize {
        self.text[..node.start_byte()]
            .rfind('\n')
            .map_or(0, |i| i + 1)
    }

    /// Byte offset just after the newline ending the line `node` ends on.
    pub fn line_end(&self, node: Node<'_>) -> usize {
        self.text[node.end_byte()..]
            .find('\n')
            .map_or(self.text.len(), |i| node.end_byte() + i + 1)
    }

    /// Whether the module imports `module` (`import module`, `import module as x` or
    /// `from module import ...`).
    pub fn imports_module(&self, module: &str) -> bool {
        self.root().children(&mut self.root().walk()).any(|n| {
            (n.kind() == "import_statement" || n.kind() == "import_from_statement")
                && self
                    .node_text(n)
                    .split([' ', ',', '\n'])
                    .any(|w| w == module)
        })
    }

    /// The `from <module> import ...` statement at the top level.
    pub fn from_import(&self, module: &str) -> Option<Node<'_>> {
        self.root().children(&mut self.root().walk()).find(|n| {
            n.kind() == "import_from_statement"
                && n.child_by_field_name("module_name")
                    .is_some_and(|m| self.node_text(m) == module)
        })
    }

    /// An edit adding `import <module>` among the top-level `import x` lines, in
    /// alphabetical position (after the module docstring when there are none).
    pub fn add_import(&self, module: &str) -> Edit {
        let root = self.root();
        let tops: Vec<Node<'_>> = root.children(&mut root.walk()).collect();
        let plain: Vec<&Node<'_>> = tops
            .iter()
            .filter(|n| n.kind() == "import_statement")
            .collect();
        let line = format!("import {module}\n");
        if let Some(after) = plain
            .iter()
            .take_while(|n| {
                self.node_text(***n)
                    .trim_start_matches("import ")
                    .to_string()
                    .as_str()
                    < module
            })
            .last()
        {
            let at = self.line_end(**after);
            return Edit {
                start: at,
                end: at,
                text: line,
            };
        }
        if let Some(first) = plain.first().or(tops
            .iter()
            .find(|n| n.kind() == "import_from_statement")
            .as_ref())
        {
            let at = self.line_start(**first);
            return Edit {
                start: at,
                end: at,
                text: line,
            };
        }
        // No imports: after a leading docstring, else at the top.
        let at = tops
            .first()
            .filter(|n| {
                n.kind() == "expression_statement"
                    && n.child(0).is_some_and(|c| c.kind() == "string")
            })
            .map_or(0, |n| self.line_end(*n));
        Edit {
            start: at,
            end: at,
            text: format!("\n{line}"),
        }
    }
}

fn is_statement(kind: &str) -> bool {
    kind.ends_with("_statement") || kind == "function_definition" || kind == "class_definition"
}

fn contains_row(n: Node<'_>, line: u32) -> bool {
    let row = (line as usize).saturating_sub(1);
    n.start_position().row <= row && n.end_position().row >= row
}

/// Visits `node` and every node under it, parents before children.
pub fn collect<'a>(node: Node<'a>, visit: &mut impl FnMut(Node<'a>)) {
    visit(node);
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect(child, visit);
    }
}

/// Applies non-overlapping edits to `text`.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.start, e.end)));
    let mut out = text.to_string();
    for e in sorted {
        out.replace_range(e.start..e.end, &e.text);
    }
    out
}

/// `block` re-indented one `unit` deeper (every non-empty line).
pub fn indent_block(block: &str, unit: &str) -> String {
    block
        .split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.to_string()
            } else {
                format!("{unit}{l}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\"\"\"Doc.\"\"\"\n\nimport json\nimport os\n\n\ndef f(x):\n  # keep me\n  y = x[\"k\"]\n  return y\n";

    #[test]
    fn finds_functions_statements_and_indent() {
        let s = PySource::parse(SRC, "t.py").expect("parses");
        let f = s.function("mod.f", Some(9)).expect("f");
        let st = s.statement_at(f, 9).expect("statement");
        assert_eq!(s.node_text(st), "y = x[\"k\"]");
        assert_eq!(s.indent_of(st), "  ");
        assert_eq!(s.indent_unit(), "  ");
        assert!(s.imports_module("json"));
        assert!(!s.imports_module("math"));
        let e = s.add_import("math");
        let out = apply(SRC, &[e]);
        assert!(
            out.contains("import json\nimport math\nimport os\n"),
            "{out}"
        );
        assert!(parses_cleanly(&out));
        assert!(!parses_cleanly("def f(:\n"));
    }
}
