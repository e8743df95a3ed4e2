//! The `count` connector: counts spans, span events, log records, metrics and data
//! points into metrics, as otelcol's `countconnector` does. Each configured metric
//! counts the items for which any of its OTTL `conditions` holds (all items when there
//! are none), by the values of its `attributes`; an item lacking an attribute that has
//! no `default_value` is not counted. Each batch yields, per resource, delta monotonic
//! sums (integers) under the resource's attributes, sent downstream at once.
//!
//! A section left out (`spans:` absent) counts with otelcol's default metric
//! (`trace.span.count`, `trace.span.event.count`, `log.record.count`, `metric.count`,
//! `metric.datapoint.count`); a section given counts only the metrics it lists. A
//! condition that fails on an item refuses the batch (otelcol's `propagate`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use ottl::{Condition, ContextChoice, ContextKind, Item, TransformContext};
use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pdata::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use pdata::otlp::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
    number_data_point,
};
use pdata::otlp::resource::v1::Resource;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use serde::Deserialize;
use serde_yaml::Value;

use crate::config::{AnyConfig, ComponentConfig, ConfigError};
use crate::factory::{Connector, ConnectorContext};
use crate::processors::transform::{ErrorMode, any_holds, point_count};

/// The instrumentation scope of the metrics made, as otelcol names it.
const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector";

/// `connectors.count`: one map of metric name to definition per kind of item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountConfig {
    #[serde(default)]
    pub spans: Option<BTreeMap<String, MetricInfo>>,
    #[serde(default)]
    pub spanevents: Option<BTreeMap<String, MetricInfo>>,
    #[serde(default)]
    pub metrics: Option<BTreeMap<String, MetricInfo>>,
    #[serde(default)]
    pub datapoints: Option<BTreeMap<String, MetricInfo>>,
    #[serde(default)]
    pub logs: Option<BTreeMap<String, MetricInfo>>,
}

/// One count metric.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInfo {
    #[serde(default)]
    pub description: String,
    /// OTTL conditions in the item's context; an item counts when any holds.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// The attributes the count is split by.
    #[serde(default)]
    pub attributes: Vec<AttributeConfig>,
}

/// One attribute of a count metric.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    pub key: String,
    /// The value used when an item lacks the attribute (a string, number or bool).
    #[serde(default)]
    pub default_value: Option<Value>,
    /// Logs only: also look in the scope's, then the resource's attributes.
    #[serde(default)]
    pub any_depth: bool,
}

/// The kinds of item counted, with the YAML key, OTTL context and default metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Spans,
    SpanEvents,
    Metrics,
    DataPoints,
    Logs,
}

impl What {
    const ALL: [What; 5] = [
        What::Spans,
        What::SpanEvents,
        What::Metrics,
        What::DataPoints,
        What::Logs,
    ];

    fn key(self) -> &'static str {
        match self {
            What::Spans => "spans",
            What::SpanEvents => "spanevents",
            What::Metrics => "metrics",
            What::DataPoints => "datapoints",
            What::Logs => "logs",
        }
    }

    fn context(self) -> ContextKind {
        match self {
            What::Spans => ContextKind::Span,
            What::SpanEvents => ContextKind::SpanEvent,
            What::Metrics => ContextKind::Metric,
            What::DataPoints => ContextKind::DataPoint,
            What::Logs => ContextKind::Log,
        }
    }

    fn default_metric(self) -> (&'static str, &'static str) {
        match self {
            What::Spans => ("trace.span.count", "The number of spans observed."),
            What::SpanEvents => (
                "trace.span.event.count",
                "The number of span events observed.",
            ),
            What::Metrics => ("metric.count", "The number of metrics observed."),
            What::DataPoints => (
                "metric.datapoint.count",
                "The number of data points observed.",
            ),
            What::Logs => ("log.record.count", "The number of log records observed."),
        }
    }
}

/// A compiled count metric.
#[derive(Debug, Clone)]
struct Def {
    name: String,
    description: String,
    conditions: Vec<Condition>,
    attributes: Vec<(String, Option<AnyValue>, bool)>,
}

/// A default value as an OTLP value, or why it cannot be one.
fn any_value(v: &Value) -> Result<AnyValue, String> {
    let value = match v {
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        _ => return Err("expected a string, number or bool".to_owned()),
    };
    Ok(AnyValue { value: Some(value) })
}

impl CountConfig {
    fn section(&self, what: What) -> Option<&BTreeMap<String, MetricInfo>> {
        match what {
            What::Spans => self.spans.as_ref(),
            What::SpanEvents => self.spanevents.as_ref(),
            What::Metrics => self.metrics.as_ref(),
            What::DataPoints => self.datapoints.as_ref(),
            What::Logs => self.logs.as_ref(),
        }
    }

    /// Compiles one kind's metrics, or says what is wrong with each.
    fn defs(&self, what: What) -> Result<Vec<Def>, Vec<ConfigError>> {
        let Some(section) = self.section(what) else {
            let (name, description) = what.default_metric();
            return Ok(vec![Def {
                name: name.to_owned(),
                description: description.to_owned(),
                conditions: Vec::new(),
                attributes: Vec::new(),
            }]);
        };
        let mut errors = Vec::new();
        let mut defs = Vec::new();
        for (name, info) in section {
            let path = format!("{}.{name}", what.key());
            if name.trim().is_empty() {
                errors.push(ConfigError::new(
                    what.key(),
                    "a metric name must not be empty",
                ));
            }
            let mut conditions = Vec::new();
            for (i, text) in info.conditions.iter().enumerate() {
                match Condition::parse(text, ContextChoice::Given(what.context())) {
                    Ok(c) => conditions.push(c),
                    Err(e) => errors.push(ConfigError::new(
                        format!("{path}.conditions[{i}]"),
                        e.to_string(),
                    )),
                }
            }
            if what == What::Metrics && !info.attributes.is_empty() {
                errors.push(ConfigError::new(
                    format!("{path}.attributes"),
                    "attributes are not supported when counting metrics (otelcol refuses them too): count `datapoints` by attribute instead",
                ));
            }
            let mut attributes = Vec::new();
            for (i, a) in info.attributes.iter().enumerate() {
                let at = format!("{path}.attributes[{i}]");
                if a.key.is_empty() {
                    errors.push(ConfigError::new(
                        format!("{at}.key"),
                        "an attribute key must not be empty",
                    ));
                }
                if a.any_depth && what != What::Logs {
                    errors.push(ConfigError::new(
                        format!("{at}.any_depth"),
                        "`any_depth` applies to logs only",
                    ));
                }
                let default = match a.default_value.as_ref().filter(|v| !v.is_null()) {
                    None => None,
                    Some(v) => match any_value(v) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            errors.push(ConfigError::new(format!("{at}.default_value"), e));
                            None
                        }
                    },
                };
                attributes.push((a.key.clone(), default, a.any_depth));
            }
            defs.push(Def {
                name: name.clone(),
                description: info.description.clone(),
                conditions,
                attributes,
            });
        }
        if errors.is_empty() {
            Ok(defs)
        } else {
            Err(errors)
        }
    }
}

impl ComponentConfig for CountConfig {
    fn validate(&self) -> Vec<ConfigError> {
        What::ALL
            .into_iter()
            .flat_map(|w| self.defs(w).err().unwrap_or_default())
            .collect()
    }
}

impl AnyConfig for CountConfig {}

impl Connector for CountConfig {
    fn build(&self, ctx: ConnectorContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        let kinds: &[What] = match ctx.from {
            Signal::Traces => &[What::Spans, What::SpanEvents],
            Signal::Logs => &[What::Logs],
            Signal::Metrics => &[What::Metrics, What::DataPoints],
        };
        let mut defs = Vec::new();
        for w in kinds {
            let d = self.defs(*w).map_err(|e| {
                anyhow::anyhow!(
                    "{}",
                    e.iter()
                        .map(|e| format!("{}: {}", e.path, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
            defs.push((*w, d));
        }
        Ok(Arc::new(Counter {
            id: ctx.id.to_string(),
            defs,
            next: ctx.all_pipelines(),
        }))
    }
}

/// One instance (per signal taken) of a count connector.
struct Counter {
    id: String,
    defs: Vec<(What, Vec<Def>)>,
    next: Arc<dyn Consumer>,
}

/// Counts of one resource: metric name → attribute set (as text) → (attributes, count).
#[derive(Default)]
struct Counts(BTreeMap<String, BTreeMap<String, (Vec<KeyValue>, i64)>>);

impl Counts {
    /// Counts the item in `tc` for every metric of `defs` it belongs to; `attrs` are its
    /// own attributes, `outer` the scope's and resource's (for `any_depth`).
    fn add(
        &mut self,
        defs: &[Def],
        attrs: &[KeyValue],
        outer: [&[KeyValue]; 2],
        tc: &mut TransformContext<'_>,
        id: &str,
    ) -> Result<(), String> {
        for d in defs {
            let mut values = Vec::with_capacity(d.attributes.len());
            for (key, default, any_depth) in &d.attributes {
                let mut found = attrs.iter().find(|kv| kv.key == *key);
                if found.is_none() && *any_depth {
                    found = outer
                        .iter()
                        .find_map(|o| o.iter().find(|kv| kv.key == *key));
                }
                match (found.and_then(|kv| kv.value.clone()), default) {
                    (Some(v), _) => values.push(KeyValue {
                        key: key.clone(),
                        value: Some(v),
                        key_strindex: 0,
                    }),
                    (None, Some(v)) => values.push(KeyValue {
                        key: key.clone(),
                        value: Some(v.clone()),
                        key_strindex: 0,
                    }),
                    (None, None) => break,
                }
            }
            // An item lacking an attribute without a default is not counted.
            if values.len() != d.attributes.len() {
                continue;
            }
            if !d.conditions.is_empty() && !any_holds(&d.conditions, tc, ErrorMode::Propagate, id)?
            {
                continue;
            }
            let key = format!("{values:?}");
            let entry = self
                .0
                .entry(d.name.clone())
                .or_default()
                .entry(key)
                .or_insert_with(|| (values, 0));
            entry.1 += 1;
        }
        Ok(())
    }

    fn into_metrics(self, defs: &[(What, Vec<Def>)], now: u64) -> Vec<Metric> {
        let mut out = Vec::new();
        for (name, series) in self.0 {
            let description = defs
                .iter()
                .flat_map(|(_, d)| d)
                .find(|d| d.name == name)
                .map(|d| d.description.clone())
                .unwrap_or_default();
            out.push(Metric {
                name,
                description,
                data: Some(metric::Data::Sum(Sum {
                    data_points: series
                        .into_values()
                        .map(|(attributes, n)| NumberDataPoint {
                            attributes,
                            time_unix_nano: now,
                            value: Some(number_data_point::Value::AsInt(n)),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    // Each delta is a count, never negative.
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
        out
    }
}

fn defs_of(defs: &[(What, Vec<Def>)], what: What) -> &[Def] {
    defs.iter()
        .find(|(w, _)| *w == what)
        .map_or(&[], |(_, d)| d)
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Counter {
    /// The count metrics of one batch, one resource each.
    fn count(&self, payload: &mut Payload) -> Result<ExportMetricsServiceRequest, String> {
        let mut per_resource: Vec<(Option<Resource>, Counts)> = Vec::new();
        let id = self.id.as_str();
        match payload {
            Payload::Traces(r) => {
                let spans = defs_of(&self.defs, What::Spans);
                let events = defs_of(&self.defs, What::SpanEvents);
                for rs in &mut r.resource_spans {
                    let mut counts = Counts::default();
                    let mut resource = rs.resource.clone().unwrap_or_default();
                    for ss in &mut rs.scope_spans {
                        let mut scope = ss.scope.clone().unwrap_or_default();
                        for span in &mut ss.spans {
                            let attrs = span.attributes.clone();
                            let outer = [scope.attributes.clone(), resource.attributes.clone()];
                            let mut tc =
                                TransformContext::new(&mut resource, &mut scope, Item::Span(span));
                            counts.add(spans, &attrs, [&outer[0], &outer[1]], &mut tc, id)?;
                            for index in 0..span.events.len() {
                                let attrs = span.events[index].attributes.clone();
                                let mut tc = TransformContext::new(
                                    &mut resource,
                                    &mut scope,
                                    Item::SpanEvent {
                                        span: &mut *span,
                                        index,
                                    },
                                );
                                counts.add(events, &attrs, [&outer[0], &outer[1]], &mut tc, id)?;
                            }
                        }
                    }
                    per_resource.push((rs.resource.clone(), counts));
                }
            }
            Payload::Logs(r) => {
                let logs = defs_of(&self.defs, What::Logs);
                for rl in &mut r.resource_logs {
                    let mut counts = Counts::default();
                    let mut resource = rl.resource.clone().unwrap_or_default();
                    for sl in &mut rl.scope_logs {
                        let mut scope = sl.scope.clone().unwrap_or_default();
                        for rec in &mut sl.log_records {
                            let attrs = rec.attributes.clone();
                            let outer = [scope.attributes.clone(), resource.attributes.clone()];
                            let mut tc =
                                TransformContext::new(&mut resource, &mut scope, Item::Log(rec));
                            counts.add(logs, &attrs, [&outer[0], &outer[1]], &mut tc, id)?;
                        }
                    }
                    per_resource.push((rl.resource.clone(), counts));
                }
            }
            Payload::Metrics(r) => {
                let metrics = defs_of(&self.defs, What::Metrics);
                let points = defs_of(&self.defs, What::DataPoints);
                for rm in &mut r.resource_metrics {
                    let mut counts = Counts::default();
                    let mut resource = rm.resource.clone().unwrap_or_default();
                    for sm in &mut rm.scope_metrics {
                        let mut scope = sm.scope.clone().unwrap_or_default();
                        for m in &mut sm.metrics {
                            let outer = [scope.attributes.clone(), resource.attributes.clone()];
                            let mut tc =
                                TransformContext::new(&mut resource, &mut scope, Item::Metric(m));
                            counts.add(metrics, &[], [&outer[0], &outer[1]], &mut tc, id)?;
                            for index in 0..point_count(m) {
                                let attrs = point_attributes(m, index).to_vec();
                                let mut tc = TransformContext::new(
                                    &mut resource,
                                    &mut scope,
                                    Item::DataPoint {
                                        metric: &mut *m,
                                        index,
                                    },
                                );
                                counts.add(points, &attrs, [&outer[0], &outer[1]], &mut tc, id)?;
                            }
                        }
                    }
                    per_resource.push((rm.resource.clone(), counts));
                }
            }
        }
        let now = now_nanos();
        let resource_metrics = per_resource
            .into_iter()
            .filter(|(_, c)| !c.0.is_empty())
            .map(|(resource, counts)| ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_owned(),
                        ..Default::default()
                    }),
                    metrics: counts.into_metrics(&self.defs, now),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        Ok(ExportMetricsServiceRequest { resource_metrics })
    }
}

/// The attributes of data point `index` of `m`.
fn point_attributes(m: &Metric, index: usize) -> &[KeyValue] {
    let attrs = match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.get(index).map(|p| &p.attributes),
        Some(metric::Data::Sum(s)) => s.data_points.get(index).map(|p| &p.attributes),
        Some(metric::Data::Histogram(h)) => h.data_points.get(index).map(|p| &p.attributes),
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.get(index).map(|p| &p.attributes)
        }
        Some(metric::Data::Summary(s)) => s.data_points.get(index).map(|p| &p.attributes),
        None => None,
    };
    attrs.map_or(&[], |a| a.as_slice())
}

#[async_trait]
impl Consumer for Counter {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let mut payload = batch.into_payload();
        let out = self
            .count(&mut payload)
            .map_err(|e| ConsumeError::permanent(format!("{}: {e}", self.id)))?;
        if out.resource_metrics.is_empty() {
            return Ok(());
        }
        self.next
            .consume(Batch::from_payload(Payload::Metrics(out)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
    use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

    fn config(yaml: &str) -> Result<CountConfig, Vec<ConfigError>> {
        let v: Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<CountConfig>(&v, "connectors.count")
    }

    fn counter(c: &CountConfig) -> Counter {
        Counter {
            id: "count".to_owned(),
            defs: vec![
                (What::Spans, c.defs(What::Spans).expect("spans")),
                (What::SpanEvents, c.defs(What::SpanEvents).expect("events")),
            ],
            next: Arc::new(crate::connectors::sink::Collect::default()),
        }
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.to_owned(),
            key_strindex: 0,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.to_owned())),
            }),
        }
    }

    fn spans() -> Payload {
        let span = |name: &str, env: Option<&str>, events: usize| Span {
            name: name.to_owned(),
            kind: span::SpanKind::Server as i32,
            attributes: env.map(|e| vec![kv("env", e)]).unwrap_or_default(),
            events: vec![Default::default(); events],
            ..Default::default()
        };
        Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "shop")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span("a", Some("prod"), 2),
                        span("b", Some("dev"), 0),
                        span("c", None, 1),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn points(req: &ExportMetricsServiceRequest, name: &str) -> Vec<(Vec<KeyValue>, i64)> {
        req.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.clone(),
                _ => Vec::new(),
            })
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(n)) => (p.attributes, n),
                _ => (p.attributes, -1),
            })
            .collect()
    }

    #[test]
    fn defaults_count_every_span_and_event() {
        let c = config("{}").expect("valid");
        let out = counter(&c).count(&mut spans()).expect("counts");
        assert_eq!(points(&out, "trace.span.count"), vec![(vec![], 3)]);
        assert_eq!(points(&out, "trace.span.event.count"), vec![(vec![], 3)]);
        assert_eq!(
            out.resource_metrics[0]
                .resource
                .as_ref()
                .map(|r| r.attributes.clone()),
            Some(vec![kv("service.name", "shop")])
        );
    }

    #[test]
    fn conditions_and_attributes_split_the_count() {
        let c = config(
            "spans:\n  by.env:\n    conditions: ['kind == SPAN_KIND_SERVER']\n    attributes: [{key: env}]\n  with.default:\n    attributes: [{key: env, default_value: none}]\n  named.a:\n    conditions: ['name == \"a\"', 'name == \"c\"']\nspanevents: {}\n",
        )
        .expect("valid");
        let out = counter(&c).count(&mut spans()).expect("counts");
        let mut by_env = points(&out, "by.env");
        by_env.sort_by_key(|p| format!("{:?}", p.0));
        // The span without `env` and no default is not counted.
        assert_eq!(
            by_env,
            vec![(vec![kv("env", "dev")], 1), (vec![kv("env", "prod")], 1)]
        );
        assert_eq!(points(&out, "with.default").len(), 3);
        assert_eq!(points(&out, "named.a"), vec![(vec![], 2)]);
        // A section given with no metrics counts nothing.
        assert!(points(&out, "trace.span.event.count").is_empty());
    }

    #[test]
    fn bad_configs_name_the_metric() {
        let e = config("spans:\n  x:\n    conditions: ['name ==']\n").expect_err("syntax");
        assert_eq!(e[0].path, "connectors.count.spans.x.conditions[0]");
        let e =
            config("metrics:\n  m:\n    attributes: [{key: a}]\n").expect_err("metric attributes");
        assert_eq!(e[0].path, "connectors.count.metrics.m.attributes");
        let e = config("spans:\n  x:\n    attributes: [{key: a, any_depth: true}]\n")
            .expect_err("any_depth");
        assert_eq!(
            e[0].path,
            "connectors.count.spans.x.attributes[0].any_depth"
        );
        let e = config("logs:\n  x:\n    attributes: [{key: a, default_value: [1]}]\n")
            .expect_err("list default");
        assert_eq!(
            e[0].path,
            "connectors.count.logs.x.attributes[0].default_value"
        );
        let e = config("spans:\n  x:\n    condition: ['true']\n").expect_err("unknown key");
        assert!(e[0].message.contains("condition"), "{}", e[0].message);
    }
}
