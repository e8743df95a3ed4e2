//! The types every tracemend component crate shares, below all of them: a component's
//! id ([`ComponentId`], `type` or `type/name`), its kind ([`Kind`]), a configuration
//! problem with its YAML path ([`ConfigError`]) and the metric label set of a processor
//! ([`ProcessorLabels`]). It depends on no other tracemend crate, so the collector and
//! the processor hosts can both use it without a cycle.

#![deny(missing_docs)]

mod error;
mod id;
mod labels;

pub use error::{ConfigError, ConfigErrors};
pub use id::{ComponentId, Kind};
pub use labels::ProcessorLabels;
