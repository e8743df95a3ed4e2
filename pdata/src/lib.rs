//! Pipeline data: the batch type that flows through every pipeline, and the consumer
//! contract that joins components.
//!
//! A [`Batch`] is one OTLP export request of one [`Signal`]. It hides its representation:
//! a batch received as protobuf keeps the received bytes, so a pipeline that never looks
//! inside forwards them without decode and re-encode; a component that needs the content
//! asks for the decoded [`Payload`] and the batch decodes on demand.
//!
//! [`wire`] is the one reader of the OTLP protobuf wire format, and [`group`] the one
//! group-by-trace, for every crate that reads requests without decoding them or routes
//! whole traces.

mod batch;
mod consumer;
pub mod group;
mod signal;
mod validate;
pub mod wire;

pub use batch::{Batch, DecodeError, Payload, Received};
pub use consumer::{ConsumeError, Consumer, ErrorKind, ProtobufIntake};
pub use signal::Signal;

/// Re-exported OTLP protobuf types, so components name one version of them.
pub use opentelemetry_proto::tonic as otlp;
