//! Generated variants of the failing input for the differential check: deterministic,
//! type-preserving changes of one leaf of the JSON body or one query value (and the
//! removal of one key), then pairs and triples of them until the wanted count is reached.

use serde_json::Value;

use crate::minimize::ProbeInput;

/// One JSON path into the body.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn leaves(v: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                path.push(Step::Key(k.clone()));
                leaves(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Step::Index(i));
                leaves(child, path, out);
                path.pop();
            }
        }
        leaf => out.push((path.clone(), leaf.clone())),
    }
}

fn alternatives(v: &Value) -> Vec<Value> {
    match v {
        Value::Bool(b) => vec![Value::Bool(!b)],
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let mut out = vec![
                serde_json::json!(0),
                serde_json::json!(1),
                serde_json::json!(-1),
            ];
            if n.is_f64() {
                out.push(serde_json::json!(x * 2.0));
                out.push(serde_json::json!(x + 0.5));
            } else {
                let i = n.as_i64().unwrap_or(0);
                out.push(serde_json::json!(i.saturating_mul(2)));
                out.push(serde_json::json!(i.saturating_add(1)));
            }
            out
        }
        Value::String(s) => vec![
            Value::String(String::new()),
            Value::String("a".into()),
            Value::String(format!("{s}x")),
            Value::String(s.to_uppercase()),
        ],
        Value::Null => vec![serde_json::json!(0), Value::String(String::new())],
        _ => Vec::new(),
    }
}

fn set(root: &mut Value, path: &[Step], new: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(n) = new {
            *root = n;
        }
        return;
    };
    let mut cur = root;
    for step in parents {
        cur = match (step, cur) {
            (Step::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(c) => c,
                None => return,
            },
            (Step::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(c) => c,
                None => return,
            },
            _ => return,
        };
    }
    match (last, cur, new) {
        (Step::Key(k), Value::Object(m), Some(n)) => {
            m.insert(k.clone(), n);
        }
        (Step::Key(k), Value::Object(m), None) => {
            m.remove(k);
        }
        (Step::Index(i), Value::Array(a), Some(n)) if *i < a.len() => a[*i] = n,
        (Step::Index(i), Value::Array(a), None) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

/// Single changes of `input`, in a fixed order.
fn single_changes(input: &ProbeInput) -> Vec<ProbeInput> {
    let mut out = Vec::new();
    if let Some(body) = &input.request.body {
        let mut found = Vec::new();
        leaves(body, &mut Vec::new(), &mut found);
        for (path, leaf) in &found {
            for alt in alternatives(leaf) {
                let mut v = input.clone();
                if let Some(b) = v.request.body.as_mut() {
                    set(b, path, Some(alt));
                }
                out.push(v);
            }
            if !path.is_empty() {
                let mut v = input.clone();
                if let Some(b) = v.request.body.as_mut() {
                    set(b, path, None);
                }
                out.push(v);
            }
        }
    }
    if let Some(fixtures) = &input.fixtures {
        let root = Value::Object(fixtures.clone().into_iter().collect());
        let mut found = Vec::new();
        leaves(&root, &mut Vec::new(), &mut found);
        for (path, leaf) in &found {
            let mut changes: Vec<Option<Value>> =
                alternatives(leaf).into_iter().map(Some).collect();
            changes.push(None);
            for change in changes {
                let mut changed = root.clone();
                set(&mut changed, path, change);
                if let Value::Object(map) = changed {
                    let mut v = input.clone();
                    v.fixtures = Some(map.into_iter().collect());
                    out.push(v);
                }
            }
        }
    }
    for (key, value) in &input.request.query {
        let original = match value {
            envelope::QueryValue::One(s) => s.clone(),
            envelope::QueryValue::Many(m) => m.first().cloned().unwrap_or_default(),
        };
        let derived = [
            format!("{original}x"),
            original.to_uppercase(),
            format!("{original}{original}"),
            original.chars().rev().collect(),
        ];
        let fixed = ["", "0", "1", "-1", "1.5", "abc", "%20"].map(String::from);
        for alt in fixed.into_iter().chain(derived) {
            let mut v = input.clone();
            v.request
                .query
                .insert(key.clone(), envelope::QueryValue::One(alt));
            out.push(v);
        }
        let mut v = input.clone();
        v.request.query.remove(key);
        out.push(v);
    }
    out
}

/// At least `count` variants of `input` when it has anything to vary (single changes,
/// then pairs and triples of them), without duplicates or the input itself.
pub fn variants(input: &ProbeInput, count: usize) -> Vec<ProbeInput> {
    let singles = single_changes(input);
    let mut out: Vec<ProbeInput> = Vec::new();
    let push = |v: ProbeInput, out: &mut Vec<ProbeInput>| {
        if v != *input && !out.contains(&v) {
            out.push(v);
        }
    };
    for v in &singles {
        if out.len() >= count {
            return out;
        }
        push(v.clone(), &mut out);
    }
    // Pairs: apply the j-th single change's difference on top of the i-th by replaying
    // both on the input (changes touch different leaves, so order does not matter).
    let n = singles.len();
    'outer: for i in 0..n {
        for j in (i + 1)..n {
            if out.len() >= count {
                break 'outer;
            }
            if let Some(v) = combine(input, &singles[i], &singles[j]) {
                push(v, &mut out);
            }
        }
    }
    // Small inputs: triples.
    'triples: for i in 0..n {
        for j in (i + 1)..n {
            for k in (j + 1)..n {
                if out.len() >= count {
                    break 'triples;
                }
                if let Some(v) = combine(input, &singles[i], &singles[j])
                    .and_then(|ij| combine(input, &ij, &singles[k]))
                {
                    push(v, &mut out);
                }
            }
        }
    }
    out
}

/// `a` with the change `b` made to `input` applied on top (body leaves and query).
fn combine(input: &ProbeInput, a: &ProbeInput, b: &ProbeInput) -> Option<ProbeInput> {
    let mut v = a.clone();
    if b.request.query != input.request.query {
        for (k, val) in &b.request.query {
            if input.request.query.get(k) != Some(val) {
                v.request.query.insert(k.clone(), val.clone());
            }
        }
        for k in input.request.query.keys() {
            if !b.request.query.contains_key(k) {
                v.request.query.remove(k);
            }
        }
    }
    if let (Some(orig), Some(changed), Some(body)) = (
        &input.request.body,
        &b.request.body,
        v.request.body.as_mut(),
    ) {
        overlay(orig, changed, body);
    }
    if let (Some(orig), Some(changed)) = (&input.fixtures, &b.fixtures)
        && orig != changed
    {
        {
            let orig = Value::Object(orig.clone().into_iter().collect());
            let changed = Value::Object(changed.clone().into_iter().collect());
            let mut target =
                Value::Object(v.fixtures.clone().unwrap_or_default().into_iter().collect());
            overlay(&orig, &changed, &mut target);
            if let Value::Object(map) = target {
                v.fixtures = Some(map.into_iter().collect());
            }
        }
    }
    (v != *a).then_some(v)
}

/// Applies to `target` the leaf changes that turned `orig` into `changed`.
fn overlay(orig: &Value, changed: &Value, target: &mut Value) {
    let mut before = Vec::new();
    leaves(orig, &mut Vec::new(), &mut before);
    let mut after = Vec::new();
    leaves(changed, &mut Vec::new(), &mut after);
    for (path, leaf) in &after {
        let same = before
            .iter()
            .any(|(p, l)| format!("{p:?}") == format!("{path:?}") && l == leaf);
        if !same {
            set(target, path, Some(leaf.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn makes_at_least_the_wanted_count_of_distinct_variants() {
        let input: ProbeInput = serde_json::from_value(json!({
            "request": {"protocol": "http", "method": "POST", "route": "/o", "path": "/o",
                        "query": {"window": "15m"},
                        "body": {"a": {"b": 1, "c": "x"}, "items": [{"q": 2.5}], "f": true}}
        }))
        .expect("input");
        let v = variants(&input, 100);
        assert!(v.len() >= 100, "{}", v.len());
        assert!(!v.contains(&input));
        let query_only: ProbeInput = serde_json::from_value(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/m", "path": "/m",
                        "query": {"window": "15m", "tz": "UTC"}}
        }))
        .expect("input");
        let v = variants(&query_only, 100);
        let fixtures_only: ProbeInput = serde_json::from_value(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/r", "path": "/r"},
            "fixtures": {"db_rows": {"products": [{"sku": "A", "stock": 3, "level": null}]}}
        }))
        .expect("input");
        assert!(variants(&fixtures_only, 100).len() >= 100);
        assert!(v.len() >= 100, "{}", v.len());
        assert_eq!(variants(&query_only, 100), v, "deterministic");
    }
}
