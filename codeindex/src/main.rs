//! `tracemend-symbols`: builds a symbol index for a repository at a commit, and
//! reads one back for people debugging (`lookup`, `stats`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use symbols::{Index, format_symbol_id};

#[derive(Parser)]
#[command(name = "tracemend-symbols", version, about = "Per-commit symbol index")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Index the tree of a commit (not the work tree) into FILE.
    Index {
        /// A path inside the git repository.
        #[arg(long)]
        repo: PathBuf,
        /// The commit to index (any revision git understands); HEAD by default.
        #[arg(long)]
        commit: Option<String>,
        /// Where to write the index.
        #[arg(long)]
        out: PathBuf,
        /// Skip the change overlay (git blame), which is most of the time.
        #[arg(long)]
        no_blame: bool,
        /// Files larger than this many bytes keep only their module definition.
        #[arg(long, default_value_t = 2 * 1024 * 1024)]
        max_file_bytes: u64,
        /// Concurrent git blame processes.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Print the innermost definition at a file and line.
    Lookup {
        /// The index file.
        #[arg(long)]
        index: PathBuf,
        /// Path relative to the repository root, or a longer path ending in one
        /// (`/app/src/x.py`).
        #[arg(long)]
        file: String,
        /// 1-based line.
        #[arg(long)]
        line: u32,
        /// Also print callers, callees and the definitions within this many call edges.
        #[arg(long)]
        radius: Option<u32>,
    },
    /// Print an index file's header and table sizes.
    Stats {
        /// The index file.
        file: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes on one line, without a backtrace.
            eprintln!("tracemend-symbols: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut out = String::new();
    match Cli::parse().command {
        Command::Index {
            repo,
            commit,
            out: out_path,
            no_blame,
            max_file_bytes,
            jobs,
        } => {
            let opts = codeindex::Options {
                repo,
                commit,
                blame: !no_blame,
                max_file_bytes,
                jobs,
            };
            let (bytes, report) = codeindex::build(&opts)?;
            let tmp = out_path.with_extension("tmp");
            std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
            // Renamed into place, so a reader never sees half a file.
            std::fs::rename(&tmp, &out_path)
                .with_context(|| format!("writing {}", out_path.display()))?;
            writeln!(
                out,
                "indexed {} at {}: {} files ({} without definitions), {} definitions, {} edges, {} source lines, {} source bytes -> {} index bytes",
                opts.repo.display(),
                report.commit,
                report.files,
                report.unparsed,
                report.definitions,
                report.edges,
                report.source_lines,
                report.source_bytes,
                bytes.len()
            )?;
        }
        Command::Lookup {
            index,
            file,
            line,
            radius,
        } => {
            let bytes = read(&index)?;
            let idx =
                Index::parse(&bytes).with_context(|| format!("reading {}", index.display()))?;
            // A frame's path may carry a prefix (`/app/`): the longest indexed suffix
            // of at least two components is taken, and printed.
            let Some(indexed) = idx.resolve_path(&file, 2)?.or(idx.file(&file)?) else {
                bail!("{file} is not in the index (commit {})", idx.commit()?);
            };
            let file = indexed.path;
            let Some(def) = idx.definition_at(file, line)? else {
                bail!("{file} has no line {line} in the index");
            };
            writeln!(out, "file: {file}")?;
            writeln!(out, "definition: {}", def.qualified_name)?;
            writeln!(out, "kind: {}", def.kind.name())?;
            writeln!(out, "lines: {}-{}", def.start_line, def.end_line)?;
            writeln!(out, "symbol_id: {}", format_symbol_id(def.symbol_id))?;
            let mut parent = def.parent;
            while let Some(p) = parent {
                let d = idx.definition(p)?;
                writeln!(out, "in: {} ({})", d.qualified_name, d.kind.name())?;
                parent = d.parent;
            }
            if let Some(c) = def.last_change {
                writeln!(out, "last_change: {} {} {}", c.sha, c.time, c.author)?;
            }
            writeln!(
                out,
                "owners: {}",
                idx.owners(file)?.unwrap_or_default().join(" ")
            )?;
            if let Some(radius) = radius {
                for d in idx.callers(def.index)? {
                    writeln!(
                        out,
                        "caller: {} {}:{}",
                        d.qualified_name, d.path, d.start_line
                    )?;
                }
                for d in idx.callees(def.index)? {
                    writeln!(
                        out,
                        "callee: {} {}:{}",
                        d.qualified_name, d.path, d.start_line
                    )?;
                }
                for (d, k) in idx.neighbourhood(def.index, radius, 200)? {
                    writeln!(
                        out,
                        "near {k}: {} {}:{}",
                        d.qualified_name, d.path, d.start_line
                    )?;
                }
            }
        }
        Command::Stats { file } => {
            let bytes = read(&file)?;
            let idx =
                Index::parse(&bytes).with_context(|| format!("reading {}", file.display()))?;
            writeln!(out, "commit: {}", idx.commit()?)?;
            writeln!(out, "commit_time: {}", idx.commit_time()?)?;
            writeln!(out, "generator: {}", idx.generator()?)?;
            writeln!(out, "bytes: {}", bytes.len())?;
            writeln!(out, "files: {}", idx.file_count())?;
            writeln!(out, "definitions: {}", idx.definition_count())?;
            writeln!(out, "edges: {}", idx.edge_count())?;
            writeln!(out, "commits: {}", idx.commit_count())?;
            writeln!(out, "string_bytes: {}", idx.string_bytes())?;
        }
    }
    // A closed pipe (`| head`) ends the output quietly instead of panicking.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
