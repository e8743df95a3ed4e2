//! Generated variants of the failing input for the differential check. The parts of a
//! request that vary (route parameters of the path, query, headers, JSON body, fixtures)
//! are one JSON document; a variant changes one of its leaves (type-preserving values:
//! zero, one, a longer or shorter string, a flipped boolean) or removes one key, then
//! pairs and triples of those changes until the wanted count is reached. Deterministic.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::minimize::ProbeInput;

/// One JSON path into the document.
#[derive(Debug, Clone, PartialEq)]
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
        Value::String(s) => [
            String::new(),
            "a".into(),
            "0".into(),
            "1".into(),
            "-1".into(),
            "abc".into(),
            format!("{s}x"),
            s.to_uppercase(),
            format!("{s}{s}"),
            s.chars().rev().collect(),
        ]
        .into_iter()
        .filter(|v| v != s)
        .map(Value::String)
        .collect(),
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

/// The route parameters of `path` by the route template (`/users/{id}` and `/users/7`
/// give `{"id": "7"}`), with the index of each segment.
fn path_params(route: &str, path: &str) -> Vec<(String, usize, String)> {
    let r: Vec<&str> = route.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if r.len() != p.len() {
        return Vec::new();
    }
    r.iter()
        .zip(&p)
        .enumerate()
        .filter_map(|(i, (t, v))| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_string(), i, v.to_string()))
        })
        .collect()
}

/// The varied parts of `input` as one document.
fn document(input: &ProbeInput) -> Value {
    let params: serde_json::Map<String, Value> =
        path_params(&input.request.route, &input.request.path)
            .into_iter()
            .map(|(name, _, value)| (name, Value::String(value)))
            .collect();
    json!({
        "path": params,
        "query": input.request.query,
        "headers": input.request.headers,
        "body": input.request.body,
        "fixtures": input.fixtures,
    })
}

/// `input` with its varied parts taken from `doc`; `None` when a part no longer fits its
/// type (e.g. a query value turned into a number).
fn from_document(input: &ProbeInput, doc: &Value) -> Option<ProbeInput> {
    let mut v = input.clone();
    let mut segments: Vec<String> = input.request.path.split('/').map(str::to_string).collect();
    for (name, i, _) in path_params(&input.request.route, &input.request.path) {
        // A removed parameter leaves an empty segment (`/users//card`).
        let value = doc["path"].get(&name).and_then(Value::as_str).unwrap_or("");
        segments[i] = value.to_string();
    }
    v.request.path = segments.join("/");
    v.request.query = serde_json::from_value(doc["query"].clone()).ok()?;
    v.request.headers = serde_json::from_value(doc["headers"].clone()).ok()?;
    v.request.body = match &doc["body"] {
        Value::Null => input.request.body.as_ref().map(|_| Value::Null),
        other => Some(other.clone()),
    };
    v.fixtures = match &doc["fixtures"] {
        Value::Object(map) => Some(map.clone().into_iter().collect::<BTreeMap<_, _>>()),
        _ => input.fixtures.clone(),
    };
    Some(v)
}

/// Single changes of the document, in a fixed order.
fn single_changes(doc: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    leaves(doc, &mut Vec::new(), &mut found);
    let mut out = Vec::new();
    for (path, leaf) in &found {
        // The top-level parts themselves (an absent body) are not varied.
        if path.len() < 2 {
            continue;
        }
        for alt in alternatives(leaf) {
            let mut d = doc.clone();
            set(&mut d, path, Some(alt));
            out.push(d);
        }
        let mut d = doc.clone();
        set(&mut d, path, None);
        out.push(d);
    }
    out
}

/// At least `count` variants of `input` when it has anything to vary (single changes,
/// then pairs and triples of them), without duplicates or the input itself.
pub fn variants(input: &ProbeInput, count: usize) -> Vec<ProbeInput> {
    let doc = document(input);
    let singles = single_changes(&doc);
    let mut docs: Vec<Value> = Vec::new();
    let add = |d: Value, docs: &mut Vec<Value>| {
        if d != doc && !docs.contains(&d) {
            docs.push(d);
        }
    };
    for d in &singles {
        add(d.clone(), &mut docs);
    }
    let n = singles.len();
    'pairs: for i in 0..n {
        for j in (i + 1)..n {
            if docs.len() >= count * 2 {
                break 'pairs;
            }
            let mut d = singles[i].clone();
            overlay(&doc, &singles[j], &mut d);
            add(d, &mut docs);
        }
    }
    'triples: for i in 0..n {
        for j in (i + 1)..n {
            for k in (j + 1)..n {
                if docs.len() >= count * 2 {
                    break 'triples;
                }
                let mut d = singles[i].clone();
                overlay(&doc, &singles[j], &mut d);
                overlay(&doc, &singles[k], &mut d);
                add(d, &mut docs);
            }
        }
    }
    let mut out: Vec<ProbeInput> = Vec::new();
    for d in &docs {
        if out.len() >= count {
            break;
        }
        if let Some(v) = from_document(input, d)
            && v != *input
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

/// Applies to `target` the changes that turned `orig` into `changed`: changed leaves
/// and removed keys.
fn overlay(orig: &Value, changed: &Value, target: &mut Value) {
    let mut before = Vec::new();
    leaves(orig, &mut Vec::new(), &mut before);
    let mut after = Vec::new();
    leaves(changed, &mut Vec::new(), &mut after);
    for (path, leaf) in &after {
        if !before.iter().any(|(p, l)| p == path && l == leaf) {
            set(target, path, Some(leaf.clone()));
        }
    }
    for (path, _) in &before {
        if !after.iter().any(|(p, _)| p == path) && !after.iter().any(|(p, _)| p.starts_with(path))
        {
            set(target, path, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> ProbeInput {
        serde_json::from_value(v).expect("input")
    }

    #[test]
    fn makes_at_least_the_wanted_count_of_distinct_variants() {
        let body = input(json!({
            "request": {"protocol": "http", "method": "POST", "route": "/o", "path": "/o",
                        "query": {"window": "15m"},
                        "body": {"a": {"b": 1, "c": "x"}, "items": [{"q": 2.5}], "f": true}}
        }));
        let v = variants(&body, 100);
        assert_eq!(v.len(), 100);
        assert!(!v.contains(&body));
        assert_eq!(variants(&body, 100), v, "deterministic");
        let query_only = input(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/m", "path": "/m",
                        "query": {"window": "15m", "tz": "UTC"}}
        }));
        assert_eq!(variants(&query_only, 100).len(), 100);
        let fixtures_only = input(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/r", "path": "/r"},
            "fixtures": {"db_rows": {"products": [{"sku": "A", "stock": 3, "level": null}]}}
        }));
        assert_eq!(variants(&fixtures_only, 100).len(), 100);
        let path_only = input(json!({
            "request": {"protocol": "http", "method": "GET", "route": "/users/{id}/card",
                        "path": "/users/u-999/card", "headers": {"accept": "application/json"}}
        }));
        let v = variants(&path_only, 100);
        assert_eq!(v.len(), 100);
        assert!(v.iter().any(|i| i.request.path == "/users/u-999x/card"));
        assert!(v.iter().all(|i| i.request.path.starts_with("/users/") && i.request.path.ends_with("/card")));
    }

    #[test]
    fn nothing_to_vary_gives_nothing() {
        let bare = input(
            json!({"request": {"protocol": "http", "method": "GET", "route": "/h", "path": "/h"}}),
        );
        assert!(variants(&bare, 100).is_empty());
    }
}
