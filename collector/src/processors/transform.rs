//! The `transform` processor: runs OTTL statements (the [`ottl`] crate) on every
//! resource, scope, span, span event, log record, metric or data point, as otelcol's
//! `transformprocessor` does.
//!
//! Statements come in groups. A group has a context (given by `context:` or inferred
//! from the statements' path prefixes), optional `conditions:` (the group runs on an
//! item when any holds) and statements run in order on each item of its context. A
//! plain string in `trace_statements` is a group of one statement with an inferred
//! context; consecutive such strings with the same context share one group. Groups
//! run in config order, each over the whole batch.
//!
//! `error_mode` decides what a statement that fails on an item does: `propagate`
//! (the default) refuses the batch, `ignore` logs and goes on with the next
//! statement, `silent` goes on without logging.

use std::sync::Arc;

use async_trait::async_trait;
use ottl::{Condition, ContextChoice, ContextKind, Item, Statement, TransformContext};
use pdata::otlp::common::v1::InstrumentationScope;
use pdata::otlp::metrics::v1::{Metric, metric};
use pdata::otlp::resource::v1::Resource;
use pdata::{Batch, ConsumeError, Consumer, Payload, Signal};
use serde::Deserialize;
use serde_yaml::Value;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError};
use crate::factory::{PrepareEnv, PrepareError, Prepared, Processor};
use crate::telemetry::SelfMetrics;

/// What a statement or condition that fails on an item does (`error_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorMode {
    /// Refuse the batch (permanently): the default.
    #[default]
    Propagate,
    /// Log the error and go on.
    Ignore,
    /// Go on without logging.
    Silent,
}

/// `processors.transform`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// `propagate` (default), `ignore` or `silent`.
    #[serde(default)]
    pub error_mode: ErrorMode,
    /// Statements for traces: strings, or groups `{context, conditions, statements,
    /// error_mode}`. Contexts: resource, scope, span, spanevent.
    #[serde(default)]
    pub trace_statements: Vec<Value>,
    /// Statements for metrics. Contexts: resource, scope, metric, datapoint.
    #[serde(default)]
    pub metric_statements: Vec<Value>,
    /// Statements for logs. Contexts: resource, scope, log.
    #[serde(default)]
    pub log_statements: Vec<Value>,
}

/// The contexts a signal's statements may use.
pub(crate) fn contexts(signal: Signal) -> &'static [ContextKind] {
    use ContextKind as C;
    match signal {
        Signal::Traces => &[C::Resource, C::Scope, C::Span, C::SpanEvent],
        Signal::Logs => &[C::Resource, C::Scope, C::Log],
        Signal::Metrics => &[C::Resource, C::Scope, C::Metric, C::DataPoint],
    }
}

/// A compiled group of statements.
#[derive(Debug)]
pub(crate) struct Group {
    context: ContextKind,
    conditions: Vec<Condition>,
    statements: Vec<Statement>,
    error_mode: ErrorMode,
}

impl TransformConfig {
    fn entries(&self, signal: Signal) -> (&'static str, &[Value]) {
        match signal {
            Signal::Traces => ("trace_statements", &self.trace_statements),
            Signal::Logs => ("log_statements", &self.log_statements),
            Signal::Metrics => ("metric_statements", &self.metric_statements),
        }
    }

    /// Compiles one signal's groups, or says what is wrong with each bad entry.
    fn groups(&self, signal: Signal) -> Result<Vec<Group>, Vec<ConfigError>> {
        let (key, entries) = self.entries(signal);
        let allowed = contexts(signal);
        let mut groups: Vec<Group> = Vec::new();
        let mut errors = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let path = format!("{key}[{i}]");
            match entry {
                Value::String(text) => {
                    match Statement::parse(text, ContextChoice::Infer(allowed)) {
                        Ok(st) => match groups.last_mut() {
                            // Consecutive flat statements of one context share an item's cache.
                            Some(g)
                                if g.context == st.context()
                                    && g.conditions.is_empty()
                                    && g.error_mode == self.error_mode =>
                            {
                                g.statements.push(st)
                            }
                            _ => groups.push(Group {
                                context: st.context(),
                                conditions: Vec::new(),
                                statements: vec![st],
                                error_mode: self.error_mode,
                            }),
                        },
                        Err(e) => errors.push(ConfigError::new(path, e.to_string())),
                    }
                }
                Value::Mapping(_) => match parse_group(entry, allowed, self.error_mode, &path) {
                    Ok(g) => groups.push(g),
                    Err(mut e) => errors.append(&mut e),
                },
                _ => errors.push(ConfigError::new(
                    path,
                    "expected a statement (a string) or a group with `context` and `statements`",
                )),
            }
        }
        if errors.is_empty() {
            Ok(groups)
        } else {
            Err(errors)
        }
    }
}

/// `{context, conditions, statements, error_mode}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    conditions: Vec<String>,
    statements: Vec<String>,
    #[serde(default)]
    error_mode: Option<ErrorMode>,
}

fn parse_group(
    entry: &Value,
    allowed: &[ContextKind],
    error_mode: ErrorMode,
    path: &str,
) -> Result<Group, Vec<ConfigError>> {
    let g: GroupYaml = serde_yaml::from_value(entry.clone())
        .map_err(|e| vec![ConfigError::new(path, e.to_string())])?;
    let choice = match &g.context {
        Some(name) => match ContextKind::from_name(name).filter(|k| allowed.contains(k)) {
            Some(k) => ContextChoice::Given(k),
            None => {
                let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
                return Err(vec![ConfigError::new(
                    format!("{path}.context"),
                    format!(
                        "unknown context `{name}`, expected one of: {}",
                        names.join(", ")
                    ),
                )]);
            }
        },
        None => ContextChoice::Infer(allowed),
    };
    let mut errors = Vec::new();
    let mut statements = Vec::new();
    for (i, text) in g.statements.iter().enumerate() {
        match Statement::parse(text, choice) {
            Ok(s) => statements.push(s),
            Err(e) => errors.push(ConfigError::new(
                format!("{path}.statements[{i}]"),
                e.to_string(),
            )),
        }
    }
    let mut conditions = Vec::new();
    for (i, text) in g.conditions.iter().enumerate() {
        match Condition::parse(text, choice) {
            Ok(c) => conditions.push(c),
            Err(e) => errors.push(ConfigError::new(
                format!("{path}.conditions[{i}]"),
                e.to_string(),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // An inferred group runs in the deepest context any of its parts needs.
    let context = match choice {
        ContextChoice::Given(k) => k,
        ContextChoice::Infer(_) => statements
            .iter()
            .map(Statement::context)
            .chain(conditions.iter().map(Condition::context))
            .max_by_key(|k| k.depth())
            .unwrap_or(ContextKind::Resource),
    };
    if let Some(s) = statements.iter().find(|s| !context.reaches(s.context())) {
        return Err(vec![ConfigError::new(
            path,
            format!(
                "statement `{}` (context {}) cannot run in the group's {context} context",
                s.text(),
                s.context()
            ),
        )]);
    }
    Ok(Group {
        context,
        conditions,
        statements,
        error_mode: g.error_mode.unwrap_or(error_mode),
    })
}

impl ComponentConfig for TransformConfig {
    fn validate(&self) -> Vec<ConfigError> {
        Signal::ALL
            .into_iter()
            .filter_map(|s| self.groups(s).err())
            .flatten()
            .collect()
    }
}

impl AnyConfig for TransformConfig {}

impl Processor for TransformConfig {
    fn prepare(
        &self,
        id: &ComponentId,
        _env: &PrepareEnv<'_>,
    ) -> Result<Box<dyn Prepared>, PrepareError> {
        let compile = |s| {
            self.groups(s).map(Arc::new).map_err(|e| {
                let msgs: Vec<String> = e
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect();
                PrepareError::Other(format!("processors.{id}: {}", msgs.join("; ")))
            })
        };
        Ok(Box::new(PreparedTransform {
            traces: compile(Signal::Traces)?,
            logs: compile(Signal::Logs)?,
            metrics: compile(Signal::Metrics)?,
        }))
    }
}

struct PreparedTransform {
    traces: Arc<Vec<Group>>,
    logs: Arc<Vec<Group>>,
    metrics: Arc<Vec<Group>>,
}

impl Prepared for PreparedTransform {
    fn build(
        &self,
        id: &ComponentId,
        signal: Signal,
        next: Arc<dyn Consumer>,
        _metrics: &SelfMetrics,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        let groups = match signal {
            Signal::Traces => self.traces.clone(),
            Signal::Logs => self.logs.clone(),
            Signal::Metrics => self.metrics.clone(),
        };
        Ok(Arc::new(Transform {
            id: id.to_string(),
            groups,
            next,
        }))
    }
}

/// One pipeline's `transform`.
pub struct Transform {
    id: String,
    groups: Arc<Vec<Group>>,
    next: Arc<dyn Consumer>,
}

#[async_trait]
impl Consumer for Transform {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        if !self.groups.is_empty() {
            batch
                .modify(|p| transform(&self.groups, p, &self.id))
                .map_err(|e| ConsumeError::permanent(format!("{}: {e}", self.id)))?;
        }
        self.next.consume(batch).await
    }
}

/// Runs every group on a request.
pub(crate) fn transform(groups: &[Group], payload: &mut Payload, id: &str) -> Result<(), String> {
    for g in groups {
        let mut run = |tc: &mut TransformContext<'_>| run_group(g, tc, id);
        for_each_item(payload, g.context, &mut run)?;
    }
    Ok(())
}

/// The group's conditions (any) and statements on one item.
fn run_group(g: &Group, tc: &mut TransformContext<'_>, id: &str) -> Result<(), String> {
    if !g.conditions.is_empty() && !any_holds(&g.conditions, tc, g.error_mode, id)? {
        return Ok(());
    }
    for st in &g.statements {
        if let Err(e) = st.execute(tc) {
            on_error(g.error_mode, id, st.text(), &e)?;
        }
    }
    Ok(())
}

/// Whether any condition holds; a failing condition counts as false unless the
/// error mode propagates it.
pub(crate) fn any_holds(
    conditions: &[Condition],
    tc: &mut TransformContext<'_>,
    mode: ErrorMode,
    id: &str,
) -> Result<bool, String> {
    for c in conditions {
        match c.eval(tc) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => on_error(mode, id, c.text(), &e)?,
        }
    }
    Ok(false)
}

/// Applies the error mode to a failure of `text` on one item.
pub(crate) fn on_error(
    mode: ErrorMode,
    id: &str,
    text: &str,
    e: &ottl::EvalError,
) -> Result<(), String> {
    match mode {
        ErrorMode::Propagate => Err(format!("failed to execute `{text}`: {e}")),
        ErrorMode::Ignore => {
            tracing::warn!(processor = %id, statement = %text, error = %e, "OTTL statement failed; ignored (error_mode: ignore)");
            Ok(())
        }
        ErrorMode::Silent => Ok(()),
    }
}

type ItemFn<'f> = dyn FnMut(&mut TransformContext<'_>) -> Result<(), String> + 'f;

/// Calls `f` on every item of `ctx` in the request, with its resource and scope.
pub(crate) fn for_each_item(
    payload: &mut Payload,
    ctx: ContextKind,
    f: &mut ItemFn<'_>,
) -> Result<(), String> {
    match payload {
        Payload::Traces(r) => {
            for rs in &mut r.resource_spans {
                let resource = rs.resource.get_or_insert_with(Resource::default);
                if ctx == ContextKind::Resource {
                    f(&mut TransformContext::resource(resource))?;
                    continue;
                }
                for ss in &mut rs.scope_spans {
                    let scope = ss.scope.get_or_insert_with(InstrumentationScope::default);
                    match ctx {
                        ContextKind::Scope => {
                            f(&mut TransformContext::new(resource, scope, Item::None))?
                        }
                        ContextKind::Span => {
                            for span in &mut ss.spans {
                                f(&mut TransformContext::new(
                                    resource,
                                    scope,
                                    Item::Span(span),
                                ))?;
                            }
                        }
                        ContextKind::SpanEvent => {
                            for span in &mut ss.spans {
                                for index in 0..span.events.len() {
                                    f(&mut TransformContext::new(
                                        resource,
                                        scope,
                                        Item::SpanEvent {
                                            span: &mut *span,
                                            index,
                                        },
                                    ))?;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            for rs in &mut r.resource_spans {
                tidy(
                    &mut rs.resource,
                    rs.scope_spans.iter_mut().map(|s| &mut s.scope),
                );
            }
        }
        Payload::Logs(r) => {
            for rl in &mut r.resource_logs {
                let resource = rl.resource.get_or_insert_with(Resource::default);
                if ctx == ContextKind::Resource {
                    f(&mut TransformContext::resource(resource))?;
                    continue;
                }
                for sl in &mut rl.scope_logs {
                    let scope = sl.scope.get_or_insert_with(InstrumentationScope::default);
                    match ctx {
                        ContextKind::Scope => {
                            f(&mut TransformContext::new(resource, scope, Item::None))?
                        }
                        ContextKind::Log => {
                            for log in &mut sl.log_records {
                                f(&mut TransformContext::new(resource, scope, Item::Log(log)))?;
                            }
                        }
                        _ => {}
                    }
                }
            }
            for rl in &mut r.resource_logs {
                tidy(
                    &mut rl.resource,
                    rl.scope_logs.iter_mut().map(|s| &mut s.scope),
                );
            }
        }
        Payload::Metrics(r) => {
            for rm in &mut r.resource_metrics {
                let resource = rm.resource.get_or_insert_with(Resource::default);
                if ctx == ContextKind::Resource {
                    f(&mut TransformContext::resource(resource))?;
                    continue;
                }
                for sm in &mut rm.scope_metrics {
                    let scope = sm.scope.get_or_insert_with(InstrumentationScope::default);
                    match ctx {
                        ContextKind::Scope => {
                            f(&mut TransformContext::new(resource, scope, Item::None))?
                        }
                        ContextKind::Metric => {
                            for metric in &mut sm.metrics {
                                f(&mut TransformContext::new(
                                    resource,
                                    scope,
                                    Item::Metric(metric),
                                ))?;
                            }
                        }
                        ContextKind::DataPoint => {
                            for metric in &mut sm.metrics {
                                for index in 0..point_count(metric) {
                                    f(&mut TransformContext::new(
                                        resource,
                                        scope,
                                        Item::DataPoint {
                                            metric: &mut *metric,
                                            index,
                                        },
                                    ))?;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            for rm in &mut r.resource_metrics {
                tidy(
                    &mut rm.resource,
                    rm.scope_metrics.iter_mut().map(|s| &mut s.scope),
                );
            }
        }
    }
    Ok(())
}

/// Resources and scopes made to give statements something to run on, and left
/// empty, go back to absent so the request encodes as it came.
fn tidy<'a>(
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

/// The number of data points of a metric, whatever its type.
pub(crate) fn point_count(m: &Metric) -> usize {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_component;
    use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
    use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn config(yaml: &str) -> Result<TransformConfig, Vec<ConfigError>> {
        let v: Value = serde_yaml::from_str(yaml).expect("yaml");
        parse_component::<TransformConfig>(&v, "processors.transform")
    }

    fn request(names: &[&str]) -> Payload {
        Payload::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: names
                        .iter()
                        .map(|n| Span {
                            name: (*n).to_owned(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn names(p: &Payload) -> Vec<String> {
        let Payload::Traces(r) = p else { panic!() };
        r.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn the_default_config_does_nothing() {
        let c = config("{}").expect("valid");
        assert!(c.groups(Signal::Traces).expect("compiles").is_empty());
        assert_eq!(c.error_mode, ErrorMode::Propagate);
    }

    #[test]
    fn flat_and_grouped_forms_run_in_order() {
        let c = config(
            r#"
error_mode: ignore
trace_statements:
  - 'set(span.name, Concat([span.name, "1"], "-"))'
  - context: span
    conditions: ['name == "a-1"']
    statements: ['set(name, "matched")']
  - context: resource
    statements: ['set(attributes["r"], "x")']
"#,
        )
        .expect("valid");
        let groups = c.groups(Signal::Traces).expect("compiles");
        assert_eq!(groups.len(), 3);
        let mut p = request(&["a", "b"]);
        transform(&groups, &mut p, "transform").expect("runs");
        assert_eq!(names(&p), ["matched", "b-1"]);
        let Payload::Traces(r) = &p else { panic!() };
        assert_eq!(
            r.resource_spans[0]
                .resource
                .as_ref()
                .map(|r| r.attributes.len()),
            Some(1)
        );
        // The scope was never touched: it stays absent.
        assert!(r.resource_spans[0].scope_spans[0].scope.is_none());
    }

    #[test]
    fn errors_name_the_entry_and_column() {
        let e = config("trace_statements: ['set(span.name, \"x\"']").expect_err("syntax");
        assert_eq!(e[0].path, "processors.transform.trace_statements[0]");
        assert!(e[0].message.contains("column"), "{}", e[0].message);
        let e = config("log_statements: [{context: span, statements: ['set(name, \"x\")']}]")
            .expect_err("context");
        assert_eq!(e[0].path, "processors.transform.log_statements[0].context");
        let e = config("trace_statements: [{context: span, statement: []}]").expect_err("key");
        assert!(e[0].message.contains("statement"), "{}", e[0].message);
        let e = config("metric_statements: ['set(log.body, \"x\")']").expect_err("wrong signal");
        assert!(
            e[0].message.contains("log context is not available"),
            "{}",
            e[0].message
        );
        assert!(config("error_mode: loud").is_err());
    }

    #[test]
    fn error_modes() {
        let mut p = request(&["a"]);
        let c = config("trace_statements: ['set(span.name, 1)', 'set(span.attributes[\"x\"], 1)']")
            .expect("valid");
        let e = transform(&c.groups(Signal::Traces).expect("compiles"), &mut p, "t")
            .expect_err("propagates");
        assert!(e.contains("name takes a string"), "{e}");
        let c = config("error_mode: silent\ntrace_statements: ['set(span.name, 1)', 'set(span.attributes[\"x\"], 1)']")
            .expect("valid");
        transform(&c.groups(Signal::Traces).expect("compiles"), &mut p, "t").expect("goes on");
        let Payload::Traces(r) = &p else { panic!() };
        assert_eq!(
            r.resource_spans[0].scope_spans[0].spans[0].attributes.len(),
            1
        );
    }
}
