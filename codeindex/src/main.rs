//! `tracemend-symbols`: builds a symbol index for a repository at a commit, and
//! reads one back for people debugging (`lookup`, `stats`).

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
        /// Path relative to the repository root.
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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Index {
            repo,
            commit,
            out,
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
            let tmp = out.with_extension("tmp");
            std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
            // Renamed into place, so a reader never sees half a file.
            std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
            println!(
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
            );
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
            let Some(def) = idx.definition_at(&file, line)? else {
                if idx.contains_file(&file)? {
                    bail!("{file} has no line {line} in the index");
                }
                bail!("{file} is not in the index (commit {})", idx.commit()?);
            };
            println!("definition: {}", def.qualified_name);
            println!("kind: {}", def.kind.name());
            println!("lines: {}-{}", def.start_line, def.end_line);
            println!("symbol_id: {}", format_symbol_id(def.symbol_id));
            let mut parent = def.parent;
            while let Some(p) = parent {
                let d = idx.definition(p)?;
                println!("in: {} ({})", d.qualified_name, d.kind.name());
                parent = d.parent;
            }
            if let Some(c) = def.last_change {
                println!("last_change: {} {} {}", c.sha, c.time, c.author);
            }
            println!(
                "owners: {}",
                idx.owners(&file)?.unwrap_or_default().join(" ")
            );
            if let Some(radius) = radius {
                for d in idx.callers(def.index)? {
                    println!("caller: {} {}:{}", d.qualified_name, d.path, d.start_line);
                }
                for d in idx.callees(def.index)? {
                    println!("callee: {} {}:{}", d.qualified_name, d.path, d.start_line);
                }
                for (d, k) in idx.neighbourhood(def.index, radius, 200)? {
                    println!("near {k}: {} {}:{}", d.qualified_name, d.path, d.start_line);
                }
            }
        }
        Command::Stats { file } => {
            let bytes = read(&file)?;
            let idx =
                Index::parse(&bytes).with_context(|| format!("reading {}", file.display()))?;
            println!("commit: {}", idx.commit()?);
            println!("commit_time: {}", idx.commit_time()?);
            println!("generator: {}", idx.generator()?);
            println!("bytes: {}", bytes.len());
            println!("files: {}", idx.file_count());
            println!("definitions: {}", idx.definition_count());
            println!("edges: {}", idx.edge_count());
            println!("commits: {}", idx.commit_count());
            println!("string_bytes: {}", idx.string_bytes());
        }
    }
    Ok(())
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
