//! The tracemend guest SDK: write a WASM span/log processor in a few lines.
//!
//! The host hands a guest a whole batch as one string arena plus packed row
//! tables (see `wit/types.wit`); this crate decodes them lazily into borrowed
//! views, so reading a span name is a bounds check, never a copy (the host
//! guarantees every string field is UTF-8). The guest answers with [`Edits`], which the host validates and applies
//! to its own copy of the batch.
//!
//! ```ignore
//! use tracemend_sdk::{Batch, Edits, Processor, export_processor};
//!
//! struct Tag;
//!
//! impl Processor for Tag {
//!     fn configure(_config: &str) -> Result<Self, String> { Ok(Tag) }
//!     fn process_traces(&mut self, batch: Batch<'_>, edits: &mut Edits) -> Result<(), String> {
//!         for span in batch.spans() {
//!             if span.attribute("http.route").is_some() {
//!                 edits.set_attribute(&span, "tagged", true);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_processor!(Tag);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the module to name in the YAML.
#![deny(missing_docs)]

#[path = "../../../wit/layout.rs"]
#[allow(missing_docs)]
mod layout;

mod edits;
pub mod host;
mod value;
mod view;

#[cfg(feature = "assembler")]
pub mod assembler;
#[cfg(feature = "processor")]
mod interest;
#[cfg(feature = "processor")]
mod processor;
#[cfg(feature = "sampler")]
pub mod sampler;

pub use edits::{Edits, ForeignValueRef, NewValue, StatusCode, ValueRef};
pub use value::{Array, KvList, Value};
pub use view::{Attributes, Batch, Event, Link, LogRecord, Resource, Row, Scope, Span, Target};

#[cfg(feature = "processor")]
pub use interest::Interest;
#[cfg(feature = "processor")]
pub use processor::Processor;

/// Generated bindings and glue used by the export macros. Not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "processor")]
    pub use crate::processor::glue::*;
}

#[cfg(all(feature = "processor", feature = "sampler"))]
compile_error!("enable exactly one of the features `processor`, `sampler`, `assembler`");
#[cfg(all(feature = "processor", feature = "assembler"))]
compile_error!("enable exactly one of the features `processor`, `sampler`, `assembler`");
#[cfg(all(feature = "sampler", feature = "assembler"))]
compile_error!("enable exactly one of the features `processor`, `sampler`, `assembler`");
