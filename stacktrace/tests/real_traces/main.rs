//! Stack traces produced by the real runtimes at test time, parsed and
//! compared with the truth the test programs carry (the lines they were
//! written with, marked `@name`), plus truncated, interleaved and garbled
//! variants of those traces.
//!
//! Each runtime's program is tiny and built once per run; a missing runtime
//! fails the test with the Debian package to install.

mod go;
mod java;
mod node;
mod python;
mod rust;
mod support;
mod variants;

/// A trace produced by a runtime, with the files of the repository it ran
/// from and the `telemetry.sdk.language` hint its SDK would send.
pub struct Sample {
    pub text: String,
    pub files: Vec<String>,
    pub hint: &'static str,
}
