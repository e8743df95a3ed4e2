//! Reaching the parts of the item a statement runs on: its span, event, log record,
//! metric or data point, and the key-value lists paths name.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::{Span, span};

use super::Owner;
use crate::context::{Item, TransformContext};
use crate::error::EvalError;

pub(super) fn missing(what: &str) -> EvalError {
    EvalError::new(format!("this item has no {what}"))
}

pub(super) fn span_ref<'t>(tc: &'t TransformContext<'_>) -> Result<&'t Span, EvalError> {
    match &tc.item {
        Item::Span(s) => Ok(s),
        Item::SpanEvent { span, .. } => Ok(span),
        _ => Err(missing("span")),
    }
}

pub(super) fn span_mut<'t>(tc: &'t mut TransformContext<'_>) -> Result<&'t mut Span, EvalError> {
    match &mut tc.item {
        Item::Span(s) => Ok(s),
        Item::SpanEvent { span, .. } => Ok(span),
        _ => Err(missing("span")),
    }
}

pub(super) fn event_ref<'t>(tc: &'t TransformContext<'_>) -> Result<&'t span::Event, EvalError> {
    match &tc.item {
        Item::SpanEvent { span, index } => {
            span.events.get(*index).ok_or_else(|| missing("span event"))
        }
        _ => Err(missing("span event")),
    }
}

pub(super) fn event_mut<'t>(
    tc: &'t mut TransformContext<'_>,
) -> Result<&'t mut span::Event, EvalError> {
    match &mut tc.item {
        Item::SpanEvent { span, index } => span
            .events
            .get_mut(*index)
            .ok_or_else(|| missing("span event")),
        _ => Err(missing("span event")),
    }
}

pub(super) fn log_ref<'t>(tc: &'t TransformContext<'_>) -> Result<&'t LogRecord, EvalError> {
    match &tc.item {
        Item::Log(l) => Ok(l),
        _ => Err(missing("log record")),
    }
}

pub(super) fn log_mut<'t>(
    tc: &'t mut TransformContext<'_>,
) -> Result<&'t mut LogRecord, EvalError> {
    match &mut tc.item {
        Item::Log(l) => Ok(l),
        _ => Err(missing("log record")),
    }
}

pub(super) fn metric_ref<'t>(tc: &'t TransformContext<'_>) -> Result<&'t Metric, EvalError> {
    match &tc.item {
        Item::Metric(m) => Ok(m),
        Item::DataPoint { metric, .. } => Ok(metric),
        _ => Err(missing("metric")),
    }
}

pub(super) fn metric_mut<'t>(
    tc: &'t mut TransformContext<'_>,
) -> Result<&'t mut Metric, EvalError> {
    match &mut tc.item {
        Item::Metric(m) => Ok(m),
        Item::DataPoint { metric, .. } => Ok(metric),
        _ => Err(missing("metric")),
    }
}

pub(super) fn point_index(tc: &TransformContext<'_>) -> Result<usize, EvalError> {
    match &tc.item {
        Item::DataPoint { index, .. } => Ok(*index),
        _ => Err(missing("data point")),
    }
}

/// Runs `$body` with `$p` bound to the current data point, whatever its type.
macro_rules! with_point {
    ($m:expr, $idx:expr, $p:ident => $body:expr) => {
        match $m.data.as_ref() {
            Some(metric::Data::Gauge(d)) => d.data_points.get($idx).map(|$p| $body),
            Some(metric::Data::Sum(d)) => d.data_points.get($idx).map(|$p| $body),
            Some(metric::Data::Histogram(d)) => d.data_points.get($idx).map(|$p| $body),
            Some(metric::Data::ExponentialHistogram(d)) => d.data_points.get($idx).map(|$p| $body),
            Some(metric::Data::Summary(d)) => d.data_points.get($idx).map(|$p| $body),
            None => None,
        }
        .ok_or_else(|| missing("data point"))
    };
}

macro_rules! with_point_mut {
    ($m:expr, $idx:expr, $p:ident => $body:expr) => {
        match $m.data.as_mut() {
            Some(metric::Data::Gauge(d)) => d.data_points.get_mut($idx).map(|$p| $body),
            Some(metric::Data::Sum(d)) => d.data_points.get_mut($idx).map(|$p| $body),
            Some(metric::Data::Histogram(d)) => d.data_points.get_mut($idx).map(|$p| $body),
            Some(metric::Data::ExponentialHistogram(d)) => {
                d.data_points.get_mut($idx).map(|$p| $body)
            }
            Some(metric::Data::Summary(d)) => d.data_points.get_mut($idx).map(|$p| $body),
            None => None,
        }
        .ok_or_else(|| missing("data point"))
    };
}

/// The key-value list `owner` names.
pub(crate) fn kvs<'t>(
    tc: &'t TransformContext<'_>,
    owner: Owner,
) -> Result<&'t [KeyValue], EvalError> {
    Ok(match owner {
        Owner::Resource => &tc.resource.attributes,
        Owner::Scope => {
            &tc.scope
                .as_ref()
                .ok_or_else(|| missing("scope"))?
                .attributes
        }
        Owner::Span => &span_ref(tc)?.attributes,
        Owner::Event => &event_ref(tc)?.attributes,
        Owner::Log => &log_ref(tc)?.attributes,
        Owner::Metric => &metric_ref(tc)?.metadata,
        Owner::Cache => &tc.cache,
        Owner::DataPoint => {
            let idx = point_index(tc)?;
            with_point!(metric_ref(tc)?, idx, p => p.attributes.as_slice())?
        }
    })
}

/// The key-value list `owner` names, to change.
pub(crate) fn kvs_mut<'t>(
    tc: &'t mut TransformContext<'_>,
    owner: Owner,
) -> Result<&'t mut Vec<KeyValue>, EvalError> {
    Ok(match owner {
        Owner::Resource => &mut tc.resource.attributes,
        Owner::Scope => {
            &mut tc
                .scope
                .as_mut()
                .ok_or_else(|| missing("scope"))?
                .attributes
        }
        Owner::Span => &mut span_mut(tc)?.attributes,
        Owner::Event => &mut event_mut(tc)?.attributes,
        Owner::Log => &mut log_mut(tc)?.attributes,
        Owner::Metric => &mut metric_mut(tc)?.metadata,
        Owner::Cache => &mut tc.cache,
        Owner::DataPoint => {
            let idx = point_index(tc)?;
            with_point_mut!(metric_mut(tc)?, idx, p => &mut p.attributes)?
        }
    })
}

pub(super) use {with_point, with_point_mut};

/// The log body, to change in place (`body["k"]`).
pub(crate) fn body_mut<'t>(
    tc: &'t mut TransformContext<'_>,
) -> Result<&'t mut AnyValue, EvalError> {
    Ok(log_mut(tc)?.body.get_or_insert(AnyValue { value: None }))
}
