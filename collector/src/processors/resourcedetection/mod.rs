//! The `resourcedetection` processor (otelcol-contrib's `resourcedetectionprocessor`):
//! detects resource attributes once at startup with the configured detectors, in order
//! (an earlier detector's attribute wins over a later one's), and adds them to the
//! resource of every request: overwriting what is there when `override` is true (the
//! default), else only where the key is missing.
//!
//! Detectors: `env`, `system` and `docker` ([`env`], [`system`], [`docker`]); the cloud
//! and platform detectors of [`cloud`] are accepted and fail soft. A detector that finds
//! nothing logs why and adds nothing; detection never stops startup except for a
//! malformed `OTEL_RESOURCE_ATTRIBUTES`. `tracemend validate` checks the config without
//! detecting.

pub mod cloud;
pub mod docker;
pub mod env;
pub mod system;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pdata::Payload;
use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
use serde::Deserialize;
use serde_yaml::Value;

use super::modify::{Modify, PreparedModify};
use super::resource::for_each_resource;
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};

/// Detected attributes, in detection order.
pub type Detected = Vec<(String, String)>;

/// `resource_attributes: {NAME: {enabled: BOOL}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ResourceAttributes(pub BTreeMap<String, Enabled>);

/// `{enabled: BOOL}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl ResourceAttributes {
    /// The flags that were set.
    pub fn flags(&self) -> Vec<(String, bool)> {
        self.0
            .iter()
            .filter_map(|(k, v)| v.enabled.map(|e| (k.clone(), e)))
            .collect()
    }

    fn check(&self, path: &str, known: &[(&str, bool)], not_read: &[&str]) -> Vec<ConfigError> {
        let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let at = format!("{path}.resource_attributes.{k}");
                if names.contains(&k.as_str()) {
                    None
                } else if not_read.contains(&k.as_str()) {
                    (v.enabled == Some(true))
                        .then(|| ConfigError::new(at, "tracemend does not detect this attribute"))
                } else {
                    Some(ConfigError::new(
                        at,
                        format!("unknown attribute, expected one of: {}", names.join(", ")),
                    ))
                }
            })
            .collect()
    }
}

/// The attributes of `known` that are on, after the config's flags.
pub fn enabled_attributes(
    known: &[(&'static str, bool)],
    flags: &[(String, bool)],
) -> Vec<&'static str> {
    known
        .iter()
        .filter(|(name, default)| {
            flags
                .iter()
                .find(|(k, _)| k == name)
                .map_or(*default, |(_, on)| *on)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// `docker:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    #[serde(default)]
    pub resource_attributes: ResourceAttributes,
}

/// `processors.resourcedetection`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceDetectionConfig {
    /// Detectors, in order of precedence.
    #[serde(default)]
    pub detectors: Vec<String>,
    /// Whether detected attributes replace those already on a resource. Default true.
    #[serde(default, rename = "override")]
    pub override_existing: Option<bool>,
    /// The most detection may take. Default 5s.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Deprecated in otelcol: only these detected attributes are added.
    #[serde(default)]
    pub attributes: Option<Vec<String>>,
    #[serde(default)]
    pub system: system::SystemConfig,
    #[serde(default)]
    pub docker: DockerConfig,
    /// Detection runs once, at start.
    #[serde(default)]
    pub refresh_interval: Ignored,
    /// The cloud detectors' blocks and otelcol's HTTP client keys.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// otelcol's HTTP client settings (squashed into the processor's config), used by cloud
/// detectors that tracemend does not run.
const CLIENT_KEYS: &[&str] = &[
    "endpoint",
    "proxy_url",
    "tls",
    "headers",
    "read_buffer_size",
    "write_buffer_size",
    "max_idle_conns",
    "max_idle_conns_per_host",
    "max_conns_per_host",
    "idle_conn_timeout",
    "disable_keep_alives",
    "http2_read_idle_timeout",
    "http2_ping_timeout",
    "compression",
    "auth",
    "cookies",
];

/// Every detector name.
fn known_detectors() -> Vec<&'static str> {
    ["env", "system", "docker"]
        .into_iter()
        .chain(cloud::DETECTORS.iter().map(|(n, _, _)| *n))
        .collect()
}

impl ResourceDetectionConfig {
    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(5))
    }
}

impl ComponentConfig for ResourceDetectionConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let known = known_detectors();
        for (i, d) in self.detectors.iter().enumerate() {
            if !known.contains(&d.as_str()) {
                errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!(
                        "unknown detector `{d}`, expected one of: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        for key in self.rest.keys() {
            if !known.contains(&key.as_str()) && !CLIENT_KEYS.contains(&key.as_str()) {
                errors.push(ConfigError::new(
                    key.as_str(),
                    "unknown key: expected detectors, override, timeout, attributes, refresh_interval or a detector's block",
                ));
            } else if key == "env" && !self.rest[key].is_null() {
                errors.push(ConfigError::new("env", "the env detector has no settings"));
            }
        }
        if self.timeout == Some(Duration::ZERO) {
            errors.push(ConfigError::new("timeout", "must be above zero"));
        }
        if let Some(sources) = &self.system.hostname_sources {
            if sources.is_empty() {
                errors.push(ConfigError::new(
                    "system.hostname_sources",
                    "must not be empty (leave it out for [dns, os])",
                ));
            }
            for (i, s) in sources.iter().enumerate() {
                if !system::SOURCES.contains(&s.as_str()) {
                    errors.push(ConfigError::new(
                        format!("system.hostname_sources[{i}]"),
                        format!(
                            "unknown hostname source `{s}`, expected one of: {}",
                            system::SOURCES.join(", ")
                        ),
                    ));
                }
            }
        }
        errors.extend(self.system.resource_attributes.check(
            "system",
            system::ATTRIBUTES,
            system::NOT_READ,
        ));
        errors.extend(
            self.docker
                .resource_attributes
                .check("docker", docker::ATTRIBUTES, &[]),
        );
        errors
    }
}

impl AnyConfig for ResourceDetectionConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let mut w = ignored::warnings(
            "",
            &[(
                "refresh_interval",
                &self.refresh_interval,
                "detection runs once, at start",
            )],
        );
        for key in self.rest.keys() {
            if CLIENT_KEYS.contains(&key.as_str()) {
                w.push(ConfigError::new(
                    key.as_str(),
                    ignored::ignored_message("it configures the HTTP client of cloud detectors, which check for their metadata service only"),
                ));
            } else if key != "env" && key != "heroku" {
                w.push(ConfigError::new(
                    key.as_str(),
                    ignored::ignored_message(&format!(
                        "the `{key}` detector only checks whether its metadata source is there and adds nothing"
                    )),
                ));
            }
        }
        if self.attributes.is_some() {
            w.push(ConfigError::new(
                "attributes",
                "deprecated in otelcol (use each detector's resource_attributes); still applied",
            ));
        }
        w
    }
}

/// Runs one detector; `Err` is why it added nothing.
fn run_detector(name: &str, cfg: &ResourceDetectionConfig) -> Result<Detected, String> {
    // Cloud probes wait briefly: off their platform the answer is "nothing there".
    let probe_timeout = cfg.timeout().min(Duration::from_secs(1));
    match name {
        "env" => env::detect(),
        "system" => {
            let (d, problems) = system::detect(&cfg.system);
            for p in problems {
                tracing::warn!(detector = "system", "{p}");
            }
            Ok(d)
        }
        "docker" => docker::detect(&cfg.docker.resource_attributes.flags(), cfg.timeout()),
        "heroku" => {
            let d = cloud::heroku(|k| std::env::var(k).ok());
            if d.is_empty() {
                Err("HEROKU_DYNO_ID not set".to_owned())
            } else {
                Ok(d)
            }
        }
        other => {
            let Some((_, what, probe)) = cloud::DETECTORS.iter().find(|(n, _, _)| *n == other)
            else {
                return Err(format!("unknown detector `{other}`"));
            };
            match cloud::probe(*probe, probe_timeout) {
                Err(why) => Err(format!("no {what}: {why}")),
                Ok(found) => Err(format!(
                    "{what} found ({found}), but tracemend does not read its attributes yet"
                )),
            }
        }
    }
}

/// Runs every detector (in parallel, each bounded by its timeout) and merges in
/// order: the first detector to give a key keeps it. Only a malformed
/// `OTEL_RESOURCE_ATTRIBUTES` is an error.
pub fn detect(cfg: &ResourceDetectionConfig, id: &ComponentId) -> Result<Detected, String> {
    let results: Vec<(String, Result<Detected, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = cfg
            .detectors
            .iter()
            .map(|d| (d.clone(), s.spawn(move || run_detector(d, cfg))))
            .collect();
        handles
            .into_iter()
            .map(|(d, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err("the detector panicked".to_owned()));
                (d, r)
            })
            .collect()
    });
    let mut merged = Detected::new();
    for (name, result) in results {
        match result {
            Ok(found) => {
                tracing::info!(processor = %id, detector = %name, attributes = found.len(), "resource detected");
                for (k, v) in found {
                    if !merged.iter().any(|(m, _)| *m == k) {
                        merged.push((k, v));
                    }
                }
            }
            Err(why) if name == "env" => return Err(why),
            Err(why) => {
                tracing::info!(processor = %id, detector = %name, "detector added nothing: {why}")
            }
        }
    }
    if let Some(keep) = &cfg.attributes {
        merged.retain(|(k, _)| keep.contains(k));
    }
    Ok(merged)
}

impl Processor for ResourceDetectionConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        // `validate` (no metrics) checks the config without looking at the host.
        let detected = if env.metrics.is_none() {
            Vec::new()
        } else {
            detect(self, id).map_err(|e| PrepareError::Other(format!("processors.{id}: {e}")))?
        };
        let attributes = detected
            .into_iter()
            .map(|(key, v)| KeyValue {
                key,
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(v)),
                }),
                ..Default::default()
            })
            .collect();
        Ok(Box::new(PreparedModify(Arc::new(Merge {
            attributes,
            override_existing: self.override_existing.unwrap_or(true),
        }))))
    }
}

/// The detected attributes and how they meet a resource's own.
#[derive(Debug)]
pub struct Merge {
    attributes: Vec<KeyValue>,
    override_existing: bool,
}

impl Merge {
    fn merge_into(&self, attrs: &mut Vec<KeyValue>) {
        for kv in &self.attributes {
            match attrs.iter_mut().find(|a| a.key == kv.key) {
                Some(a) if self.override_existing => a.value = kv.value.clone(),
                Some(_) => {}
                None => attrs.push(kv.clone()),
            }
        }
    }
}

impl Modify for Merge {
    fn apply(&self, payload: &mut Payload) {
        for_each_resource(payload, &mut |r| self.merge_into(&mut r.attributes));
    }

    fn is_noop(&self) -> bool {
        self.attributes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;

    fn config(yaml: &str) -> Result<ResourceDetectionConfig, Vec<ConfigError>> {
        let v: Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<ResourceDetectionConfig>(&v, "processors.resourcedetection")
    }

    #[test]
    fn otelcol_configs_load() {
        let c = config(
            "detectors: [env, system, docker, ec2, gcp, azure, eks, ecs, aks, heroku, openshift, k8snode, consul]\ntimeout: 2s\noverride: false\nsystem:\n  hostname_sources: [os]\n  resource_attributes:\n    host.id: {enabled: true}\n    host.ip: {enabled: false}\nec2:\n  tags: ['^tag1$']\nconsul:\n  address: http://localhost:8500\n",
        )
        .expect("loads");
        assert_eq!(c.timeout(), Duration::from_secs(2));
        let w: Vec<String> = c.warnings().into_iter().map(|w| w.path).collect();
        assert_eq!(w, ["consul", "ec2"]);
    }

    #[test]
    fn bad_configs_name_their_path() {
        let p = |y: &str| config(y).expect_err(y)[0].path.clone();
        assert_eq!(
            p("detectors: [env, nope]"),
            "processors.resourcedetection.detectors[1]"
        );
        assert_eq!(
            p("detector: [env]"),
            "processors.resourcedetection.detector"
        );
        assert_eq!(
            p("system: {hostname_sources: [dns, ldap]}"),
            "processors.resourcedetection.system.hostname_sources[1]"
        );
        assert_eq!(
            p("system: {resource_attributes: {host.nam: {enabled: true}}}"),
            "processors.resourcedetection.system.resource_attributes.host.nam"
        );
        assert_eq!(
            p("system: {resource_attributes: {host.mac: {enabled: true}}}"),
            "processors.resourcedetection.system.resource_attributes.host.mac"
        );
        assert_eq!(p("timeout: 0s"), "processors.resourcedetection.timeout");
        assert_eq!(
            p("system: {hostname_source: [os]}").as_str(),
            "processors.resourcedetection.system.hostname_source"
        );
    }

    #[test]
    fn earlier_detectors_win_and_override_decides() {
        let c = config(
            "detectors: [system, heroku, gcp]\nsystem: {hostname_sources: [os]}\ntimeout: 300ms",
        )
        .expect("loads");
        let id = ComponentId::parse("resourcedetection").expect("id");
        let d = detect(&c, &id).expect("detects");
        assert_eq!(d[0].0, "host.name");
        assert_eq!(d[1], ("os.type".to_owned(), "linux".to_owned()));
        let m = Merge {
            attributes: vec![KeyValue {
                key: "os.type".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("linux".into())),
                }),
                ..Default::default()
            }],
            override_existing: false,
        };
        let mut attrs = vec![KeyValue {
            key: "os.type".into(),
            value: None,
            ..Default::default()
        }];
        m.merge_into(&mut attrs);
        assert_eq!(attrs[0].value, None, "override: false keeps what is there");
        let m = Merge {
            override_existing: true,
            ..m
        };
        m.merge_into(&mut attrs);
        assert!(attrs[0].value.is_some());
    }
}
