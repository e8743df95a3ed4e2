//! Byte layout of the packed row tables in `types.wit` (`batch` and `edits`).
//!
//! This one file is included by both the host (`processors`) and the guest SDK
//! (`guest-crates/sdk`) with `#[path]`, so the two sides cannot disagree about
//! an offset. Every integer is little-endian. A string or byte field is a
//! `(offset: u32, length: u32)` pair into the arena of the same record. Row
//! references are `u32` indices into another table; `NONE` means "no row".
//! Its doc comments are the prose description.

#![allow(dead_code)]

/// "No row" (no parent value node, no body).
pub const NONE: u32 = u32::MAX;

/// Resource rows.
pub mod resource {
    /// Row size in bytes.
    pub const SIZE: usize = 20;
    /// First attribute node (u32) and attribute count (u32).
    pub const ATTRS_FIRST: usize = 0;
    pub const ATTRS_COUNT: usize = 4;
    /// `dropped_attributes_count` (u32).
    pub const DROPPED_ATTRS: usize = 8;
    /// `schema_url` of the enclosing `ResourceSpans`/`ResourceLogs` (str).
    pub const SCHEMA_URL: usize = 12;
}

/// Instrumentation scope rows.
pub mod scope {
    pub const SIZE: usize = 40;
    /// Resource row index (u32).
    pub const RESOURCE: usize = 0;
    pub const NAME: usize = 4;
    pub const VERSION: usize = 12;
    pub const ATTRS_FIRST: usize = 20;
    pub const ATTRS_COUNT: usize = 24;
    pub const DROPPED_ATTRS: usize = 28;
    /// `schema_url` of the enclosing `ScopeSpans`/`ScopeLogs` (str).
    pub const SCHEMA_URL: usize = 32;
}

/// Span rows.
pub mod span {
    pub const SIZE: usize = 120;
    /// Scope row index (u32).
    pub const SCOPE: usize = 0;
    /// Raw id bytes in the arena (16, 8, 8 or 0 bytes).
    pub const TRACE_ID: usize = 4;
    pub const SPAN_ID: usize = 12;
    pub const PARENT_SPAN_ID: usize = 20;
    pub const TRACE_STATE: usize = 28;
    pub const NAME: usize = 36;
    /// `SpanKind` as its protobuf number (u32).
    pub const KIND: usize = 44;
    pub const FLAGS: usize = 48;
    /// `StatusCode` as its protobuf number (u32): 0 unset, 1 ok, 2 error.
    pub const STATUS_CODE: usize = 52;
    /// Unix nanoseconds (u64).
    pub const START: usize = 56;
    pub const END: usize = 64;
    pub const ATTRS_FIRST: usize = 72;
    pub const ATTRS_COUNT: usize = 76;
    pub const DROPPED_ATTRS: usize = 80;
    /// First event row (u32) and event count (u32).
    pub const EVENTS_FIRST: usize = 84;
    pub const EVENTS_COUNT: usize = 88;
    pub const DROPPED_EVENTS: usize = 92;
    /// First link row (u32) and link count (u32).
    pub const LINKS_FIRST: usize = 96;
    pub const LINKS_COUNT: usize = 100;
    pub const DROPPED_LINKS: usize = 104;
    pub const STATUS_MESSAGE: usize = 108;
}

/// Span event rows.
pub mod event {
    pub const SIZE: usize = 32;
    /// Span row index (u32).
    pub const SPAN: usize = 0;
    pub const NAME: usize = 4;
    pub const ATTRS_FIRST: usize = 12;
    pub const ATTRS_COUNT: usize = 16;
    pub const DROPPED_ATTRS: usize = 20;
    /// Unix nanoseconds (u64).
    pub const TIME: usize = 24;
}

/// Span link rows.
pub mod link {
    pub const SIZE: usize = 48;
    /// Span row index (u32).
    pub const SPAN: usize = 0;
    pub const TRACE_ID: usize = 4;
    pub const SPAN_ID: usize = 12;
    pub const TRACE_STATE: usize = 20;
    pub const ATTRS_FIRST: usize = 28;
    pub const ATTRS_COUNT: usize = 32;
    pub const DROPPED_ATTRS: usize = 36;
    pub const FLAGS: usize = 40;
}

/// Log record rows.
pub mod log {
    pub const SIZE: usize = 80;
    /// Scope row index (u32).
    pub const SCOPE: usize = 0;
    /// `SeverityNumber` as its protobuf number (u32).
    pub const SEVERITY_NUMBER: usize = 4;
    /// Unix nanoseconds (u64).
    pub const TIME: usize = 8;
    pub const OBSERVED_TIME: usize = 16;
    pub const SEVERITY_TEXT: usize = 24;
    /// Root value node of the body (u32), `NONE` when the record has no body.
    pub const BODY: usize = 32;
    pub const ATTRS_FIRST: usize = 36;
    pub const ATTRS_COUNT: usize = 40;
    pub const DROPPED_ATTRS: usize = 44;
    pub const FLAGS: usize = 48;
    pub const TRACE_ID: usize = 52;
    pub const SPAN_ID: usize = 60;
    pub const EVENT_NAME: usize = 68;
}

/// `AnyValue` nodes. Attributes are nodes with a key and no parent; the
/// children of an array or kvlist are a contiguous run of nodes, always at
/// higher indices than their parent (so a walk always terminates).
pub mod value {
    pub const SIZE: usize = 24;
    /// Kind (u8), see the `KIND_*` constants; bytes 1..4 are zero.
    pub const KIND: usize = 0;
    /// Parent node (u32), `NONE` for an attribute or a body root.
    pub const PARENT: usize = 4;
    /// Key (str) of an attribute or a kvlist entry; empty otherwise.
    pub const KEY: usize = 8;
    /// Payload (8 bytes): string/bytes: str; bool: u8 0/1; int: i64;
    /// double: f64 bits; array/kvlist: first child (u32) + child count (u32).
    pub const PAYLOAD: usize = 16;

    /// No value (an unset `AnyValue`).
    pub const KIND_EMPTY: u8 = 0;
    pub const KIND_STRING: u8 = 1;
    pub const KIND_BOOL: u8 = 2;
    pub const KIND_INT: u8 = 3;
    pub const KIND_DOUBLE: u8 = 4;
    pub const KIND_BYTES: u8 = 5;
    pub const KIND_ARRAY: u8 = 6;
    pub const KIND_KVLIST: u8 = 7;
}

/// Edit rows (`edits.rows`). Strings point into `edits.arena`, values into
/// `edits.values` (value nodes laid out as in `value`, strings in `edits.arena`).
pub mod edit {
    pub const SIZE: usize = 32;
    /// Operation (u8), see the `OP_*` constants.
    pub const OP: usize = 0;
    /// Target table (u8), see the `TARGET_*` constants; for the attribute ops.
    pub const TARGET: usize = 1;
    /// Row index in the target table (u32).
    pub const INDEX: usize = 4;
    /// str: attribute key, new span name, or status message.
    pub const TEXT: usize = 8;
    /// Root value node (u32) for `OP_SET_ATTRIBUTE` and `OP_SET_BODY`.
    /// Several edits may name one root (the value is set by each); a root is
    /// never a child of another node.
    pub const VALUE: usize = 16;
    /// Status code (u32) for `OP_SET_STATUS`.
    pub const CODE: usize = 20;

    /// Set (insert or replace) attribute `TEXT` on row `INDEX` of `TARGET`.
    pub const OP_SET_ATTRIBUTE: u8 = 1;
    /// Remove attribute `TEXT` from row `INDEX` of `TARGET`.
    pub const OP_REMOVE_ATTRIBUTE: u8 = 2;
    /// Replace the body of log record `INDEX` with `VALUE`.
    pub const OP_SET_BODY: u8 = 3;
    /// Rename span `INDEX` to `TEXT`.
    pub const OP_RENAME_SPAN: u8 = 4;
    /// Set the status of span `INDEX` to `CODE` with message `TEXT`.
    pub const OP_SET_STATUS: u8 = 5;
    /// Drop span `INDEX` (with its events and links).
    pub const OP_DROP_SPAN: u8 = 6;
    /// Drop log record `INDEX`.
    pub const OP_DROP_LOG: u8 = 7;

    pub const TARGET_RESOURCE: u8 = 0;
    pub const TARGET_SCOPE: u8 = 1;
    pub const TARGET_SPAN: u8 = 2;
    pub const TARGET_EVENT: u8 = 3;
    pub const TARGET_LINK: u8 = 4;
    pub const TARGET_LOG: u8 = 5;
}
