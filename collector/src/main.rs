//! The `tracemend` command: runs the collector, or validates a configuration, or lists
//! the supported components; flags follow otelcol's.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tracemend",
    version,
    about = "tracemend: an OpenTelemetry Collector distribution"
)]
struct Cli {
    /// Configuration source: a file path, `file:PATH`, `env:VAR` or `yaml:key::path: value`.
    /// Repeatable; later sources merge over earlier ones. Without it the built-in default
    /// config runs (OTLP in, debug out).
    #[arg(long = "config", global = true)]
    configs: Vec<String>,
    /// Override one value, e.g. `--set processors.batch.timeout=2s` (`::` also separates).
    #[arg(long = "set", global = true)]
    sets: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the configuration and exit non-zero with every error found.
    Validate,
    /// List every supported component type.
    Components,
    /// The repair engine (runs the `tracemend-repair` binary): `tracemend repair serve
    /// --config repair.yaml`, `schema`, `validate-envelope FILE`, `build-base-image` (see
    /// `tracemend repair --help`).
    #[command(disable_help_flag = true)]
    Repair {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    // The repair engine has its own command line (its `--config` is its own file).
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("repair") {
        return repair_main(&argv[2..]);
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Components) => {
            print!("{}", collector::components::describe());
            ExitCode::SUCCESS
        }
        Some(Command::Validate) => validate(&cli),
        Some(Command::Repair { args }) => repair_main(&args),
        None => run(&cli),
    }
}

/// Checks the configuration, then loads and configures every WASM module it names (span/log
/// processors and tail samplers), so a module or policy that would not start fails here,
/// before deployment.
fn validate(cli: &Cli) -> ExitCode {
    let config = match collector::components::load_config(&cli.configs, &cli.sets) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let env = collector::factory::PrepareEnv::new(None, None);
    match collector::service::prepare_processors(&config, config.processors.keys(), &env) {
        Ok(_) => {
            println!("The configuration is valid.");
            ExitCode::SUCCESS
        }
        Err(collector::service::PrepareFailure::Config(errors)) => {
            eprint!("{errors}");
            ExitCode::FAILURE
        }
        Err(collector::service::PrepareFailure::Fatal(e)) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `tracemend repair ...` as the separate `tracemend-repair` binary, so the edge
/// collector does not link the repair engine (SQLite, the Docker client). Arguments pass
/// through unchanged and the engine's exit status comes back.
fn repair_main<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> ExitCode {
    match collector::repair_cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> ExitCode {
    let config = match collector::components::load_config(&cli.configs, &cli.sets) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    collector::telemetry::init_logs(&config.service.telemetry.logs);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(collector::service::run(config, shutdown_signal()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
