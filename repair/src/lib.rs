//! The tracemend repair engine: Failure Envelope intake, store, sandboxed reproduction.
//!
//! A request's path through the engine:
//!
//! 1. [`intake`]: `POST /v1/envelopes` with a bearer token. The body (size-limited) is
//!    parsed once and validated against the Failure Envelope JSON Schema (the shared
//!    `envelope` crate, contract in `config/envelope.schema.json`); a violation is a 400
//!    naming the JSON path.
//! 2. [`store`]: the typed envelope is stored in SQLite (WAL), idempotent on its id;
//!    envelopes with the same fingerprint join one incident, which counts occurrences. A
//!    new incident queues a job, and intake answers 202 with the incident id.
//! 3. [`pipeline`]: a worker claims the job and runs the [`stage`]s in order, storing each
//!    stage's typed result ([`stage::StageResult`]) for the stages after it; a restarted
//!    engine resumes unfinished jobs. Every job ends `succeeded`, `rejected(reason)` or
//!    `failed(stage, error)` ([`status`]), or waits with backoff while a [`dependency`]
//!    a stage declares (the Docker engine, a git remote) is down ([`health`] says why).
//! 4. [`reproduce`]: the first stage. It maps the service to its repository ([`config`]
//!    services map, [`repo`]), builds an image at the envelope's commit and replays the
//!    request inside a locked-down container ([`sandbox`]: no network, read-only root,
//!    limits, timeout, always removed), then compares the failure [`signature`] with the
//!    envelope's. Minimize and localize come next; then [`patch`] proposes template fixes
//!    checked by the [`policy`] gate, and [`verify`] proves one in the sandbox, commits it
//!    on a branch and writes the evidence [`bundle`].
//! 5. [`dashboard`]: the browser's view of all of it under `/ui/`, behind a login.

pub mod bundle;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod dependency;
pub mod health;
pub mod intake;
pub mod localize;
pub mod metrics;
pub mod minimize;
pub mod patch;
pub mod pipeline;
pub mod policy;
pub mod probe;
pub mod repo;
pub mod reproduce;
pub mod sandbox;
pub mod serve;
pub mod signature;
pub mod stage;
pub mod status;
pub mod store;
pub mod vendor;
pub mod verify;
