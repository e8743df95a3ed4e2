//! On-disk storage for data that must survive a restart (the persistent sending
//! queue), opened by the `file_storage` extension. Each client gets its own
//! subdirectory; each entry is one file, written to a temporary name and renamed so a
//! crash never leaves a half-written entry.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A storage directory, as the `file_storage` extension opens it.
#[derive(Debug, Clone)]
pub struct FileStorage {
    directory: PathBuf,
    fsync: bool,
}

impl FileStorage {
    /// Opens `directory` (creating it and its parents when `create` is set); with
    /// `fsync`, every write and the directory are synced before a write returns.
    pub fn open(directory: &Path, create: bool, fsync: bool) -> std::io::Result<FileStorage> {
        if create {
            fs::create_dir_all(directory)?;
        }
        let meta = fs::metadata(directory).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("storage directory {}: {e}", directory.display()),
            )
        })?;
        if !meta.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory",
                directory.display()
            )));
        }
        Ok(FileStorage {
            directory: directory.to_path_buf(),
            fsync,
        })
    }

    /// Storage for one component, e.g. `exporter_otlp_backend_traces`.
    pub fn client(&self, name: &str) -> std::io::Result<DirStore> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = self.directory.join(safe);
        fs::create_dir_all(&dir)?;
        Ok(DirStore {
            dir,
            fsync: self.fsync,
        })
    }
}

/// A directory of numbered entries.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
    fsync: bool,
}

impl DirStore {
    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.otlp"))
    }

    pub fn put(&self, seq: u64, data: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        if self.fsync {
            f.sync_all()?;
        }
        fs::rename(&tmp, self.path(seq))?;
        if self.fsync {
            fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    pub fn remove(&self, seq: u64) -> std::io::Result<()> {
        match fs::remove_file(self.path(seq)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Moves an unreadable entry aside so it is neither lost nor retried forever.
    pub fn quarantine(&self, seq: u64) {
        let _ = fs::rename(self.path(seq), self.dir.join(format!("{seq:020}.corrupt")));
    }

    /// Every complete entry, oldest first. Leftover temporary files are removed.
    pub fn load(&self) -> std::io::Result<Vec<(u64, Bytes)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".otlp")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            out.push((seq, Bytes::from(fs::read(&path)?)));
        }
        out.sort_by_key(|(s, _)| *s);
        Ok(out)
    }
}
