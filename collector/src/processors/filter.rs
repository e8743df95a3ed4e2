//! The `filter` processor: drops spans, span events, log records, metrics and data
//! points for which any of the configured OTTL conditions holds, as otelcol's
//! `filterprocessor` does with its OTTL configuration.
//!
//! Spans are filtered before their events, metrics before their data points; a metric
//! left without data points is dropped, and scopes and resources left empty go with
//! their last item. A batch with nothing left is not forwarded. A condition that fails
//! on an item refuses the batch under `error_mode: propagate` (the default) and
//! counts as false (the item is kept) under `ignore` and `silent`.

use std::sync::Arc;

use async_trait::async_trait;
use ottl::{Condition, ContextChoice, ContextKind, Item, TransformContext};
use pdata::otlp::common::v1::InstrumentationScope;
use pdata::otlp::metrics::v1::{Metric, metric};
use pdata::otlp::resource::v1::Resource;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use serde::Deserialize;
use serde_yaml::Value;

use super::transform::{ErrorMode, any_holds, point_count};
use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::SelfMetrics;

/// `processors.filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// `propagate` (default), `ignore` or `silent`.
    #[serde(default)]
    pub error_mode: ErrorMode,
    /// Conditions on spans and span events.
    #[serde(default)]
    pub traces: TraceConditions,
    /// Conditions on metrics and data points.
    #[serde(default)]
    pub metrics: MetricConditions,
    /// Conditions on log records.
    #[serde(default)]
    pub logs: LogConditions,
    /// otelcol's legacy `spans:` matching: refused with a pointer to OTTL.
    #[serde(default)]
    spans: Option<Value>,
}

/// `traces:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConditions {
    /// A span is dropped when any of these holds (span context).
    #[serde(default)]
    pub span: Vec<String>,
    /// A span event is dropped when any of these holds (spanevent context).
    #[serde(default)]
    pub spanevent: Vec<String>,
}

/// `metrics:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConditions {
    /// A metric is dropped when any of these holds (metric context).
    #[serde(default)]
    pub metric: Vec<String>,
    /// A data point is dropped when any of these holds (datapoint context).
    #[serde(default)]
    pub datapoint: Vec<String>,
    #[serde(default)]
    include: Option<Value>,
    #[serde(default)]
    exclude: Option<Value>,
}

/// `logs:`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConditions {
    /// A log record is dropped when any of these holds (log context).
    #[serde(default)]
    pub log_record: Vec<String>,
    #[serde(default)]
    include: Option<Value>,
    #[serde(default)]
    exclude: Option<Value>,
}

/// The compiled conditions.
#[derive(Debug, Default)]
struct Compiled {
    span: Vec<Condition>,
    spanevent: Vec<Condition>,
    metric: Vec<Condition>,
    datapoint: Vec<Condition>,
    log_record: Vec<Condition>,
}

fn compile(
    list: &[String],
    ctx: ContextKind,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Condition> {
    list.iter()
        .enumerate()
        .filter_map(
            |(i, text)| match Condition::parse(text, ContextChoice::Given(ctx)) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(ConfigError::new(format!("{path}[{i}]"), e.to_string()));
                    None
                }
            },
        )
        .collect()
}

impl FilterConfig {
    fn compile(&self) -> Result<Compiled, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let legacy = |path: &str, key: &str| {
            ConfigError::new(
                path,
                format!(
                    "otelcol's legacy include/exclude matching is not supported; write OTTL conditions under `{key}` instead"
                ),
            )
        };
        if self.spans.is_some() {
            errors.push(legacy("spans", "traces.span"));
        }
        if self.metrics.include.is_some() || self.metrics.exclude.is_some() {
            errors.push(legacy("metrics", "metrics.metric"));
        }
        if self.logs.include.is_some() || self.logs.exclude.is_some() {
            errors.push(legacy("logs", "logs.log_record"));
        }
        let c = Compiled {
            span: compile(
                &self.traces.span,
                ContextKind::Span,
                "traces.span",
                &mut errors,
            ),
            spanevent: compile(
                &self.traces.spanevent,
                ContextKind::SpanEvent,
                "traces.spanevent",
                &mut errors,
            ),
            metric: compile(
                &self.metrics.metric,
                ContextKind::Metric,
                "metrics.metric",
                &mut errors,
            ),
            datapoint: compile(
                &self.metrics.datapoint,
                ContextKind::DataPoint,
                "metrics.datapoint",
                &mut errors,
            ),
            log_record: compile(
                &self.logs.log_record,
                ContextKind::Log,
                "logs.log_record",
                &mut errors,
            ),
        };
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(errors)
        }
    }
}

impl ComponentConfig for FilterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl AnyConfig for FilterConfig {}

impl Processor for FilterConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let compiled = self.compile().map_err(|e| {
            let msgs: Vec<String> = e
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect();
            PrepareError::Other(format!("processors.{id}: {}", msgs.join("; ")))
        })?;
        Ok(Box::new(PreparedFilter {
            compiled: Arc::new(compiled),
            mode: self.error_mode,
        }))
    }
}

struct PreparedFilter {
    compiled: Arc<Compiled>,
    mode: ErrorMode,
}

impl Prepared for PreparedFilter {
    fn build(
        &self,
        id: &ComponentId,
        _signal: Signal,
        next: Arc<dyn Consumer>,
        _metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        Ok(Arc::new(Filter {
            id: id.to_string(),
            compiled: self.compiled.clone(),
            mode: self.mode,
            next,
        }))
    }
}

/// One pipeline's `filter`.
pub struct Filter {
    id: String,
    compiled: Arc<Compiled>,
    mode: ErrorMode,
    next: Arc<dyn Consumer>,
}

#[async_trait]
impl Consumer for Filter {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        let before = batch.item_count();
        batch
            .modify_if_changed(|p| {
                let r = filter(&self.compiled, self.mode, p, &self.id);
                let changed = r.as_ref().is_ok_and(|dropped| *dropped > 0);
                (r, changed)
            })
            .map_err(|e| ConsumeError::permanent(format!("{}: {e}", self.id)))?;
        if batch.is_empty() && before > 0 {
            tracing::debug!(processor = %self.id, dropped = before, "Every item filtered out; nothing forwarded.");
            return Ok(());
        }
        self.next.consume(batch).await
    }
}

/// Whether an item is dropped: any condition holds.
fn drops(
    conds: &[Condition],
    tc: &mut TransformContext<'_>,
    mode: ErrorMode,
    id: &str,
) -> Result<bool, String> {
    any_holds(conds, tc, mode, id)
}

/// Removes what the conditions match; returns how many items (spans, events, log
/// records, metrics, data points) were removed.
fn filter(c: &Compiled, mode: ErrorMode, payload: &mut Payload, id: &str) -> Result<usize, String> {
    let mut dropped = 0;
    match payload {
        Payload::Traces(r) => {
            if c.span.is_empty() && c.spanevent.is_empty() {
                return Ok(0);
            }
            for rs in &mut r.resource_spans {
                let resource = rs.resource.get_or_insert_with(Resource::default);
                for ss in &mut rs.scope_spans {
                    let scope = ss.scope.get_or_insert_with(InstrumentationScope::default);
                    if !c.span.is_empty() {
                        let keep = flags(ss.spans.len(), |i| {
                            drops(
                                &c.span,
                                &mut TransformContext::new(
                                    resource,
                                    scope,
                                    Item::Span(&mut ss.spans[i]),
                                ),
                                mode,
                                id,
                            )
                        })?;
                        dropped += retain(&mut ss.spans, &keep);
                    }
                    if !c.spanevent.is_empty() {
                        for span in &mut ss.spans {
                            let keep = flags(span.events.len(), |index| {
                                drops(
                                    &c.spanevent,
                                    &mut TransformContext::new(
                                        resource,
                                        scope,
                                        Item::SpanEvent {
                                            span: &mut *span,
                                            index,
                                        },
                                    ),
                                    mode,
                                    id,
                                )
                            })?;
                            dropped += retain(&mut span.events, &keep);
                        }
                    }
                }
                rs.scope_spans.retain(|s| !s.spans.is_empty());
                untouched(
                    &mut rs.resource,
                    rs.scope_spans.iter_mut().map(|s| &mut s.scope),
                );
            }
            r.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
        }
        Payload::Logs(r) => {
            if c.log_record.is_empty() {
                return Ok(0);
            }
            for rl in &mut r.resource_logs {
                let resource = rl.resource.get_or_insert_with(Resource::default);
                for sl in &mut rl.scope_logs {
                    let scope = sl.scope.get_or_insert_with(InstrumentationScope::default);
                    let keep = flags(sl.log_records.len(), |i| {
                        drops(
                            &c.log_record,
                            &mut TransformContext::new(
                                resource,
                                scope,
                                Item::Log(&mut sl.log_records[i]),
                            ),
                            mode,
                            id,
                        )
                    })?;
                    dropped += retain(&mut sl.log_records, &keep);
                }
                rl.scope_logs.retain(|s| !s.log_records.is_empty());
                untouched(
                    &mut rl.resource,
                    rl.scope_logs.iter_mut().map(|s| &mut s.scope),
                );
            }
            r.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
        }
        Payload::Metrics(r) => {
            if c.metric.is_empty() && c.datapoint.is_empty() {
                return Ok(0);
            }
            for rm in &mut r.resource_metrics {
                let resource = rm.resource.get_or_insert_with(Resource::default);
                for sm in &mut rm.scope_metrics {
                    let scope = sm.scope.get_or_insert_with(InstrumentationScope::default);
                    if !c.metric.is_empty() {
                        let keep = flags(sm.metrics.len(), |i| {
                            drops(
                                &c.metric,
                                &mut TransformContext::new(
                                    resource,
                                    scope,
                                    Item::Metric(&mut sm.metrics[i]),
                                ),
                                mode,
                                id,
                            )
                        })?;
                        dropped += retain(&mut sm.metrics, &keep);
                    }
                    if !c.datapoint.is_empty() {
                        for m in &mut sm.metrics {
                            let keep = flags(point_count(m), |index| {
                                drops(
                                    &c.datapoint,
                                    &mut TransformContext::new(
                                        resource,
                                        scope,
                                        Item::DataPoint {
                                            metric: &mut *m,
                                            index,
                                        },
                                    ),
                                    mode,
                                    id,
                                )
                            })?;
                            dropped += retain_points(m, &keep);
                        }
                        // A metric whose every point was dropped goes too.
                        sm.metrics
                            .retain(|m| point_count(m) > 0 || m.data.is_none());
                    }
                }
                rm.scope_metrics.retain(|s| !s.metrics.is_empty());
                untouched(
                    &mut rm.resource,
                    rm.scope_metrics.iter_mut().map(|s| &mut s.scope),
                );
            }
            r.resource_metrics.retain(|rm| !rm.scope_metrics.is_empty());
        }
    }
    Ok(dropped)
}

/// `keep[i]` for each of `n` items: `false` where `drop(i)` says so.
fn flags(
    n: usize,
    mut drop: impl FnMut(usize) -> Result<bool, String>,
) -> Result<Vec<bool>, String> {
    (0..n).map(|i| drop(i).map(|d| !d)).collect()
}

/// Keeps the items flagged; returns how many went.
fn retain<T>(items: &mut Vec<T>, keep: &[bool]) -> usize {
    let before = items.len();
    let mut i = 0;
    items.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
    before - items.len()
}

fn retain_points(m: &mut Metric, keep: &[bool]) -> usize {
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => retain(&mut g.data_points, keep),
        Some(metric::Data::Sum(s)) => retain(&mut s.data_points, keep),
        Some(metric::Data::Histogram(h)) => retain(&mut h.data_points, keep),
        Some(metric::Data::ExponentialHistogram(h)) => retain(&mut h.data_points, keep),
        Some(metric::Data::Summary(s)) => retain(&mut s.data_points, keep),
        None => 0,
    }
}

/// Resources and scopes made only so conditions could run go back to absent.
fn untouched<'a>(
    resource: &mut Option<Resource>,
    scopes: impl Iterator<Item = &'a mut Option<InstrumentationScope>>,
) {
    if resource.as_ref() == Some(&Resource::default()) {
        *resource = None;
    }
    for s in scopes {
        if s.as_ref() == Some(&InstrumentationScope::default()) {
            *s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
    use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
    use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use pdata::otlp::metrics::v1::{
        Gauge, NumberDataPoint, ResourceMetrics, ScopeMetrics, number_data_point,
    };

    fn config(yaml: &str) -> Result<FilterConfig, Vec<ConfigError>> {
        let v: Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<FilterConfig>(&v, "processors.filter")
    }

    #[test]
    fn logs_matching_any_condition_are_dropped_and_empty_containers_go() {
        let c = config("logs: {log_record: ['severity_number < SEVERITY_NUMBER_WARN', 'IsMatch(body, \"^health\")']}")
            .expect("valid")
            .compile()
            .expect("compiles");
        let log = |sev: i32, body: &str| LogRecord {
            severity_number: sev,
            body: Some(ottl::Value::Str(body.to_owned()).to_any()),
            ..Default::default()
        };
        let mut p = Payload::Logs(ExportLogsServiceRequest {
            resource_logs: vec![
                ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![log(17, "boom"), log(9, "fine"), log(17, "health ok")],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![log(1, "trace")],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        });
        assert_eq!(
            filter(&c, ErrorMode::Propagate, &mut p, "filter").expect("runs"),
            3
        );
        let Payload::Logs(r) = &p else { panic!() };
        assert_eq!(r.resource_logs.len(), 1);
        assert_eq!(r.resource_logs[0].scope_logs[0].log_records.len(), 1);
        assert!(r.resource_logs[0].resource.is_none());
    }

    #[test]
    fn metrics_without_points_left_are_dropped() {
        let c = config("metrics: {datapoint: ['value_int < 10']}")
            .expect("valid")
            .compile()
            .expect("compiles");
        let point = |v: i64| NumberDataPoint {
            value: Some(number_data_point::Value::AsInt(v)),
            ..Default::default()
        };
        let gauge = |name: &str, points: Vec<NumberDataPoint>| Metric {
            name: name.to_owned(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: points,
            })),
            ..Default::default()
        };
        let mut p = Payload::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        gauge("small", vec![point(1), point(2)]),
                        gauge("mixed", vec![point(5), point(50)]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        assert_eq!(
            filter(&c, ErrorMode::Propagate, &mut p, "filter").expect("runs"),
            3
        );
        let Payload::Metrics(r) = &p else { panic!() };
        let metrics = &r.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].name, "mixed");
    }

    #[test]
    fn config_errors_name_the_condition() {
        let e = config("traces: {span: ['name == \"a\"', 'name ==']}").expect_err("syntax");
        assert_eq!(e[0].path, "processors.filter.traces.span[1]");
        assert!(e[0].message.contains("column"), "{}", e[0].message);
        let e = config("logs: {include: {match_type: strict}}").expect_err("legacy");
        assert!(e[0].message.contains("logs.log_record"), "{}", e[0].message);
        let e = config("traces: {spam: []}").expect_err("unknown key");
        assert!(e[0].message.contains("spam"), "{}", e[0].message);
        assert!(config("error_mode: ignore\ntraces: {span: ['attributes[\"x\"] == 1']}").is_ok());
    }
}
