//! The reducible part of a probe input as one JSON tree — `{"body", "query", "headers",
//! "fixtures", "flags"}` — and the edits delta debugging makes on it: removing children
//! of an object or array, and replacing a leaf with a smaller value of the same type. A
//! feature flag removed is a flag the service does not see set; `true -> false` turns
//! it off.

use std::collections::BTreeMap;
use std::fmt;

use envelope::QueryValue;
use serde_json::{Map, Value, json};

use super::ProbeInput;

/// One step into a tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// An object's key.
    Key(String),
    /// An array's index.
    Index(usize),
}

/// A node's place in the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<Seg>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(input)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl Path {
    /// The path one step further.
    pub fn child(&self, seg: Seg) -> Path {
        let mut v = self.0.clone();
        v.push(seg);
        Path(v)
    }
}

/// The tree of `input`'s reducible parts (method and path are kept as they are).
pub fn to_tree(input: &ProbeInput) -> Value {
    let mut root = Map::new();
    if let Some(body) = &input.request.body {
        root.insert("body".into(), body.clone());
    }
    if !input.request.query.is_empty() {
        let q: Map<String, Value> = input
            .request
            .query
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    QueryValue::One(s) => json!(s),
                    QueryValue::Many(list) => json!(list),
                };
                (k.clone(), v)
            })
            .collect();
        root.insert("query".into(), Value::Object(q));
    }
    if !input.request.headers.is_empty() {
        root.insert("headers".into(), json!(input.request.headers));
    }
    if let Some(fixtures) = &input.fixtures {
        root.insert("fixtures".into(), json!(fixtures));
    }
    if !input.feature_flags.is_empty() {
        root.insert("flags".into(), json!(input.feature_flags));
    }
    Value::Object(root)
}

/// `base` with its reducible parts taken from `tree`.
pub fn from_tree(base: &ProbeInput, tree: &Value) -> ProbeInput {
    let mut out = base.clone();
    let get = |k: &str| tree.get(k);
    out.request.body = get("body").cloned();
    out.request.query = match get("query") {
        Some(Value::Object(q)) => q
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Array(list) => QueryValue::Many(list.iter().map(scalar_text).collect()),
                    other => QueryValue::One(scalar_text(other)),
                };
                (k.clone(), v)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    out.request.headers = match get("headers") {
        Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect(),
        _ => BTreeMap::new(),
    };
    out.fixtures = match get("fixtures") {
        Some(Value::Object(f)) => Some(f.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        _ => None,
    };
    out.feature_flags = match get("flags") {
        Some(Value::Object(f)) => f.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => BTreeMap::new(),
    };
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The node at `path`.
pub fn get<'a>(root: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut v = root;
    for seg in &path.0 {
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn get_mut<'a>(root: &'a mut Value, path: &Path) -> Option<&'a mut Value> {
    let mut v = root;
    for seg in &path.0 {
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The children of the node at `path` (none for a leaf).
pub fn children(root: &Value, path: &Path) -> Vec<Seg> {
    match get(root, path) {
        Some(Value::Object(m)) => m.keys().map(|k| Seg::Key(k.clone())).collect(),
        Some(Value::Array(a)) => (0..a.len()).map(Seg::Index).collect(),
        _ => Vec::new(),
    }
}

/// `root` with the children `remove` of the node at `path` removed.
pub fn without(root: &Value, path: &Path, remove: &[Seg]) -> Value {
    let mut out = root.clone();
    if let Some(node) = get_mut(&mut out, path) {
        match node {
            Value::Object(m) => {
                for seg in remove {
                    if let Seg::Key(k) = seg {
                        m.remove(k);
                    }
                }
            }
            Value::Array(a) => {
                let mut idx: Vec<usize> = remove
                    .iter()
                    .filter_map(|s| match s {
                        Seg::Index(i) => Some(*i),
                        Seg::Key(_) => None,
                    })
                    .collect();
                idx.sort_unstable_by(|a, b| b.cmp(a));
                idx.dedup();
                for i in idx {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `root` with the node at `path` replaced by `value`.
pub fn with_value(root: &Value, path: &Path, value: Value) -> Value {
    let mut out = root.clone();
    if let Some(node) = get_mut(&mut out, path) {
        *node = value;
    }
    out
}

/// A smaller value of the same type: 0 for a non-zero number, "" for a non-empty
/// string, false for true; `None` when the leaf is as small as it gets.
pub fn simpler(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) if n.as_f64() != Some(0.0) => {
            Some(if n.is_f64() { json!(0.0) } else { json!(0) })
        }
        Value::String(s) if !s.is_empty() => Some(json!("")),
        Value::Bool(true) => Some(json!(false)),
        _ => None,
    }
}

/// Paths of every leaf (scalar), depth first.
pub fn leaves(root: &Value) -> Vec<Path> {
    fn walk(v: &Value, at: Path, out: &mut Vec<Path>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    walk(c, at.child(Seg::Key(k.clone())), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    walk(c, at.child(Seg::Index(i)), out);
                }
            }
            _ => out.push(at),
        }
    }
    let mut out = Vec::new();
    walk(root, Path::default(), &mut out);
    out
}

/// Paths of every object and array, the root first, breadth first.
pub fn containers(root: &Value) -> Vec<Path> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([Path::default()]);
    while let Some(p) = queue.pop_front() {
        if matches!(get(root, &p), Some(Value::Object(_) | Value::Array(_))) {
            for seg in children(root, &p) {
                queue.push_back(p.child(seg));
            }
            out.push(p);
        }
    }
    out
}

/// Leaves of an input: JSON scalars of the body and fixtures, query values, headers,
/// feature flags.
pub fn leaf_count(input: &ProbeInput) -> u32 {
    leaves(&to_tree(input)).len() as u32
}

/// Bytes of an input's canonical JSON.
pub fn byte_count(input: &ProbeInput) -> u64 {
    serde_json::to_vec(input)
        .map(|v| v.len() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: Value) -> ProbeInput {
        ProbeInput {
            request: envelope::Inputs {
                protocol: "http".into(),
                method: "POST".into(),
                route: "/x".into(),
                path: "/x".into(),
                headers: BTreeMap::from([("x-a".into(), "1".into())]),
                query: BTreeMap::from([
                    ("q".into(), QueryValue::One("a".into())),
                    ("m".into(), QueryValue::Many(vec!["1".into(), "2".into()])),
                ]),
                body: Some(body),
            },
            fixtures: Some(BTreeMap::from([("rows".into(), json!([{"n": null}]))])),
            feature_flags: BTreeMap::new(),
        }
    }

    #[test]
    fn tree_round_trips_and_counts_leaves() {
        let i = input(json!({"a": [1, {"b": "x"}], "c": true}));
        let t = to_tree(&i);
        assert_eq!(from_tree(&i, &t), i);
        // body: 1, "x", true; query: a, 1, 2; header: 1; fixtures: null.
        assert_eq!(leaf_count(&i), 8);
        let p = Path(vec![
            Seg::Key("body".into()),
            Seg::Key("a".into()),
            Seg::Index(1),
        ]);
        assert_eq!(p.to_string(), "body.a[1]");
    }

    #[test]
    fn removal_and_simplification_keep_types() {
        let t = json!({"body": {"a": [1, 2, 3], "s": "abc", "f": 2.5, "z": 0}});
        let arr = Path(vec![Seg::Key("body".into()), Seg::Key("a".into())]);
        let t2 = without(&t, &arr, &[Seg::Index(0), Seg::Index(2)]);
        assert_eq!(t2["body"]["a"], json!([2]));
        assert_eq!(simpler(&json!("abc")), Some(json!("")));
        assert_eq!(simpler(&json!(2.5)), Some(json!(0.0)));
        assert_eq!(simpler(&json!(7)), Some(json!(0)));
        assert_eq!(simpler(&json!(0)), None);
        assert_eq!(simpler(&json!(true)), Some(json!(false)));
        assert_eq!(simpler(&Value::Null), None);
        let s = with_value(
            &t,
            &Path(vec![Seg::Key("body".into()), Seg::Key("s".into())]),
            json!(""),
        );
        assert_eq!(s["body"]["s"], "");
        assert_eq!(containers(&t).len(), 3);
    }

    #[test]
    fn dropping_a_part_empties_it_in_the_request() {
        let i = input(json!({"a": 1}));
        let t = without(
            &to_tree(&i),
            &Path::default(),
            &[Seg::Key("body".into()), Seg::Key("fixtures".into())],
        );
        let back = from_tree(&i, &t);
        assert_eq!(back.request.body, None);
        assert_eq!(back.fixtures, None);
        assert_eq!(back.request.query.len(), 2);
    }

    #[test]
    fn feature_flags_are_reduced_like_the_rest() {
        let mut i = input(json!({"a": 1}));
        i.feature_flags = BTreeMap::from([
            ("tiered_pricing".into(), json!(true)),
            ("new_checkout".into(), json!(false)),
        ]);
        let t = to_tree(&i);
        assert_eq!(from_tree(&i, &t), i);
        assert_eq!(leaf_count(&i), 8);
        let flags = Path(vec![Seg::Key("flags".into())]);
        let t2 = without(&t, &flags, &[Seg::Key("new_checkout".into())]);
        let back = from_tree(&i, &t2);
        assert_eq!(
            back.feature_flags,
            BTreeMap::from([("tiered_pricing".into(), json!(true))])
        );
        let off = with_value(
            &t2,
            &flags.child(Seg::Key("tiered_pricing".into())),
            json!(false),
        );
        assert_eq!(
            from_tree(&i, &off).feature_flags["tiered_pricing"],
            json!(false)
        );
        // Every flag removed: the service sees none set.
        let none = without(&t, &Path::default(), &[Seg::Key("flags".into())]);
        assert!(from_tree(&i, &none).feature_flags.is_empty());
    }
}
