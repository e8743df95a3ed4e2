//! The `routing` connector: sends each resource, span, log record, metric or data point
//! to the pipelines of the first table entry whose OTTL condition holds for it, and what
//! no entry takes to `default_pipelines` (dropped when there are none), as otelcol's
//! `routingconnector` does since `match_once` went away (v0.120).
//!
//! Entries run in table order, each over what the entries before it left: an entry in
//! the `resource` context moves whole resources, one in `span`, `log`, `metric` or
//! `datapoint` moves single items with copies of their resource and scope (a metric
//! keeps its metadata around the points it gives). The context is given (`context:`) or
//! inferred from the condition's path prefixes, and defaults to `resource` when nothing
//! can be inferred (as otelcol falls back). A condition that fails on an item refuses
//! the batch under `error_mode: propagate`, and counts as false under `ignore` (the
//! default, logged) and `silent`.

use std::sync::Arc;

use async_trait::async_trait;
use ottl::{Condition, ContextChoice, ContextKind, Item, TransformContext};
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::metrics::v1::{Metric, metric};
use pdata::otlp::resource::v1::Resource;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ConfigError, Ignored};
use crate::factory::{Connector, ConnectorContext};
use crate::processors::transform::{ErrorMode, any_holds};
use crate::service::fan_out;

/// `connectors.routing`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// `ignore` (default, as otelcol's `connector.routing.defaultErrorModeIgnore` gate),
    /// `propagate` or `silent`.
    #[serde(default = "default_error_mode")]
    pub error_mode: ErrorMode,
    /// Where data no entry takes goes; dropped when empty.
    #[serde(default)]
    pub default_pipelines: Vec<String>,
    /// The routes, first match wins.
    #[serde(default)]
    pub table: Vec<Route>,
    /// Removed from otelcol in v0.120: `true` is what every table does now (accepted
    /// with a warning), `false` is refused.
    #[serde(default)]
    match_once: Ignored,
}

fn default_error_mode() -> ErrorMode {
    ErrorMode::Ignore
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            error_mode: default_error_mode(),
            default_pipelines: Vec::new(),
            table: Vec::new(),
            match_once: Ignored::default(),
        }
    }
}

/// One entry of `table`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `resource`, `span`, `log`, `metric` or `datapoint`; inferred when absent.
    #[serde(default)]
    pub context: Option<String>,
    /// `route() where <condition>`.
    #[serde(default)]
    pub statement: Option<String>,
    /// An OTTL condition.
    #[serde(default)]
    pub condition: Option<String>,
    /// The pipelines that get what the condition matches.
    #[serde(default)]
    pub pipelines: Vec<String>,
    /// otelcol's newer per-entry action: not supported (an entry always moves what it
    /// matches).
    #[serde(default)]
    action: Ignored,
}

/// The contexts a routing condition may run in.
const CONTEXTS: [ContextKind; 5] = [
    ContextKind::Resource,
    ContextKind::Span,
    ContextKind::Log,
    ContextKind::Metric,
    ContextKind::DataPoint,
];

/// The signal a context belongs to (`None`: every signal).
fn signal_of(ctx: ContextKind) -> Option<Signal> {
    match ctx {
        ContextKind::Span | ContextKind::SpanEvent => Some(Signal::Traces),
        ContextKind::Log => Some(Signal::Logs),
        ContextKind::Metric | ContextKind::DataPoint => Some(Signal::Metrics),
        ContextKind::Resource | ContextKind::Scope => None,
    }
}

impl Route {
    /// The condition text and the key it came from: `condition`, or what follows
    /// `where` in a `statement` (`route() where ...`).
    fn condition_text(&self) -> Result<(&'static str, &str), (&'static str, String)> {
        match (&self.statement, &self.condition) {
            (Some(_), Some(_)) => Err((
                "",
                "set either `statement` or `condition`, not both".to_owned(),
            )),
            (None, None) => Err((
                "",
                "a route needs a `condition` (or a `statement`)".to_owned(),
            )),
            (None, Some(c)) => Ok(("condition", c)),
            (Some(s), None) => {
                let rest = s.trim_start().strip_prefix("route()").map(str::trim_start);
                match rest.and_then(|r| r.strip_prefix("where")) {
                    Some(c) if c.starts_with(char::is_whitespace) && !c.trim().is_empty() => {
                        Ok(("statement", c.trim()))
                    }
                    _ => Err((
                        "statement",
                        format!(
                            "a routing statement must read `route() where <condition>`, got {s:?}"
                        ),
                    )),
                }
            }
        }
    }

    /// The compiled condition, in its given or inferred context; an error names the key
    /// at fault (empty for the entry itself).
    fn compile(&self) -> Result<Condition, (&'static str, String)> {
        let (key, text) = self.condition_text()?;
        let choice = match self.context.as_deref() {
            None | Some("") => None,
            Some("request") => {
                return Err((
                    "context",
                    "the `request` context (client metadata) is not supported: tracemend's receivers keep no client metadata"
                        .to_owned(),
                ));
            }
            Some(name) => match ContextKind::from_name(name).filter(|k| CONTEXTS.contains(k)) {
                Some(k) => Some(k),
                None => {
                    return Err((
                        "context",
                        format!(
                            "unknown context `{name}`, expected one of resource, span, log, metric, datapoint"
                        ),
                    ));
                }
            },
        };
        let at = |e: ottl::Error| {
            if key == "statement" {
                (key, format!("{e} (in the condition after `where`)"))
            } else {
                (key, e.to_string())
            }
        };
        match choice {
            Some(k) => Condition::parse(text, ContextChoice::Given(k)).map_err(at),
            // Inferred from the paths; otelcol falls back to `resource` when it cannot.
            None => Condition::parse(text, ContextChoice::Infer(&CONTEXTS))
                .or_else(|_| Condition::parse(text, ContextChoice::Given(ContextKind::Resource)))
                .map_err(at),
        }
    }
}

impl ComponentConfig for RoutingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.table.is_empty() {
            errors.push(ConfigError::new(
                "table",
                "the routing table is empty: add at least one entry with a `condition` and `pipelines`",
            ));
        }
        if self.match_once.value().and_then(|v| v.as_bool()) == Some(false) {
            errors.push(ConfigError::new(
                "match_once",
                "`match_once: false` was removed from otelcol in v0.120: every item goes to the first matching route; split the table into several routing connectors to send an item to more than one",
            ));
        }
        for (i, r) in self.table.iter().enumerate() {
            if let Err((key, e)) = r.compile() {
                let path = if key.is_empty() {
                    format!("table[{i}]")
                } else {
                    format!("table[{i}].{key}")
                };
                errors.push(ConfigError::new(path, e));
            }
            if r.pipelines.is_empty() {
                errors.push(ConfigError::new(
                    format!("table[{i}].pipelines"),
                    "a route needs at least one pipeline",
                ));
            }
            if r.action.is_set() {
                errors.push(ConfigError::new(
                    format!("table[{i}].action"),
                    "`action` is not supported: an entry always moves what it matches to its pipelines",
                ));
            }
        }
        errors
    }
}

impl AnyConfig for RoutingConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        if self.match_once.value().and_then(|v| v.as_bool()) == Some(true) {
            return vec![ConfigError::new(
                "match_once",
                "`match_once` was removed from otelcol in v0.120; `true` is how every routing table works now, so the key can go",
            )];
        }
        Vec::new()
    }

    fn pipeline_refs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .default_pipelines
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("default_pipelines[{i}]"), p.clone()))
            .collect();
        for (i, r) in self.table.iter().enumerate() {
            out.extend(
                r.pipelines
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (format!("table[{i}].pipelines[{j}]"), p.clone())),
            );
        }
        out
    }

    fn connector_signal_errors(&self, from: Signal) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, r) in self.table.iter().enumerate() {
            let Ok(c) = r.compile() else { continue };
            if let Some(s) = signal_of(c.context())
                && s != from
            {
                errors.push(ConfigError::new(
                    format!("table[{i}]"),
                    format!(
                        "the {} context applies to {s}, but this connector is an exporter of a {from} pipeline",
                        c.context()
                    ),
                ));
            }
        }
        errors
    }
}

impl Connector for RoutingConfig {
    fn build(&self, ctx: ConnectorContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        let pick = |names: &[String]| -> Option<Arc<dyn Consumer>> {
            let found: Vec<Arc<dyn Consumer>> = ctx
                .pipelines
                .iter()
                .filter(|(id, _)| names.iter().any(|n| *n == id.to_string()))
                .map(|(_, c)| c.clone())
                .collect();
            (!found.is_empty()).then(|| fan_out(found))
        };
        let mut routes = Vec::new();
        for (i, r) in self.table.iter().enumerate() {
            let condition = r
                .compile()
                .map_err(|(_, e)| anyhow::anyhow!("table[{i}]: {e}"))?;
            routes.push(Compiled {
                condition,
                to: pick(&r.pipelines),
            });
        }
        Ok(Arc::new(Router {
            id: ctx.id.to_string(),
            mode: self.error_mode,
            routes,
            default: pick(&self.default_pipelines),
        }))
    }
}

/// A table entry ready to run: `to` is `None` when none of its pipelines carries this
/// instance's signal (the entry is then skipped for it).
struct Compiled {
    condition: Condition,
    to: Option<Arc<dyn Consumer>>,
}

/// One instance (per signal) of a routing connector.
struct Router {
    id: String,
    mode: ErrorMode,
    routes: Vec<Compiled>,
    default: Option<Arc<dyn Consumer>>,
}

#[async_trait]
impl Consumer for Router {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let mut rest = batch.into_payload();
        let mut sends: Vec<(Arc<dyn Consumer>, Payload)> = Vec::new();
        for route in &self.routes {
            if payload_is_empty(&rest) {
                break;
            }
            // An entry whose pipelines all carry another signal takes nothing of this one.
            if route.to.is_none() {
                continue;
            }
            let taken = take_matching(&mut rest, &route.condition, self.mode, &self.id)
                .map_err(|e| ConsumeError::permanent(format!("{}: {e}", self.id)))?;
            if let (Some(to), Some(taken)) = (&route.to, taken) {
                sends.push((to.clone(), taken));
            }
        }
        if !payload_is_empty(&rest) {
            match &self.default {
                Some(d) => sends.push((d.clone(), rest)),
                None => {
                    tracing::debug!(connector = %self.id, "Data matched no route and there are no default pipelines: dropped.")
                }
            }
        }
        let mut first_err = None;
        for (to, payload) in sends {
            if let Err(e) = to.consume(Batch::from_payload(payload)).await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn payload_is_empty(p: &Payload) -> bool {
    match p {
        Payload::Traces(r) => r.resource_spans.is_empty(),
        Payload::Logs(r) => r.resource_logs.is_empty(),
        Payload::Metrics(r) => r.resource_metrics.is_empty(),
    }
}

/// Whether `cond` holds, under the error mode.
fn holds(
    cond: &Condition,
    tc: &mut TransformContext<'_>,
    mode: ErrorMode,
    id: &str,
) -> Result<bool, String> {
    any_holds(std::slice::from_ref(cond), tc, mode, id)
}

/// Moves what `cond` matches out of `rest`, at the condition's context; `None` when
/// nothing matched.
fn take_matching(
    rest: &mut Payload,
    cond: &Condition,
    mode: ErrorMode,
    id: &str,
) -> Result<Option<Payload>, String> {
    let taken = match rest {
        Payload::Traces(r) => {
            let t = take_traces(r, cond, mode, id)?;
            (!t.resource_spans.is_empty()).then_some(Payload::Traces(t))
        }
        Payload::Logs(r) => {
            let t = take_logs(r, cond, mode, id)?;
            (!t.resource_logs.is_empty()).then_some(Payload::Logs(t))
        }
        Payload::Metrics(r) => {
            let t = take_metrics(r, cond, mode, id)?;
            (!t.resource_metrics.is_empty()).then_some(Payload::Metrics(t))
        }
    };
    Ok(taken)
}

/// Whether a resource matches a resource-context condition.
fn resource_holds(
    resource: &Option<Resource>,
    cond: &Condition,
    mode: ErrorMode,
    id: &str,
) -> Result<bool, String> {
    // A copy: a condition reads, and an absent resource must stay absent.
    let mut r = resource.clone().unwrap_or_default();
    holds(cond, &mut TransformContext::resource(&mut r), mode, id)
}

/// Splits `items` by `matches`, keeping the rest in place; returns the matched.
fn split<T>(items: &mut Vec<T>, matches: &[bool]) -> Vec<T> {
    let all = std::mem::take(items);
    let mut taken = Vec::new();
    for (item, m) in all
        .into_iter()
        .zip(matches.iter().copied().chain(std::iter::repeat(false)))
    {
        if m {
            taken.push(item);
        } else {
            items.push(item);
        }
    }
    taken
}

fn take_traces(
    r: &mut ExportTraceServiceRequest,
    cond: &Condition,
    mode: ErrorMode,
    id: &str,
) -> Result<ExportTraceServiceRequest, String> {
    let mut out = ExportTraceServiceRequest::default();
    if cond.context() == ContextKind::Resource {
        let flags = r
            .resource_spans
            .iter()
            .map(|rs| resource_holds(&rs.resource, cond, mode, id))
            .collect::<Result<Vec<_>, _>>()?;
        out.resource_spans = split(&mut r.resource_spans, &flags);
        return Ok(out);
    }
    for rs in &mut r.resource_spans {
        let mut resource = rs.resource.clone().unwrap_or_default();
        let mut moved = Vec::new();
        for ss in &mut rs.scope_spans {
            let mut scope = ss.scope.clone().unwrap_or_default();
            let mut flags = Vec::with_capacity(ss.spans.len());
            for span in &mut ss.spans {
                flags.push(holds(
                    cond,
                    &mut TransformContext::new(&mut resource, &mut scope, Item::Span(span)),
                    mode,
                    id,
                )?);
            }
            let spans = split(&mut ss.spans, &flags);
            if !spans.is_empty() {
                moved.push(pdata::otlp::trace::v1::ScopeSpans {
                    scope: ss.scope.clone(),
                    spans,
                    schema_url: ss.schema_url.clone(),
                });
            }
        }
        rs.scope_spans.retain(|s| !s.spans.is_empty());
        if !moved.is_empty() {
            out.resource_spans
                .push(pdata::otlp::trace::v1::ResourceSpans {
                    resource: rs.resource.clone(),
                    scope_spans: moved,
                    schema_url: rs.schema_url.clone(),
                });
        }
    }
    r.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
    Ok(out)
}

fn take_logs(
    r: &mut ExportLogsServiceRequest,
    cond: &Condition,
    mode: ErrorMode,
    id: &str,
) -> Result<ExportLogsServiceRequest, String> {
    let mut out = ExportLogsServiceRequest::default();
    if cond.context() == ContextKind::Resource {
        let flags = r
            .resource_logs
            .iter()
            .map(|rl| resource_holds(&rl.resource, cond, mode, id))
            .collect::<Result<Vec<_>, _>>()?;
        out.resource_logs = split(&mut r.resource_logs, &flags);
        return Ok(out);
    }
    for rl in &mut r.resource_logs {
        let mut resource = rl.resource.clone().unwrap_or_default();
        let mut moved = Vec::new();
        for sl in &mut rl.scope_logs {
            let mut scope = sl.scope.clone().unwrap_or_default();
            let mut flags = Vec::with_capacity(sl.log_records.len());
            for rec in &mut sl.log_records {
                flags.push(holds(
                    cond,
                    &mut TransformContext::new(&mut resource, &mut scope, Item::Log(rec)),
                    mode,
                    id,
                )?);
            }
            let records = split(&mut sl.log_records, &flags);
            if !records.is_empty() {
                moved.push(pdata::otlp::logs::v1::ScopeLogs {
                    scope: sl.scope.clone(),
                    log_records: records,
                    schema_url: sl.schema_url.clone(),
                });
            }
        }
        rl.scope_logs.retain(|s| !s.log_records.is_empty());
        if !moved.is_empty() {
            out.resource_logs.push(pdata::otlp::logs::v1::ResourceLogs {
                resource: rl.resource.clone(),
                scope_logs: moved,
                schema_url: rl.schema_url.clone(),
            });
        }
    }
    r.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
    Ok(out)
}

fn take_metrics(
    r: &mut ExportMetricsServiceRequest,
    cond: &Condition,
    mode: ErrorMode,
    id: &str,
) -> Result<ExportMetricsServiceRequest, String> {
    let mut out = ExportMetricsServiceRequest::default();
    if cond.context() == ContextKind::Resource {
        let flags = r
            .resource_metrics
            .iter()
            .map(|rm| resource_holds(&rm.resource, cond, mode, id))
            .collect::<Result<Vec<_>, _>>()?;
        out.resource_metrics = split(&mut r.resource_metrics, &flags);
        return Ok(out);
    }
    let points = cond.context() == ContextKind::DataPoint;
    for rm in &mut r.resource_metrics {
        let mut resource = rm.resource.clone().unwrap_or_default();
        let mut moved = Vec::new();
        for sm in &mut rm.scope_metrics {
            let mut scope = sm.scope.clone().unwrap_or_default();
            let mut metrics = Vec::new();
            if points {
                for m in &mut sm.metrics {
                    let n = crate::processors::transform::point_count(m);
                    let mut flags = Vec::with_capacity(n);
                    for index in 0..n {
                        flags.push(holds(
                            cond,
                            &mut TransformContext::new(
                                &mut resource,
                                &mut scope,
                                Item::DataPoint {
                                    metric: &mut *m,
                                    index,
                                },
                            ),
                            mode,
                            id,
                        )?);
                    }
                    if let Some(taken) = split_points(m, &flags) {
                        metrics.push(taken);
                    }
                }
                sm.metrics.retain(|m| {
                    crate::processors::transform::point_count(m) > 0 || m.data.is_none()
                });
            } else {
                let mut flags = Vec::with_capacity(sm.metrics.len());
                for m in &mut sm.metrics {
                    flags.push(holds(
                        cond,
                        &mut TransformContext::new(&mut resource, &mut scope, Item::Metric(m)),
                        mode,
                        id,
                    )?);
                }
                metrics = split(&mut sm.metrics, &flags);
            }
            if !metrics.is_empty() {
                moved.push(pdata::otlp::metrics::v1::ScopeMetrics {
                    scope: sm.scope.clone(),
                    metrics,
                    schema_url: sm.schema_url.clone(),
                });
            }
        }
        rm.scope_metrics.retain(|s| !s.metrics.is_empty());
        if !moved.is_empty() {
            out.resource_metrics
                .push(pdata::otlp::metrics::v1::ResourceMetrics {
                    resource: rm.resource.clone(),
                    scope_metrics: moved,
                    schema_url: rm.schema_url.clone(),
                });
        }
    }
    r.resource_metrics.retain(|rm| !rm.scope_metrics.is_empty());
    Ok(out)
}

/// Moves the flagged data points of `m` into a copy of `m` (same name, unit, type and
/// temporality); `None` when none is flagged.
fn split_points(m: &mut Metric, flags: &[bool]) -> Option<Metric> {
    if !flags.contains(&true) {
        return None;
    }
    let data = match &mut m.data {
        Some(metric::Data::Gauge(g)) => metric::Data::Gauge(pdata::otlp::metrics::v1::Gauge {
            data_points: split(&mut g.data_points, flags),
        }),
        Some(metric::Data::Sum(s)) => metric::Data::Sum(pdata::otlp::metrics::v1::Sum {
            data_points: split(&mut s.data_points, flags),
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: s.is_monotonic,
        }),
        Some(metric::Data::Histogram(h)) => {
            metric::Data::Histogram(pdata::otlp::metrics::v1::Histogram {
                data_points: split(&mut h.data_points, flags),
                aggregation_temporality: h.aggregation_temporality,
            })
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            metric::Data::ExponentialHistogram(pdata::otlp::metrics::v1::ExponentialHistogram {
                data_points: split(&mut h.data_points, flags),
                aggregation_temporality: h.aggregation_temporality,
            })
        }
        Some(metric::Data::Summary(s)) => {
            metric::Data::Summary(pdata::otlp::metrics::v1::Summary {
                data_points: split(&mut s.data_points, flags),
            })
        }
        None => return None,
    };
    Some(Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data: Some(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::common::v1::{AnyValue, KeyValue, any_value};
    use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

    fn config(yaml: &str) -> Result<RoutingConfig, Vec<ConfigError>> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<RoutingConfig>(&v, "connectors.routing")
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

    fn logs(resources: &[(&str, &[i32])]) -> Payload {
        Payload::Logs(ExportLogsServiceRequest {
            resource_logs: resources
                .iter()
                .map(|(tenant, sevs)| ResourceLogs {
                    resource: Some(Resource {
                        attributes: vec![kv("tenant", tenant)],
                        ..Default::default()
                    }),
                    scope_logs: vec![ScopeLogs {
                        log_records: sevs
                            .iter()
                            .map(|s| LogRecord {
                                severity_number: *s,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        })
    }

    fn count(p: &Option<Payload>) -> usize {
        match p {
            Some(Payload::Logs(r)) => r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            _ => 0,
        }
    }

    #[test]
    fn entries_take_in_order_and_leave_the_rest() {
        let c = config(
            "table:\n  - context: log\n    condition: severity_number >= SEVERITY_NUMBER_ERROR\n    pipelines: [logs/errors]\n  - statement: route() where attributes[\"tenant\"] == \"acme\"\n    pipelines: [logs/acme]\n",
        )
        .expect("valid");
        let first = c.table[0].compile().expect("compiles");
        let second = c.table[1].compile().expect("compiles");
        assert_eq!(first.context(), ContextKind::Log);
        // Nothing to infer from: resource, as otelcol falls back.
        assert_eq!(second.context(), ContextKind::Resource);
        let mut rest = logs(&[("acme", &[17, 9, 21]), ("other", &[9])]);
        let errors = take_matching(&mut rest, &first, ErrorMode::Propagate, "r").expect("runs");
        assert_eq!(count(&errors), 2);
        let acme = take_matching(&mut rest, &second, ErrorMode::Propagate, "r").expect("runs");
        // The error records went to the first entry: acme keeps only its info record.
        assert_eq!(count(&acme), 1);
        assert_eq!(count(&Some(rest)), 1);
    }

    #[test]
    fn bad_tables_are_refused_with_their_path() {
        let e = config("table: []").expect_err("empty");
        assert_eq!(e[0].path, "connectors.routing.table");
        let e =
            config("table:\n  - condition: 'attributes[\"x\"] =='\n    pipelines: [traces/a]\n")
                .expect_err("syntax");
        assert_eq!(e[0].path, "connectors.routing.table[0].condition");
        assert!(e[0].message.contains("column"), "{}", e[0].message);
        let e =
            config("table:\n  - statement: set(attributes[\"x\"], 1)\n    pipelines: [traces/a]\n")
                .expect_err("not route()");
        assert!(e[0].message.contains("route() where"), "{}", e[0].message);
        let e = config("table:\n  - condition: 'true'\n").expect_err("no pipelines");
        assert_eq!(e[0].path, "connectors.routing.table[0].pipelines");
        let e = config("table:\n  - context: request\n    condition: request[\"X\"] == \"a\"\n    pipelines: [logs/a]\n")
            .expect_err("request");
        assert_eq!(e[0].path, "connectors.routing.table[0].context");
        let e =
            config("match_once: false\ntable:\n  - condition: 'true'\n    pipelines: [logs/a]\n")
                .expect_err("match_once false");
        assert!(e[0].message.contains("v0.120"), "{}", e[0].message);
        let ok =
            config("match_once: true\ntable:\n  - condition: 'true'\n    pipelines: [logs/a]\n")
                .expect("match_once true loads");
        assert_eq!(ok.warnings().len(), 1);
        let c = config("table:\n  - condition: span.name == \"x\"\n    pipelines: [logs/a]\n")
            .expect("valid");
        assert_eq!(c.connector_signal_errors(Signal::Logs).len(), 1);
        assert!(c.connector_signal_errors(Signal::Traces).is_empty());
    }
}
