//! End-to-end tests of the WASM host against real guest components built by
//! `guest-crates/build.sh` (run it first; a missing artifact fails with that
//! instruction). One test binary, so wasmtime is linked once.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod common;
mod envelope;
mod hostile;
mod python;
mod redact;
mod roundtrip;
mod startup;
mod worlds;
