//! Command-line interface: argument definitions and their validation into plans.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};

use crate::client::{Protocol, Target};
use crate::encode::{Compression, Encoding};
use crate::generate::{Shape, Signal};
use crate::pool::PoolPlan;
use crate::run::{RunPlan, Stop};
use crate::sink::SinkPlan;

/// OTLP load generator and counting sink for benchmarking collectors.
#[derive(Debug, Parser)]
#[command(name = "tracemend-loadgen", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send spans.
    Traces(SendArgs),
    /// Send log records.
    Logs(SendArgs),
    /// Receive OTLP (gRPC and HTTP) and only count what arrives.
    Sink(SinkArgs),
}

/// Options for sending.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Transport.
    #[arg(long, value_enum, default_value = "grpc")]
    pub protocol: Protocol,
    /// Target: `host:port` for gRPC (default 127.0.0.1:4317), `http://host:port[/path]`
    /// for HTTP (default http://127.0.0.1:4318 with path /v1/traces or /v1/logs).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Body encoding; `json` needs `--protocol http`.
    #[arg(long, value_enum, default_value = "proto")]
    pub encoding: Encoding,
    /// Body compression.
    #[arg(long, value_enum, default_value = "none")]
    pub compression: Compression,
    /// Target items (spans or log records) per second over all workers; 0 sends as fast
    /// as the server answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Stop after this long, e.g. `30s`, `2m` (default 10s unless `--count` is given).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// Stop after exactly this many items.
    #[arg(long)]
    pub count: Option<u64>,
    /// Items per request.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    /// Concurrent senders, each with its own connection and one request in flight.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Spans per trace (for logs: records sharing one trace id).
    #[arg(long, default_value_t = 5)]
    pub spans_per_trace: usize,
    /// Attributes on each span or log record.
    #[arg(long, default_value_t = 10)]
    pub attributes: usize,
    /// Bytes in each attribute value.
    #[arg(long, default_value_t = 16)]
    pub attribute_value_size: usize,
    /// Fraction of spans with error status and an `exception` event (of log records:
    /// severity ERROR with `exception.*` attributes), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub error_ratio: f64,
    /// Bytes in each log record body.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
    /// An extra resource attribute, `KEY=VALUE` (repeatable), e.g.
    /// `vcs.ref.head.revision=<sha>` for envelope assembly and `symbolize`.
    #[arg(long = "resource-attribute", value_name = "KEY=VALUE")]
    pub resource_attributes: Vec<String>,
    /// Give each trace's root (server) span `http.request.method`, `url.path` and
    /// `http.route`, as an HTTP server instrumentation does.
    #[arg(long)]
    pub http_attributes: bool,
    /// Read the `exception.stacktrace` of every error from this file (default: a
    /// one-frame Python traceback).
    #[arg(long, value_name = "FILE")]
    pub stacktrace_file: Option<std::path::PathBuf>,
    /// Distinct pre-encoded requests to cycle through; later passes re-key trace ids
    /// (except in gzip bodies, which repeat them).
    #[arg(long, default_value_t = 64)]
    pub pool_size: usize,
    /// Per-request timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Print progress to stderr at this interval, e.g. `1s` (0 for none).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub report_interval: Duration,
    /// Print the summary (and progress lines) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seed for ids and values (default: from the clock, so runs differ).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Options for the sink.
#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// OTLP/gRPC listen address (port 0 picks a free port, printed on stderr).
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub http: SocketAddr,
    /// Print counts to stderr at this interval (0 for none).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub report_interval: Duration,
    /// Print totals (and progress lines) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Items (spans + log records) expected; logged when reached.
    #[arg(long)]
    pub expect: Option<u64>,
    /// Exit, printing totals, once `--expect` items arrived.
    #[arg(long, requires = "expect")]
    pub exit_when_done: bool,
}

/// Invalid combinations of options.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A value is out of range.
    #[error("--{flag}: {reason}")]
    Invalid {
        /// The flag, without dashes.
        flag: &'static str,
        /// What is expected.
        reason: std::borrow::Cow<'static, str>,
    },
}

fn invalid(flag: &'static str, reason: impl Into<std::borrow::Cow<'static, str>>) -> CliError {
    CliError::Invalid {
        flag,
        reason: reason.into(),
    }
}

/// Everything a send run needs, validated.
#[derive(Debug, Clone)]
pub struct SendPlan {
    /// Shape of the telemetry.
    pub shape: Shape,
    /// What to pre-encode.
    pub pool: PoolPlan,
    /// Where to send.
    pub target: Target,
    /// How to drive the workers.
    pub run: RunPlan,
}

impl SendArgs {
    /// Validates the options for sending `signal`.
    pub fn plan(&self, signal: Signal) -> Result<SendPlan, CliError> {
        if !(0.0..=1.0).contains(&self.error_ratio) {
            return Err(invalid("error-ratio", "must be between 0 and 1"));
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(invalid(
                "rate",
                "must be 0 (unlimited) or a positive number",
            ));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch-size", "must be at least 1"));
        }
        if self.workers == 0 {
            return Err(invalid("workers", "must be at least 1"));
        }
        if self.spans_per_trace == 0 {
            return Err(invalid("spans-per-trace", "must be at least 1"));
        }
        if self.pool_size == 0 {
            return Err(invalid("pool-size", "must be at least 1"));
        }
        if self.protocol == Protocol::Grpc && self.encoding == Encoding::Json {
            return Err(invalid("encoding", "json needs --protocol http"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be positive"));
        }
        let mut resource_attributes = Vec::new();
        for attr in &self.resource_attributes {
            match attr.split_once('=') {
                Some((k, v)) if !k.is_empty() => resource_attributes.push((k.into(), v.into())),
                _ => {
                    return Err(invalid(
                        "resource-attribute",
                        format!("{attr:?} is not KEY=VALUE"),
                    ));
                }
            }
        }
        let stacktrace = match &self.stacktrace_file {
            None => None,
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => Some(text),
                Ok(_) => {
                    return Err(invalid(
                        "stacktrace-file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Err(e) => {
                    return Err(invalid(
                        "stacktrace-file",
                        format!("cannot read {}: {e}", path.display()),
                    ));
                }
            },
        };
        let stop = match (self.count, self.duration) {
            (Some(_), _) => Stop::Count,
            (None, Some(d)) => Stop::After(d),
            (None, None) => Stop::After(Duration::from_secs(10)),
        };
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| match self.protocol {
                Protocol::Grpc => "127.0.0.1:4317".into(),
                Protocol::Http => "http://127.0.0.1:4318".into(),
            });
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(SendPlan {
            shape: Shape {
                spans_per_trace: self.spans_per_trace,
                attributes: self.attributes,
                attribute_value_size: self.attribute_value_size,
                error_ratio: self.error_ratio,
                body_size: self.body_size,
                resource_attributes,
                http_attributes: self.http_attributes,
                stacktrace,
            },
            pool: PoolPlan {
                signal,
                batch_size: self.batch_size,
                pool_size: self.pool_size,
                total_items: self.count,
                encoding: self.encoding,
                compression: self.compression,
                grpc_frame: self.protocol == Protocol::Grpc,
                seed: self.seed.unwrap_or(now_ns),
                base_time_ns: now_ns,
            },
            target: Target {
                signal,
                protocol: self.protocol,
                endpoint,
                encoding: self.encoding,
                compression: self.compression,
                timeout: self.timeout,
            },
            run: RunPlan {
                workers: self.workers,
                rate: self.rate,
                batch_size: self.batch_size,
                stop,
                report_every: (!self.report_interval.is_zero()).then_some(self.report_interval),
                json: self.json,
            },
        })
    }
}

impl SinkArgs {
    /// The sink's plan.
    pub fn plan(&self) -> SinkPlan {
        SinkPlan {
            grpc: self.grpc,
            http: self.http,
            report_every: (!self.report_interval.is_zero()).then_some(self.report_interval),
            json: self.json,
            expect: self.expect,
            exit_when_done: self.exit_when_done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tracemend-loadgen").chain(args.iter().copied()))
    }

    fn send_args(args: &[&str]) -> Result<SendArgs, Box<dyn std::error::Error>> {
        match parse(args)?.command {
            Command::Traces(a) | Command::Logs(a) => Ok(a),
            Command::Sink(_) => Err("not a send command".into()),
        }
    }

    #[test]
    fn defaults_are_grpc_to_4317_for_ten_seconds() -> Result<(), Box<dyn std::error::Error>> {
        let plan = send_args(&["traces"])?.plan(Signal::Traces)?;
        assert_eq!(plan.target.endpoint, "127.0.0.1:4317");
        assert_eq!(plan.run.stop, Stop::After(Duration::from_secs(10)));
        assert_eq!(plan.shape.attributes, 10);
        assert_eq!(plan.pool.batch_size, 512);
        Ok(())
    }

    #[test]
    fn shape_flags_reach_the_plan() -> Result<(), Box<dyn std::error::Error>> {
        let plan = send_args(&[
            "logs",
            "--protocol=http",
            "--encoding=json",
            "--compression=gzip",
            "--count=1000",
            "--batch-size=100",
            "--attributes=3",
            "--attribute-value-size=40",
            "--body-size=2000",
            "--error-ratio=0.5",
            "--spans-per-trace=2",
        ])?
        .plan(Signal::Logs)?;
        assert_eq!(plan.target.endpoint, "http://127.0.0.1:4318");
        assert_eq!(plan.pool.compression, Compression::Gzip);
        assert_eq!(plan.pool.total_items, Some(1000));
        assert_eq!(plan.run.stop, Stop::Count);
        assert_eq!(
            plan.shape,
            Shape {
                spans_per_trace: 2,
                attributes: 3,
                attribute_value_size: 40,
                error_ratio: 0.5,
                body_size: 2000,
                ..Shape::default()
            }
        );
        Ok(())
    }

    #[test]
    fn grpc_gzip_is_compressed_and_framed_up_front() -> Result<(), Box<dyn std::error::Error>> {
        let plan = send_args(&["traces", "--compression=gzip"])?.plan(Signal::Traces)?;
        assert_eq!(plan.pool.compression, Compression::Gzip);
        assert!(plan.pool.grpc_frame);
        assert_eq!(plan.target.compression, Compression::Gzip);
        Ok(())
    }

    #[test]
    fn bad_combinations_are_rejected() -> Result<(), Box<dyn std::error::Error>> {
        for args in [
            &["traces", "--encoding=json"][..],
            &["traces", "--error-ratio=1.5"],
            &["traces", "--batch-size=0"],
            &["traces", "--workers=0"],
            &["traces", "--rate=-1"],
            &["traces", "--resource-attribute=novalue"],
            &["traces", "--resource-attribute==v"],
            &["traces", "--stacktrace-file=/nonexistent/stack.txt"],
        ] {
            assert!(send_args(args)?.plan(Signal::Traces).is_err(), "{args:?}");
        }
        assert!(parse(&["traces", "--count=1", "--duration=1s"]).is_err());
        assert!(parse(&["sink", "--exit-when-done"]).is_err());
        Ok(())
    }
}
