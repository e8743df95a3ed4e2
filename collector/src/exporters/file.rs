//! The `file` exporter: one OTLP/JSON export request per line (the format otelcol's file
//! exporter and `otlpjsonfile` receiver use), or length-prefixed protobuf.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pdata::{Batch, ConsumeError, Consumer};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;

use crate::config::{AnyConfig, ComponentConfig, ConfigError};
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
        if self.path.as_os_str().is_empty() {
            return vec![ConfigError::new("path", "is required")];
        }
        Vec::new()
    }
}

pub struct FileExporter {
    file: Mutex<std::fs::File>,
    format: FileFormat,
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
        let record = match self.format {
            FileFormat::Json => {
                let mut line = batch.to_json().into_bytes();
                line.push(b'\n');
                line
            }
            FileFormat::Proto => {
                let body = batch.to_protobuf();
                let mut rec = Vec::with_capacity(body.len() + 4);
                rec.extend_from_slice(&(body.len() as u32).to_be_bytes());
                rec.extend_from_slice(&body);
                rec
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

impl AnyConfig for FileExporterConfig {}

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
