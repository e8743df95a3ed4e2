//! The `spanmetrics` connector: R.E.D. metrics from spans, as otelcol's
//! `spanmetricsconnector`. Every span counts into `calls` (a monotonic sum) and its
//! duration into a histogram (explicit buckets, or base-2 exponential), per set of
//! dimension values: `service.name`, `span.name`, `span.kind`, `status.code` (less
//! `exclude_dimensions`) and the configured `dimensions`, looked up in the span's then
//! the resource's attributes. Series are kept per resource and flushed every
//! `metrics_flush_interval` into the metrics pipelines that receive from the
//! connector, cumulative by default; the last flush happens at shutdown.

mod aggregate;
mod histogram;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use pdata::otlp::common::v1::{AnyValue, any_value};
use pdata::otlp::metrics::v1::AggregationTemporality;
use pdata::{Batch, ConsumeError, Consumer, Payload};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{AnyConfig, ComponentConfig, ConfigError, Ignored, ignored};
use crate::factory::{Connector, ConnectorContext};
use aggregate::{Aggregator, Dim};

/// otelcol's default explicit buckets, in milliseconds.
const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10_000.0, 15_000.0,
];

/// The dimensions every series has (unless excluded): a configured dimension must not
/// repeat one.
const FIXED: [&str; 4] = ["service.name", "span.name", "span.kind", "status.code"];

/// `connectors.spanmetrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanMetricsConfig {
    /// Added to the fixed dimensions of every metric.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Added to the dimensions of `calls` only.
    #[serde(default)]
    pub calls_dimensions: Vec<Dimension>,
    /// Fixed dimensions left out.
    #[serde(default)]
    pub exclude_dimensions: Vec<String>,
    /// Series per resource and metric beyond which spans count into one series with
    /// `otel.metric.overflow: true`; 0 (default) sets no limit.
    #[serde(default)]
    pub aggregation_cardinality_limit: usize,
    /// `AGGREGATION_TEMPORALITY_CUMULATIVE` (default) or `AGGREGATION_TEMPORALITY_DELTA`.
    #[serde(default)]
    pub aggregation_temporality: Temporality,
    #[serde(default)]
    pub histogram: HistogramConfig,
    #[serde(default)]
    pub exemplars: ExemplarsConfig,
    #[serde(default)]
    pub events: EventsConfig,
    /// When set, only spans of these instrumentation scopes are counted.
    #[serde(default)]
    pub include_instrumentation_scope: Vec<String>,
    /// A resource that sent no span for this long is forgotten (0: never).
    #[serde(default, with = "humantime_serde")]
    pub metrics_expiration: Option<Duration>,
    /// A series that saw no span for this long is forgotten (0: never).
    #[serde(default, with = "humantime_serde")]
    pub series_expiration: Option<Duration>,
    /// How often metrics are sent (default 60s).
    #[serde(default = "default_flush", with = "humantime_serde")]
    pub metrics_flush_interval: Duration,
    /// Prefix of the metric names, joined with `.` (default `traces.span.metrics`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The resource attributes that tell resources apart (default: all of them).
    #[serde(default)]
    pub resource_metrics_key_attributes: Vec<String>,
    /// The resource attributes are always copied to the metrics' resource (`true`).
    #[serde(default)]
    pub add_resource_attributes: Option<bool>,
    /// Cache sizes of otelcol's implementation: tracemend keeps every series until it
    /// expires.
    #[serde(default)]
    dimensions_cache_size: Ignored,
    #[serde(default)]
    resource_metrics_cache_size: Ignored,
    #[serde(default)]
    metric_timestamp_cache_size: Ignored,
    /// Adjusted counts from sampling probabilities are not computed: each span counts once.
    #[serde(default)]
    enable_metrics_sampling_method: Ignored,
}

fn default_flush() -> Duration {
    Duration::from_secs(60)
}

fn default_namespace() -> String {
    "traces.span.metrics".to_owned()
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        SpanMetricsConfig {
            dimensions: Vec::new(),
            calls_dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            aggregation_cardinality_limit: 0,
            aggregation_temporality: Temporality::default(),
            histogram: HistogramConfig::default(),
            exemplars: ExemplarsConfig::default(),
            events: EventsConfig::default(),
            include_instrumentation_scope: Vec::new(),
            metrics_expiration: None,
            series_expiration: None,
            metrics_flush_interval: default_flush(),
            namespace: default_namespace(),
            resource_metrics_key_attributes: Vec::new(),
            add_resource_attributes: None,
            dimensions_cache_size: Ignored::default(),
            resource_metrics_cache_size: Ignored::default(),
            metric_timestamp_cache_size: Ignored::default(),
            enable_metrics_sampling_method: Ignored::default(),
        }
    }
}

/// A dimension: `name`, with the `default` used when the span and resource lack it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
    /// otelcol's attribute-name patterns: not supported.
    #[serde(default)]
    glob: Option<String>,
}

/// `aggregation_temporality`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Temporality {
    #[default]
    #[serde(rename = "AGGREGATION_TEMPORALITY_CUMULATIVE")]
    Cumulative,
    #[serde(rename = "AGGREGATION_TEMPORALITY_DELTA")]
    Delta,
}

impl Temporality {
    fn otlp(self) -> i32 {
        match self {
            Temporality::Cumulative => AggregationTemporality::Cumulative as i32,
            Temporality::Delta => AggregationTemporality::Delta as i32,
        }
    }
}

/// `histogram`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramConfig {
    /// No duration metric at all.
    #[serde(default)]
    pub disable: bool,
    /// `ms` (default) or `s`.
    #[serde(default)]
    pub unit: Unit,
    #[serde(default)]
    pub explicit: Option<ExplicitConfig>,
    #[serde(default)]
    pub exponential: Option<ExponentialConfig>,
    /// Added to the dimensions of the duration metric only.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// `histogram.unit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Unit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

/// `histogram.explicit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplicitConfig {
    /// Upper bounds as durations (`2ms`, `1s`); otelcol's defaults when absent.
    #[serde(default)]
    pub buckets: Option<Vec<humantime_serde::Serde<Duration>>>,
}

/// `histogram.exponential`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialConfig {
    /// Most buckets for positive values (default 160).
    #[serde(default)]
    pub max_size: Option<usize>,
}

/// `exemplars`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Attach each span (trace and span id, duration) to its histogram point.
    #[serde(default)]
    pub enabled: bool,
    /// At most this many per point and flush (default: no limit).
    #[serde(default)]
    pub max_per_data_point: Option<usize>,
}

/// `events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Count span events into an `events` sum.
    #[serde(default)]
    pub enabled: bool,
    /// Looked up in each event's attributes.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// The config compiled for the aggregator.
#[derive(Debug)]
pub struct Settings {
    namespace: String,
    exclude: Vec<String>,
    dimensions: Vec<Dim>,
    calls_dimensions: Vec<Dim>,
    histogram_dimensions: Vec<Dim>,
    event_dimensions: Vec<Dim>,
    events_enabled: bool,
    cardinality_limit: usize,
    temporality: Temporality,
    histogram_disabled: bool,
    /// Explicit bounds in `unit`; `None` for the exponential histogram.
    buckets: Option<Vec<f64>>,
    exponential_max_size: usize,
    unit: String,
    unit_nanos: f64,
    exemplars: bool,
    exemplars_max: Option<usize>,
    include_scopes: Vec<String>,
    metrics_expiration: Option<Duration>,
    series_expiration: Option<Duration>,
    resource_key_attributes: Vec<String>,
}

impl Settings {
    /// A metric's full name.
    fn name(&self, metric: &str) -> String {
        if self.namespace.is_empty() {
            metric.to_owned()
        } else {
            format!("{}.{metric}", self.namespace)
        }
    }
}

fn dims(list: &[Dimension]) -> Vec<Dim> {
    list.iter()
        .map(|d| Dim {
            name: d.name.clone(),
            default: d.default.as_ref().map(|v| AnyValue {
                value: Some(any_value::Value::StringValue(v.clone())),
            }),
        })
        .collect()
}

/// A zero duration means "never", as in otelcol.
fn nonzero(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

impl SpanMetricsConfig {
    fn settings(&self) -> Settings {
        let (unit, unit_nanos) = match self.histogram.unit {
            Unit::Milliseconds => ("ms", 1e6),
            Unit::Seconds => ("s", 1e9),
        };
        let buckets = match (&self.histogram.exponential, &self.histogram.explicit) {
            (Some(_), _) => None,
            (None, Some(ExplicitConfig { buckets: Some(b) })) => {
                Some(b.iter().map(|d| d.as_nanos() as f64 / unit_nanos).collect())
            }
            (None, _) => Some(
                DEFAULT_BUCKETS_MS
                    .iter()
                    .map(|ms| ms * 1e6 / unit_nanos)
                    .collect(),
            ),
        };
        Settings {
            namespace: self.namespace.clone(),
            exclude: self.exclude_dimensions.clone(),
            dimensions: dims(&self.dimensions),
            calls_dimensions: dims(&self.calls_dimensions),
            histogram_dimensions: dims(&self.histogram.dimensions),
            event_dimensions: dims(&self.events.dimensions),
            events_enabled: self.events.enabled,
            cardinality_limit: self.aggregation_cardinality_limit,
            temporality: self.aggregation_temporality,
            histogram_disabled: self.histogram.disable,
            buckets,
            exponential_max_size: self
                .histogram
                .exponential
                .as_ref()
                .and_then(|e| e.max_size)
                .unwrap_or(160),
            unit: unit.to_owned(),
            unit_nanos,
            exemplars: self.exemplars.enabled,
            exemplars_max: self.exemplars.max_per_data_point.filter(|m| *m > 0),
            include_scopes: self.include_instrumentation_scope.clone(),
            metrics_expiration: nonzero(self.metrics_expiration),
            series_expiration: nonzero(self.series_expiration),
            resource_key_attributes: self.resource_metrics_key_attributes.clone(),
        }
    }
}

/// Checks one list of dimensions: names present, no glob, none repeating `seen`.
fn check_dims(
    path: &str,
    list: &[Dimension],
    seen: &mut Vec<String>,
    errors: &mut Vec<ConfigError>,
) {
    for (i, d) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if d.glob.is_some() {
            errors.push(ConfigError::new(
                format!("{at}.glob"),
                "`glob` dimensions are not supported: name each dimension",
            ));
            continue;
        }
        if d.name.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.name"),
                "a dimension needs a `name`",
            ));
            continue;
        }
        if seen.contains(&d.name) {
            errors.push(ConfigError::new(
                format!("{at}.name"),
                format!("duplicate dimension name `{}`", d.name),
            ));
        }
        seen.push(d.name.clone());
    }
}

impl ComponentConfig for SpanMetricsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let fixed: Vec<String> = FIXED.iter().map(|s| (*s).to_owned()).collect();
        let mut seen = fixed.clone();
        check_dims("dimensions", &self.dimensions, &mut seen, &mut errors);
        let shared = seen.clone();
        check_dims(
            "calls_dimensions",
            &self.calls_dimensions,
            &mut seen.clone(),
            &mut errors,
        );
        check_dims(
            "histogram.dimensions",
            &self.histogram.dimensions,
            &mut shared.clone(),
            &mut errors,
        );
        check_dims(
            "events.dimensions",
            &self.events.dimensions,
            &mut shared.clone(),
            &mut errors,
        );
        for (i, e) in self.exclude_dimensions.iter().enumerate() {
            if !fixed.contains(e) {
                errors.push(ConfigError::new(
                    format!("exclude_dimensions[{i}]"),
                    format!(
                        "`{e}` is not one of the default dimensions ({})",
                        FIXED.join(", ")
                    ),
                ));
            }
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            errors.push(ConfigError::new(
                "histogram",
                "use either `explicit` or `exponential` buckets histogram, not both",
            ));
        }
        if let Some(ExplicitConfig { buckets: Some(b) }) = &self.histogram.explicit
            && b.windows(2).any(|w| *w[0] >= *w[1])
        {
            errors.push(ConfigError::new(
                "histogram.explicit.buckets",
                "bucket bounds must be strictly increasing",
            ));
        }
        if let Some(ExponentialConfig { max_size: Some(0) }) = &self.histogram.exponential {
            errors.push(ConfigError::new(
                "histogram.exponential.max_size",
                "max_size must be positive",
            ));
        }
        if self.events.enabled && self.events.dimensions.is_empty() {
            errors.push(ConfigError::new(
                "events.dimensions",
                "at least one dimension is needed when `events.enabled` is true",
            ));
        }
        if self.metrics_flush_interval.is_zero() {
            errors.push(ConfigError::new(
                "metrics_flush_interval",
                "must be greater than zero",
            ));
        }
        errors
    }
}

impl AnyConfig for SpanMetricsConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        let cache = "tracemend keeps each series until it expires (`metrics_expiration`, `series_expiration`) or, for delta temporality, until the next flush";
        let mut w = ignored::warnings(
            "",
            &[
                ("dimensions_cache_size", &self.dimensions_cache_size, cache),
                (
                    "resource_metrics_cache_size",
                    &self.resource_metrics_cache_size,
                    cache,
                ),
                (
                    "metric_timestamp_cache_size",
                    &self.metric_timestamp_cache_size,
                    cache,
                ),
                (
                    "enable_metrics_sampling_method",
                    &self.enable_metrics_sampling_method,
                    "each span counts once: counts are not extrapolated from sampling probabilities",
                ),
            ],
        );
        if self.add_resource_attributes == Some(false) {
            w.push(ConfigError::new(
                "add_resource_attributes",
                ignored::ignored_message(
                    "the spans' resource attributes are always copied to the metrics' resource",
                ),
            ));
        }
        w
    }
}

fn now() -> (u64, Instant) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    (nanos, Instant::now())
}

impl Connector for SpanMetricsConfig {
    fn build(&self, ctx: ConnectorContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        let settings = Arc::new(self.settings());
        let state = Arc::new(Mutex::new(Aggregator::new(settings, now().0)));
        let next = ctx.all_pipelines();
        let stop = CancellationToken::new();
        let id = ctx.id.to_string();
        let task = tokio::spawn(flush_loop(
            id.clone(),
            state.clone(),
            next.clone(),
            self.metrics_flush_interval,
            stop.clone(),
        ));
        Ok(Arc::new(SpanMetrics {
            id,
            state,
            next,
            stop,
            task: Mutex::new(Some(task)),
        }))
    }
}

/// One instance of `spanmetrics`.
struct SpanMetrics {
    id: String,
    state: Arc<Mutex<Aggregator>>,
    next: Arc<dyn Consumer>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Sends the metrics held, if any.
async fn flush(id: &str, state: &Mutex<Aggregator>, next: &Arc<dyn Consumer>) {
    let req = state.lock().unwrap_or_else(|e| e.into_inner()).flush(now());
    let Some(req) = req else { return };
    if let Err(e) = next
        .consume(Batch::from_payload(Payload::Metrics(req)))
        .await
    {
        tracing::warn!(connector = %id, error = %e, "Span metrics were refused downstream; this flush is lost.");
    }
}

async fn flush_loop(
    id: String,
    state: Arc<Mutex<Aggregator>>,
    next: Arc<dyn Consumer>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => flush(&id, &state, &next).await,
        }
    }
}

#[async_trait]
impl Consumer for SpanMetrics {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let Payload::Traces(req) = batch.into_payload() else {
            return Err(ConsumeError::permanent(format!(
                "{}: spanmetrics takes traces",
                self.id
            )));
        };
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&req, now());
        Ok(())
    }

    async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
        // The last flush: what arrived since the last tick is not lost.
        flush(&self.id, &self.state, &self.next).await;
    }
}

#[cfg(test)]
mod tests;
