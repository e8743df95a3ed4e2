//! `include:`/`exclude:` of the `attributes` processor (contrib's `filterconfig`
//! `MatchProperties` and its matchers): which spans, log records and metrics the actions
//! apply to. Every property given must match (services, span names, kinds, libraries,
//! resources, attributes, log bodies and severities, metric names); within a list of
//! names one match is enough; `attributes` and `resources` need every entry to match.

use pdata::Signal;
use pdata::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use pdata::otlp::logs::v1::LogRecord;
use pdata::otlp::resource::v1::Resource;
use pdata::otlp::trace::v1::Span;
use pdata::otlp::trace::v1::span::SpanKind;
use regex::Regex;
use serde::Deserialize;
use serde_yaml::Value;

use crate::config::{ConfigError, Ignored, ignored};
use crate::processors::attraction::any_value;

/// `include` / `exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchProperties {
    /// `strict` (equality) or `regexp` (RE2-style, unanchored). Required.
    #[serde(default)]
    pub match_type: String,
    /// contrib's regexp result cache: no effect here.
    #[serde(default)]
    pub regexp: Ignored,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub span_names: Vec<String>,
    #[serde(default)]
    pub span_kinds: Vec<String>,
    #[serde(default)]
    pub log_bodies: Vec<String>,
    #[serde(default)]
    pub log_severity_texts: Vec<String>,
    #[serde(default)]
    pub log_severity_number: Option<SeverityNumberMatch>,
    #[serde(default)]
    pub metric_names: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<AttributeMatch>,
    #[serde(default)]
    pub resources: Vec<AttributeMatch>,
    #[serde(default)]
    pub libraries: Vec<LibraryMatch>,
}

/// `{key, value}`: the key present, and its value equal (strict) or matching (regexp).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMatch {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// `{name, version}` of the instrumentation scope.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryMatch {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `log_severity_number: {min, match_undefined}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityNumberMatch {
    /// A severity name (`INFO`, `warn3`) or number (1-24).
    #[serde(default)]
    pub min: Option<Value>,
    /// Whether records without a severity number match.
    #[serde(default)]
    pub match_undefined: bool,
}

/// One list of names, strict or regexp.
#[derive(Debug, Clone)]
enum Names {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Names {
    fn matches(&self, s: &str) -> bool {
        match self {
            Names::Strict(list) => list.iter().any(|n| n == s),
            Names::Regexp(list) => list.iter().any(|r| r.is_match(s)),
        }
    }
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Exists,
    Equals(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatcher {
    key: String,
    value: ValueMatch,
}

/// A compiled `include` or `exclude`.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Option<Names>,
    span_names: Option<Names>,
    span_kinds: Option<Names>,
    log_bodies: Option<Names>,
    severity_texts: Option<Names>,
    severity: Option<(i32, bool)>,
    metric_names: Option<Names>,
    libraries: Vec<(Names, Option<Names>)>,
    resources: Vec<AttrMatcher>,
    attributes: Vec<AttrMatcher>,
}

/// The severity number of a name as otelcol's `plog.SeverityNumber` reads it.
fn severity_number(v: &Value) -> Result<i32, String> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|n| (1..=24).contains(n))
            .map(|n| n as i32)
            .ok_or_else(|| format!("severity number {n} is not between 1 and 24")),
        Value::String(s) => {
            let upper = s.to_ascii_uppercase();
            let (name, digit) = match upper.char_indices().last() {
                Some((i, c @ '2'..='4')) => (&upper[..i], i32::from(c as u8 - b'1')),
                _ => (upper.as_str(), 0),
            };
            NAMES
                .iter()
                .position(|n| *n == name)
                .map(|p| p as i32 * 4 + 1 + digit)
                .ok_or_else(|| {
                    format!("unknown severity `{s}`, expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL (optionally followed by 2, 3 or 4)")
                })
        }
        other => Err(format!(
            "expected a severity name or number, found {other:?}"
        )),
    }
}

/// The name of a span kind as otelcol writes it (`SPAN_KIND_SERVER`).
const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

/// An attribute's value as a string for regexp matching; maps, lists, bytes and
/// empty values never match (otelcol's `attributeStringValue`).
fn string_value(v: &AnyValue) -> Option<String> {
    use any_value::Value as V;
    match &v.value {
        Some(V::StringValue(s)) => Some(s.clone()),
        Some(V::BoolValue(b)) => Some(b.to_string()),
        Some(V::IntValue(i)) => Some(i.to_string()),
        Some(V::DoubleValue(d)) => Some(ottl::Value::Double(*d).to_string()),
        _ => None,
    }
}

fn attrs_match(matchers: &[AttrMatcher], attrs: &[KeyValue]) -> bool {
    matchers.iter().all(|m| {
        let Some(kv) = attrs.iter().find(|kv| kv.key == m.key) else {
            return false;
        };
        let empty = AnyValue::default();
        let v = kv.value.as_ref().unwrap_or(&empty);
        match &m.value {
            ValueMatch::Exists => true,
            ValueMatch::Equals(want) => v == want,
            ValueMatch::Regexp(re) => string_value(v).is_some_and(|s| re.is_match(&s)),
        }
    })
}

/// What one item offers to match against.
pub enum Subject<'a> {
    Span(&'a Span),
    Log(&'a LogRecord),
    Metric(&'a str),
}

impl MatchProperties {
    /// Compiles the properties; `path` is `include` or `exclude`.
    pub fn compile(&self, path: &str) -> Result<Matcher, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let at = |k: &str| ignored::join(path, k);
        let regexp = match self.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            "" => {
                return Err(vec![ConfigError::new(
                    at("match_type"),
                    "required: strict or regexp",
                )]);
            }
            other => {
                return Err(vec![ConfigError::new(
                    at("match_type"),
                    format!(
                        "unknown match_type `{other}`, expected strict or regexp (`expr` is for the filter processor's legacy metrics matching)"
                    ),
                )]);
            }
        };
        let mut names = |key: &str, list: &[String]| -> Option<Names> {
            if list.is_empty() {
                return None;
            }
            if !regexp {
                return Some(Names::Strict(list.to_vec()));
            }
            let mut out = Vec::new();
            for (i, p) in list.iter().enumerate() {
                match Regex::new(p) {
                    Ok(r) => out.push(r),
                    Err(e) => errors.push(ConfigError::new(
                        format!("{}[{i}]", at(key)),
                        format!("invalid regular expression: {e}"),
                    )),
                }
            }
            Some(Names::Regexp(out))
        };
        let services = names("services", &self.services);
        let span_names = names("span_names", &self.span_names);
        let span_kinds = names("span_kinds", &self.span_kinds);
        let log_bodies = names("log_bodies", &self.log_bodies);
        let severity_texts = names("log_severity_texts", &self.log_severity_texts);
        let metric_names = names("metric_names", &self.metric_names);
        let mut libraries = Vec::new();
        for (i, l) in self.libraries.iter().enumerate() {
            let key = format!("libraries[{i}]");
            let name = names(&format!("{key}.name"), std::slice::from_ref(&l.name));
            let version = l
                .version
                .as_ref()
                .and_then(|v| names(&format!("{key}.version"), std::slice::from_ref(v)));
            if let Some(name) = name {
                libraries.push((name, version));
            }
        }
        if !regexp {
            for (i, k) in self.span_kinds.iter().enumerate() {
                if !SPAN_KINDS[1..].contains(&k.as_str()) {
                    errors.push(ConfigError::new(
                        format!("{}[{i}]", at("span_kinds")),
                        format!(
                            "unknown span kind `{k}` for match_type strict, expected one of: {}",
                            SPAN_KINDS[1..].join(", ")
                        ),
                    ));
                }
            }
        }
        let severity = match &self.log_severity_number {
            None => None,
            Some(s) => match s.min.as_ref().map(severity_number) {
                Some(Ok(min)) => Some((min, s.match_undefined)),
                Some(Err(e)) => {
                    errors.push(ConfigError::new(at("log_severity_number.min"), e));
                    None
                }
                None => Some((1, s.match_undefined)),
            },
        };
        let mut attr_matchers = |key: &str, list: &[AttributeMatch]| -> Vec<AttrMatcher> {
            let mut out = Vec::new();
            for (i, a) in list.iter().enumerate() {
                let p = format!("{}[{i}]", at(key));
                if a.key.is_empty() {
                    errors.push(ConfigError::new(format!("{p}.key"), "required"));
                    continue;
                }
                let value = match &a.value {
                    None => ValueMatch::Exists,
                    Some(Value::String(s)) if regexp => match Regex::new(s) {
                        Ok(r) => ValueMatch::Regexp(r),
                        Err(e) => {
                            errors.push(ConfigError::new(
                                format!("{p}.value"),
                                format!("invalid regular expression: {e}"),
                            ));
                            continue;
                        }
                    },
                    Some(_) if regexp => {
                        errors.push(ConfigError::new(
                            format!("{p}.value"),
                            "match_type regexp takes a string value",
                        ));
                        continue;
                    }
                    Some(v) => match any_value(v) {
                        Ok(v) => ValueMatch::Equals(v),
                        Err(e) => {
                            errors.push(ConfigError::new(format!("{p}.value"), e));
                            continue;
                        }
                    },
                };
                out.push(AttrMatcher {
                    key: a.key.clone(),
                    value,
                });
            }
            out
        };
        let resources = attr_matchers("resources", &self.resources);
        let attributes = attr_matchers("attributes", &self.attributes);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Matcher {
            services,
            span_names,
            span_kinds,
            log_bodies,
            severity_texts,
            severity,
            metric_names,
            libraries,
            resources,
            attributes,
        })
    }

    /// What otelcol refuses for a signal (`ValidateForSpans`, `ValidateForLogs`,
    /// and the metric matcher's keys), at `path`.
    pub fn check_for(&self, signal: Signal, path: &str) -> Result<(), String> {
        let span_keys = [
            ("services", self.services.is_empty()),
            ("span_names", self.span_names.is_empty()),
            ("span_kinds", self.span_kinds.is_empty()),
        ];
        let log_keys = [
            ("log_bodies", self.log_bodies.is_empty()),
            ("log_severity_texts", self.log_severity_texts.is_empty()),
            ("log_severity_number", self.log_severity_number.is_none()),
        ];
        let common = [
            ("attributes", self.attributes.is_empty()),
            ("resources", self.resources.is_empty()),
            ("libraries", self.libraries.is_empty()),
        ];
        let metric = [("metric_names", self.metric_names.is_empty())];
        let (own, foreign): (Vec<_>, Vec<_>) = match signal {
            Signal::Traces => (
                span_keys.iter().chain(&common).collect(),
                log_keys.iter().chain(&metric).collect(),
            ),
            Signal::Logs => (
                log_keys.iter().chain(&common).collect(),
                span_keys.iter().chain(&metric).collect(),
            ),
            Signal::Metrics => (
                metric.iter().chain(&common[1..2]).collect(),
                span_keys
                    .iter()
                    .chain(&log_keys)
                    .chain([&common[0], &common[2]])
                    .collect(),
            ),
        };
        if let Some((k, _)) = foreign.iter().find(|(_, empty)| !empty) {
            return Err(format!("{path}.{k} does not apply to {}", signal.as_str()));
        }
        if own.iter().all(|(_, empty)| *empty) {
            let keys: Vec<&str> = own.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "{path} matches nothing for {}: set at least one of {}",
                signal.as_str(),
                keys.join(", ")
            ));
        }
        Ok(())
    }
}

impl Matcher {
    /// Whether the item, with its resource and scope, has every property given.
    pub fn matches(
        &self,
        subject: &Subject<'_>,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> bool {
        let named = |n: &Option<Names>, s: &str| n.as_ref().is_none_or(|n| n.matches(s));
        match subject {
            Subject::Span(span) => {
                if self.services.is_some() {
                    let service = resource
                        .attributes
                        .iter()
                        .find(|kv| kv.key == "service.name")
                        .and_then(|kv| kv.value.as_ref())
                        .and_then(string_value)
                        .unwrap_or_else(|| "<nil-service-name>".to_owned());
                    if !named(&self.services, &service) {
                        return false;
                    }
                }
                let kind = SpanKind::try_from(span.kind)
                    .map_or("SPAN_KIND_UNSPECIFIED", |k| SPAN_KINDS[k as usize]);
                if !named(&self.span_names, &span.name) || !named(&self.span_kinds, kind) {
                    return false;
                }
            }
            Subject::Log(log) => {
                if self.log_bodies.is_some() {
                    let body = log.body.as_ref().map(super::super::attraction::as_string);
                    if !named(&self.log_bodies, body.as_deref().unwrap_or("")) {
                        return false;
                    }
                }
                if !named(&self.severity_texts, &log.severity_text) {
                    return false;
                }
                if let Some((min, undefined)) = self.severity {
                    let ok = if log.severity_number == 0 {
                        undefined
                    } else {
                        log.severity_number >= min
                    };
                    if !ok {
                        return false;
                    }
                }
            }
            Subject::Metric(name) => {
                if !named(&self.metric_names, name) {
                    return false;
                }
            }
        }
        for (name, version) in &self.libraries {
            if !name.matches(&scope.name)
                || version.as_ref().is_some_and(|v| !v.matches(&scope.version))
            {
                return false;
            }
        }
        attrs_match(&self.resources, &resource.attributes)
            && (matches!(subject, Subject::Metric(_))
                || attrs_match(&self.attributes, item_attributes(subject)))
    }
}

fn item_attributes<'a>(s: &Subject<'a>) -> &'a [KeyValue] {
    match s {
        Subject::Span(span) => &span.attributes,
        Subject::Log(log) => &log.attributes,
        Subject::Metric(_) => &[],
    }
}

/// `include` and `exclude` together: whether the actions skip an item.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Option<Matcher>,
    pub exclude: Option<Matcher>,
}

impl Selection {
    /// True when the item is not included, or is excluded.
    pub fn skips(
        &self,
        subject: &Subject<'_>,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> bool {
        self.include
            .as_ref()
            .is_some_and(|m| !m.matches(subject, resource, scope))
            || self
                .exclude
                .as_ref()
                .is_some_and(|m| m.matches(subject, resource, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(yaml: &str) -> MatchProperties {
        serde_yaml::from_str(yaml).expect("yaml")
    }

    #[test]
    fn severity_names_and_numbers() {
        let n = |y: &str| severity_number(&serde_yaml::from_str(y).expect("yaml"));
        assert_eq!(n("INFO"), Ok(9));
        assert_eq!(n("warn3"), Ok(15));
        assert_eq!(n("fatal4"), Ok(24));
        assert_eq!(n("17"), Ok(17));
        assert!(n("NOTICE").is_err());
        assert!(n("0").is_err());
    }

    #[test]
    fn bad_properties_name_their_key() {
        let e = props("{services: [a]}")
            .compile("include")
            .expect_err("no type");
        assert_eq!(e[0].path, "include.match_type");
        let e = props("{match_type: regexp, span_names: ['(']}")
            .compile("include")
            .expect_err("regex");
        assert_eq!(e[0].path, "include.span_names[0]");
        let e = props("{match_type: strict, span_kinds: [server]}")
            .compile("include")
            .expect_err("kind");
        assert!(e[0].message.contains("SPAN_KIND_SERVER"), "{e:?}");
        let e = props("{match_type: regexp, attributes: [{key: a, value: 1}]}")
            .compile("exclude")
            .expect_err("non-string regexp");
        assert_eq!(e[0].path, "exclude.attributes[0].value");
        let p = props("{match_type: strict, log_bodies: [x]}");
        assert!(p.check_for(Signal::Traces, "include").is_err());
        assert!(p.check_for(Signal::Logs, "include").is_ok());
        assert!(
            props("{match_type: strict}")
                .check_for(Signal::Logs, "include")
                .is_err()
        );
    }
}
