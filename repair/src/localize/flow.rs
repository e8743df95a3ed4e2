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

/// The producers for a traceback's in-app frames (innermost first) given each frame's
/// file text.
pub fn producers(
    index: &Index<'_>,
    frames: &[(String, u32)],
    sources: &BTreeMap<String, String>,
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
    for k in 1..frames.len() {
        let (file, line) = &frames[k];
        let Some(text) = sources.get(file) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let Some(call_line) = lines.get((*line as usize).saturating_sub(1)) else {
            continue;
        };
        let Some(caller) = graph::callable_at(index, file, *line) else {
            continue;
        };
        let callee_name = graph::callable_at(index, &frames[k - 1].0, frames[k - 1].1)
            .map(|d| {
                d.qualified_name
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let mut calls: Vec<(String, String)> = Vec::new();
        for (name, is_call) in identifiers(call_line) {
            if KEYWORDS.contains(&name.as_str()) || name == callee_name {
                continue;
            }
            if is_call {
                calls.push((name, format!("called in the arguments at {file}:{line}")));
                continue;
            }
            // The variable's last assignment in the caller before the call.
            let from = caller.start_line as usize;
            for l in (from..(*line as usize).saturating_sub(1)).rev() {
                if let Some(rhs) = lines.get(l).and_then(|t| assigned(t, &name)) {
                    for (n, c) in identifiers(&rhs) {
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
