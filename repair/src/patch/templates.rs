//! Fix templates for the common Python crash classes. Each template looks at the
//! failure (exception type and message, the crash frame, the handler frame) and one
//! suspect definition, and proposes the smallest syntax-aware edit that makes the
//! failing input stop crashing, in the file's own indentation. Templates that act at
//! the boundary reject the bad input with a 4xx and a clear message; guards and defaults
//! are proposed only where the code's shape supports them (a lookup table of numbers, a
//! comparison against an optional value, a count computed by floor division).

use tree_sitter::Node;

use super::framework::Framework;
use super::source::{Edit, PySource, apply, indent_block, parses_cleanly};

/// A frame of the failure, in-app, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef {
    /// File relative to the repository root.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// Function name.
    pub function: String,
}

/// What the templates know about the failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Exception type as Python prints it (`KeyError`, `statistics.StatisticsError`).
    pub exception_type: String,
    /// The reproduced exception's message.
    pub message: String,
    /// The innermost in-app frame (where it raised).
    pub crash: FrameRef,
    /// The outermost in-app frame (the request handler).
    pub handler: FrameRef,
}

/// A proposed edit of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The template's name.
    pub template: &'static str,
    /// File relative to the repository root.
    pub file: String,
    /// The whole file after the edit.
    pub new_text: String,
    /// What the edit does, in words.
    pub description: String,
    /// What holds after the fix (the commit's `INVARIANT:` line).
    pub invariant: String,
}

fn draft(
    template: &'static str,
    src: &PySource,
    file: &str,
    edits: &[Edit],
    description: String,
    invariant: String,
) -> Option<Draft> {
    let new_text = apply(src.text(), edits);
    // A template that breaks the syntax is a template bug; never propose it.
    (new_text != src.text() && parses_cleanly(&new_text)).then(|| Draft {
        template,
        file: file.to_string(),
        new_text,
        description,
        invariant,
    })
}

fn is_module_constant_dict(src: &PySource, name: &str) -> Option<&'static str> {
    let root = src.root();
    for stmt in root.children(&mut root.walk()) {
        let Some(assign) = stmt.child(0).filter(|a| a.kind() == "assignment") else {
            continue;
        };
        let (Some(left), Some(right)) = (
            assign.child_by_field_name("left"),
            assign.child_by_field_name("right"),
        ) else {
            continue;
        };
        if src.node_text(left) != name || right.kind() != "dictionary" {
            continue;
        }
        let values: Vec<&str> = src
            .nodes_of(right, "pair")
            .iter()
            .filter_map(|p| p.child_by_field_name("value"))
            .map(|v| v.kind())
            .collect();
        if values.is_empty() {
            return None;
        }
        if values.iter().all(|k| *k == "integer") {
            return Some("0");
        }
        if values.iter().all(|k| *k == "integer" || *k == "float") {
            return Some("0.0");
        }
        return None;
    }
    None
}

/// KeyError on a module-level table of numbers (`RATES[tier]`): an unknown key gets the
/// neutral default (`RATES.get(tier, 0.0)`).
pub fn default_for_missing_key(src: &PySource, f: &Failure, function: Node<'_>) -> Vec<Draft> {
    if f.exception_type != "KeyError" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for sub in src.nodes_on_line(function, f.crash.line, "subscript") {
        let (Some(value), Some(key)) = (
            sub.child_by_field_name("value"),
            sub.child_by_field_name("subscript"),
        ) else {
            continue;
        };
        let table = src.node_text(value);
        if value.kind() != "identifier" || table.to_uppercase() != table {
            continue;
        }
        let Some(default) = is_module_constant_dict(src, table) else {
            continue;
        };
        let key = src.node_text(key);
        let edit = Edit {
            start: sub.start_byte(),
            end: sub.end_byte(),
            text: format!("{table}.get({key}, {default})"),
        };
        out.extend(draft(
            "default_for_missing_key",
            src,
            &f.crash.file,
            &[edit],
            format!("a key missing from {table} gets {default} instead of raising KeyError"),
            format!("a {key} without an entry in {table} gets {default}; no KeyError"),
        ));
    }
    out
}

/// TypeError comparing with None (`a <= b` where `b` is None): the comparison holds
/// only when the optional side has a value.
pub fn guard_none_comparison(src: &PySource, f: &Failure, function: Node<'_>) -> Vec<Draft> {
    if f.exception_type != "TypeError"
        || !f.message.contains("not supported between instances of")
        || !f.message.contains("'NoneType'")
    {
        return Vec::new();
    }
    let none_on_right = f.message.trim_end().ends_with("'NoneType'");
    let mut out = Vec::new();
    for cmp in src.nodes_on_line(function, f.crash.line, "comparison_operator") {
        let operands: Vec<Node<'_>> = cmp
            .children(&mut cmp.walk())
            .filter(|c| c.is_named())
            .collect();
        let [left, right] = operands.as_slice() else {
            continue;
        };
        let optional = src.node_text(if none_on_right { *right } else { *left });
        let bare = cmp.parent().is_some_and(|p| {
            matches!(p.kind(), "return_statement" | "assignment" | "if_statement")
        });
        let guarded = format!("{optional} is not None and {}", src.node_text(cmp));
        let text = if bare {
            guarded
        } else {
            format!("({guarded})")
        };
        let edit = Edit {
            start: cmp.start_byte(),
            end: cmp.end_byte(),
            text,
        };
        out.extend(draft(
            "guard_none_comparison",
            src,
            &f.crash.file,
            &[edit],
            format!("the comparison holds only when {optional} is not None"),
            format!(
                "{optional} of None never satisfies `{}`; no TypeError",
                src.node_text(cmp)
            ),
        ));
    }
    out
}

/// AttributeError/TypeError on None in the handler: the value came from a lookup that
/// found nothing, so the handler answers 404 right after the lookup.
pub fn guard_none_lookup(src: &PySource, f: &Failure, function: Node<'_>) -> Vec<Draft> {
    if !(f.exception_type == "AttributeError" || f.exception_type == "TypeError")
        || !f.message.contains("NoneType")
        || f.crash.function != f.handler.function
        || f.crash.file != f.handler.file
    {
        return Vec::new();
    }
    let Some(framework) = Framework::detect(src, function) else {
        return Vec::new();
    };
    let mut used = Vec::new();
    for kind in ["attribute", "subscript"] {
        for n in src.nodes_on_line(function, f.crash.line, kind) {
            let field = if kind == "attribute" {
                "object"
            } else {
                "value"
            };
            if let Some(obj) = n
                .child_by_field_name(field)
                .filter(|o| o.kind() == "identifier")
            {
                let name = src.node_text(obj).to_string();
                if !used.contains(&name) {
                    used.push(name);
                }
            }
        }
    }
    let mut out = Vec::new();
    let crash_row = (f.crash.line as usize).saturating_sub(1);
    for name in used {
        // The last plain assignment `name = <call>` before the crash line.
        let assignment = src
            .nodes_of(function, "assignment")
            .into_iter()
            .rev()
            .find(|a| {
                a.start_position().row < crash_row
                    && a.child_by_field_name("left")
                        .is_some_and(|l| src.node_text(l) == name)
                    && a.child_by_field_name("right")
                        .is_some_and(|r| r.kind() == "call" || r.kind() == "await")
            });
        let Some(stmt) = assignment.and_then(|a| a.parent()) else {
            continue;
        };
        let indent = src.indent_of(stmt);
        let unit = src.indent_unit();
        let (lines, mut edits) = framework.reject(src, 404, &format!("\"{name} not found\""));
        let mut block = format!("{indent}if {name} is None:\n");
        for l in lines {
            block.push_str(&format!("{indent}{unit}{l}\n"));
        }
        let at = src.line_end(stmt);
        edits.push(Edit {
            start: at,
            end: at,
            text: block,
        });
        out.extend(draft(
            "guard_none_lookup",
            src,
            &f.crash.file,
            &edits,
            format!("answer 404 when the lookup of {name} finds nothing"),
            format!("a request for a missing {name} gets 404, never a 500"),
        ));
    }
    out
}

/// IndexError on an empty sequence (`hits[0]["title"]`): the element is read only when
/// the sequence has one, else None.
pub fn empty_sequence_default(src: &PySource, f: &Failure, function: Node<'_>) -> Vec<Draft> {
    if f.exception_type != "IndexError" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for sub in src.nodes_on_line(function, f.crash.line, "subscript") {
        let (Some(value), Some(index)) = (
            sub.child_by_field_name("value"),
            sub.child_by_field_name("subscript"),
        ) else {
            continue;
        };
        let idx = src.node_text(index);
        if value.kind() != "identifier" || !(idx == "0" || idx == "-1") {
            continue;
        }
        // The whole access chain built on `seq[0]` (`seq[0]["title"]`, `seq[0].name`).
        let mut chain = sub;
        while let Some(p) = chain.parent() {
            let on_value = p
                .child_by_field_name("value")
                .is_some_and(|v| v.id() == chain.id())
                || p.child_by_field_name("object")
                    .is_some_and(|v| v.id() == chain.id());
            if on_value && (p.kind() == "subscript" || p.kind() == "attribute") {
                chain = p;
            } else {
                break;
            }
        }
        let seq = src.node_text(value);
        let bare = chain.parent().is_some_and(|p| {
            matches!(
                p.kind(),
                "pair" | "return_statement" | "assignment" | "keyword_argument"
            )
        });
        let expr = format!("{} if {seq} else None", src.node_text(chain));
        let edit = Edit {
            start: chain.start_byte(),
            end: chain.end_byte(),
            text: if bare { expr } else { format!("({expr})") },
        };
        out.extend(draft(
            "empty_sequence_default",
            src,
            &f.crash.file,
            &[edit],
            format!("an empty {seq} gives None instead of raising IndexError"),
            format!("an empty {seq} is a normal answer (None); no IndexError"),
        ));
    }
    out
}

/// ZeroDivisionError whose divisor is a count computed by floor division in the
/// suspect (`int(w // MAX)` is 0 for a light load): the count rounds up, at least 1.
pub fn ceil_count(src: &PySource, f: &Failure, function: Node<'_>, file: &str) -> Vec<Draft> {
    if f.exception_type != "ZeroDivisionError" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for op in src.nodes_of(function, "binary_operator") {
        let Some(operator) = op.child_by_field_name("operator") else {
            continue;
        };
        if src.node_text(operator) != "//" {
            continue;
        }
        let (Some(a), Some(b)) = (
            op.child_by_field_name("left"),
            op.child_by_field_name("right"),
        ) else {
            continue;
        };
        // `int(a // b)` is replaced whole; a bare `a // b` alone.
        let target = op
            .parent()
            .and_then(|args| args.parent().filter(|_| args.kind() == "argument_list"))
            .filter(|call| {
                call.kind() == "call"
                    && call
                        .child_by_field_name("function")
                        .is_some_and(|fun| src.node_text(fun) == "int")
                    && call
                        .child_by_field_name("arguments")
                        .is_some_and(|a| a.named_child_count() == 1)
            })
            .unwrap_or(op);
        let mut edits = vec![Edit {
            start: target.start_byte(),
            end: target.end_byte(),
            text: format!(
                "max(1, math.ceil({} / {}))",
                src.node_text(a),
                src.node_text(b)
            ),
        }];
        if !src.imports_module("math") {
            edits.push(src.add_import("math"));
        }
        out.extend(draft(
            "ceil_count",
            src,
            file,
            &edits,
            format!(
                "`{}` rounds up and is at least 1 (floor division gave 0)",
                src.node_text(target)
            ),
            format!(
                "the count of {} per {} is never 0; anything left over needs one more",
                src.node_text(a),
                src.node_text(b)
            ),
        ));
    }
    out
}

/// Type confusion on a JSON boolean: `x == "true"` misses JSON `true`; both are read
/// the same.
pub fn json_boolean_literal(
    src: &PySource,
    f: &Failure,
    function: Node<'_>,
    file: &str,
) -> Vec<Draft> {
    let _ = f;
    let mut out = Vec::new();
    for cmp in src.nodes_of(function, "comparison_operator") {
        let operands: Vec<Node<'_>> = cmp
            .children(&mut cmp.walk())
            .filter(|c| c.is_named())
            .collect();
        let [left, right] = operands.as_slice() else {
            continue;
        };
        let op_is_eq = cmp
            .children(&mut cmp.walk())
            .any(|c| !c.is_named() && src.node_text(c) == "==");
        let lit = src.node_text(*right);
        let literal = match lit.trim_matches(['"', '\'']) {
            "true" if right.kind() == "string" => "True",
            "false" if right.kind() == "string" => "False",
            _ => continue,
        };
        if !op_is_eq {
            continue;
        }
        let edit = Edit {
            start: cmp.start_byte(),
            end: cmp.end_byte(),
            text: format!("{} in ({literal}, {lit})", src.node_text(*left)),
        };
        out.extend(draft(
            "json_boolean_literal",
            src,
            file,
            &[edit],
            format!(
                "JSON {} counts like the string {lit}",
                literal.to_lowercase()
            ),
            format!(
                "{} is read the same whether it arrives as JSON {} or as {lit}",
                src.node_text(*left),
                literal.to_lowercase()
            ),
        ));
    }
    out
}

/// Any exception, at the boundary: the handler's statement that led to it is wrapped,
/// and that exception type answers a 4xx naming what was wrong with the request.
pub fn reject_at_boundary(src: &PySource, f: &Failure) -> Vec<Draft> {
    let Some(handler) = src.function(&f.handler.function, Some(f.handler.line)) else {
        return Vec::new();
    };
    let Some(framework) = Framework::detect(src, handler) else {
        return Vec::new();
    };
    let Some(stmt) = src.statement_at(handler, f.handler.line) else {
        return Vec::new();
    };
    if !matches!(stmt.kind(), "expression_statement" | "return_statement") {
        return Vec::new();
    }
    let start = src.line_start(stmt);
    let end = src.line_end(stmt);
    // The statement must own its lines (not `if x: y = z`).
    if !src.text()[start..stmt.start_byte()].trim().is_empty()
        || !(src.text()[stmt.end_byte()..end].trim().is_empty()
            || src.text()[stmt.end_byte()..end].trim().starts_with('#'))
    {
        return Vec::new();
    }
    let mut edits = Vec::new();
    let exc = f.exception_type.as_str();
    if let Some((module, _)) = exc.rsplit_once('.') {
        if !src.imports_module(module) {
            edits.push(src.add_import(module));
        }
    } else if !is_builtin_exception(exc) && !src.text().contains(exc) {
        return Vec::new();
    }
    let none_lookup = f.exception_type == "AttributeError" && f.message.contains("NoneType");
    let (status, message) = match exc {
        _ if none_lookup => (404, "\"not found\"".to_string()),
        "KeyError" => (400, "f\"missing field {exc}\"".to_string()),
        "TimeoutError" => (
            400,
            "\"the request asks for more than can be answered in time\"".to_string(),
        ),
        _ => (400, "f\"invalid request: {exc}\"".to_string()),
    };
    let (lines, import_edits) = framework.reject(src, status, &message);
    edits.extend(import_edits);
    let indent = src.indent_of(stmt);
    let unit = src.indent_unit();
    let mut block = format!("{indent}try:\n");
    block.push_str(&indent_block(&src.text()[start..end], &unit));
    if !block.ends_with('\n') {
        block.push('\n');
    }
    block.push_str(&format!("{indent}except {exc} as exc:\n"));
    for l in lines {
        block.push_str(&format!("{indent}{unit}{l}\n"));
    }
    edits.push(Edit {
        start,
        end,
        text: block,
    });
    draft(
        "reject_at_boundary",
        src,
        &f.handler.file,
        &edits,
        format!(
            "{} in `{}` answers {status} with a clear message instead of a 500",
            exc, f.handler.function
        ),
        format!(
            "a request that makes `{}` raise {exc} gets {status}, never a 500",
            f.handler.function
        ),
    )
    .into_iter()
    .collect()
}

fn is_builtin_exception(name: &str) -> bool {
    matches!(
        name,
        "KeyError"
            | "IndexError"
            | "ValueError"
            | "TypeError"
            | "AttributeError"
            | "ZeroDivisionError"
            | "TimeoutError"
            | "LookupError"
            | "ArithmeticError"
            | "UnicodeDecodeError"
            | "OverflowError"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(
        ty: &str,
        msg: &str,
        crash: (&str, u32, &str),
        handler: (&str, u32, &str),
    ) -> Failure {
        Failure {
            exception_type: ty.into(),
            message: msg.into(),
            crash: FrameRef {
                file: crash.0.into(),
                line: crash.1,
                function: crash.2.into(),
            },
            handler: FrameRef {
                file: handler.0.into(),
                line: handler.1,
                function: handler.2.into(),
            },
        }
    }

    const FLASK: &str = "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.post(\"/o\")\ndef create():\n    order = request.get_json()\n    country = order[\"address\"][\"country\"]  # why\n    return {\"c\": country}\n";

    #[test]
    fn boundary_rejects_in_flask_keeping_comments() {
        let src = PySource::parse(FLASK, "app.py").expect("parse");
        let f = failure(
            "KeyError",
            "'country'",
            ("app.py", 9, "create"),
            ("app.py", 9, "create"),
        );
        let d = reject_at_boundary(&src, &f);
        assert_eq!(d.len(), 1);
        let text = &d[0].new_text;
        assert!(text.contains("    try:\n        country = order[\"address\"][\"country\"]  # why\n    except KeyError as exc:\n        return {\"error\": f\"missing field {exc}\"}, 400\n"), "{text}");
    }

    #[test]
    fn fastapi_lookup_guard_adds_the_import() {
        let src_text = "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get(\"/u/{i}\")\ndef card(i: str):\n    user = directory.find(i)\n    return {\"n\": user.get(\"n\")}\n";
        let src = PySource::parse(src_text, "app.py").expect("parse");
        let f = failure(
            "AttributeError",
            "'NoneType' object has no attribute 'get'",
            ("app.py", 9, "card"),
            ("app.py", 9, "card"),
        );
        let func = src.function("card", Some(9)).expect("f");
        let d = guard_none_lookup(&src, &f, func);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].new_text
                .starts_with("from fastapi import FastAPI, HTTPException\n")
        );
        assert!(d[0].new_text.contains("    user = directory.find(i)\n    if user is None:\n        raise HTTPException(status_code=404, detail=\"user not found\") from None\n"));
    }

    #[test]
    fn arithmetic_comparison_index_and_table_templates() {
        let text = "\"\"\"S.\"\"\"\n\nimport json\n\nRATES = {\"a\": 0.1, \"b\": 0.2}\n\n\ndef count(w):\n    return int(w // 30)\n\n\ndef due(p):\n    return p[\"s\"] <= p[\"l\"]\n\n\ndef best(hits):\n    return {\"best\": hits[0][\"t\"], \"r\": RATES[hits]}\n";
        let src = PySource::parse(text, "a.py").expect("parse");
        let f = failure(
            "ZeroDivisionError",
            "division by zero",
            ("a.py", 20, "x"),
            ("a.py", 20, "x"),
        );
        let d = ceil_count(&src, &f, src.function("count", None).expect("f"), "a.py");
        assert!(
            d[0].new_text.contains("import json\nimport math\n"),
            "{}",
            d[0].new_text
        );
        assert!(d[0].new_text.contains("return max(1, math.ceil(w / 30))"));
        let f = failure(
            "TypeError",
            "'<=' not supported between instances of 'int' and 'NoneType'",
            ("a.py", 13, "due"),
            ("a.py", 1, "h"),
        );
        let d = guard_none_comparison(&src, &f, src.function("due", None).expect("f"));
        assert!(
            d[0].new_text
                .contains("return p[\"l\"] is not None and p[\"s\"] <= p[\"l\"]")
        );
        let f = failure(
            "IndexError",
            "list index out of range",
            ("a.py", 17, "best"),
            ("a.py", 17, "best"),
        );
        let d = empty_sequence_default(&src, &f, src.function("best", None).expect("f"));
        assert!(
            d[0].new_text
                .contains("{\"best\": hits[0][\"t\"] if hits else None,"),
            "{}",
            d[0].new_text
        );
        let f = failure(
            "KeyError",
            "'c'",
            ("a.py", 17, "best"),
            ("a.py", 17, "best"),
        );
        let d = default_for_missing_key(&src, &f, src.function("best", None).expect("f"));
        assert!(d[0].new_text.contains("RATES.get(hits, 0.0)"));
    }
}
