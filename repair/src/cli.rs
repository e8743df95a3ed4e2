//! The `tracemend-repair` command line. The same [`RepairCli`] can be mounted as
//! `tracemend repair ...` by the main binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::RepairConfig;

/// The script that builds the Python base image (also in `repair/images/`).
pub const BUILD_PYTHON_BASE_SH: &str = include_str!("../images/build-python-base.sh");

/// The debootstrap steps it shares with the repository's other base-image script; the
/// script sources them from beside it unless they are already defined, as here.
const DEBOOTSTRAP_BASE_SH: &str = include_str!("../../scripts/lib/debootstrap-base.sh");

/// tracemend repair engine: Failure Envelope intake and containerized reproduction.
#[derive(Debug, Parser)]
#[command(name = "tracemend-repair", version, about)]
pub struct RepairCli {
    #[command(subcommand)]
    pub command: RepairCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Run the repair engine service.
    Serve {
        /// YAML configuration file (see config/repair.yaml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    ValidateConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check Failure Envelope files against the schema; prints every violation.
    ValidateEnvelope {
        /// Envelope JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the Failure Envelope JSON Schema.
    Schema,
    /// Build the Python base image (debootstrap + docker import) unless it exists.
    BuildBaseImage {
        /// Image tag.
        #[arg(long, default_value = "tracemend/python-base:bookworm")]
        tag: String,
        /// Rebuild even when the tag exists.
        #[arg(long)]
        force: bool,
    },
}

/// Runs one command.
pub async fn run(cli: RepairCli) -> anyhow::Result<()> {
    match cli.command {
        RepairCommand::Serve { config } => {
            let config = RepairConfig::load(&config)?;
            crate::serve::serve(config).await?;
        }
        RepairCommand::ValidateConfig { config } => {
            RepairConfig::load(&config)?;
            println!("{}: ok", config.display());
        }
        RepairCommand::ValidateEnvelope { files } => {
            let mut bad = 0;
            for file in &files {
                let bytes =
                    std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
                match envelope::parse(&bytes) {
                    Ok(_) => println!("{}: ok", file.display()),
                    Err(envelope::EnvelopeError::Schema(violations)) => {
                        bad += 1;
                        for v in violations {
                            println!("{}: {}: {}", file.display(), v.path, v.message);
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        println!("{}: {e}", file.display());
                    }
                }
            }
            if bad > 0 {
                anyhow::bail!("{bad} of {} envelope(s) are invalid", files.len());
            }
        }
        RepairCommand::Schema => println!("{}", envelope::SCHEMA_JSON),
        RepairCommand::BuildBaseImage { tag, force } => {
            let status = tokio::process::Command::new("bash")
                .arg("-c")
                .arg(format!("{DEBOOTSTRAP_BASE_SH}\n{BUILD_PYTHON_BASE_SH}"))
                .arg("build-python-base.sh")
                .arg(&tag)
                .env("FORCE", if force { "1" } else { "0" })
                .status()
                .await
                .context("running bash")?;
            anyhow::ensure!(
                status.success(),
                "building the base image failed ({status})"
            );
        }
    }
    Ok(())
}
