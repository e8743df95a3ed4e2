//! The repair engine: Failure Envelope intake, store, sandboxed reproduction.
