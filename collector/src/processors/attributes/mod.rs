//! The `attributes` processor (otelcol-contrib's `attributesprocessor`): runs the
//! attribute actions ([`crate::processors::attraction`]) on the attributes of every
//! span, log record and metric data point that `include` selects and `exclude` does
//! not.

pub mod matching;

use std::sync::Arc;

use pdata::otlp::common::v1::{InstrumentationScope, KeyValue};
use pdata::otlp::metrics::v1::{Metric, metric};
use pdata::otlp::resource::v1::Resource;
use pdata::{Consumer, Payload, Signal};
use serde::Deserialize;

use self::matching::{MatchProperties, Selection, Subject};
use super::attraction::{self, ActionConfig, Actions};
use super::modify::{Modify, ModifyConsumer};
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::SelfMetrics;

/// `processors.attributes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesConfig {
    /// The actions, in order. Required.
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
    /// Only items with these properties are changed.
    #[serde(default)]
    pub include: Option<MatchProperties>,
    /// Items with these properties are left alone.
    #[serde(default)]
    pub exclude: Option<MatchProperties>,
}

impl AttributesConfig {
    fn compile(&self) -> Result<(Actions, Selection), Vec<ConfigError>> {
        if self.actions.is_empty() {
            return Err(vec![ConfigError::new(
                "actions",
                "required: at least one action",
            )]);
        }
        let mut errors = Vec::new();
        let actions = attraction::compile(&self.actions, "actions").map_err(|e| errors.extend(e));
        let mut side = |p: &Option<MatchProperties>, path: &str| {
            p.as_ref()
                .map(|p| p.compile(path))
                .transpose()
                .map_err(|e| errors.extend(e))
                .ok()
                .flatten()
        };
        let include = side(&self.include, "include");
        let exclude = side(&self.exclude, "exclude");
        match actions {
            Ok(actions) if errors.is_empty() => Ok((actions, Selection { include, exclude })),
            _ => Err(errors),
        }
    }
}

impl ComponentConfig for AttributesConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl AnyConfig for AttributesConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let mut w = attraction::warnings(&self.actions, "actions");
        for (key, p) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(p) = p {
                w.extend(crate::config::ignored::warnings(
                    key,
                    &[(
                        "regexp",
                        &p.regexp,
                        "compiled regular expressions need no result cache",
                    )],
                ));
            }
        }
        w
    }
}

impl Processor for AttributesConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let (actions, selection) = self.compile().map_err(|e| {
            let msgs: Vec<String> = e
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect();
            PrepareError::Other(format!("processors.{id}: {}", msgs.join("; ")))
        })?;
        Ok(Box::new(PreparedAttributes {
            config: self.clone(),
            work: Arc::new(Work { actions, selection }),
        }))
    }
}

struct PreparedAttributes {
    config: AttributesConfig,
    work: Arc<Work>,
}

impl Prepared for PreparedAttributes {
    fn build(
        &self,
        id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        _metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        // What a side may match depends on the pipeline's signal, as in otelcol.
        for (key, p) in [
            ("include", &self.config.include),
            ("exclude", &self.config.exclude),
        ] {
            if let Some(p) = p {
                p.check_for(signal, &format!("processors.{id}.{key}"))
                    .map_err(anyhow::Error::msg)?;
            }
        }
        Ok(Arc::new(ModifyConsumer {
            work: self.work.clone(),
            next,
        }))
    }
}

struct Work {
    actions: Actions,
    selection: Selection,
}

fn point_attributes(m: &mut Metric) -> Vec<&mut Vec<KeyValue>> {
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => g
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(metric::Data::Sum(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(metric::Data::ExponentialHistogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(metric::Data::Summary(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        None => Vec::new(),
    }
}

impl Modify for Work {
    fn apply(&self, payload: &mut Payload) {
        let none_r = Resource::default();
        let none_s = InstrumentationScope::default();
        let sel = &self.selection;
        match payload {
            Payload::Traces(r) => {
                for rs in &mut r.resource_spans {
                    let res = rs.resource.as_ref().unwrap_or(&none_r);
                    for ss in &mut rs.scope_spans {
                        let scope = ss.scope.as_ref().unwrap_or(&none_s);
                        for span in &mut ss.spans {
                            if !sel.skips(&Subject::Span(span), res, scope) {
                                self.actions.apply(&mut span.attributes);
                            }
                        }
                    }
                }
            }
            Payload::Logs(r) => {
                for rl in &mut r.resource_logs {
                    let res = rl.resource.as_ref().unwrap_or(&none_r);
                    for sl in &mut rl.scope_logs {
                        let scope = sl.scope.as_ref().unwrap_or(&none_s);
                        for log in &mut sl.log_records {
                            if !sel.skips(&Subject::Log(log), res, scope) {
                                self.actions.apply(&mut log.attributes);
                            }
                        }
                    }
                }
            }
            Payload::Metrics(r) => {
                for rm in &mut r.resource_metrics {
                    let res = rm.resource.as_ref().unwrap_or(&none_r);
                    for sm in &mut rm.scope_metrics {
                        let scope = sm.scope.as_ref().unwrap_or(&none_s);
                        for m in &mut sm.metrics {
                            if sel.skips(&Subject::Metric(&m.name), res, scope) {
                                continue;
                            }
                            for attrs in point_attributes(m) {
                                self.actions.apply(attrs);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
