//! Where the failing value came from: for each caller frame of the traceback, the calls
//! that produced the arguments of its call into the next frame (`plan = plan_shipment(s)`
//! before `cost_per_parcel(total, plan["parcels"])`), and one step into what those
//! producers call. A crash frame often only consumes a bad value computed earlier; the
//! producers are where such a value is made. Read from the source text (Python), resolved
//! to definitions by name through the symbol index.

use std::collections::BTreeMap;

use symbols::Index;

use super::graph::{self, Def};

/// A producer of a value passed down the crashing call chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Producer {
    /// The definition.
    pub def: Def,
    /// 0.8 for a call seen in the caller's code, 1.0 for what that producer calls (the
    /// value is computed deepest there).
    pub value: f64,
    /// How it was found, in words.
    pub detail: String,
}

fn identifiers(text: &str) -> Vec<(String, bool)> {
    // (name, followed by an opening parenthesis)
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            // Skip a string literal: keys like plan["parcels"] are not variables.
            let q = c;
            i += 1;
            while i < chars.len() && chars[i] != q {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            out.push((name, chars.get(j) == Some(&'(')));
            continue;
        }
        i += 1;
    }
    out
}

/// The right-hand side of an assignment to `var` on `line`, if it is one.
fn assigned(line: &str, var: &str) -> Option<String> {
    let t = line.trim_start();
    let (lhs, rhs) = t.split_once('=')?;
    if rhs.starts_with('=') || lhs.ends_with(['!', '<', '>']) {
        return None;
    }
    let targets = lhs.split(':').next().unwrap_or(lhs);
    targets
        .split(',')
        .any(|n| n.trim() == var)
        .then(|| rhs.to_string())
}

const KEYWORDS: &[&str] = &[
    "return", "await", "if", "else", "for", "in", "not", "and", "or", "is", "None", "True",
    "False", "lambda", "yield",
];

/// The parameter names of the `def` on `line` (1-based) of `text`, in order.
fn params(text: &str, line: u32) -> Option<Vec<String>> {
    let rest: String = text
        .lines()
        .skip(line.saturating_sub(1) as usize)
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    let open = rest.find('(')?;
    let args = split_args(&rest[open + 1..]);
    Some(
        args.iter()
            .filter_map(|a| {
                let name = a.split([':', '=']).next()?.trim().trim_start_matches('*');
                (!name.is_empty() && name != "self" && name != "cls").then(|| name.to_string())
            })
            .collect(),
    )
}

/// The top-level comma-separated arguments from just after an opening parenthesis up to
/// its closing one (or the end of the text).
fn split_args(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// The names the failing operation read on the crash line: the divisors of a
/// `ZeroDivisionError`, else every name on the line.
fn operands(crash_line: &str, exception_type: &str) -> Vec<String> {
    if exception_type.ends_with("ZeroDivisionError") {
        let mut out = Vec::new();
        for (i, _) in crash_line.match_indices(['/', '%']) {
            let after = crash_line[i + 1..].trim_start_matches(['/', ' ', '(']);
            if let Some((name, _)) = identifiers(after).into_iter().next() {
                out.push(name);
            }
        }
        if !out.is_empty() {
            return out;
        }
    }
    identifiers(crash_line)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !KEYWORDS.contains(&n.as_str()))
        .collect()
}

/// The arguments of the call to `callee` on `line` that feed the callee's parameters in
/// `wanted` (all of them when the parameters or the call cannot be read).
fn feeding_args(
    line: &str,
    callee: &str,
    callee_params: Option<&[String]>,
    wanted: &[String],
) -> String {
    let Some(at) = line.match_indices(callee).find_map(|(i, _)| {
        let before_ok = line[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &line[i + callee.len()..];
        (before_ok && after.trim_start().starts_with('('))
            .then(|| i + callee.len() + after.find('(').unwrap_or(0) + 1)
    }) else {
        return line.to_string();
    };
    let args = split_args(&line[at..]);
    let Some(params) = callee_params else {
        return args.join(",");
    };
    let mut picked = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let keyword = arg.split_once('=').filter(|(k, v)| {
            !v.starts_with('=') && k.trim().chars().all(|c| c.is_alphanumeric() || c == '_')
        });
        let param = match keyword {
            Some((k, _)) => Some(k.trim().to_string()),
            None => params.get(i).cloned(),
        };
        if param.is_none_or(|p| wanted.contains(&p)) {
            picked.push(
                keyword
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| arg.clone()),
            );
        }
    }
    if picked.is_empty() {
        args.join(",")
    } else {
        picked.join(",")
    }
}

/// The producers for a traceback's in-app frames (innermost first) given each frame's
/// file text: the failing operands are followed up the call chain, argument by
/// argument, to the calls that made them.
pub fn producers(
    index: &Index<'_>,
    frames: &[(String, u32)],
    sources: &BTreeMap<String, String>,
    exception_type: &str,
) -> Vec<Producer> {
    let mut found: BTreeMap<u32, Producer> = BTreeMap::new();
    let mut add = |def: Def, value: f64, detail: String| {
        if graph::is_test_file(&def.path) {
            return;
        }
        let keep = found.get(&def.index).is_none_or(|p| p.value < value);
        if keep {
            found.insert(def.index, Producer { def, value, detail });
        }
    };
    let line_of = |file: &str, line: u32| -> Option<String> {
        sources
            .get(file)?
            .lines()
            .nth((line as usize).saturating_sub(1))
            .map(str::to_string)
    };
    let Some(crash_line) = frames.first().and_then(|(f, l)| line_of(f, *l)) else {
        return Vec::new();
    };
    let mut tainted = operands(&crash_line, exception_type);
    for k in 1..frames.len() {
        let (file, line) = &frames[k];
        let Some(text) = sources.get(file) else { break };
        let lines: Vec<&str> = text.lines().collect();
        let Some(call_line) = lines.get((*line as usize).saturating_sub(1)) else {
            break;
        };
        let Some(caller) = graph::callable_at(index, file, *line) else {
            break;
        };
        let callee = graph::callable_at(index, &frames[k - 1].0, frames[k - 1].1);
        let callee_name = callee
            .as_ref()
            .map(|d| {
                d.qualified_name
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let callee_params = callee
            .as_ref()
            .and_then(|d| params(sources.get(&d.path)?, d.start_line));
        let region = feeding_args(call_line, &callee_name, callee_params.as_deref(), &tainted);
        let mut next = Vec::new();
        let mut calls: Vec<(String, String)> = Vec::new();
        for (name, is_call) in identifiers(&region) {
            if KEYWORDS.contains(&name.as_str()) || name == callee_name {
                continue;
            }
            next.push(name.clone());
            if is_call {
                calls.push((name, format!("called in the arguments at {file}:{line}")));
                continue;
            }
            // The variable's last assignment in the caller before the call.
            let from = caller.start_line as usize;
            for l in (from..(*line as usize).saturating_sub(1)).rev() {
                if let Some(rhs) = lines.get(l).and_then(|t| assigned(t, &name)) {
                    for (n, c) in identifiers(&rhs) {
                        next.push(n.clone());
                        if c {
                            calls.push((
                                n,
                                format!(
                                    "makes `{name}` ({file}:{}) passed at {file}:{line}",
                                    l + 1
                                ),
                            ));
                        }
                    }
                    break;
                }
            }
        }
        for (name, detail) in calls {
            for d in index.definitions_by_name(&name).unwrap_or_default() {
                if !d.kind.is_callable() {
                    continue;
                }
                let Some(def) = graph::callable_at(index, d.path, d.start_line) else {
                    continue;
                };
                for inner in graph::callees(index, &def) {
                    add(
                        inner,
                        1.0,
                        format!("called by {}, which {detail}", def.qualified_name),
                    );
                }
                add(def, 0.8, detail.clone());
            }
        }
        tainted = next;
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_skip_strings_and_mark_calls() {
        let ids = identifiers(
            "    return {**plan, \"total\": round(total, 2), \"per\": cost(total, plan['parcels'])}",
        );
        let names: Vec<(&str, bool)> = ids.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        assert_eq!(
            names,
            [
                ("return", false),
                ("plan", false),
                ("round", true),
                ("total", false),
                ("cost", true),
                ("total", false),
                ("plan", false)
            ]
        );
    }

    #[test]
    fn the_arguments_feeding_the_failing_operand_are_picked() {
        assert_eq!(
            operands("    return round(total / parcels, 2)", "ZeroDivisionError"),
            ["parcels"]
        );
        assert_eq!(operands("    return a * b", "TypeError"), ["a", "b"]);
        let params = params("def cost_per_parcel(total, parcels):\n    pass\n", 1).expect("params");
        assert_eq!(params, ["total", "parcels"]);
        let line = "    return {**plan, \"per\": cost_per_parcel(total, plan[\"parcels\"])}";
        assert_eq!(
            feeding_args(
                line,
                "cost_per_parcel",
                Some(&params),
                &["parcels".to_string()]
            )
            .trim(),
            "plan[\"parcels\"]"
        );
        assert_eq!(
            feeding_args(
                "x = f(a, rate=g(b))",
                "f",
                Some(&["p".to_string(), "rate".to_string()]),
                &["rate".to_string()]
            ),
            "g(b)"
        );
        // A call that cannot be found: the whole line.
        assert_eq!(feeding_args("y = z", "f", None, &[]), "y = z");
    }

    #[test]
    fn assignments_are_recognised() {
        assert_eq!(
            assigned("    plan = plan_shipment(s)", "plan").as_deref(),
            Some(" plan_shipment(s)")
        );
        assert_eq!(
            assigned("    a, plan = f()", "plan").as_deref(),
            Some(" f()")
        );
        assert_eq!(
            assigned("    plan: dict = f()", "plan").as_deref(),
            Some(" f()")
        );
        assert_eq!(assigned("    if plan == 3:", "plan"), None);
        assert_eq!(assigned("    x = plan", "plan"), None);
    }
}
