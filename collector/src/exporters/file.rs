//! The `file` exporter: one OTLP/JSON export request per line (the format otelcol's file
//! exporter and `otlpjsonfile` receiver use), or length-prefixed protobuf. With
//! `compression: zstd` each request is compressed and length-prefixed, whatever the
//! format, as otelcol writes it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ConfigError, Ignored, ignored};
use crate::factory::{Exporter, ExporterContext};
use crate::telemetry::ExporterLabels;

/// `exporters.file`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExporterConfig {
    /// File to write. Required.
    #[serde(default)]
    pub path: PathBuf,
    /// `json` (default): OTLP/JSON lines; `proto`: 4-byte big-endian length + protobuf.
    #[serde(default)]
    pub format: FileFormat,
    /// Append to an existing file instead of truncating it at start. Default false.
    #[serde(default)]
    pub append: bool,
    /// `zstd`, or none (default).
    #[serde(default)]
    pub compression: Option<String>,
    /// Refused: it names an encoding extension, which tracemend does not have.
    #[serde(default)]
    pub encoding: Option<String>,
    /// The file is not rotated here.
    #[serde(default)]
    pub rotation: Ignored,
    #[serde(default)]
    pub flush_interval: Ignored,
    #[serde(default)]
    pub group_by: Ignored,
    #[serde(default)]
    pub create_directory: Ignored,
    #[serde(default)]
    pub directory_permissions: Ignored,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    #[default]
    Json,
    Proto,
}

impl ComponentConfig for FileExporterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.path.as_os_str().is_empty() {
            errors.push(ConfigError::new("path", "is required"));
        }
        match self.compression.as_deref() {
            None | Some("") | Some("zstd") => {}
            Some(other) => errors.push(ConfigError::new(
                "compression",
                format!("unknown compression {other:?}, expected zstd"),
            )),
        }
        if let Some(e) = &self.encoding {
            errors.push(ConfigError::new(
                "encoding",
                format!("names the encoding extension `{e}`, and tracemend has no encoding extensions; use `format` (json or proto)"),
            ));
        }
        errors
    }
}

impl FileExporterConfig {
    fn zstd(&self) -> bool {
        self.compression.as_deref() == Some("zstd")
    }
}

pub struct FileExporter {
    file: Mutex<std::fs::File>,
    format: FileFormat,
    zstd: bool,
    sent: Counter,
    failed: Counter,
}

impl FileExporter {
    /// Opens (or shares) the file. Several signals may write to the same path.
    pub fn open(
        cfg: &FileExporterConfig,
        sent: Counter,
        failed: Counter,
    ) -> std::io::Result<FileExporter> {
        if let Some(dir) = cfg.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", cfg.path.display())))?;
        Ok(FileExporter {
            file: Mutex::new(file),
            format: cfg.format,
            zstd: cfg.zstd(),
            sent,
            failed,
        })
    }

    pub fn truncate(cfg: &FileExporterConfig) -> std::io::Result<()> {
        if !cfg.append && cfg.path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&cfg.path)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Consumer for FileExporter {
    async fn consume(&self, mut batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.item_count() as u64;
        let record = match (self.format, self.zstd) {
            (FileFormat::Json, false) => {
                let mut line = batch.to_json().into_bytes();
                line.push(b'\n');
                line
            }
            (FileFormat::Proto, false) => length_prefixed(&batch.to_protobuf()),
            (format, true) => {
                let body = match format {
                    FileFormat::Json => batch.to_json().into_bytes(),
                    FileFormat::Proto => batch.to_protobuf().to_vec(),
                };
                match zstd::encode_all(&body[..], 0) {
                    Ok(z) => length_prefixed(&z),
                    Err(e) => {
                        self.failed.inc_by(items);
                        return Err(ConsumeError::permanent(format!("file exporter: zstd: {e}")));
                    }
                }
            }
        };
        // One write per request keeps lines whole even with several writers.
        let result = self
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(&record);
        match result {
            Ok(()) => {
                self.sent.inc_by(items);
                Ok(())
            }
            Err(e) => {
                self.failed.inc_by(items);
                Err(ConsumeError::retryable(format!("file exporter: {e}")))
            }
        }
    }
}

/// A 4-byte big-endian length, then `body`.
fn length_prefixed(body: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(body.len() + 4);
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes());
    rec.extend_from_slice(body);
    rec
}

impl AnyConfig for FileExporterConfig {
    fn warnings(&self) -> Vec<ConfigError> {
        ignored::warnings(
            "",
            &[
                (
                    "rotation",
                    &self.rotation,
                    "the file is not rotated (rotate it externally, e.g. logrotate with copytruncate)",
                ),
                (
                    "flush_interval",
                    &self.flush_interval,
                    "each batch is written as it arrives",
                ),
                ("group_by", &self.group_by, "all data is written to `path`"),
                (
                    "create_directory",
                    &self.create_directory,
                    "the parent directory is always created",
                ),
                (
                    "directory_permissions",
                    &self.directory_permissions,
                    "directories are created with the process's umask",
                ),
            ],
        )
    }
}

impl Exporter for FileExporterConfig {
    fn build(&self, ctx: ExporterContext<'_>) -> anyhow::Result<Arc<dyn Consumer>> {
        // Truncated once per id: the instances of every signal append to the one file.
        if ctx.first_of_id {
            FileExporter::truncate(self)?;
        }
        let failed = ctx
            .metrics
            .exporter_send_failed
            .get(ctx.signal)
            .get_or_create(&ExporterLabels {
                exporter: ctx.id.to_string(),
            })
            .clone();
        Ok(Arc::new(FileExporter::open(
            self,
            super::sent_counter(&ctx),
            failed,
        )?))
    }
}
