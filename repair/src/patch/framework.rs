//! How a handler rejects a request with a 4xx, per web framework: the statement text
//! and any import it needs. The framework is recognised from the handler's file and
//! signature.

use tree_sitter::Node;

use super::source::{Edit, PySource};

/// A web framework the templates know how to answer a 4xx in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// Flask: a handler returns `(body, status)`.
    Flask,
    /// FastAPI: a handler raises `HTTPException`.
    FastApi,
    /// Plain WSGI: `application(environ, start_response)` answers itself.
    Wsgi,
}

impl Framework {
    /// The framework of `handler` in `source`, if recognised.
    pub fn detect(source: &PySource, handler: Node<'_>) -> Option<Framework> {
        if source.imports_module("fastapi") {
            return Some(Framework::FastApi);
        }
        if source.imports_module("flask") {
            return Some(Framework::Flask);
        }
        let params = handler
            .child_by_field_name("parameters")
            .map(|p| source.node_text(p).to_string())
            .unwrap_or_default();
        params.contains("start_response").then_some(Framework::Wsgi)
    }

    /// Statement lines (without indentation) answering `status` with `message`, a
    /// Python expression evaluating to a string; plus the import edits they need.
    pub fn reject(self, source: &PySource, status: u16, message: &str) -> (Vec<String>, Vec<Edit>) {
        match self {
            Framework::Flask => (
                vec![format!("return {{\"error\": {message}}}, {status}")],
                Vec::new(),
            ),
            Framework::FastApi => {
                let mut edits = Vec::new();
                let named = source.from_import("fastapi").is_some_and(|n| {
                    source
                        .node_text(n)
                        .split([' ', ',', '\n', '(', ')'])
                        .any(|w| w == "HTTPException")
                });
                if !named {
                    if let Some(n) = source.from_import("fastapi") {
                        // `from fastapi import FastAPI` -> `..., HTTPException`.
                        let end = n.end_byte();
                        let closing = source.node_text(n).trim_end().ends_with(')');
                        let at = if closing { end - 1 } else { end };
                        edits.push(Edit {
                            start: at,
                            end: at,
                            text: ", HTTPException".into(),
                        });
                    } else {
                        let mut e = source.add_import("fastapi");
                        e.text = e
                            .text
                            .replace("import fastapi", "from fastapi import HTTPException");
                        edits.push(e);
                    }
                }
                (
                    vec![format!(
                        "raise HTTPException(status_code={status}, detail={message}) from None"
                    )],
                    edits,
                )
            }
            Framework::Wsgi => {
                let reason = reason_phrase(status);
                let body = if source.imports_module("json") {
                    format!("json.dumps({{\"error\": {message}}}).encode()")
                } else {
                    format!("str({message}).encode()")
                };
                let ctype = if source.imports_module("json") {
                    "application/json"
                } else {
                    "text/plain"
                };
                (
                    vec![
                        format!(
                            "start_response(\"{status} {reason}\", [(\"Content-Type\", \"{ctype}\")])"
                        ),
                        format!("return [{body}]"),
                    ],
                    Vec::new(),
                )
            }
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Bad Request",
    }
}
