//! `tracemend-loadgen` entry point: parses flags, runs the sender or the sink, prints
//! the result on stdout (human-readable or one JSON object) and logs to stderr.

use std::io::IsTerminal as _;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use loadgen::cli::{Cli, Command, SendArgs};
use loadgen::generate::Signal;
use loadgen::pool::Pool;
use loadgen::stats::{RunInfo, Summary};
use loadgen::{run, sink};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Traces(args) => send(&args, Signal::Traces).await,
        Command::Logs(args) => send(&args, Signal::Logs).await,
        Command::Sink(args) => {
            let totals = sink::run(&args.plan()).await?;
            if args.json {
                println!("{}", serde_json::to_string(&totals)?);
            } else {
                print!("{}", totals.human());
            }
            Ok(())
        }
    }
}

async fn send(args: &SendArgs, signal: Signal) -> anyhow::Result<()> {
    let plan = args.plan(signal)?;
    let pool = Pool::build(&plan.shape, &plan.pool).context("building request pool")?;
    tracing::info!(
        requests = pool.len(),
        bytes_per_request = pool.mean_body_bytes(),
        "Request pool built."
    );
    let info = RunInfo {
        signal,
        protocol: plan.target.protocol,
        encoding: plan.target.encoding,
        compression: plan.target.compression,
        endpoint: plan.target.endpoint.clone(),
        workers: plan.run.workers,
        batch_size: plan.run.batch_size,
        target_rate: plan.run.rate,
        request_bytes: pool.mean_body_bytes(),
    };
    let (stats, elapsed) = run::run(&plan.target, Arc::new(pool), &plan.run).await?;
    let summary = Summary::new(info, &stats, elapsed);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.human());
    }
    Ok(())
}
