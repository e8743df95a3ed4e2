//! What the host lets a guest do besides returning edits: log, count, and
//! read the data blobs granted to it in the YAML (`grants.data`).

#[cfg(feature = "assembler")]
use crate::assembler::bindings::tracemend::plugin::host as imp;
#[cfg(feature = "processor")]
use crate::processor::bindings::tracemend::plugin::host as imp;
#[cfg(feature = "sampler")]
use crate::sampler::bindings::tracemend::plugin::host as imp;

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

/// Writes a structured line into the collector's log, tagged with the
/// processor's name.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let level = match level {
        Level::Trace => imp::Level::Trace,
        Level::Debug => imp::Level::Debug,
        Level::Info => imp::Level::Info,
        Level::Warn => imp::Level::Warn,
        Level::Error => imp::Level::Error,
    };
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    imp::log(level, message, &fields);
}

/// Adds `value` to the counter `name` in the collector's metrics.
pub fn counter_add(name: &str, value: u64) {
    imp::counter_add(name, value);
}

/// Records `value` in the histogram `name` in the collector's metrics.
pub fn histogram_record(name: &str, value: f64) {
    imp::histogram_record(name, value);
}

/// Size of the data blob granted under `name`, if any.
pub fn data_len(name: &str) -> Option<u64> {
    imp::data_len(name)
}

/// Reads up to `len` bytes of blob `name` from `offset`.
pub fn data_read(name: &str, offset: u64, len: u32) -> Option<Vec<u8>> {
    imp::data_read(name, offset, len)
}

/// Reads the whole blob granted under `name`, if any (in 1 MiB chunks).
pub fn data(name: &str) -> Option<Vec<u8>> {
    let total = data_len(name)?;
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    while (out.len() as u64) < total {
        let chunk = data_read(name, out.len() as u64, 1 << 20)?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Some(out)
}
