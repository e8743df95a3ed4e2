//! `inputs` and `symptom.status_code` from the request span's attributes:
//! the semantic conventions' HTTP server attributes (current names, then the
//! older ones), the capture package's body attributes.

use serde_json::{Map, Value};

use crate::config::Config;
use crate::message::cut_chars;
use crate::model::{Attr, Span, get, text};
use crate::outcome::{Note, Notes, Skip};

/// Methods the envelope takes (the schema's enum).
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Headers never carried, whatever the service sent.
const CREDENTIALS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];
const HEADER_PREFIX: &str = "http.request.header.";
/// The schema's limits.
const MAX_PATH_CHARS: usize = 2048;
const MAX_HEADERS: usize = 64;
const MAX_QUERY_KEYS: usize = 128;
const MAX_QUERY_VALUES: usize = 64;
const MAX_VALUE_CHARS: usize = 4096;

/// The request's inputs and the status the service answered.
#[derive(Debug)]
pub(crate) struct Request {
    /// The `inputs` object.
    pub(crate) inputs: Map<String, Value>,
    /// The route (for the fingerprint).
    pub(crate) route: String,
    /// The method (for the fingerprint).
    pub(crate) method: String,
    /// `symptom.status_code`, when known and in range.
    pub(crate) status_code: Option<i64>,
}

/// Reads the request from its span. A missing or unusable method or path is
/// a [`Skip`] with what to set.
pub(crate) fn read(
    span: &Span<'_>,
    config: &Config,
    notes: &mut Notes,
) -> Result<Request, (Skip, String)> {
    let a = &span.attrs;
    let method = text(a, "http.request.method")
        .or_else(|| text(a, "http.method"))
        .ok_or_else(|| {
            (
                Skip::NoMethod,
                "the request span has no `http.request.method`".to_owned(),
            )
        })?
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err((
            Skip::NoMethod,
            format!(
                "method {method:?} is not one the envelope replays ({})",
                METHODS.join(", ")
            ),
        ));
    }
    let (path, query) = path_and_query(span).ok_or_else(|| {
        (
            Skip::NoPath,
            "the request span has no `url.path` (nor `http.target`, `url.full`, `http.url`)"
                .to_owned(),
        )
    })?;
    if !valid_path(&path) {
        return Err((
            Skip::NoPath,
            format!(
                "`url.path` must start with `/`, hold no `?`, `#` or white space and be at most {MAX_PATH_CHARS} characters"
            ),
        ));
    }
    let route = match text(a, "http.route") {
        Some(r) if r.starts_with('/') => cut_chars(r, MAX_PATH_CHARS).to_owned(),
        Some(r) => format!("/{}", cut_chars(r, MAX_PATH_CHARS - 1)),
        None => path.clone(),
    };
    let mut inputs = Map::new();
    inputs.insert("protocol".into(), "http".into());
    inputs.insert("method".into(), method.clone().into());
    inputs.insert("route".into(), route.clone().into());
    inputs.insert("path".into(), path.into());
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let parsed = parse_query(&q, notes);
        if !parsed.is_empty() {
            inputs.insert("query".into(), Value::Object(parsed));
        }
    }
    let headers = headers(span, notes);
    let content_type = headers
        .get("content-type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if !headers.is_empty() {
        inputs.insert("headers".into(), Value::Object(headers));
    }
    if let Some(body) = body(span, config, content_type.as_deref(), notes) {
        inputs.insert("body".into(), body);
    }
    let status_code = get(a, "http.response.status_code")
        .or_else(|| get(a, "http.status_code"))
        .and_then(Attr::as_int)
        .filter(|c| (100..=599).contains(c));
    Ok(Request {
        inputs,
        route,
        method,
        status_code,
    })
}

/// The path and raw query, from `url.path`/`url.query`, else `http.target`,
/// else `url.full`/`http.url`.
fn path_and_query(span: &Span<'_>) -> Option<(String, Option<String>)> {
    let a = &span.attrs;
    if let Some(path) = text(a, "url.path") {
        let query = text(a, "url.query").map(|q| q.trim_start_matches('?').to_owned());
        return Some((path.to_owned(), query));
    }
    if let Some(target) = text(a, "http.target") {
        return Some(split_target(target));
    }
    let full = text(a, "url.full").or_else(|| text(a, "http.url"))?;
    // `scheme://authority/path?query#fragment`: the path starts at the
    // first `/` after the authority (none: the root).
    let rest = full.split_once("://").map_or(full, |(_, r)| r);
    let target = rest.find('/').map_or("/", |i| &rest[i..]);
    Some(split_target(target))
}

fn split_target(target: &str) -> (String, Option<String>) {
    let target = target.split('#').next().unwrap_or(target);
    match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    }
}

fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path.chars().count() <= MAX_PATH_CHARS
        && !path
            .chars()
            .any(|c| c == '?' || c == '#' || c.is_whitespace())
}

/// `application/x-www-form-urlencoded` parsing: `+` is a space, `%XX` a
/// byte, a malformed escape stays as written; a repeated key becomes an
/// array in order.
pub(crate) fn parse_query(query: &str, notes: &mut Notes) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = form_decode(k);
        let mut value = form_decode(v);
        if value.chars().count() > MAX_VALUE_CHARS {
            value = cut_chars(&value, MAX_VALUE_CHARS).to_owned();
            notes.insert(Note::QueryCapped);
        }
        let full = out.len() >= MAX_QUERY_KEYS;
        match out.get_mut(&key) {
            None if full => {
                notes.insert(Note::QueryCapped);
            }
            None => {
                out.insert(key, Value::String(value));
            }
            Some(Value::Array(values)) if values.len() >= MAX_QUERY_VALUES => {
                notes.insert(Note::QueryCapped);
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => {
                let previous = first.take();
                *first = Value::Array(vec![previous, Value::String(value)]);
            }
        }
    }
    out
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `http.request.header.<name>` attributes, credentials left out. Python's
/// instrumentations write `content_type` for `content-type`: `_` is read as
/// `-`.
fn headers(span: &Span<'_>, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in &span.attrs {
        let Some(name) = key.strip_prefix(HEADER_PREFIX) else {
            continue;
        };
        let name = name.to_ascii_lowercase().replace('_', "-");
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid || CREDENTIALS.contains(&name.as_str()) || out.contains_key(&name) {
            continue;
        }
        let Some(mut joined) = header_value(value) else {
            continue;
        };
        if out.len() >= MAX_HEADERS {
            notes.insert(Note::HeadersCapped);
            continue;
        }
        if joined.chars().count() > MAX_VALUE_CHARS {
            joined = cut_chars(&joined, MAX_VALUE_CHARS).to_owned();
            notes.insert(Note::HeadersCapped);
        }
        out.insert(name, Value::String(joined));
    }
    out
}

/// A header's values joined with `, ` (a plain string or number is one value).
fn header_value(value: &Attr<'_>) -> Option<String> {
    let one = |v: &Attr<'_>| match v {
        Attr::Str(s) => Some((*s).to_owned()),
        Attr::Int(i) => Some(i.to_string()),
        Attr::Double(d) => Some(d.to_string()),
        Attr::Bool(b) => Some(b.to_string()),
        Attr::List(_) | Attr::Other => None,
    };
    match value {
        Attr::List(items) => {
            let parts: Vec<String> = items.iter().filter_map(one).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        v => one(v),
    }
}

/// `inputs.body` (docs/envelopes.md): the parsed JSON when the content type
/// is JSON, the encoding UTF-8, the body whole and valid JSON; otherwise the
/// text (or base64 text) as one JSON string.
fn body(
    span: &Span<'_>,
    config: &Config,
    content_type: Option<&str>,
    notes: &mut Notes,
) -> Option<Value> {
    let a = &span.attrs;
    let name = config.body_attribute.as_str();
    let raw = get(a, name).and_then(Attr::as_str)?;
    let encoding = text(a, &format!("{name}.encoding")).unwrap_or("utf-8");
    let truncated = get(a, &format!("{name}.truncated"))
        .and_then(Attr::as_bool)
        .unwrap_or(false);
    let json_type = content_type.is_some_and(is_json_media_type);
    if raw.len() > config.max_body_bytes {
        let mut end = config.max_body_bytes;
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        notes.insert(Note::BodyCapped);
        notes.insert(Note::BodyText);
        return Some(Value::String(raw[..end].to_owned()));
    }
    if raw.is_empty() {
        return None; // An empty body is no body.
    }
    let whole_json = json_type && encoding.eq_ignore_ascii_case("utf-8") && !truncated;
    if let Some(parsed) = whole_json
        .then(|| serde_json::from_str::<Value>(raw).ok())
        .flatten()
    {
        return Some(parsed);
    }
    notes.insert(Note::BodyText);
    Some(Value::String(raw.to_owned()))
}

/// `application/json` or any `+json` type, parameters ignored.
fn is_json_media_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attrs: Vec<(&'static str, Attr<'static>)>) -> Span<'static> {
        Span {
            attrs,
            ..Span::default()
        }
    }

    fn read_ok(attrs: Vec<(&'static str, Attr<'static>)>) -> (Request, Notes) {
        let mut notes = Notes::new();
        match read(&span(attrs), &Config::default(), &mut notes) {
            Ok(r) => (r, notes),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn skip(attrs: Vec<(&'static str, Attr<'static>)>) -> (Skip, String) {
        match read(&span(attrs), &Config::default(), &mut Notes::new()) {
            Ok(r) => panic!("expected a skip, got {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn query_is_form_decoded_and_repeats_become_arrays() {
        let mut notes = Notes::new();
        let q = parse_query("a=1&b=x+y&a=2&c=%41%zz&&d&a=3&e=%E2%82%AC", &mut notes);
        assert_eq!(
            Value::Object(q),
            serde_json::json!({"a": ["1", "2", "3"], "b": "x y", "c": "A%zz", "d": "", "e": "€"})
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn query_limits_are_noted() {
        let many: Vec<String> = (0..200).map(|i| format!("k{i}=v")).collect();
        let mut notes = Notes::new();
        let q = parse_query(&many.join("&"), &mut notes);
        assert_eq!(q.len(), MAX_QUERY_KEYS);
        assert!(notes.contains(&Note::QueryCapped));
    }

    #[test]
    fn semantic_convention_attributes_alone() {
        let (r, notes) = read_ok(vec![
            ("http.request.method", Attr::Str("get")),
            ("url.path", Attr::Str("/orders/17")),
            ("url.query", Attr::Str("verbose=1")),
            ("http.route", Attr::Str("/orders/{id}")),
            ("http.response.status_code", Attr::Int(500)),
            (
                "http.request.header.accept",
                Attr::List(vec![Attr::Str("text/html"), Attr::Str("application/json")]),
            ),
            ("http.request.header.x_request_id", Attr::Str("r-1")),
            (
                "http.request.header.authorization",
                Attr::List(vec![Attr::Str("Bearer s3cr3t")]),
            ),
            ("http.request.header.Cookie", Attr::Str("sid=1")),
        ]);
        assert_eq!(
            Value::Object(r.inputs),
            serde_json::json!({
                "protocol": "http", "method": "GET", "route": "/orders/{id}",
                "path": "/orders/17", "query": {"verbose": "1"},
                "headers": {"accept": "text/html, application/json", "x-request-id": "r-1"},
            })
        );
        assert_eq!(r.status_code, Some(500));
        assert!(notes.is_empty());
    }

    #[test]
    fn older_conventions() {
        let (r, _) = read_ok(vec![
            ("http.method", Attr::Str("POST")),
            ("http.target", Attr::Str("/a/b?x=1&x=2#frag")),
            ("http.status_code", Attr::Str("503")),
        ]);
        assert_eq!(r.inputs["path"], "/a/b");
        assert_eq!(r.inputs["route"], "/a/b");
        assert_eq!(r.inputs["query"], serde_json::json!({"x": ["1", "2"]}));
        assert_eq!(r.status_code, Some(503));
        let (r, _) = read_ok(vec![
            ("http.method", Attr::Str("DELETE")),
            ("http.url", Attr::Str("https://shop.example:8443/c/d?y=%20")),
        ]);
        assert_eq!(r.inputs["path"], "/c/d");
        assert_eq!(r.inputs["query"], serde_json::json!({"y": " "}));
        let (r, _) = read_ok(vec![
            ("http.method", Attr::Str("GET")),
            ("url.full", Attr::Str("http://h")),
            ("http.route", Attr::Str("items")),
        ]);
        assert_eq!(
            (r.inputs["path"].as_str(), r.route.as_str()),
            (Some("/"), "/items")
        );
    }

    #[test]
    fn unusable_requests_are_skipped_with_what_to_set() {
        let (s, d) = skip(vec![("url.path", Attr::Str("/x"))]);
        assert_eq!(s, Skip::NoMethod);
        assert!(d.contains("http.request.method"), "{d}");
        let (s, d) = skip(vec![
            ("http.request.method", Attr::Str("_OTHER")),
            ("url.path", Attr::Str("/x")),
        ]);
        assert_eq!(s, Skip::NoMethod);
        assert!(d.contains("_OTHER"), "{d}");
        let (s, d) = skip(vec![("http.request.method", Attr::Str("GET"))]);
        assert_eq!(s, Skip::NoPath);
        assert!(d.contains("url.path"), "{d}");
        let (s, _) = skip(vec![
            ("http.request.method", Attr::Str("GET")),
            ("url.path", Attr::Str("no-slash")),
        ]);
        assert_eq!(s, Skip::NoPath);
        let (s, _) = skip(vec![
            ("http.request.method", Attr::Str("GET")),
            ("url.path", Attr::Str("/a b")),
        ]);
        assert_eq!(s, Skip::NoPath);
    }

    fn with_body(extra: Vec<(&'static str, Attr<'static>)>) -> (Option<Value>, Notes) {
        let mut attrs = vec![
            ("http.request.method", Attr::Str("POST")),
            ("url.path", Attr::Str("/orders")),
        ];
        attrs.extend(extra);
        let (r, notes) = read_ok(attrs);
        (r.inputs.get("body").cloned(), notes)
    }

    #[test]
    fn bodies() {
        let json_type = (
            "http.request.header.content-type",
            Attr::List(vec![Attr::Str("application/json; charset=utf-8")]),
        );
        let (b, n) = with_body(vec![
            json_type.clone(),
            ("tracemend.http.request.body", Attr::Str(r#"{"a":[1,2]}"#)),
        ]);
        assert_eq!(b, Some(serde_json::json!({"a": [1, 2]})));
        assert!(n.is_empty());
        // Problem+json is JSON too.
        let (b, _) = with_body(vec![
            (
                "http.request.header.content-type",
                Attr::Str("application/problem+json"),
            ),
            ("tracemend.http.request.body", Attr::Str("[true]")),
        ]);
        assert_eq!(b, Some(serde_json::json!([true])));
        // Truncated JSON stays text.
        let (b, n) = with_body(vec![
            json_type.clone(),
            ("tracemend.http.request.body", Attr::Str(r#"{"a":"#)),
            ("tracemend.http.request.body.truncated", Attr::Bool(true)),
        ]);
        assert_eq!(b, Some(Value::String(r#"{"a":"#.into())));
        assert!(n.contains(&Note::BodyText));
        // Not JSON despite the type; form data; base64 binary.
        let (b, _) = with_body(vec![
            json_type.clone(),
            ("tracemend.http.request.body", Attr::Str("nope")),
        ]);
        assert_eq!(b, Some(Value::String("nope".into())));
        let (b, _) = with_body(vec![("tracemend.http.request.body", Attr::Str("a=1&b=2"))]);
        assert_eq!(b, Some(Value::String("a=1&b=2".into())));
        let (b, _) = with_body(vec![
            json_type.clone(),
            ("tracemend.http.request.body", Attr::Str("AAEC/w==")),
            ("tracemend.http.request.body.encoding", Attr::Str("base64")),
        ]);
        assert_eq!(b, Some(Value::String("AAEC/w==".into())));
        // No body attribute, or an empty one: no body.
        let (b, _) = with_body(vec![json_type.clone()]);
        assert_eq!(b, None);
        let (b, _) = with_body(vec![
            json_type,
            ("tracemend.http.request.body", Attr::Str("")),
        ]);
        assert_eq!(b, None);
    }

    #[test]
    fn huge_bodies_are_cut_and_noted() {
        let big: &'static str = Box::leak("é".repeat(40_000).into_boxed_str());
        let (b, n) = with_body(vec![("tracemend.http.request.body", Attr::Str(big))]);
        let s = b.and_then(|v| v.as_str().map(str::len)).unwrap_or(0);
        assert!(s <= Config::default().max_body_bytes && s > 60_000, "{s}");
        assert!(n.contains(&Note::BodyCapped));
    }
}
