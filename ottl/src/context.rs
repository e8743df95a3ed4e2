//! The contexts a statement runs in (resource, scope, span, ...) and the item a
//! statement is evaluated against: mutable borrows into one OTLP request.

use std::fmt;

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

/// An OTTL context: what a statement's unprefixed paths refer to and what it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContextKind {
    /// Once per resource.
    Resource,
    /// Once per instrumentation scope.
    Scope,
    /// Once per span.
    Span,
    /// Once per span event.
    SpanEvent,
    /// Once per log record.
    Log,
    /// Once per metric.
    Metric,
    /// Once per metric data point.
    DataPoint,
}

impl ContextKind {
    /// Every context.
    pub const ALL: [ContextKind; 7] = [
        ContextKind::Resource,
        ContextKind::Scope,
        ContextKind::Span,
        ContextKind::SpanEvent,
        ContextKind::Log,
        ContextKind::Metric,
        ContextKind::DataPoint,
    ];

    /// The context's name in configs and path prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Resource => "resource",
            ContextKind::Scope => "scope",
            ContextKind::Span => "span",
            ContextKind::SpanEvent => "spanevent",
            ContextKind::Log => "log",
            ContextKind::Metric => "metric",
            ContextKind::DataPoint => "datapoint",
        }
    }

    /// A context by its config name (`instrumentation_scope` is an alias of `scope`).
    pub fn from_name(name: &str) -> Option<ContextKind> {
        Some(match name {
            "resource" => ContextKind::Resource,
            "scope" | "instrumentation_scope" => ContextKind::Scope,
            "span" => ContextKind::Span,
            "spanevent" => ContextKind::SpanEvent,
            "log" => ContextKind::Log,
            "metric" => ContextKind::Metric,
            "datapoint" => ContextKind::DataPoint,
            _ => return None,
        })
    }

    /// How deep the context is: resource 0, scope 1, span/log/metric 2, event/point 3.
    pub fn depth(self) -> u8 {
        match self {
            ContextKind::Resource => 0,
            ContextKind::Scope => 1,
            ContextKind::Span | ContextKind::Log | ContextKind::Metric => 2,
            ContextKind::SpanEvent | ContextKind::DataPoint => 3,
        }
    }

    /// The context directly above (`None` for resource).
    pub fn parent(self) -> Option<ContextKind> {
        match self {
            ContextKind::Resource => None,
            ContextKind::Scope => Some(ContextKind::Resource),
            ContextKind::Span | ContextKind::Log | ContextKind::Metric => Some(ContextKind::Scope),
            ContextKind::SpanEvent => Some(ContextKind::Span),
            ContextKind::DataPoint => Some(ContextKind::Metric),
        }
    }

    /// Whether a statement running in `self` can read and write `other`'s paths
    /// (its own and every enclosing context's).
    pub fn reaches(self, other: ContextKind) -> bool {
        let mut c = Some(self);
        while let Some(k) = c {
            if k == other {
                return true;
            }
            c = k.parent();
        }
        false
    }
}

impl fmt::Display for ContextKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The item below scope level a statement runs on.
pub enum Item<'a> {
    /// Resource and scope statements.
    None,
    /// A span.
    Span(&'a mut Span),
    /// The `index`th event of `span`.
    SpanEvent {
        /// The event's span (its fields are readable as `span.*`).
        span: &'a mut Span,
        /// Index into `span.events`.
        index: usize,
    },
    /// A log record.
    Log(&'a mut LogRecord),
    /// A metric.
    Metric(&'a mut Metric),
    /// The `index`th data point of `metric`.
    DataPoint {
        /// The point's metric.
        metric: &'a mut Metric,
        /// Index into the metric's data points.
        index: usize,
    },
}

/// What a statement is evaluated against: the resource, the scope (absent for
/// resource statements), the item, and the per-item `cache` map.
pub struct TransformContext<'a> {
    /// The resource.
    pub resource: &'a mut Resource,
    /// The instrumentation scope; `None` for resource-context statements.
    pub scope: Option<&'a mut InstrumentationScope>,
    /// The item.
    pub item: Item<'a>,
    /// The `cache` path: a scratch map that lives as long as this context.
    pub cache: Vec<KeyValue>,
}

impl<'a> TransformContext<'a> {
    /// A context for resource statements.
    pub fn resource(resource: &'a mut Resource) -> Self {
        TransformContext {
            resource,
            scope: None,
            item: Item::None,
            cache: Vec::new(),
        }
    }

    /// A context for scope statements, or (with `item`) for anything below.
    pub fn new(
        resource: &'a mut Resource,
        scope: &'a mut InstrumentationScope,
        item: Item<'a>,
    ) -> Self {
        TransformContext {
            resource,
            scope: Some(scope),
            item,
            cache: Vec::new(),
        }
    }
}
