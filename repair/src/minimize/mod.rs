//! Stage `minimize`: hierarchical delta debugging over the reproduced request's inputs.
//! The oracle is the reproduce stage's strict signature (exception type and top in-app
//! frame); the result is the smallest input that still fails that way, plus the passing
//! neighbours (inputs one step away that pass) that localization and verification use.
//!
//! Probes run in batches, many in one container ([`crate::probe`]), the service
//! restarted between probes unless the service config declares it `stateless`; answers
//! are cached by input hash; `minimize.max_probes` and `minimize.time_budget` bound the
//! search. A failure that did not reproduce is not minimized (verdict `skipped`).

pub mod ddmin;
mod result;
pub mod tree;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use result::{
    MinimizeResult, MinimizeVerdict, Neighbour, ProbeInput, ProbeMode, ProbeStats, Reduction,
};

use crate::config::MinimizeConfig;
use crate::dependency::Dependency;
use crate::probe::{self, BatchOptions, Judgement, Prepared, Workbench};
use crate::reproduce::Verdict;
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome, StageResult};

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "minimize";

/// Most passing neighbours kept.
const MAX_NEIGHBOURS: usize = 48;

/// The stage.
pub struct Minimize {
    bench: Arc<Workbench>,
    config: MinimizeConfig,
}

impl Minimize {
    /// The stage, probing through `bench`.
    pub fn new(bench: Arc<Workbench>, config: MinimizeConfig) -> Self {
        Self { bench, config }
    }
}

impl Stage for Minimize {
    fn name(&self) -> &'static str {
        STAGE
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        self.bench.dependencies()
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.minimize(ctx))
    }
}

struct BenchProber<'a> {
    bench: &'a Workbench,
    ctx: &'a StageContext<'a>,
    prepared: &'a Prepared<'a>,
    stateless: bool,
    message: Option<String>,
    /// The modules the service imported, learnt from the first batch that ran a fork
    /// server: later containers import them before their first probe.
    preload: Vec<String>,
}

impl Prober for BenchProber<'_> {
    fn probe(
        &mut self,
        batch: Vec<ProbeInput>,
    ) -> impl Future<Output = Result<Vec<Judgement>, StageError>> + Send {
        let options = BatchOptions {
            coverage: false,
            stateless: self.stateless,
        };
        let (bench, ctx, prepared) = (self.bench, self.ctx, self.prepared);
        let message = self.message.clone();
        let preload = &mut self.preload;
        async move {
            let done = bench
                .run_batch(
                    ctx,
                    STAGE,
                    prepared,
                    &batch,
                    options,
                    message.as_deref(),
                    preload,
                )
                .await?;
            if preload.is_empty() {
                *preload = done.preload;
            }
            Ok(done.judged)
        }
    }
}

use ddmin::Prober;

/// The result of a stage that did not run: the incident was not reproduced.
pub fn skipped(original: ProbeInput, why: &str) -> MinimizeResult {
    let reduction = Reduction {
        leaves_before: tree::leaf_count(&original),
        leaves_after: tree::leaf_count(&original),
        bytes_before: tree::byte_count(&original),
        bytes_after: tree::byte_count(&original),
    };
    MinimizeResult {
        verdict: MinimizeVerdict::Skipped,
        minimized: original.clone(),
        original,
        reduction,
        mode: ProbeMode::Batched,
        probes: ProbeStats::default(),
        passing_neighbours: Vec::new(),
        note: Some(why.to_string()),
        oracle_message: None,
    }
}

impl Minimize {
    async fn minimize(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let started = Instant::now();
        let original = probe::envelope_input(ctx.envelope);
        let reproduced = ctx
            .previous
            .reproduce()
            .filter(|r| r.verdict == Verdict::Reproduced);
        let (Some(repro), true) = (reproduced, true) else {
            return Ok(StageOutcome::Completed {
                result: StageResult::Minimize(Box::new(skipped(
                    original,
                    "the failure was not reproduced",
                ))),
                artifacts: Vec::new(),
            });
        };
        let Some(commit) = repro.commit.clone() else {
            return Ok(StageOutcome::Completed {
                result: StageResult::Minimize(Box::new(skipped(
                    original,
                    "the reproduce result names no commit",
                ))),
                artifacts: Vec::new(),
            });
        };
        let name = &ctx.envelope.identity.service.name;
        let prepared = self.bench.prepare(name, &commit).await?;
        let mut prober = BenchProber {
            bench: &self.bench,
            ctx,
            prepared: &prepared,
            stateless: prepared.service.stateless,
            message: probe::stable_message(ctx.envelope, repro),
            preload: Vec::new(),
        };
        let oracle_message = prober.message.clone();
        let budget = ddmin::Budget {
            max_probes: self.config.max_probes,
            time: self.config.time_budget,
            batch_size: self.config.batch_size as usize,
            max_neighbours: MAX_NEIGHBOURS,
        };
        let found = ddmin::minimize(&mut prober, &original, budget).await?;
        let mut stats = found.stats;
        stats.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            incident = ctx.incident_id,
            verdict = ?found.verdict,
            probes = stats.executed,
            containers = stats.containers,
            elapsed_ms = stats.elapsed_ms,
            "Minimized."
        );
        let result = MinimizeResult {
            verdict: found.verdict,
            reduction: Reduction {
                leaves_before: tree::leaf_count(&original),
                leaves_after: tree::leaf_count(&found.minimized),
                bytes_before: tree::byte_count(&original),
                bytes_after: tree::byte_count(&found.minimized),
            },
            original,
            minimized: found.minimized,
            mode: if self.config.batch_size > 1 {
                ProbeMode::Batched
            } else {
                ProbeMode::PerContainer
            },
            probes: stats,
            passing_neighbours: found.neighbours,
            note: found.note,
            oracle_message,
        };
        Ok(StageOutcome::Completed {
            result: StageResult::Minimize(Box::new(result)),
            artifacts: Vec::new(),
        })
    }
}

/// A probe budget of `max_probes` and `time` with `batch_size` probes per container.
pub fn budget(max_probes: u32, time: Duration, batch_size: usize) -> ddmin::Budget {
    ddmin::Budget {
        max_probes,
        time,
        batch_size,
        max_neighbours: MAX_NEIGHBOURS,
    }
}
