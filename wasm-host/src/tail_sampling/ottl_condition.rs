//! The `ottl_condition` policies, evaluated host-side. The OTTL engine (the `ottl`
//! crate) runs in the host, over the decoded trace, before the sampler guest is
//! called; the guest's `ottl_condition` policy asks the host, through the
//! `sampler-context` import, whether the policy at its YAML path holds. So guests carry
//! no OTTL engine, and the policy composes with `and`, `not`, `drop` and `composite`
//! inside the guest like any other.
//!
//! A policy holds when any `span` condition holds on any span, or any `spanevent`
//! condition on any span event, as in contrib. A condition that fails on an item is
//! false under `error_mode: ignore` (logged) and `silent`; under `propagate` (the
//! default) the policy does not hold for that trace and the failure is logged.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use ottl::{Condition, ContextChoice, ContextKind, Item, TransformContext};
use prost::Message;
use serde::Deserialize;
use serde_json::Value;

use super::config::ConfigError;

/// `ottl_condition: {error_mode, span, spanevent}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    #[serde(default)]
    error_mode: Option<String>,
    #[serde(default)]
    span: Vec<String>,
    #[serde(default)]
    spanevent: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorMode {
    Propagate,
    Ignore,
    Silent,
}

/// One compiled `ottl_condition` policy.
#[derive(Debug)]
struct Policy {
    /// Its YAML path, as the guest names it (`policies[1].and.and_sub_policy[0]`).
    path: String,
    span: Vec<Condition>,
    spanevent: Vec<Condition>,
    error_mode: ErrorMode,
}

/// Every `ottl_condition` policy of a processor, nested ones included.
#[derive(Debug, Default)]
pub struct OttlPolicies(Vec<Policy>);

/// The sub-policy lists a policy type nests, with the path segment the guest uses.
const NESTING: &[(&str, &str)] = &[
    ("and", "and_sub_policy"),
    ("drop", "drop_sub_policy"),
    ("composite", "composite_sub_policy"),
];

impl OttlPolicies {
    /// Finds and compiles every `ottl_condition` policy in `policies`; problems come
    /// with the policy's path.
    pub fn compile(policies: &[Value]) -> Result<OttlPolicies, Vec<ConfigError>> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            walk(p, &format!("policies[{i}]"), &mut out, &mut errors);
        }
        if errors.is_empty() {
            Ok(OttlPolicies(out))
        } else {
            Err(errors)
        }
    }

    /// Whether there are none (then a trace is never decoded for them).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The paths of the policies that hold for `trace`, an encoded
    /// `ExportTraceServiceRequest` of one trace.
    pub fn holding(&self, trace: &[u8], processor: &str) -> Vec<String> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut request = match ExportTraceServiceRequest::decode(trace) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(processor, error = %e, "ottl_condition: the trace does not decode; no condition holds");
                return Vec::new();
            }
        };
        self.0
            .iter()
            .filter(|p| p.holds(&mut request, processor))
            .map(|p| p.path.clone())
            .collect()
    }
}

fn walk(p: &Value, path: &str, out: &mut Vec<Policy>, errors: &mut Vec<ConfigError>) {
    let Some(map) = p.as_object() else {
        return;
    };
    match map.get("type").and_then(Value::as_str) {
        Some("ottl_condition") => match compile_one(map.get("ottl_condition"), path) {
            Ok(policy) => out.push(policy),
            Err(mut e) => errors.append(&mut e),
        },
        Some("not") => {
            if let Some(sub) = map.get("not").and_then(|b| b.get("not_sub_policy")) {
                walk(sub, &format!("{path}.not.not_sub_policy"), out, errors);
            }
        }
        Some(kind) => {
            if let Some((_, list)) = NESTING.iter().find(|(k, _)| *k == kind)
                && let Some(subs) = map
                    .get(kind)
                    .and_then(|b| b.get(*list))
                    .and_then(Value::as_array)
            {
                for (i, sub) in subs.iter().enumerate() {
                    walk(sub, &format!("{path}.{kind}.{list}[{i}]"), out, errors);
                }
            }
        }
        None => {}
    }
}

fn compile_one(block: Option<&Value>, path: &str) -> Result<Policy, Vec<ConfigError>> {
    let at = format!("{path}.ottl_condition");
    let Some(block) = block else {
        return Err(vec![ConfigError::new(
            at,
            "type ottl_condition needs an `ottl_condition:` block with span and/or spanevent conditions",
        )]);
    };
    let b =
        Block::deserialize(block).map_err(|e| vec![ConfigError::new(at.clone(), e.to_string())])?;
    let error_mode = match b.error_mode.as_deref() {
        None | Some("propagate") => ErrorMode::Propagate,
        Some("ignore") => ErrorMode::Ignore,
        Some("silent") => ErrorMode::Silent,
        Some(other) => {
            return Err(vec![ConfigError::new(
                format!("{at}.error_mode"),
                format!("unknown error_mode `{other}`, expected propagate, ignore or silent"),
            )]);
        }
    };
    if b.span.is_empty() && b.spanevent.is_empty() {
        return Err(vec![ConfigError::new(
            at,
            "at least one span or spanevent condition is required",
        )]);
    }
    let mut errors = Vec::new();
    let mut compile = |list: &[String], key: &str, ctx: ContextKind| -> Vec<Condition> {
        list.iter()
            .enumerate()
            .filter_map(|(i, text)| {
                Condition::parse(text, ContextChoice::Given(ctx))
                    .map_err(|e| {
                        errors.push(ConfigError::new(format!("{at}.{key}[{i}]"), e.to_string()))
                    })
                    .ok()
            })
            .collect()
    };
    let span = compile(&b.span, "span", ContextKind::Span);
    let spanevent = compile(&b.spanevent, "spanevent", ContextKind::SpanEvent);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Policy {
        path: path.to_owned(),
        span,
        spanevent,
        error_mode,
    })
}

impl Policy {
    fn holds(&self, request: &mut ExportTraceServiceRequest, processor: &str) -> bool {
        for rs in &mut request.resource_spans {
            let resource = rs.resource.get_or_insert_with(Resource::default);
            for ss in &mut rs.scope_spans {
                let scope = ss.scope.get_or_insert_with(InstrumentationScope::default);
                for span in &mut ss.spans {
                    for c in &self.span {
                        let mut tc = TransformContext::new(resource, scope, Item::Span(&mut *span));
                        match self.verdict(c, &mut tc, processor) {
                            Some(true) => return true,
                            Some(false) => {}
                            None => return false,
                        }
                    }
                    for index in 0..span.events.len() {
                        for c in &self.spanevent {
                            let mut tc = TransformContext::new(
                                resource,
                                scope,
                                Item::SpanEvent {
                                    span: &mut *span,
                                    index,
                                },
                            );
                            match self.verdict(c, &mut tc, processor) {
                                Some(true) => return true,
                                Some(false) => {}
                                None => return false,
                            }
                        }
                    }
                }
            }
        }
        false
    }

    /// One condition on one item: `None` stops the policy (a propagated error).
    fn verdict(
        &self,
        c: &Condition,
        tc: &mut TransformContext<'_>,
        processor: &str,
    ) -> Option<bool> {
        match c.eval(tc) {
            Ok(b) => Some(b),
            Err(e) => match self.error_mode {
                ErrorMode::Propagate => {
                    tracing::warn!(processor, policy = %self.path, condition = %c.text(), error = %e, "ottl_condition failed; the policy does not hold for this trace (error_mode: propagate)");
                    None
                }
                ErrorMode::Ignore => {
                    tracing::warn!(processor, policy = %self.path, condition = %c.text(), error = %e, "ottl_condition failed; counted as false (error_mode: ignore)");
                    Some(false)
                }
                ErrorMode::Silent => Some(false),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn policies(json: &str) -> Result<OttlPolicies, Vec<ConfigError>> {
        let v: Vec<Value> = serde_json::from_str(json).expect("json");
        OttlPolicies::compile(&v)
    }

    fn trace(spans: Vec<Span>) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("checkout".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn span(name: &str, events: &[&str]) -> Span {
        Span {
            name: name.into(),
            events: events
                .iter()
                .map(|e| Event {
                    name: (*e).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn nested_policies_are_found_by_path_and_evaluated() {
        let p = policies(
            r#"[
              {"name": "a", "type": "always_sample"},
              {"name": "o", "type": "ottl_condition", "ottl_condition": {"span": ["name == \"GET /pay\""]}},
              {"name": "and", "type": "and", "and": {"and_sub_policy": [
                 {"name": "s", "type": "span_count", "span_count": {"min_spans": 1}},
                 {"name": "e", "type": "ottl_condition", "ottl_condition": {"spanevent": ["name == \"exception\""]}}]}},
              {"name": "n", "type": "not", "not": {"not_sub_policy":
                 {"name": "r", "type": "ottl_condition", "ottl_condition": {"span": ["resource.attributes[\"service.name\"] == \"cart\""]}}}}
            ]"#,
        )
        .expect("compiles");
        let paths = |spans| p.holding(&trace(spans), "t");
        assert_eq!(paths(vec![span("GET /pay", &[])]), ["policies[1]"]);
        assert_eq!(
            paths(vec![span("GET /x", &["log"]), span("db", &["exception"])]),
            ["policies[2].and.and_sub_policy[1]"]
        );
        assert!(paths(vec![span("GET /x", &[])]).is_empty());
        assert_eq!(p.0[2].path, "policies[3].not.not_sub_policy");
    }

    #[test]
    fn error_modes() {
        // ParseJSON of a name that is not JSON fails on evaluation, not at compile time.
        let p = |mode: &str| {
            policies(&format!(
                r#"[{{"name": "o", "type": "ottl_condition", "ottl_condition": {{"error_mode": "{mode}", "span": ["ParseJSON(name) == nil", "name == \"b\""]}}}}]"#
            ))
            .expect("compiles")
        };
        let t = trace(vec![span("b", &[])]);
        assert!(
            p("propagate").holding(&t, "t").is_empty(),
            "propagate stops the policy"
        );
        assert_eq!(p("ignore").holding(&t, "t"), ["policies[0]"]);
        assert_eq!(p("silent").holding(&t, "t"), ["policies[0]"]);
    }

    #[test]
    fn bad_blocks_name_their_path() {
        let e = policies(r#"[{"name": "o", "type": "ottl_condition"}]"#).expect_err("no block");
        assert_eq!(e[0].path, "policies[0].ottl_condition");
        let e = policies(r#"[{"name": "o", "type": "ottl_condition", "ottl_condition": {}}]"#)
            .expect_err("empty");
        assert!(e[0].message.contains("at least one"), "{e:?}");
        let e = policies(
            r#"[{"name": "o", "type": "ottl_condition", "ottl_condition": {"span": ["nme == 1"]}}]"#,
        )
        .expect_err("path");
        assert_eq!(e[0].path, "policies[0].ottl_condition.span[0]");
        let e = policies(
            r#"[{"name": "o", "type": "ottl_condition", "ottl_condition": {"span": ["true"], "error_mode": "loud"}}]"#,
        )
        .expect_err("mode");
        assert_eq!(e[0].path, "policies[0].ottl_condition.error_mode");
        let e = policies(
            r#"[{"name": "o", "type": "ottl_condition", "ottl_condition": {"spans": ["true"]}}]"#,
        )
        .expect_err("key");
        assert!(e[0].message.contains("spans"), "{e:?}");
    }
}
