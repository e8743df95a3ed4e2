//! The `resource` processor (otelcol-contrib's `resourceprocessor`): runs the attribute
//! actions ([`super::attraction`]) on the resource of every request, whatever the
//! signal.

use std::sync::Arc;

use pdata::Payload;
use pdata::otlp::resource::v1::Resource;
use serde::Deserialize;

use super::attraction::{self, ActionConfig, Actions};
use super::modify::{Modify, PreparedModify};
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};

/// `processors.resource`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// The actions on resource attributes, in order. Required.
    #[serde(default)]
    pub attributes: Vec<ActionConfig>,
}

impl ResourceConfig {
    fn compile(&self) -> Result<Actions, Vec<ConfigError>> {
        if self.attributes.is_empty() {
            return Err(vec![ConfigError::new(
                "attributes",
                "required: at least one action",
            )]);
        }
        attraction::compile(&self.attributes, "attributes")
    }
}

impl ComponentConfig for ResourceConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl AnyConfig for ResourceConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        attraction::warnings(&self.attributes, "attributes")
    }
}

impl Processor for ResourceConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let actions = self.compile().map_err(|e| {
            let msgs: Vec<String> = e
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect();
            PrepareError::Other(format!("processors.{id}: {}", msgs.join("; ")))
        })?;
        Ok(Box::new(PreparedModify(Arc::new(actions))))
    }
}

impl Modify for Actions {
    fn apply(&self, payload: &mut Payload) {
        apply(self, payload);
    }

    fn is_noop(&self) -> bool {
        self.is_empty()
    }
}

/// Runs the actions on every resource of the request. A resource that was absent is
/// made (an `insert` may fill it) and dropped again if it stays empty.
pub fn apply(actions: &Actions, payload: &mut Payload) {
    for_each_resource(payload, &mut |r| actions.apply(&mut r.attributes));
}

/// Calls `f` on every resource of the request, making absent ones for it and dropping
/// those left empty.
pub fn for_each_resource(payload: &mut Payload, f: &mut dyn FnMut(&mut Resource)) {
    let mut one = |slot: &mut Option<Resource>| {
        let r = slot.get_or_insert_with(Resource::default);
        f(r);
        if *r == Resource::default() {
            *slot = None;
        }
    };
    match payload {
        Payload::Traces(r) => r
            .resource_spans
            .iter_mut()
            .for_each(|x| one(&mut x.resource)),
        Payload::Logs(r) => r
            .resource_logs
            .iter_mut()
            .for_each(|x| one(&mut x.resource)),
        Payload::Metrics(r) => r
            .resource_metrics
            .iter_mut()
            .for_each(|x| one(&mut x.resource)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
    use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
    use pdata::otlp::trace::v1::ResourceSpans;
    use serde_yaml::Value;

    fn config(yaml: &str) -> Result<ResourceConfig, Vec<ConfigError>> {
        let v: Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<ResourceConfig>(&v, "processors.resource")
    }

    fn resource_attrs(p: &Payload) -> Vec<(String, Option<AnyValue>)> {
        let Payload::Traces(r) = p else { panic!() };
        r.resource_spans[0]
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect()
    }

    #[test]
    fn actions_change_the_resource() {
        let c = config(
            "attributes:\n  - {key: cloud.zone, value: zone-1, action: upsert}\n  - {key: redundant-attribute, action: delete}\n  - {key: host.id, action: hash}\n",
        )
        .expect("valid");
        let actions = c.compile().expect("compiles");
        let mut p = Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        KeyValue {
                            key: "redundant-attribute".into(),
                            value: None,
                            ..Default::default()
                        },
                        KeyValue {
                            key: "host.id".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("h".into())),
                            }),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        });
        apply(&actions, &mut p);
        let got = resource_attrs(&p);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "host.id");
        assert_eq!(got[1].0, "cloud.zone");
        // A request without a resource gets one only when an action fills it.
        let mut p = Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans::default()],
        });
        apply(
            &config("attributes: [{key: gone, action: delete}]")
                .expect("valid")
                .compile()
                .expect("c"),
            &mut p,
        );
        let Payload::Traces(r) = &p else { panic!() };
        assert!(r.resource_spans[0].resource.is_none());
    }

    #[test]
    fn bad_configs_name_their_path() {
        let e = config("{}").expect_err("empty");
        assert_eq!(e[0].path, "processors.resource.attributes");
        let e = config("attributes: [{key: a, action: insert}]").expect_err("no value");
        assert_eq!(e[0].path, "processors.resource.attributes[0]");
        let e = config("actions: []").expect_err("unknown key");
        assert!(e[0].message.contains("actions"), "{e:?}");
    }
}
