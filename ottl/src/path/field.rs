//! Reading and writing one field of an item, with the type each field takes.

use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Status;

use super::item::{
    event_mut, event_ref, kvs, kvs_mut, log_mut, log_ref, metric_mut, metric_ref, missing,
    point_index, span_mut, span_ref, with_point, with_point_mut,
};
use super::{Field, Owner};
use crate::context::TransformContext;
use crate::error::EvalError;
use crate::value::Value;

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Reads `field` (before keys).
pub(crate) fn get(tc: &TransformContext<'_>, field: Field) -> Result<Value, EvalError> {
    use Field as F;
    Ok(match field {
        F::Attributes(o) => Value::from_attributes(kvs(tc, o)?),
        F::DroppedAttributes(o) => Value::Int(i64::from(match o {
            Owner::Resource => tc.resource.dropped_attributes_count,
            Owner::Scope => {
                tc.scope
                    .as_ref()
                    .ok_or_else(|| missing("scope"))?
                    .dropped_attributes_count
            }
            Owner::Span => span_ref(tc)?.dropped_attributes_count,
            Owner::Event => event_ref(tc)?.dropped_attributes_count,
            Owner::Log => log_ref(tc)?.dropped_attributes_count,
            Owner::Metric | Owner::DataPoint | Owner::Cache => 0,
        })),
        F::ScopeName => Value::Str(
            tc.scope
                .as_ref()
                .ok_or_else(|| missing("scope"))?
                .name
                .clone(),
        ),
        F::ScopeVersion => Value::Str(
            tc.scope
                .as_ref()
                .ok_or_else(|| missing("scope"))?
                .version
                .clone(),
        ),
        F::TraceId { log, string } => {
            let id = if log {
                &log_ref(tc)?.trace_id
            } else {
                &span_ref(tc)?.trace_id
            };
            id_value(id, string)
        }
        F::SpanId { log, string } => {
            let id = if log {
                &log_ref(tc)?.span_id
            } else {
                &span_ref(tc)?.span_id
            };
            id_value(id, string)
        }
        F::ParentSpanId { string } => id_value(&span_ref(tc)?.parent_span_id, string),
        F::TraceState => Value::Str(span_ref(tc)?.trace_state.clone()),
        F::SpanName => Value::Str(span_ref(tc)?.name.clone()),
        F::Kind => Value::Int(i64::from(span_ref(tc)?.kind)),
        F::StartTime => int(span_ref(tc)?.start_time_unix_nano),
        F::EndTime => int(span_ref(tc)?.end_time_unix_nano),
        F::StatusCode => Value::Int(i64::from(
            span_ref(tc)?.status.as_ref().map_or(0, |s| s.code),
        )),
        F::StatusMessage => Value::Str(
            span_ref(tc)?
                .status
                .as_ref()
                .map(|s| s.message.clone())
                .unwrap_or_default(),
        ),
        F::DroppedEvents => Value::Int(i64::from(span_ref(tc)?.dropped_events_count)),
        F::DroppedLinks => Value::Int(i64::from(span_ref(tc)?.dropped_links_count)),
        F::SpanFlags => Value::Int(i64::from(span_ref(tc)?.flags)),
        F::EventName => Value::Str(event_ref(tc)?.name.clone()),
        F::EventTime => int(event_ref(tc)?.time_unix_nano),
        F::LogTime => int(log_ref(tc)?.time_unix_nano),
        F::ObservedTime => int(log_ref(tc)?.observed_time_unix_nano),
        F::SeverityNumber => Value::Int(i64::from(log_ref(tc)?.severity_number)),
        F::SeverityText => Value::Str(log_ref(tc)?.severity_text.clone()),
        F::Body => Value::from_any(log_ref(tc)?.body.as_ref()),
        F::BodyString => Value::Str(crate::functions::convert::to_string(&Value::from_any(
            log_ref(tc)?.body.as_ref(),
        ))),
        F::LogFlags => Value::Int(i64::from(log_ref(tc)?.flags)),
        F::LogEventName => Value::Str(log_ref(tc)?.event_name.clone()),
        F::MetricName => Value::Str(metric_ref(tc)?.name.clone()),
        F::MetricDescription => Value::Str(metric_ref(tc)?.description.clone()),
        F::MetricUnit => Value::Str(metric_ref(tc)?.unit.clone()),
        F::MetricType => Value::Int(match metric_ref(tc)?.data {
            None => 0,
            Some(metric::Data::Gauge(_)) => 1,
            Some(metric::Data::Sum(_)) => 2,
            Some(metric::Data::Histogram(_)) => 3,
            Some(metric::Data::ExponentialHistogram(_)) => 4,
            Some(metric::Data::Summary(_)) => 5,
        }),
        F::AggregationTemporality => Value::Int(i64::from(match &metric_ref(tc)?.data {
            Some(metric::Data::Sum(s)) => s.aggregation_temporality,
            Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
            Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
            _ => 0,
        })),
        F::IsMonotonic => Value::Bool(match &metric_ref(tc)?.data {
            Some(metric::Data::Sum(s)) => s.is_monotonic,
            _ => false,
        }),
        F::PointStartTime => {
            let idx = point_index(tc)?;
            int(with_point!(metric_ref(tc)?, idx, p => p.start_time_unix_nano)?)
        }
        F::PointTime => {
            let idx = point_index(tc)?;
            int(with_point!(metric_ref(tc)?, idx, p => p.time_unix_nano)?)
        }
        F::PointFlags => {
            let idx = point_index(tc)?;
            Value::Int(i64::from(with_point!(metric_ref(tc)?, idx, p => p.flags)?))
        }
        F::ValueDouble | F::ValueInt => {
            let idx = point_index(tc)?;
            let v = match &metric_ref(tc)?.data {
                Some(metric::Data::Gauge(g)) => g.data_points.get(idx).and_then(|p| p.value),
                Some(metric::Data::Sum(s)) => s.data_points.get(idx).and_then(|p| p.value),
                _ => None,
            };
            match (field, v) {
                (F::ValueDouble, Some(number_data_point::Value::AsDouble(d))) => Value::Double(d),
                (F::ValueInt, Some(number_data_point::Value::AsInt(i))) => Value::Int(i),
                (F::ValueDouble, _) => Value::Double(0.0),
                _ => Value::Int(0),
            }
        }
        F::Count => {
            let idx = point_index(tc)?;
            int(match &metric_ref(tc)?.data {
                Some(metric::Data::Histogram(h)) => h.data_points.get(idx).map_or(0, |p| p.count),
                Some(metric::Data::ExponentialHistogram(h)) => {
                    h.data_points.get(idx).map_or(0, |p| p.count)
                }
                Some(metric::Data::Summary(s)) => s.data_points.get(idx).map_or(0, |p| p.count),
                _ => 0,
            })
        }
        F::Sum => {
            let idx = point_index(tc)?;
            Value::Double(match &metric_ref(tc)?.data {
                Some(metric::Data::Histogram(h)) => {
                    h.data_points.get(idx).and_then(|p| p.sum).unwrap_or(0.0)
                }
                Some(metric::Data::ExponentialHistogram(h)) => {
                    h.data_points.get(idx).and_then(|p| p.sum).unwrap_or(0.0)
                }
                Some(metric::Data::Summary(s)) => s.data_points.get(idx).map_or(0.0, |p| p.sum),
                _ => 0.0,
            })
        }
        F::BucketCounts => {
            let idx = point_index(tc)?;
            match &metric_ref(tc)?.data {
                Some(metric::Data::Histogram(h)) => Value::List(
                    h.data_points
                        .get(idx)
                        .map(|p| p.bucket_counts.iter().map(|c| int(*c)).collect())
                        .unwrap_or_default(),
                ),
                _ => Value::List(Vec::new()),
            }
        }
        F::ExplicitBounds => {
            let idx = point_index(tc)?;
            match &metric_ref(tc)?.data {
                Some(metric::Data::Histogram(h)) => Value::List(
                    h.data_points
                        .get(idx)
                        .map(|p| {
                            p.explicit_bounds
                                .iter()
                                .map(|b| Value::Double(*b))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => Value::List(Vec::new()),
            }
        }
    })
}

fn id_value(id: &[u8], string: bool) -> Value {
    if string {
        Value::Str(hex::encode(id))
    } else {
        Value::Bytes(id.to_vec())
    }
}

fn want_str(field: &str, v: Value) -> Result<String, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(EvalError::new(format!(
            "{field} takes a string, got {}",
            other.type_name()
        ))),
    }
}

fn want_int(field: &str, v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(EvalError::new(format!(
            "{field} takes an int, got {}",
            other.type_name()
        ))),
    }
}

fn want_u32(field: &str, v: &Value) -> Result<u32, EvalError> {
    let i = want_int(field, v)?;
    u32::try_from(i).map_err(|_| {
        EvalError::new(format!(
            "{field} takes a value from 0 to {}, got {i}",
            u32::MAX
        ))
    })
}

fn want_i32(field: &str, v: &Value) -> Result<i32, EvalError> {
    let i = want_int(field, v)?;
    i32::try_from(i).map_err(|_| EvalError::new(format!("{field} is out of range: {i}")))
}

fn want_u64(field: &str, v: &Value) -> Result<u64, EvalError> {
    let i = want_int(field, v)?;
    u64::try_from(i).map_err(|_| EvalError::new(format!("{field} cannot be negative, got {i}")))
}

fn want_id(field: &str, v: Value, len: usize, string: bool) -> Result<Vec<u8>, EvalError> {
    let bytes = match (v, string) {
        (Value::Bytes(b), false) => b,
        (Value::Str(s), true) => hex::decode(&s)
            .map_err(|_| EvalError::new(format!("{field}.string takes hex digits, got {s:?}")))?,
        (other, _) => {
            return Err(EvalError::new(format!(
                "{field} takes {}, got {}",
                if string { "a hex string" } else { "bytes" },
                other.type_name()
            )));
        }
    };
    if bytes.len() != len {
        return Err(EvalError::new(format!(
            "{field} takes {len} bytes, got {}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Writes `field` (no keys). `Nil` is never written (callers skip it, as otelcol's `set`).
pub(crate) fn set(tc: &mut TransformContext<'_>, field: Field, v: Value) -> Result<(), EvalError> {
    use Field as F;
    match field {
        F::Attributes(o) => match v {
            Value::Map(m) => *kvs_mut(tc, o)? = crate::value::into_attributes(m),
            other => {
                return Err(EvalError::new(format!(
                    "attributes take a map, got {}",
                    other.type_name()
                )));
            }
        },
        F::DroppedAttributes(o) => {
            let n = want_u32("dropped_attributes_count", &v)?;
            match o {
                Owner::Resource => tc.resource.dropped_attributes_count = n,
                Owner::Scope => {
                    tc.scope
                        .as_mut()
                        .ok_or_else(|| missing("scope"))?
                        .dropped_attributes_count = n
                }
                Owner::Span => span_mut(tc)?.dropped_attributes_count = n,
                Owner::Event => event_mut(tc)?.dropped_attributes_count = n,
                Owner::Log => log_mut(tc)?.dropped_attributes_count = n,
                Owner::Metric | Owner::DataPoint | Owner::Cache => {}
            }
        }
        F::ScopeName => {
            tc.scope.as_mut().ok_or_else(|| missing("scope"))?.name = want_str("scope.name", v)?
        }
        F::ScopeVersion => {
            tc.scope.as_mut().ok_or_else(|| missing("scope"))?.version =
                want_str("scope.version", v)?
        }
        F::TraceId { log, string } => {
            let id = want_id("trace_id", v, 16, string)?;
            if log {
                log_mut(tc)?.trace_id = id
            } else {
                span_mut(tc)?.trace_id = id
            }
        }
        F::SpanId { log, string } => {
            let id = want_id("span_id", v, 8, string)?;
            if log {
                log_mut(tc)?.span_id = id
            } else {
                span_mut(tc)?.span_id = id
            }
        }
        F::ParentSpanId { string } => {
            span_mut(tc)?.parent_span_id = want_id("parent_span_id", v, 8, string)?
        }
        F::TraceState => span_mut(tc)?.trace_state = want_str("trace_state", v)?,
        F::SpanName => span_mut(tc)?.name = want_str("name", v)?,
        F::Kind => span_mut(tc)?.kind = want_i32("kind", &v)?,
        F::StartTime => span_mut(tc)?.start_time_unix_nano = want_u64("start_time_unix_nano", &v)?,
        F::EndTime => span_mut(tc)?.end_time_unix_nano = want_u64("end_time_unix_nano", &v)?,
        F::StatusCode => {
            let code = want_i32("status.code", &v)?;
            span_mut(tc)?
                .status
                .get_or_insert_with(Status::default)
                .code = code;
        }
        F::StatusMessage => {
            let msg = want_str("status.message", v)?;
            span_mut(tc)?
                .status
                .get_or_insert_with(Status::default)
                .message = msg;
        }
        F::DroppedEvents => {
            span_mut(tc)?.dropped_events_count = want_u32("dropped_events_count", &v)?
        }
        F::DroppedLinks => span_mut(tc)?.dropped_links_count = want_u32("dropped_links_count", &v)?,
        F::SpanFlags => span_mut(tc)?.flags = want_u32("flags", &v)?,
        F::EventName => event_mut(tc)?.name = want_str("name", v)?,
        F::EventTime => event_mut(tc)?.time_unix_nano = want_u64("time_unix_nano", &v)?,
        F::LogTime => log_mut(tc)?.time_unix_nano = want_u64("time_unix_nano", &v)?,
        F::ObservedTime => {
            log_mut(tc)?.observed_time_unix_nano = want_u64("observed_time_unix_nano", &v)?
        }
        F::SeverityNumber => log_mut(tc)?.severity_number = want_i32("severity_number", &v)?,
        F::SeverityText => log_mut(tc)?.severity_text = want_str("severity_text", v)?,
        F::Body => log_mut(tc)?.body = Some(v.into_any()),
        F::BodyString => {
            log_mut(tc)?.body = Some(Value::Str(want_str("body.string", v)?).into_any())
        }
        F::LogFlags => log_mut(tc)?.flags = want_u32("flags", &v)?,
        F::LogEventName => log_mut(tc)?.event_name = want_str("event_name", v)?,
        F::MetricName => metric_mut(tc)?.name = want_str("name", v)?,
        F::MetricDescription => metric_mut(tc)?.description = want_str("description", v)?,
        F::MetricUnit => metric_mut(tc)?.unit = want_str("unit", v)?,
        F::MetricType => {
            return Err(EvalError::new(
                "metric.type cannot be set; use the convert_* functions",
            ));
        }
        F::AggregationTemporality => {
            let t = want_i32("aggregation_temporality", &v)?;
            match &mut metric_mut(tc)?.data {
                Some(metric::Data::Sum(s)) => s.aggregation_temporality = t,
                Some(metric::Data::Histogram(h)) => h.aggregation_temporality = t,
                Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality = t,
                _ => {}
            }
        }
        F::IsMonotonic => {
            let Value::Bool(b) = v else {
                return Err(EvalError::new(format!(
                    "is_monotonic takes a bool, got {}",
                    v.type_name()
                )));
            };
            if let Some(metric::Data::Sum(s)) = &mut metric_mut(tc)?.data {
                s.is_monotonic = b;
            }
        }
        F::PointStartTime => {
            let t = want_u64("start_time_unix_nano", &v)?;
            let idx = point_index(tc)?;
            with_point_mut!(metric_mut(tc)?, idx, p => p.start_time_unix_nano = t)?
        }
        F::PointTime => {
            let t = want_u64("time_unix_nano", &v)?;
            let idx = point_index(tc)?;
            with_point_mut!(metric_mut(tc)?, idx, p => p.time_unix_nano = t)?
        }
        F::PointFlags => {
            let f = want_u32("flags", &v)?;
            let idx = point_index(tc)?;
            with_point_mut!(metric_mut(tc)?, idx, p => p.flags = f)?
        }
        F::ValueDouble | F::ValueInt => {
            let new = match (field, &v) {
                (F::ValueDouble, Value::Double(d)) => number_data_point::Value::AsDouble(*d),
                (F::ValueInt, Value::Int(i)) => number_data_point::Value::AsInt(*i),
                _ => {
                    return Err(EvalError::new(format!(
                        "{} takes {}, got {}",
                        if field == F::ValueDouble {
                            "value_double"
                        } else {
                            "value_int"
                        },
                        if field == F::ValueDouble {
                            "a double"
                        } else {
                            "an int"
                        },
                        v.type_name()
                    )));
                }
            };
            let idx = point_index(tc)?;
            let point = match &mut metric_mut(tc)?.data {
                Some(metric::Data::Gauge(g)) => g.data_points.get_mut(idx),
                Some(metric::Data::Sum(s)) => s.data_points.get_mut(idx),
                _ => None,
            };
            if let Some(p) = point {
                p.value = Some(new);
            }
        }
        F::Count => {
            let c = want_u64("count", &v)?;
            let idx = point_index(tc)?;
            match &mut metric_mut(tc)?.data {
                Some(metric::Data::Histogram(h)) => h
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.count = c),
                Some(metric::Data::ExponentialHistogram(h)) => h
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.count = c),
                Some(metric::Data::Summary(s)) => s
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.count = c),
                _ => {}
            }
        }
        F::Sum => {
            let s = match v {
                Value::Double(d) => d,
                other => {
                    return Err(EvalError::new(format!(
                        "sum takes a double, got {}",
                        other.type_name()
                    )));
                }
            };
            let idx = point_index(tc)?;
            match &mut metric_mut(tc)?.data {
                Some(metric::Data::Histogram(h)) => h
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.sum = Some(s)),
                Some(metric::Data::ExponentialHistogram(h)) => h
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.sum = Some(s)),
                Some(metric::Data::Summary(d)) => d
                    .data_points
                    .get_mut(idx)
                    .into_iter()
                    .for_each(|p| p.sum = s),
                _ => {}
            }
        }
        F::BucketCounts | F::ExplicitBounds => {
            return Err(EvalError::new(
                "bucket_counts and explicit_bounds cannot be set here",
            ));
        }
    }
    Ok(())
}
