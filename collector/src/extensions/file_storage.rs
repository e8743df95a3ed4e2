//! The `file_storage` extension: a directory where components (the persistent sending
//! queue) keep data that must survive a restart; the store itself is
//! [`crate::storage`].

use std::path::PathBuf;

use async_trait::async_trait;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ComponentId, ConfigError, Ignored, ignored};
use crate::factory::{Extension, ExtensionContext, StartedExtension};
use crate::storage::FileStorage;

/// `extensions.file_storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStorageConfig {
    /// Where data is kept. Default `/var/lib/otelcol/file_storage`, as otelcol.
    #[serde(default = "default_directory")]
    pub directory: PathBuf,
    /// Create `directory` (and parents) if missing. Default false.
    #[serde(default)]
    pub create_directory: bool,
    /// fsync every write (and the directory) before acknowledging. Default false.
    #[serde(default)]
    pub fsync: bool,
    /// bbolt's lock timeout: the store here is one file per entry, with no lock.
    #[serde(default)]
    pub timeout: Ignored,
    /// bbolt's compaction: entries are files, deleted once sent; nothing to compact.
    #[serde(default)]
    pub compaction: Ignored,
    #[serde(default)]
    pub directory_permissions: Ignored,
    #[serde(default)]
    pub recreate: Ignored,
}

fn default_directory() -> PathBuf {
    PathBuf::from("/var/lib/otelcol/file_storage")
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: default_directory(),
            create_directory: false,
            fsync: false,
            timeout: Ignored::default(),
            compaction: Ignored::default(),
            directory_permissions: Ignored::default(),
            recreate: Ignored::default(),
        }
    }
}

impl ComponentConfig for FileStorageConfig {
    fn validate(&self) -> Vec<ConfigError> {
        if self.directory.as_os_str().is_empty() {
            return vec![ConfigError::new("directory", "must not be empty")];
        }
        Vec::new()
    }
}

impl AnyConfig for FileStorageConfig {
    fn provides_storage(&self) -> bool {
        true
    }

    fn warnings(&self) -> Vec<ConfigError> {
        ignored::warnings(
            "",
            &[
                (
                    "timeout",
                    &self.timeout,
                    "the store (a file per entry) takes no lock to wait for",
                ),
                (
                    "compaction",
                    &self.compaction,
                    "entries are files deleted once sent; there is nothing to compact",
                ),
                (
                    "directory_permissions",
                    &self.directory_permissions,
                    "directories are created with the process's umask",
                ),
                (
                    "recreate",
                    &self.recreate,
                    "entries left from the last run are sent, not dropped",
                ),
            ],
        )
    }
}

#[async_trait]
impl Extension for FileStorageConfig {
    async fn start(
        &self,
        _id: &ComponentId,
        _ctx: &ExtensionContext,
    ) -> anyhow::Result<StartedExtension> {
        let storage = FileStorage::open(&self.directory, self.create_directory, self.fsync)?;
        Ok(StartedExtension {
            task: None,
            storage: Some(storage),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Health;

    fn context() -> ExtensionContext {
        ExtensionContext {
            health: std::sync::Arc::new(Health::default()),
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    fn id() -> ComponentId {
        ComponentId::parse("file_storage").expect("id")
    }

    #[test]
    fn defaults_are_otelcols_and_an_empty_directory_is_refused() {
        let d = FileStorageConfig::default();
        assert_eq!(d.directory, PathBuf::from("/var/lib/otelcol/file_storage"));
        assert!(!d.create_directory && !d.fsync);
        assert!(d.validate().is_empty());
        assert!(d.provides_storage());
        let empty = FileStorageConfig {
            directory: PathBuf::new(),
            ..Default::default()
        };
        let errors = empty.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "directory");
    }

    #[tokio::test]
    async fn starts_on_a_directory_it_may_create_and_offers_storage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a/b");
        let cfg = FileStorageConfig {
            directory: nested.clone(),
            create_directory: true,
            fsync: true,
            ..Default::default()
        };
        let started = cfg.start(&id(), &context()).await.expect("started");
        assert!(started.task.is_none());
        let storage = started.storage.expect("storage");
        let store = storage.client("exporter_otlp/a_traces").expect("client");
        store.put(1, b"x").expect("put");
        // Client names become one safe directory each.
        assert!(nested.join("exporter_otlp_a_traces").is_dir());
    }

    #[tokio::test]
    async fn a_missing_directory_or_a_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = FileStorageConfig {
            directory: dir.path().join("missing"),
            ..Default::default()
        };
        let err = missing
            .start(&id(), &context())
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("missing"),
            "{err:#} should name the directory"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, b"not a directory").expect("write");
        let err = FileStorageConfig {
            directory: file,
            ..Default::default()
        }
        .start(&id(), &context())
        .await
        .err()
        .expect("refused");
        assert!(err.to_string().contains("is not a directory"), "{err:#}");
    }

    #[tokio::test]
    async fn entries_survive_a_restart_and_crash_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = FileStorageConfig {
            directory: dir.path().to_path_buf(),
            ..Default::default()
        };
        let first = cfg.start(&id(), &context()).await.expect("started");
        let store = first.storage.expect("storage").client("q").expect("client");
        store.put(2, b"second").expect("put");
        store.put(1, b"first").expect("put");
        store.put(3, b"third").expect("put");
        store.remove(3).expect("remove");
        store.remove(3).expect("removing twice is fine");
        let q = dir.path().join("q");
        // A write cut short by a crash, a corrupt entry set aside, and a stranger.
        std::fs::write(q.join("00000000000000000004.tmp"), b"half").expect("write");
        std::fs::write(q.join("00000000000000000005.otlp"), b"corrupt").expect("write");
        std::fs::write(q.join("notes.txt"), b"not an entry").expect("write");

        let again = cfg.start(&id(), &context()).await.expect("restarted");
        let store = again.storage.expect("storage").client("q").expect("client");
        store.quarantine(5);
        let entries = store.load().expect("load");
        let found: Vec<(u64, &[u8])> = entries.iter().map(|(s, b)| (*s, &b[..])).collect();
        assert_eq!(found, [(1, &b"first"[..]), (2, &b"second"[..])]);
        assert!(!q.join("00000000000000000004.tmp").exists());
        assert!(q.join("00000000000000000005.corrupt").exists());
        assert!(q.join("notes.txt").exists());
    }
}
