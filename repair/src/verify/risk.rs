//! The risk score of a verified fix: how much it changes, how many call sites reach the
//! changed definitions, and how much of the change the tests exercise. Higher is riskier;
//! each part is shown with what it rests on.

use super::result::{Risk, RiskPart};
use crate::patch::source::{PySource, collect};

const W_LINES: f64 = 0.4;
const W_CALLERS: f64 = 0.4;
const W_COVERAGE: f64 = 0.2;

/// Names of the functions whose text differs between `old` and `new`.
pub fn changed_definitions(old: &str, new: &str) -> Vec<String> {
    let (Ok(a), Ok(b)) = (PySource::parse(old, "old"), PySource::parse(new, "new")) else {
        return Vec::new();
    };
    let defs = |s: &PySource| {
        s.nodes_of(s.root(), "function_definition")
            .into_iter()
            .filter_map(|f| {
                let name = s.node_text(f.child_by_field_name("name")?).to_string();
                Some((name, s.node_text(f).to_string()))
            })
            .collect::<Vec<_>>()
    };
    let before = defs(&a);
    defs(&b)
        .into_iter()
        .filter(|(name, text)| !before.iter().any(|(n, t)| n == name && t == text))
        .map(|(name, _)| name)
        .collect()
}

/// Call sites of any of `names` in `sources` (path, text).
pub fn call_sites(names: &[String], sources: &[(String, String)]) -> usize {
    let mut count = 0;
    for (path, text) in sources {
        let Ok(src) = PySource::parse(text, path) else {
            continue;
        };
        collect(src.root(), &mut |n| {
            if n.kind() == "call"
                && let Some(f) = n.child_by_field_name("function")
            {
                let callee = src.node_text(f);
                let last = callee.rsplit('.').next().unwrap_or(callee);
                if names.iter().any(|name| name == last) {
                    count += 1;
                }
            }
        });
    }
    count
}

/// The score from its measures; `coverage` is the fraction of changed lines the tests
/// ran, when measured.
pub fn score(
    lines_changed: u32,
    definitions: &[String],
    callers: usize,
    coverage: Option<f64>,
) -> Risk {
    let lines = RiskPart {
        name: "lines_changed".into(),
        value: Some(lines_changed as f64),
        contribution: W_LINES * (lines_changed as f64 / 30.0).min(1.0),
        weight: W_LINES,
        detail: format!("{lines_changed} lines added or removed (30 or more is the maximum risk)"),
    };
    let callers_part = RiskPart {
        name: "callers".into(),
        value: Some(callers as f64),
        contribution: W_CALLERS * (callers as f64 / 10.0).min(1.0),
        weight: W_CALLERS,
        detail: format!(
            "{callers} call sites of the changed definitions ({}) in the repository",
            definitions.join(", ")
        ),
    };
    let coverage_part = match coverage {
        Some(c) => RiskPart {
            name: "coverage".into(),
            value: Some(c),
            contribution: W_COVERAGE * (1.0 - c.clamp(0.0, 1.0)),
            weight: W_COVERAGE,
            detail: format!(
                "{:.0}% of the lines the fix adds run by the regression test and the repository's tests",
                c * 100.0
            ),
        },
        None => RiskPart {
            name: "coverage".into(),
            value: None,
            contribution: W_COVERAGE,
            weight: W_COVERAGE,
            detail: "not measured (the tracer gave no result); counted as uncovered".into(),
        },
    };
    let parts = vec![lines, callers_part, coverage_part];
    Risk {
        score: parts.iter().map(|p| p.contribution).sum(),
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_definitions_and_their_callers() {
        let old = "def a(x):\n    return x\n\n\ndef b():\n    return a(1)\n";
        let new = "def a(x):\n    return x or 0\n\n\ndef b():\n    return a(1)\n";
        let defs = changed_definitions(old, new);
        assert_eq!(defs, vec!["a".to_string()]);
        let sources = vec![
            ("m.py".to_string(), new.to_string()),
            ("n.py".to_string(), "import m\nm.a(2)\n".to_string()),
        ];
        assert_eq!(call_sites(&defs, &sources), 2);
        let r = score(3, &defs, 2, None);
        assert!(
            (r.score - (0.4 * 0.1 + 0.4 * 0.2 + 0.2)).abs() < 1e-9,
            "{r:?}"
        );
        assert_eq!(r.parts.len(), 3);
    }
}
