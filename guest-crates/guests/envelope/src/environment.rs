//! `environment` (runtime, locale, time zone, feature flags) and `state`
//! (fixtures) from the documented attributes (docs/envelopes.md).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::message::cut_chars;
use crate::model::{Attr, Attrs, Trace, get, text};
use crate::outcome::{Note, Notes};

/// The semantic conventions' feature-flag evaluation event, and the older
/// name some SDKs still send.
const FLAG_EVENTS: &[&str] = &["feature_flag.evaluation", "feature_flag"];
const FLAG_KEY: &str = "feature_flag.key";
const FLAG_VALUE: &str = "feature_flag.result.value";
/// The variant, current and older names.
const FLAG_VARIANTS: &[&str] = &["feature_flag.result.variant", "feature_flag.variant"];
const MAX_FLAGS: usize = 256;
const FIXTURE_PREFIX: &str = "tracemend.fixture.";
const MAX_FIXTURES: usize = 32;
const MAX_RUNTIME_CHARS: usize = 64;

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| match Regex::new(pattern) {
        Ok(re) => re,
        // Constant patterns: a failure is a bug the tests catch.
        Err(e) => panic!("pattern {pattern}: {e}"),
    })
}

fn locale_ok(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(
        &RE,
        r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*(\.[A-Za-z0-9-]+)?$",
    )
    .is_match(s)
}

fn timezone_ok(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    s.len() <= 64 && regex(&RE, r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$").is_match(s)
}

fn fixture_kind_ok(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(&RE, r"^[a-z][a-z0-9_]{0,63}$").is_match(s)
}

/// Builds `environment` (`None` when nothing is known) from the request
/// span's attributes, its resource's, and the flag evaluations of the trace.
pub(crate) fn build(
    trace: &Trace<'_>,
    request: &Attrs<'_>,
    resource: &Attrs<'_>,
    notes: &mut Notes,
) -> Option<Value> {
    let mut env = Map::new();
    let runtime =
        text(resource, "process.runtime.name").or_else(|| text(resource, "telemetry.sdk.language"));
    if let Some(name) = runtime {
        let mut r = Map::new();
        r.insert("name".into(), cut_chars(name, MAX_RUNTIME_CHARS).into());
        if let Some(v) = text(resource, "process.runtime.version") {
            r.insert("version".into(), cut_chars(v, MAX_RUNTIME_CHARS).into());
        }
        env.insert("runtime".into(), Value::Object(r));
    }
    // The request span's value wins over the resource's (a per-request locale).
    let either = |key: &str| text(request, key).or_else(|| text(resource, key));
    if let Some(locale) = either("tracemend.locale") {
        if locale_ok(locale) {
            env.insert("locale".into(), locale.into());
        } else {
            notes.insert(Note::EnvironmentInvalid);
        }
    }
    if let Some(tz) = either("tracemend.timezone") {
        if timezone_ok(tz) {
            env.insert("timezone".into(), tz.into());
        } else {
            notes.insert(Note::EnvironmentInvalid);
        }
    }
    let flags = feature_flags(trace, notes);
    if !flags.is_empty() {
        env.insert("feature_flags".into(), Value::Object(flags));
    }
    (!env.is_empty()).then_some(Value::Object(env))
}

/// The flag evaluations of the trace (span events and log records); the
/// last evaluation of a key wins.
fn feature_flags(trace: &Trace<'_>, notes: &mut Notes) -> Map<String, Value> {
    let mut evaluations: Vec<(u64, &Attrs<'_>)> = Vec::new();
    for span in &trace.spans {
        for e in span.events.iter().filter(|e| FLAG_EVENTS.contains(&e.name)) {
            evaluations.push((e.time, &e.attrs));
        }
    }
    for log in trace
        .logs
        .iter()
        .filter(|l| FLAG_EVENTS.contains(&l.event_name))
    {
        evaluations.push((log.time, &log.attrs));
    }
    evaluations.sort_by_key(|(t, _)| *t);
    let mut flags = Map::new();
    for (_, attrs) in evaluations {
        let Some(key) = text(attrs, FLAG_KEY) else {
            continue;
        };
        let value = get(attrs, FLAG_VALUE).and_then(flag_value).or_else(|| {
            FLAG_VARIANTS
                .iter()
                .find_map(|k| text(attrs, k))
                .map(|v| Value::String(v.to_owned()))
        });
        let Some(value) = value else { continue };
        if !flags.contains_key(key) && flags.len() >= MAX_FLAGS {
            notes.insert(Note::FlagsCapped);
            continue;
        }
        flags.insert(key.to_owned(), value);
    }
    flags
}

fn flag_value(v: &Attr<'_>) -> Option<Value> {
    match v {
        Attr::Bool(b) => Some(Value::Bool(*b)),
        Attr::Int(i) => Some(Value::from(*i)),
        Attr::Double(d) => serde_json::Number::from_f64(*d).map(Value::Number),
        Attr::Str(s) => Some(Value::String((*s).to_owned())),
        Attr::List(_) | Attr::Other => None,
    }
}

/// Builds `state` from the request span's `tracemend.fixture.<kind>`
/// attributes (JSON text each); `None` when there is none.
pub(crate) fn state(request: &Attrs<'_>, notes: &mut Notes) -> Option<Value> {
    let mut fixtures = Map::new();
    for (key, value) in request {
        let Some(kind) = key.strip_prefix(FIXTURE_PREFIX) else {
            continue;
        };
        let parsed = value
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        match parsed {
            Some(v) if fixture_kind_ok(kind) && fixtures.len() < MAX_FIXTURES => {
                fixtures.entry(kind.to_owned()).or_insert(v);
            }
            _ => {
                notes.insert(Note::FixtureInvalid);
            }
        }
    }
    (!fixtures.is_empty()).then(|| {
        let mut state = Map::new();
        state.insert("fixtures".into(), Value::Object(fixtures));
        Value::Object(state)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Log, Span};

    fn flag(key: &'static str, value: Attr<'static>, time: u64) -> Event<'static> {
        Event {
            name: "feature_flag.evaluation",
            time,
            attrs: vec![(FLAG_KEY, Attr::Str(key)), (FLAG_VALUE, value)],
        }
    }

    #[test]
    fn environment_from_resource_span_and_flags() {
        let resource: Attrs<'static> = vec![
            ("process.runtime.name", Attr::Str("cpython")),
            ("process.runtime.version", Attr::Str("3.12.3")),
            ("tracemend.locale", Attr::Str("de_DE.UTF-8")),
            ("tracemend.timezone", Attr::Str("Europe/Berlin")),
        ];
        let request: Attrs<'static> = vec![("tracemend.locale", Attr::Str("fr-FR"))];
        let trace = Trace {
            spans: vec![Span {
                events: vec![
                    flag("tiered_pricing", Attr::Bool(false), 1),
                    flag("tiered_pricing", Attr::Bool(true), 2),
                    flag("limit", Attr::Int(5), 3),
                    Event {
                        name: "feature_flag.evaluation",
                        time: 4,
                        attrs: vec![
                            (FLAG_KEY, Attr::Str("theme")),
                            ("feature_flag.result.variant", Attr::Str("dark")),
                        ],
                    },
                ],
                ..Span::default()
            }],
            logs: vec![Log {
                event_name: "feature_flag.evaluation",
                time: 9,
                attrs: vec![(FLAG_KEY, Attr::Str("beta")), (FLAG_VALUE, Attr::Str("on"))],
                ..Log::default()
            }],
            ..Trace::default()
        };
        let mut notes = Notes::new();
        let env = build(&trace, &request, &resource, &mut notes);
        assert_eq!(
            env,
            Some(serde_json::json!({
                "runtime": {"name": "cpython", "version": "3.12.3"},
                "locale": "fr-FR", "timezone": "Europe/Berlin",
                "feature_flags": {"tiered_pricing": true, "limit": 5, "theme": "dark", "beta": "on"},
            }))
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn invalid_values_are_left_out_and_noted() {
        let resource: Attrs<'static> = vec![
            ("telemetry.sdk.language", Attr::Str("python")),
            ("tracemend.locale", Attr::Str("not a locale")),
            ("tracemend.timezone", Attr::Str("../etc/passwd")),
        ];
        let mut notes = Notes::new();
        let env = build(&Trace::default(), &Vec::new(), &resource, &mut notes);
        assert_eq!(
            env,
            Some(serde_json::json!({"runtime": {"name": "python"}}))
        );
        assert!(notes.contains(&Note::EnvironmentInvalid));
        assert_eq!(
            build(&Trace::default(), &Vec::new(), &Vec::new(), &mut notes),
            None
        );
    }

    #[test]
    fn fixtures() {
        let request: Attrs<'static> = vec![
            (
                "tracemend.fixture.db_rows",
                Attr::Str(r#"[{"id":1,"reorder_level":null}]"#),
            ),
            ("tracemend.fixture.cache", Attr::Str("not json")),
            ("tracemend.fixture.Bad-Kind", Attr::Str("{}")),
        ];
        let mut notes = Notes::new();
        let s = state(&request, &mut notes);
        assert_eq!(
            s,
            Some(serde_json::json!({"fixtures": {"db_rows": [{"id": 1, "reorder_level": null}]}}))
        );
        assert!(notes.contains(&Note::FixtureInvalid));
        assert_eq!(state(&Vec::new(), &mut notes), None);
    }
}
