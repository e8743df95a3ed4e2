//! Pipeline data: the batch type that flows through every pipeline, and the consumer contract.
