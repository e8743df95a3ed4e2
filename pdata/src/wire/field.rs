//! Field numbers of the OTLP messages the wire readers walk (`opentelemetry-proto`'s
//! `trace.proto`, `logs.proto`, `common.proto`, `resource.proto`), one module a message.
//! Traces and logs share the numbers of their three outer levels, so [`request`],
//! [`resource_items`] and [`scope_items`] serve both.

/// `ExportTraceServiceRequest` and `ExportLogsServiceRequest`.
pub mod request {
    /// `repeated ResourceSpans resource_spans` / `repeated ResourceLogs resource_logs`.
    pub const RESOURCES: u32 = 1;
}

/// `ResourceSpans` and `ResourceLogs`.
pub mod resource_items {
    /// `Resource resource`.
    pub const RESOURCE: u32 = 1;
    /// `repeated ScopeSpans scope_spans` / `repeated ScopeLogs scope_logs`.
    pub const SCOPES: u32 = 2;
    /// `string schema_url`.
    pub const SCHEMA_URL: u32 = 3;
}

/// `ScopeSpans` and `ScopeLogs`.
pub mod scope_items {
    /// `InstrumentationScope scope`.
    pub const SCOPE: u32 = 1;
    /// `repeated Span spans` / `repeated LogRecord log_records`.
    pub const ITEMS: u32 = 2;
    /// `string schema_url`.
    pub const SCHEMA_URL: u32 = 3;
}

/// `Resource`.
pub mod resource {
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 1;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 2;
    /// `repeated EntityRef entity_refs`.
    pub const ENTITY_REFS: u32 = 3;
}

/// `EntityRef`.
pub mod entity_ref {
    /// `string schema_url`.
    pub const SCHEMA_URL: u32 = 1;
    /// `string type`.
    pub const TYPE: u32 = 2;
    /// `repeated string id_keys`.
    pub const ID_KEYS: u32 = 3;
    /// `repeated string description_keys`.
    pub const DESCRIPTION_KEYS: u32 = 4;
}

/// `InstrumentationScope`.
pub mod scope {
    /// `string name`.
    pub const NAME: u32 = 1;
    /// `string version`.
    pub const VERSION: u32 = 2;
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 3;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
}

/// `KeyValue`.
pub mod key_value {
    /// `string key`.
    pub const KEY: u32 = 1;
    /// `AnyValue value`.
    pub const VALUE: u32 = 2;
    /// `int32 key_strindex`.
    pub const KEY_STRINDEX: u32 = 3;
}

/// `AnyValue` (a `oneof`), and the one field of `ArrayValue` and `KeyValueList`.
pub mod any_value {
    /// `string string_value`.
    pub const STRING: u32 = 1;
    /// `bool bool_value`.
    pub const BOOL: u32 = 2;
    /// `int64 int_value`.
    pub const INT: u32 = 3;
    /// `double double_value`.
    pub const DOUBLE: u32 = 4;
    /// `ArrayValue array_value`.
    pub const ARRAY: u32 = 5;
    /// `KeyValueList kvlist_value`.
    pub const KVLIST: u32 = 6;
    /// `bytes bytes_value`.
    pub const BYTES: u32 = 7;
    /// `int32 string_value_strindex`.
    pub const STRING_STRINDEX: u32 = 8;
    /// `repeated AnyValue values` of `ArrayValue`, `repeated KeyValue values` of
    /// `KeyValueList`.
    pub const LIST_VALUES: u32 = 1;
}

/// `Span`.
pub mod span {
    /// `bytes trace_id`.
    pub const TRACE_ID: u32 = 1;
    /// `bytes span_id`.
    pub const SPAN_ID: u32 = 2;
    /// `string trace_state`.
    pub const TRACE_STATE: u32 = 3;
    /// `bytes parent_span_id`.
    pub const PARENT_SPAN_ID: u32 = 4;
    /// `string name`.
    pub const NAME: u32 = 5;
    /// `SpanKind kind`.
    pub const KIND: u32 = 6;
    /// `fixed64 start_time_unix_nano`.
    pub const START_TIME: u32 = 7;
    /// `fixed64 end_time_unix_nano`.
    pub const END_TIME: u32 = 8;
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 9;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 10;
    /// `repeated Event events`.
    pub const EVENTS: u32 = 11;
    /// `uint32 dropped_events_count`.
    pub const DROPPED_EVENTS_COUNT: u32 = 12;
    /// `repeated Link links`.
    pub const LINKS: u32 = 13;
    /// `uint32 dropped_links_count`.
    pub const DROPPED_LINKS_COUNT: u32 = 14;
    /// `Status status`.
    pub const STATUS: u32 = 15;
    /// `fixed32 flags`.
    pub const FLAGS: u32 = 16;
}

/// `Span.Event`.
pub mod event {
    /// `fixed64 time_unix_nano`.
    pub const TIME: u32 = 1;
    /// `string name`.
    pub const NAME: u32 = 2;
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 3;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
}

/// `Span.Link`.
pub mod link {
    /// `bytes trace_id`.
    pub const TRACE_ID: u32 = 1;
    /// `bytes span_id`.
    pub const SPAN_ID: u32 = 2;
    /// `string trace_state`.
    pub const TRACE_STATE: u32 = 3;
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 4;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 5;
    /// `fixed32 flags`.
    pub const FLAGS: u32 = 6;
}

/// `Status`.
pub mod status {
    /// `string message`.
    pub const MESSAGE: u32 = 2;
    /// `StatusCode code`.
    pub const CODE: u32 = 3;
}

/// `LogRecord`.
pub mod log_record {
    /// `fixed64 time_unix_nano`.
    pub const TIME: u32 = 1;
    /// `SeverityNumber severity_number`.
    pub const SEVERITY_NUMBER: u32 = 2;
    /// `string severity_text`.
    pub const SEVERITY_TEXT: u32 = 3;
    /// `AnyValue body`.
    pub const BODY: u32 = 5;
    /// `repeated KeyValue attributes`.
    pub const ATTRIBUTES: u32 = 6;
    /// `uint32 dropped_attributes_count`.
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 7;
    /// `fixed32 flags`.
    pub const FLAGS: u32 = 8;
    /// `bytes trace_id`.
    pub const TRACE_ID: u32 = 9;
    /// `bytes span_id`.
    pub const SPAN_ID: u32 = 10;
    /// `fixed64 observed_time_unix_nano`.
    pub const OBSERVED_TIME: u32 = 11;
    /// `string event_name`.
    pub const EVENT_NAME: u32 = 12;
}
