//! What `spanmetrics` holds between flushes: per resource, one series per set of
//! dimension values for `calls`, for the duration histogram and (when enabled) for
//! span `events`, and the OTLP request a flush makes of them.
//!
//! A series is found by a key written into a reused buffer (the dimension values,
//! each prefixed by its name), so a span of a known series costs a hash lookup and
//! no allocation; the attributes are built once, when the series is new.

use std::collections::HashMap;
use std::time::Instant;

use pdata::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use pdata::otlp::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use pdata::otlp::resource::v1::Resource;
use pdata::otlp::trace::v1::{Span, span, status};

use super::histogram::{Explicit, Exponential, Stats};
use super::{Settings, Temporality};

/// The scope of the metrics made, as otelcol names it.
const SCOPE: &str = "spanmetricsconnector";

/// A dimension: an attribute name and the value used when neither the span (or event)
/// nor the resource has it; without a default such a dimension is left out.
#[derive(Debug, Clone)]
pub struct Dim {
    pub name: String,
    pub default: Option<AnyValue>,
}

/// One series: its attributes, value, start time and exemplars.
#[derive(Debug, Clone)]
struct Entry<T> {
    attrs: Vec<KeyValue>,
    value: T,
    start: u64,
    last_seen: Instant,
    exemplars: Vec<pdata::otlp::metrics::v1::Exemplar>,
}

/// The series of one metric of one resource.
#[derive(Debug)]
struct Series<T> {
    map: HashMap<String, Entry<T>>,
}

impl<T> Default for Series<T> {
    fn default() -> Self {
        Series {
            map: HashMap::new(),
        }
    }
}

/// The key of the series that takes what exceeds `aggregation_cardinality_limit`.
const OVERFLOW: &str = "\u{0}otel.metric.overflow";

impl<T> Series<T> {
    /// The series for `key`, made with `attrs()` and `init()` when new (or the overflow
    /// series once `limit` series exist).
    fn entry(
        &mut self,
        key: &str,
        limit: usize,
        now: (u64, Instant),
        attrs: impl FnOnce() -> Vec<KeyValue>,
        init: impl FnOnce() -> T,
    ) -> &mut Entry<T> {
        let key = if limit > 0 && self.map.len() >= limit && !self.map.contains_key(key) {
            OVERFLOW
        } else {
            key
        };
        if !self.map.contains_key(key) {
            let attrs = if key == OVERFLOW {
                vec![KeyValue {
                    key: "otel.metric.overflow".to_owned(),
                    key_strindex: 0,
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }),
                }]
            } else {
                attrs()
            };
            self.map.insert(
                key.to_owned(),
                Entry {
                    attrs,
                    value: init(),
                    start: now.0,
                    last_seen: now.1,
                    exemplars: Vec::new(),
                },
            );
        }
        let e = self
            .map
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("inserted above"));
        e.last_seen = now.1;
        e
    }
}

/// A duration histogram of either kind.
#[derive(Debug, Clone)]
pub enum Hist {
    Explicit(Explicit),
    Exponential(Exponential),
}

/// Everything one resource holds.
#[derive(Debug)]
struct ResourceState {
    attributes: Vec<KeyValue>,
    calls: Series<u64>,
    durations: Series<Hist>,
    events: Series<u64>,
    last_seen: Instant,
}

/// The connector's state between flushes.
pub struct Aggregator {
    settings: std::sync::Arc<Settings>,
    resources: HashMap<String, ResourceState>,
    /// When the last flush happened: the start of delta points.
    last_flush: u64,
    key: String,
}

fn str_value(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    }
}

fn kind_name(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind).unwrap_or(span::SpanKind::Unspecified) {
        span::SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        span::SpanKind::Internal => "SPAN_KIND_INTERNAL",
        span::SpanKind::Server => "SPAN_KIND_SERVER",
        span::SpanKind::Client => "SPAN_KIND_CLIENT",
        span::SpanKind::Producer => "SPAN_KIND_PRODUCER",
        span::SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

fn status_name(s: &Span) -> &'static str {
    let code = s.status.as_ref().map_or(0, |s| s.code);
    match status::StatusCode::try_from(code).unwrap_or(status::StatusCode::Unset) {
        status::StatusCode::Unset => "STATUS_CODE_UNSET",
        status::StatusCode::Ok => "STATUS_CODE_OK",
        status::StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// The value of dimension `d`: from `attrs` (most specific first), else its default.
fn dim_value<'a>(d: &'a Dim, attrs: [&'a [KeyValue]; 2]) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find_map(|a| {
            a.iter()
                .find(|kv| kv.key == d.name)
                .and_then(|kv| kv.value.as_ref())
        })
        .or(d.default.as_ref())
}

/// Appends one dimension to a series key: its name, then its value.
fn push_key(key: &mut String, name: &str, v: &AnyValue) {
    use std::fmt::Write;
    key.push('\u{1}');
    key.push_str(name);
    key.push('\u{2}');
    match &v.value {
        Some(any_value::Value::StringValue(s)) => key.push_str(s),
        other => {
            let _ = write!(key, "{other:?}");
        }
    }
}

/// The fixed dimensions of a span (those not excluded), as (name, value).
fn base_dims<'a>(
    settings: &Settings,
    service: &'a str,
    s: &'a Span,
) -> [(&'static str, Option<&'a str>); 4] {
    let keep = |name: &'static str, v: &'a str| {
        (
            name,
            (!settings.exclude.iter().any(|e| e == name)).then_some(v),
        )
    };
    [
        keep("service.name", service),
        keep("span.name", &s.name),
        keep("span.kind", kind_name(s.kind)),
        keep("status.code", status_name(s)),
    ]
}

/// Writes the key of a series: the fixed dimensions, then `dims` then `extra`.
fn write_key(
    key: &mut String,
    base: &[(&'static str, Option<&str>); 4],
    dims: &[&[Dim]],
    attrs: [&[KeyValue]; 2],
) {
    key.clear();
    for (name, v) in base {
        if let Some(v) = v {
            key.push('\u{1}');
            key.push_str(name);
            key.push('\u{2}');
            key.push_str(v);
        }
    }
    for d in dims.iter().flat_map(|d| d.iter()) {
        if let Some(v) = dim_value(d, attrs) {
            push_key(key, &d.name, v);
        }
    }
}

/// The attributes of a series, in the order of its key.
fn series_attrs(
    base: &[(&'static str, Option<&str>); 4],
    dims: &[&[Dim]],
    attrs: [&[KeyValue]; 2],
) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = base
        .iter()
        .filter_map(|(n, v)| {
            v.map(|v| KeyValue {
                key: (*n).to_owned(),
                key_strindex: 0,
                value: Some(str_value(v)),
            })
        })
        .collect();
    for d in dims.iter().flat_map(|d| d.iter()) {
        if let Some(v) = dim_value(d, attrs) {
            out.push(KeyValue {
                key: d.name.clone(),
                key_strindex: 0,
                value: Some(v.clone()),
            });
        }
    }
    out
}

impl Aggregator {
    pub fn new(settings: std::sync::Arc<Settings>, now: u64) -> Self {
        Aggregator {
            settings,
            resources: HashMap::new(),
            last_flush: now,
            key: String::with_capacity(256),
        }
    }

    /// Number of series held (for tests and logs).
    #[cfg(test)]
    pub fn series(&self) -> usize {
        self.resources
            .values()
            .map(|r| r.calls.map.len() + r.durations.map.len() + r.events.map.len())
            .sum()
    }

    /// Adds every span of a request.
    pub fn add(&mut self, req: &ExportTraceServiceRequest, now: (u64, Instant)) {
        let settings = self.settings.clone();
        let s = &*settings;
        for rs in &req.resource_spans {
            let empty = Resource::default();
            let resource = rs.resource.as_ref().unwrap_or(&empty);
            // otelcol skips spans whose resource has no service.name.
            let Some(service) = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                    _ => None,
                })
            else {
                continue;
            };
            let rkey = resource_key(&resource.attributes, &s.resource_key_attributes);
            let state = self.resources.entry(rkey).or_insert_with(|| ResourceState {
                attributes: resource.attributes.clone(),
                calls: Series::default(),
                durations: Series::default(),
                events: Series::default(),
                last_seen: now.1,
            });
            state.last_seen = now.1;
            for ss in &rs.scope_spans {
                if !s.include_scopes.is_empty() {
                    let name = ss.scope.as_ref().map_or("", |sc| sc.name.as_str());
                    if !s.include_scopes.iter().any(|n| n == name) {
                        continue;
                    }
                }
                for span in &ss.spans {
                    add_span(
                        s,
                        state,
                        &mut self.key,
                        service,
                        span,
                        &resource.attributes,
                        now,
                    );
                }
            }
        }
    }

    /// The metrics of everything held, and the reset that follows a flush: delta
    /// temporality starts over, cumulative keeps counting (exemplars go either way).
    /// Expired resources and series are dropped first. `None` when there is nothing.
    pub fn flush(&mut self, now: (u64, Instant)) -> Option<ExportMetricsServiceRequest> {
        let s = self.settings.clone();
        if let Some(ttl) = s.metrics_expiration {
            self.resources
                .retain(|_, r| now.1.duration_since(r.last_seen) < ttl);
        }
        if let Some(ttl) = s.series_expiration {
            for r in self.resources.values_mut() {
                r.calls
                    .map
                    .retain(|_, e| now.1.duration_since(e.last_seen) < ttl);
                r.durations
                    .map
                    .retain(|_, e| now.1.duration_since(e.last_seen) < ttl);
                r.events
                    .map
                    .retain(|_, e| now.1.duration_since(e.last_seen) < ttl);
            }
        }
        let delta = s.temporality == Temporality::Delta;
        let start = |e_start: u64| if delta { self.last_flush } else { e_start };
        let mut out = Vec::new();
        for r in self.resources.values_mut() {
            let mut metrics = Vec::new();
            if !r.calls.map.is_empty() {
                metrics.push(sum_metric(
                    &s.name("calls"),
                    "",
                    &r.calls,
                    s.temporality,
                    now.0,
                    &start,
                ));
            }
            if !s.histogram_disabled && !r.durations.map.is_empty() {
                metrics.push(duration_metric(&s, &r.durations, now.0, &start));
            }
            if !r.events.map.is_empty() {
                metrics.push(sum_metric(
                    &s.name("events"),
                    "",
                    &r.events,
                    s.temporality,
                    now.0,
                    &start,
                ));
            }
            if metrics.is_empty() {
                continue;
            }
            out.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: r.attributes.clone(),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_owned(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        self.last_flush = now.0;
        if delta {
            self.resources.clear();
        } else {
            for r in self.resources.values_mut() {
                for e in r.durations.map.values_mut() {
                    e.exemplars.clear();
                }
            }
        }
        (!out.is_empty()).then_some(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }
}

/// The key of a resource: its attributes (only `keys` when given), in a stable order.
fn resource_key(attrs: &[KeyValue], keys: &[String]) -> String {
    let mut picked: Vec<&KeyValue> = attrs
        .iter()
        .filter(|kv| keys.is_empty() || keys.contains(&kv.key))
        .collect();
    picked.sort_by(|a, b| a.key.cmp(&b.key));
    format!("{picked:?}")
}

fn add_span(
    s: &Settings,
    state: &mut ResourceState,
    key: &mut String,
    service: &str,
    span: &Span,
    resource_attrs: &[KeyValue],
    now: (u64, Instant),
) {
    let base = base_dims(s, service, span);
    let attrs = [span.attributes.as_slice(), resource_attrs];
    let limit = s.cardinality_limit;

    write_key(key, &base, &[&s.dimensions, &s.calls_dimensions], attrs);
    let e = state.calls.entry(
        key,
        limit,
        now,
        || series_attrs(&base, &[&s.dimensions, &s.calls_dimensions], attrs),
        || 0,
    );
    e.value += 1;

    if !s.histogram_disabled {
        // Guard against an end before the start: a zero duration, as otelcol does.
        let nanos = span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano);
        let duration = nanos as f64 / s.unit_nanos;
        // The calls key serves when neither metric has dimensions of its own.
        if !s.histogram_dimensions.is_empty() || !s.calls_dimensions.is_empty() {
            write_key(key, &base, &[&s.dimensions, &s.histogram_dimensions], attrs);
        }
        let e = state.durations.entry(
            key,
            limit,
            now,
            || series_attrs(&base, &[&s.dimensions, &s.histogram_dimensions], attrs),
            || match &s.buckets {
                Some(bounds) => Hist::Explicit(Explicit::new(bounds)),
                None => Hist::Exponential(Exponential::new(s.exponential_max_size)),
            },
        );
        match &mut e.value {
            Hist::Explicit(h) => h.observe(s.buckets.as_deref().unwrap_or(&[]), duration),
            Hist::Exponential(h) => h.observe(duration),
        }
        if s.exemplars
            && !span.trace_id.iter().all(|b| *b == 0)
            && s.exemplars_max.is_none_or(|m| e.exemplars.len() < m)
        {
            e.exemplars.push(pdata::otlp::metrics::v1::Exemplar {
                time_unix_nano: span.end_time_unix_nano,
                span_id: span.span_id.clone(),
                trace_id: span.trace_id.clone(),
                value: Some(exemplar::Value::AsDouble(duration)),
                ..Default::default()
            });
        }
    }

    if s.events_enabled {
        for ev in &span.events {
            let ev_attrs = [ev.attributes.as_slice(), resource_attrs];
            write_key(key, &base, &[&s.dimensions, &s.event_dimensions], ev_attrs);
            // The span's own dimensions come from the span; the event's from the event.
            let e = state.events.entry(
                key,
                limit,
                now,
                || {
                    let mut a = series_attrs(&base, &[&s.dimensions], attrs);
                    a.extend(series_attrs(
                        &[("", None); 4],
                        &[&s.event_dimensions],
                        ev_attrs,
                    ));
                    a
                },
                || 0,
            );
            e.value += 1;
        }
    }
}

fn sum_metric(
    name: &str,
    unit: &str,
    series: &Series<u64>,
    temporality: Temporality,
    now: u64,
    start: &dyn Fn(u64) -> u64,
) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: series
                .map
                .values()
                .map(|e| NumberDataPoint {
                    attributes: e.attrs.clone(),
                    start_time_unix_nano: start(e.start),
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(e.value).unwrap_or(i64::MAX),
                    )),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: temporality.otlp(),
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn duration_metric(
    s: &Settings,
    series: &Series<Hist>,
    now: u64,
    start: &dyn Fn(u64) -> u64,
) -> Metric {
    let stats = |st: &Stats| (st.count, Some(st.sum), Some(st.min), Some(st.max));
    let data = if s.buckets.is_some() {
        metric::Data::Histogram(Histogram {
            data_points: series
                .map
                .values()
                .filter_map(|e| match &e.value {
                    Hist::Explicit(h) => {
                        let (count, sum, min, max) = stats(&h.stats);
                        Some(HistogramDataPoint {
                            attributes: e.attrs.clone(),
                            start_time_unix_nano: start(e.start),
                            time_unix_nano: now,
                            count,
                            sum,
                            min,
                            max,
                            bucket_counts: h.counts.clone(),
                            explicit_bounds: s.buckets.clone().unwrap_or_default(),
                            exemplars: e.exemplars.clone(),
                            ..Default::default()
                        })
                    }
                    Hist::Exponential(_) => None,
                })
                .collect(),
            aggregation_temporality: s.temporality.otlp(),
        })
    } else {
        metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: series
                .map
                .values()
                .filter_map(|e| match &e.value {
                    Hist::Exponential(h) => {
                        let (count, sum, min, max) = stats(&h.stats);
                        Some(ExponentialHistogramDataPoint {
                            attributes: e.attrs.clone(),
                            start_time_unix_nano: start(e.start),
                            time_unix_nano: now,
                            count,
                            sum,
                            min,
                            max,
                            scale: h.scale,
                            zero_count: h.zero_count,
                            positive: Some(h.positive()),
                            exemplars: e.exemplars.clone(),
                            ..Default::default()
                        })
                    }
                    Hist::Explicit(_) => None,
                })
                .collect(),
            aggregation_temporality: s.temporality.otlp(),
        })
    };
    Metric {
        name: s.name("duration"),
        unit: s.unit.clone(),
        data: Some(data),
        ..Default::default()
    }
}
