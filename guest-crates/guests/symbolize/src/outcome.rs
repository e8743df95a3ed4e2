//! Why a row was left unchanged, and the per-batch tally of outcomes that
//! becomes the guest's counters (`tracemend_wasm_guest_counter_total{name}`).

use std::collections::BTreeMap;

/// Why a span or log record that asked for symbolization passes unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The resource has no `service.name`.
    NoService,
    /// None of the configured commit attributes is on the resource.
    NoCommit,
    /// No configured index serves this `(service.name, commit)`.
    UnknownCommit,
    /// The index's grant name is not under the processor's `grants.data`.
    MissingBlob,
    /// The blob is not a symbol index, or a record in it is malformed.
    CorruptBlob,
    /// The blob is an index of another commit than its config entry says.
    CommitMismatch,
    /// The stack trace yielded no frame (unknown format, empty, garbled).
    UnparsableTrace,
    /// No frame of the failure is a file of the repository at that commit.
    NoInAppFrame,
    /// The file is not indexed, or the line lies outside its definitions.
    OutsideIndex,
}

impl Reason {
    /// The counter this reason is counted under.
    pub(crate) fn counter(self) -> &'static str {
        match self {
            Reason::NoService => "symbolize.unchanged.no_service",
            Reason::NoCommit => "symbolize.unchanged.no_commit",
            Reason::UnknownCommit => "symbolize.unchanged.unknown_commit",
            Reason::MissingBlob => "symbolize.unchanged.missing_blob",
            Reason::CorruptBlob => "symbolize.unchanged.corrupt_blob",
            Reason::CommitMismatch => "symbolize.unchanged.commit_mismatch",
            Reason::UnparsableTrace => "symbolize.unchanged.unparsable_trace",
            Reason::NoInAppFrame => "symbolize.unchanged.no_in_app_frame",
            Reason::OutsideIndex => "symbolize.unchanged.outside_index",
        }
    }
}

/// Counter for rows enriched from an exception's stack trace.
pub(crate) const ENRICHED_EXCEPTION: &str = "symbolize.enriched.exception";
/// Counter for rows enriched from their `code.*` attributes.
pub(crate) const ENRICHED_CODE: &str = "symbolize.enriched.code";
/// Counter for indexes loaded from their blob (once per instance each).
pub(crate) const INDEX_LOADED: &str = "symbolize.index.loaded";

/// Counts of one batch, flushed to the host once at its end.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    counts: BTreeMap<String, u64>,
}

impl Tally {
    /// Adds one to `name`.
    pub(crate) fn add(&mut self, name: &str) {
        match self.counts.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(name.to_owned(), 1);
            }
        }
    }

    /// Counts a parse problem (`symbolize.parse.truncated`, ...): the row may
    /// still have been enriched from what was read.
    pub(crate) fn problem(&mut self, problem: stacktrace::Problem) {
        self.add(&format!("symbolize.parse.{}", problem.as_str()));
    }

    /// The count of `name` so far.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Hands every non-zero count to `sink`.
    pub(crate) fn flush(self, mut sink: impl FnMut(&str, u64)) {
        for (name, n) in self.counts {
            sink(&name, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_ones_the_host_admits() {
        // The host drops names over 64 bytes or outside [A-Za-z0-9_.].
        let mut names: Vec<String> = [
            Reason::NoService,
            Reason::NoCommit,
            Reason::UnknownCommit,
            Reason::MissingBlob,
            Reason::CorruptBlob,
            Reason::CommitMismatch,
            Reason::UnparsableTrace,
            Reason::NoInAppFrame,
            Reason::OutsideIndex,
        ]
        .iter()
        .map(|r| r.counter().to_owned())
        .collect();
        names.extend([ENRICHED_EXCEPTION, ENRICHED_CODE, INDEX_LOADED].map(String::from));
        names.push("symbolize.parse.missing_common_frames".into());
        for n in names {
            assert!(n.len() <= 64, "{n}");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
                "{n}"
            );
        }
    }

    #[test]
    fn tally_sums_and_flushes_each_name_once() {
        let mut t = Tally::default();
        t.add(ENRICHED_CODE);
        t.add(ENRICHED_CODE);
        t.problem(stacktrace::Problem::Truncated);
        let mut seen = Vec::new();
        t.flush(|n, v| seen.push((n.to_owned(), v)));
        assert_eq!(
            seen,
            [
                (ENRICHED_CODE.to_owned(), 2),
                ("symbolize.parse.truncated".to_owned(), 1)
            ]
        );
    }
}
