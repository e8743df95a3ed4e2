//! The configured indexes of one instance: found by `(service.name, commit)`,
//! each blob read from the host on first use and kept for the instance's
//! life, then searched in place with [`symbols::Index`] (nothing is decoded
//! at load). A blob that is missing or not a valid index of its commit is
//! remembered as such, so it is not read again on every span.

use symbols::Index;

use crate::config::{IndexEntry, commit_matches};
use crate::outcome::{INDEX_LOADED, Reason, Tally};

/// Reads a granted blob by name (`host::data` in the guest, a map in tests).
pub(crate) type Loader = Box<dyn Fn(&str) -> Option<Vec<u8>>>;

/// One configured index's state.
enum Slot {
    Unloaded,
    Ready(Vec<u8>),
    Failed(Reason),
}

/// Every configured index and its blob.
pub(crate) struct Indexes {
    entries: Vec<IndexEntry>,
    slots: Vec<Slot>,
    loader: Loader,
}

impl Indexes {
    /// Indexes for these entries, loaded through `loader` when first used.
    pub(crate) fn new(entries: Vec<IndexEntry>, loader: Loader) -> Self {
        let slots = entries.iter().map(|_| Slot::Unloaded).collect();
        Indexes {
            entries,
            slots,
            loader,
        }
    }

    /// The position of the entry serving `service` at `commit` (full sha or
    /// a prefix of at least 7 hex digits).
    pub(crate) fn find(&self, service: &str, commit: &str) -> Result<usize, Reason> {
        self.entries
            .iter()
            .position(|e| e.service == service && commit_matches(&e.commit, commit))
            .ok_or(Reason::UnknownCommit)
    }

    /// The full sha the entry at `at` serves.
    pub(crate) fn commit(&self, at: usize) -> &str {
        self.entries.get(at).map_or("", |e| e.commit.as_str())
    }

    /// The index at `at`, reading its blob first if this is its first use.
    pub(crate) fn get(&mut self, at: usize, tally: &mut Tally) -> Result<Index<'_>, Reason> {
        let (Some(entry), Some(slot)) = (self.entries.get(at), self.slots.get_mut(at)) else {
            return Err(Reason::UnknownCommit);
        };
        if matches!(slot, Slot::Unloaded) {
            *slot = match load(&self.loader, entry) {
                Ok(bytes) => {
                    tally.add(INDEX_LOADED);
                    Slot::Ready(bytes)
                }
                Err(reason) => Slot::Failed(reason),
            };
        }
        match slot {
            Slot::Ready(bytes) => Index::parse(bytes).map_err(|_| Reason::CorruptBlob),
            Slot::Failed(reason) => Err(*reason),
            Slot::Unloaded => Err(Reason::MissingBlob),
        }
    }
}

/// Reads and checks one blob: it must parse as an index, and of the commit
/// its entry names (a blob granted under the wrong name would otherwise
/// attribute frames to the wrong code).
fn load(loader: &Loader, entry: &IndexEntry) -> Result<Vec<u8>, Reason> {
    let bytes = loader(&entry.data).ok_or(Reason::MissingBlob)?;
    let index = Index::parse(&bytes).map_err(|_| Reason::CorruptBlob)?;
    let commit = index.commit().map_err(|_| Reason::CorruptBlob)?;
    if !commit.eq_ignore_ascii_case(&entry.commit) {
        return Err(Reason::CommitMismatch);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use super::*;
    use crate::testdata::{SHA_A, SHA_B, index_bytes};

    fn entry(service: &str, commit: &str, data: &str) -> IndexEntry {
        IndexEntry {
            service: service.into(),
            commit: commit.into(),
            data: data.into(),
        }
    }

    #[test]
    fn each_blob_is_read_once_and_failures_are_remembered() {
        let reads = Rc::new(Cell::new(0));
        let counted = Rc::clone(&reads);
        let mut blobs = HashMap::new();
        blobs.insert("a".to_owned(), index_bytes(SHA_A));
        blobs.insert("wrong".to_owned(), index_bytes(SHA_A));
        blobs.insert("junk".to_owned(), b"not an index".to_vec());
        let mut idx = Indexes::new(
            vec![
                entry("shop", SHA_A, "a"),
                entry("shop", SHA_B, "wrong"),
                entry("cart", SHA_A, "junk"),
                entry("cart", SHA_B, "absent"),
            ],
            Box::new(move |name| {
                counted.set(counted.get() + 1);
                blobs.get(name).cloned()
            }),
        );
        let mut tally = Tally::default();
        for _ in 0..3 {
            let at = idx.find("shop", &SHA_A[..7]).expect("found");
            assert_eq!(idx.get(at, &mut tally).expect("loads").file_count(), 1);
            let at = idx.find("shop", SHA_B).expect("found");
            assert_eq!(idx.get(at, &mut tally).err(), Some(Reason::CommitMismatch));
            let at = idx.find("cart", SHA_A).expect("found");
            assert_eq!(idx.get(at, &mut tally).err(), Some(Reason::CorruptBlob));
            let at = idx.find("cart", SHA_B).expect("found");
            assert_eq!(idx.get(at, &mut tally).err(), Some(Reason::MissingBlob));
        }
        assert_eq!(reads.get(), 4, "one read per blob, whatever the outcome");
        assert_eq!(tally.get(INDEX_LOADED), 1);
        assert_eq!(idx.find("shop", "fffffff"), Err(Reason::UnknownCommit));
        assert_eq!(idx.find("billing", SHA_A), Err(Reason::UnknownCommit));
        assert_eq!(idx.find("shop", "0123"), Err(Reason::UnknownCommit));
    }
}
