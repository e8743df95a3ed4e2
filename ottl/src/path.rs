//! Paths: which field of which context a path names (resolved once, when the
//! statement is compiled), and reading and writing it on an item.
//!
//! The fields are otelcol's (`pkg/ottl/contexts/ottl*`): a path is `context.field`
//! (`span.name`, `resource.attributes["k"]`) or, relative to the statement's context,
//! `field`. Keys index maps (`["k"]`) and lists (`[0]`). Reading and writing fields is
//! in `field`, reaching the item's parts in `item`, keys in `keys`.

use crate::context::ContextKind;

mod field;
mod item;
mod keys;

pub(crate) use field::{get, set};
pub(crate) use item::{body_mut, kvs, kvs_mut};
pub(crate) use keys::{get_in_kvs, index, set_in_any, set_in_kvs};

/// Whose attributes (or other key-value list) a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Resource,
    Scope,
    Span,
    Event,
    Log,
    DataPoint,
    /// `metric.metadata`
    Metric,
    /// The per-item `cache` map.
    Cache,
}

/// A resolved field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Attributes(Owner),
    DroppedAttributes(Owner),
    ScopeName,
    ScopeVersion,
    TraceId { log: bool, string: bool },
    SpanId { log: bool, string: bool },
    ParentSpanId { string: bool },
    TraceState,
    SpanName,
    Kind,
    StartTime,
    EndTime,
    StatusCode,
    StatusMessage,
    DroppedEvents,
    DroppedLinks,
    SpanFlags,
    EventName,
    EventTime,
    LogTime,
    ObservedTime,
    SeverityNumber,
    SeverityText,
    Body,
    BodyString,
    LogFlags,
    LogEventName,
    MetricName,
    MetricDescription,
    MetricUnit,
    MetricType,
    AggregationTemporality,
    IsMonotonic,
    PointStartTime,
    PointTime,
    PointFlags,
    ValueDouble,
    ValueInt,
    Count,
    Sum,
    BucketCounts,
    ExplicitBounds,
}

impl Field {
    /// Fields whose value is a map or `AnyValue` and so may be indexed.
    pub(crate) fn takes_keys(self) -> bool {
        matches!(self, Field::Attributes(_) | Field::Body)
    }
}

/// Resolves the field names of a path (after any context prefix) in context `ctx`;
/// the error says which path the context does not have.
pub(crate) fn resolve(ctx: ContextKind, names: &[&str]) -> Result<Field, String> {
    use ContextKind as C;
    let first = names.first().copied().unwrap_or_default();
    let second = names.get(1).copied();
    let unknown = || format!("`{}` is not a path of the {ctx} context", names.join("."));
    let field = match (ctx, first, second) {
        (_, "attributes", None) => Field::Attributes(owner(ctx)),
        (_, "dropped_attributes_count", None) if ctx != C::Metric => {
            Field::DroppedAttributes(owner(ctx))
        }
        (C::Scope, "name", None) => Field::ScopeName,
        (C::Scope, "version", None) => Field::ScopeVersion,
        (C::Span | C::Log, "trace_id", s) => Field::TraceId {
            log: ctx == C::Log,
            string: string_suffix(s).ok_or_else(unknown)?,
        },
        (C::Span | C::Log, "span_id", s) => Field::SpanId {
            log: ctx == C::Log,
            string: string_suffix(s).ok_or_else(unknown)?,
        },
        (C::Span, "parent_span_id", s) => Field::ParentSpanId {
            string: string_suffix(s).ok_or_else(unknown)?,
        },
        (C::Span, "trace_state", None) => Field::TraceState,
        (C::Span, "name", None) => Field::SpanName,
        (C::Span, "kind", None) => Field::Kind,
        (C::Span, "start_time_unix_nano", None) => Field::StartTime,
        (C::Span, "end_time_unix_nano", None) => Field::EndTime,
        (C::Span, "status", Some("code")) => Field::StatusCode,
        (C::Span, "status", Some("message")) => Field::StatusMessage,
        (C::Span, "dropped_events_count", None) => Field::DroppedEvents,
        (C::Span, "dropped_links_count", None) => Field::DroppedLinks,
        (C::Span, "flags", None) => Field::SpanFlags,
        (C::SpanEvent, "name", None) => Field::EventName,
        (C::SpanEvent, "time_unix_nano", None) => Field::EventTime,
        (C::Log, "time_unix_nano", None) => Field::LogTime,
        (C::Log, "observed_time_unix_nano", None) => Field::ObservedTime,
        (C::Log, "severity_number", None) => Field::SeverityNumber,
        (C::Log, "severity_text", None) => Field::SeverityText,
        (C::Log, "body", None) => Field::Body,
        (C::Log, "body", Some("string")) => Field::BodyString,
        (C::Log, "flags", None) => Field::LogFlags,
        (C::Log, "event_name", None) => Field::LogEventName,
        (C::Metric, "name", None) => Field::MetricName,
        (C::Metric, "description", None) => Field::MetricDescription,
        (C::Metric, "unit", None) => Field::MetricUnit,
        (C::Metric, "type", None) => Field::MetricType,
        (C::Metric, "aggregation_temporality", None) => Field::AggregationTemporality,
        (C::Metric, "is_monotonic", None) => Field::IsMonotonic,
        (C::Metric, "metadata", None) => Field::Attributes(Owner::Metric),
        (C::DataPoint, "start_time_unix_nano", None) => Field::PointStartTime,
        (C::DataPoint, "time_unix_nano", None) => Field::PointTime,
        (C::DataPoint, "flags", None) => Field::PointFlags,
        (C::DataPoint, "value_double", None) => Field::ValueDouble,
        (C::DataPoint, "value_int", None) => Field::ValueInt,
        (C::DataPoint, "count", None) => Field::Count,
        (C::DataPoint, "sum", None) => Field::Sum,
        (C::DataPoint, "bucket_counts", None) => Field::BucketCounts,
        (C::DataPoint, "explicit_bounds", None) => Field::ExplicitBounds,
        _ => return Err(unknown()),
    };
    Ok(field)
}

/// `None` when the suffix after an id field is not `.string`.
fn string_suffix(s: Option<&str>) -> Option<bool> {
    match s {
        None => Some(false),
        Some("string") => Some(true),
        Some(_) => None,
    }
}

fn owner(ctx: ContextKind) -> Owner {
    match ctx {
        ContextKind::Resource => Owner::Resource,
        ContextKind::Scope => Owner::Scope,
        ContextKind::Span => Owner::Span,
        ContextKind::SpanEvent => Owner::Event,
        ContextKind::Log => Owner::Log,
        ContextKind::Metric => Owner::Metric,
        ContextKind::DataPoint => Owner::DataPoint,
    }
}

/// A resolved key: evaluated before the path is read or written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyValueRef<'k> {
    /// Borrowed from the statement for literal keys.
    Str(std::borrow::Cow<'k, str>),
    Int(i64),
}
