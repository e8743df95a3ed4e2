//! Stage `localize`: ranks suspects for the reproduced failure from several signals (the
//! crash frames, spectrum-based localization over line coverage, the code graph, recent
//! change, cross-service error contribution), each kept as evidence.
//!
//! Runs: the minimized failing input, the original one and the passing neighbours from
//! the minimize stage, replayed in one container under coverage.py, plus the
//! repository's own tests under coverage (each test a passing run). Suspects are the
//! callable definitions of the symbol index (built with `codeindex` at the incident's
//! commit) that hold a crash frame, lie within `localize.graph_radius` call edges of
//! one, or hold a line a failing run covered. Each gets a logistic score over its
//! evidence ([`score`]); the best `localize.max_hypotheses` are kept, each with a cause
//! class and intervention ([`cause`]). When the envelope's spans cover several services,
//! [`services`] names the first-fault service and each cross-service edge's share of the
//! error; it is kept in the result whether or not there are suspects.

pub mod cause;
pub mod flow;
pub mod graph;
mod hypothesis;
pub mod score;
pub mod services;
pub mod spectrum;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use hypothesis::{
    CauseClass, Evidence, Hypothesis, Intervention, LocalizeResult, Signal, Suspect,
};

use crate::config::LocalizeConfig;
use crate::dependency::Dependency;
use crate::minimize::{MinimizeVerdict, ProbeInput};
use crate::probe::{self, BatchOptions, Outcome, Prepared, Workbench};
use crate::reproduce::Verdict;
use crate::signature::Observed;
use crate::stage::{Stage, StageContext, StageError, StageFuture, StageOutcome, StageResult};
use graph::Def;
use spectrum::Spectrum;

/// The stage's name: the key of its stored result.
pub const STAGE: &str = "localize";

/// Most passing neighbours replayed under coverage.
const MAX_COVERAGE_NEIGHBOURS: usize = 24;

/// The stage.
pub struct Localize {
    bench: Arc<Workbench>,
    config: LocalizeConfig,
}

impl Localize {
    /// The stage, probing through `bench`.
    pub fn new(bench: Arc<Workbench>, config: LocalizeConfig) -> Self {
        Self { bench, config }
    }
}

impl Stage for Localize {
    fn name(&self) -> &'static str {
        STAGE
    }

    fn dependencies(&self) -> &[Arc<dyn Dependency>] {
        self.bench.dependencies()
    }

    fn run<'a>(&'a self, ctx: &'a StageContext<'a>) -> StageFuture<'a> {
        Box::pin(self.localize(ctx))
    }
}

/// A suspect being scored.
#[derive(Debug, Clone)]
struct Candidate {
    def: Def,
    evidence: BTreeMap<Signal, Evidence>,
    crash_depth: Option<usize>,
}

impl Candidate {
    fn add(&mut self, signal: Signal, value: f64, detail: String) {
        let keep = self.evidence.get(&signal).is_none_or(|e| e.value < value);
        if keep && value > 0.0 {
            self.evidence.insert(
                signal,
                Evidence {
                    signal,
                    value,
                    detail,
                },
            );
        }
    }
}

/// What the runs under coverage showed.
#[derive(Default)]
struct Runs {
    spectrum: Spectrum,
    observed: Option<Observed>,
    notes: Vec<String>,
}

fn empty_result(config: &LocalizeConfig, why: &str, cross: &CrossSignal) -> LocalizeResult {
    let mut missing = vec![why.to_string()];
    missing.extend(cross.missing());
    LocalizeResult {
        hypotheses: Vec::new(),
        signals_used: Vec::new(),
        signals_missing: missing,
        weights: config.weights.by_name(),
        cross_service: cross.result.clone().ok(),
    }
}

/// The cross-service signal of the envelope, computed once per run.
struct CrossSignal {
    result: Result<services::CrossService, services::NotComputable>,
}

impl CrossSignal {
    fn of(envelope: &envelope::Envelope) -> Self {
        let rows = envelope.timing.as_ref().and_then(|t| t.spans.as_deref());
        Self {
            result: services::analyze(rows),
        }
    }

    /// The `signals_missing` entry, when it could not be computed.
    fn missing(&self) -> Option<String> {
        self.result
            .as_ref()
            .err()
            .map(|e| format!("cross_service: {e}"))
    }
}

impl Localize {
    async fn localize(&self, ctx: &StageContext<'_>) -> Result<StageOutcome, StageError> {
        let done = |r: LocalizeResult| {
            Ok(StageOutcome::Completed {
                result: StageResult::Localize(Box::new(r)),
                artifacts: Vec::new(),
            })
        };
        let cross = CrossSignal::of(ctx.envelope);
        let Some(repro) = ctx
            .previous
            .reproduce()
            .filter(|r| r.verdict == Verdict::Reproduced)
        else {
            return done(empty_result(
                &self.config,
                "the failure was not reproduced",
                &cross,
            ));
        };
        let Some(commit) = repro.commit.clone() else {
            return done(empty_result(
                &self.config,
                "the reproduce result names no commit",
                &cross,
            ));
        };
        let name = &ctx.envelope.identity.service.name;
        let prepared = self.bench.prepare(name, &commit).await?;
        let runs = self.collect_runs(ctx, &prepared).await?;

        let index_bytes = {
            let dir = prepared.repo.dir().to_path_buf();
            let commit = prepared.commit.clone();
            tokio::task::spawn_blocking(move || graph::build_index(&dir, &commit))
                .await
                .unwrap_or_else(|e| Err(format!("the index build panicked: {e}")))
        };
        let mut missing: Vec<String> = runs.notes.clone();
        let index = match &index_bytes {
            Ok(bytes) => match symbols::Index::parse(bytes) {
                Ok(i) => Some(i),
                Err(e) => {
                    missing.push(format!("code_graph: the symbol index is unreadable: {e}"));
                    None
                }
            },
            Err(e) => {
                missing.push(format!(
                    "code_graph: the symbol index could not be built: {e}"
                ));
                None
            }
        };
        let Some(index) = index else {
            missing.push("recent_change: no symbol index".into());
            let mut r = empty_result(&self.config, "no suspects without a symbol index", &cross);
            r.signals_missing.extend(missing);
            return done(r);
        };

        // Crash frames: the reproduced traceback's in-app frames, else the envelope's.
        let frames: Vec<(String, u32)> = match &runs.observed {
            Some(o) => o
                .frames
                .iter()
                .filter(|f| f.in_app)
                .filter_map(|f| Some((f.file.clone()?, f.line?)))
                .collect(),
            None => ctx
                .envelope
                .symptom
                .exception
                .frames
                .iter()
                .filter(|f| f.in_app)
                .filter_map(|f| Some((f.file.clone()?, f.line?)))
                .collect(),
        };
        let raised_outside_app = runs
            .observed
            .as_ref()
            .and_then(|o| o.frames.first())
            .is_some_and(|f| !f.in_app);
        let (exception_type, message) = match &runs.observed {
            Some(o) => (o.exception_type.clone(), o.message.clone()),
            None => (
                ctx.envelope.symptom.exception.exception_type.clone(),
                ctx.envelope
                    .symptom
                    .exception
                    .message_redacted
                    .clone()
                    .unwrap_or_default(),
            ),
        };

        let mut candidates: BTreeMap<u32, Candidate> = BTreeMap::new();
        let mut used = Vec::new();
        let mut crash_defs = Vec::new();
        for (depth, (file, line)) in frames.iter().enumerate() {
            let Some(def) = graph::callable_at(&index, file, *line) else {
                continue;
            };
            let c = candidates.entry(def.index).or_insert_with(|| Candidate {
                def: def.clone(),
                evidence: BTreeMap::new(),
                crash_depth: None,
            });
            if c.crash_depth.is_none() {
                c.crash_depth = Some(depth);
            }
            c.add(
                Signal::CrashFrame,
                0.5f64.powi(depth as i32),
                format!("frame {} of {}: {file}:{line}", depth + 1, frames.len()),
            );
            crash_defs.push((def, depth));
        }
        if crash_defs.is_empty() {
            missing.push("crash_frame: no in-app frame maps to a definition".into());
        } else {
            used.push(Signal::CrashFrame);
        }

        // Code graph: proximity to the crash frames, the nearer frame counting more.
        let radius = self.config.graph_radius;
        let mut graph_used = false;
        for (def, depth) in &crash_defs {
            for (n, dist) in graph::neighbourhood(&index, def, radius) {
                let value =
                    (1.0 - f64::from(dist) / f64::from(radius + 1)) * 0.5f64.powi(*depth as i32);
                let c = candidates.entry(n.index).or_insert_with(|| Candidate {
                    def: n.clone(),
                    evidence: BTreeMap::new(),
                    crash_depth: None,
                });
                c.add(
                    Signal::CodeGraph,
                    value,
                    format!(
                        "{dist} call edge(s) from {} (frame {})",
                        def.qualified_name,
                        depth + 1
                    ),
                );
                graph_used = true;
            }
        }
        // Producers of the values passed down the crashing call chain (code graph too:
        // data edges rather than call edges).
        let mut sources = BTreeMap::new();
        for (file, _) in &frames {
            if !sources.contains_key(file)
                && let Ok(bytes) = prepared.repo.show(&prepared.commit, file).await
            {
                sources.insert(file.clone(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        for p in flow::producers(&index, &frames, &sources, &exception_type) {
            let c = candidates.entry(p.def.index).or_insert_with(|| Candidate {
                def: p.def.clone(),
                evidence: BTreeMap::new(),
                crash_depth: None,
            });
            c.add(
                Signal::CodeGraph,
                p.value,
                format!("produces a value the crash consumes: {}", p.detail),
            );
            graph_used = true;
        }
        if graph_used {
            used.push(Signal::CodeGraph);
        }

        // Spectrum: Ochiai per covered line, a definition's best line; return values:
        // Ochiai per return-value predicate, a definition's best predicate.
        let scores = runs.spectrum.scores();
        let (failing_runs, passing_runs) = runs.spectrum.counts();
        if failing_runs > 0 && passing_runs > 0 {
            for (file, line) in scores.touched() {
                if graph::is_test_file(file) {
                    continue;
                }
                if let Some(def) = graph::callable_at(&index, file, line) {
                    candidates.entry(def.index).or_insert_with(|| Candidate {
                        def,
                        evidence: BTreeMap::new(),
                        crash_depth: None,
                    });
                }
            }
            let baseline = runs.spectrum.baseline();
            let (mut lines_used, mut values_used) = (false, false);
            for c in candidates.values_mut() {
                let (path, start, end) = (c.def.path.clone(), c.def.start_line, c.def.end_line);
                if let Some(best) = scores.best_line_in(&runs.spectrum, &path, start, end) {
                    let s = best.score;
                    lines_used = true;
                    c.add(
                        Signal::Spectrum,
                        best.value,
                        format!(
                            "ochiai {:.2} (a line every run covers: {baseline:.2}): {} of {failing_runs} failing, {} of {passing_runs} passing runs cover line {}",
                            s.ochiai, s.ef, s.ep, best.line
                        ),
                    );
                }
                if let Some(best) = scores.best_value_in(&runs.spectrum, &path, start, end) {
                    let s = best.score;
                    values_used = true;
                    c.add(
                        Signal::ReturnValue,
                        best.value,
                        format!(
                            "ochiai {:.2}: {} of {failing_runs} failing, {} of {passing_runs} passing runs saw it return `{}` at line {}",
                            s.ochiai,
                            s.ef,
                            s.ep,
                            best.predicate.as_deref().unwrap_or_default(),
                            best.line
                        ),
                    );
                }
            }
            if lines_used {
                used.push(Signal::Spectrum);
            }
            if values_used {
                used.push(Signal::ReturnValue);
            } else {
                missing.push(
                    "return_value: no failing run saw a function of the service return".into(),
                );
            }
        } else if !runs.notes.iter().any(|n| n.starts_with("spectrum")) {
            missing.push(format!(
                "spectrum: {failing_runs} failing and {passing_runs} passing runs with coverage"
            ));
        }

        // Recent change: informative only when definitions differ in their last change.
        let reference = graph::commit_time(&index);
        let distinct: std::collections::BTreeSet<&str> = candidates
            .values()
            .filter_map(|c| c.def.last_change.as_ref().map(|(_, sha)| sha.as_str()))
            .collect();
        match reference {
            Some(at) if distinct.len() > 1 => {
                used.push(Signal::RecentChange);
                let half = self.config.recent_change_half_life.as_secs_f64();
                for c in candidates.values_mut() {
                    if let Some((time, sha)) = c.def.last_change.clone() {
                        let age = at - time;
                        c.add(
                            Signal::RecentChange,
                            graph::recency(age, half),
                            format!(
                                "last changed in {} {} before the commit",
                                &sha[..sha.len().min(12)],
                                humantime::format_duration(std::time::Duration::from_secs(
                                    age.max(0) as u64
                                ))
                            ),
                        );
                    }
                }
            }
            _ => missing
                .push("recent_change: every suspect was last changed in the same commit".into()),
        }
        // Cross service: one value for every suspect (they are all the envelope's own
        // service's), so it moves scores, not the order among them. When the first fault
        // is a service this one calls, the crash frames get the evidence even at 0: its
        // detail names that service and the edge.
        let view = match &cross.result {
            Ok(c) => {
                used.push(Signal::CrossService);
                Some(c.view(name))
            }
            Err(_) => {
                missing.extend(cross.missing());
                None
            }
        };
        if let Some(v) = &view {
            for c in candidates.values_mut() {
                if v.value > 0.0 {
                    c.add(Signal::CrossService, v.value, v.detail.clone());
                } else if v.dependency_fault && c.crash_depth.is_some() {
                    c.evidence.insert(
                        Signal::CrossService,
                        Evidence {
                            signal: Signal::CrossService,
                            value: 0.0,
                            detail: v.detail.clone(),
                        },
                    );
                }
            }
        }

        // Score, rank, classify.
        let mut scored: Vec<(f64, Candidate)> = candidates
            .into_values()
            .map(|c| {
                let ev: Vec<Evidence> = c.evidence.values().cloned().collect();
                (score::score(&self.config.weights, &ev), c)
            })
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(
                    a.1.crash_depth
                        .unwrap_or(usize::MAX)
                        .cmp(&b.1.crash_depth.unwrap_or(usize::MAX)),
                )
                .then(a.1.def.path.cmp(&b.1.def.path))
                .then(a.1.def.start_line.cmp(&b.1.def.start_line))
        });
        scored.truncate(self.config.max_hypotheses);
        let mut hypotheses = Vec::new();
        for (rank, (s, c)) in scored.into_iter().enumerate() {
            let source = match prepared.repo.show(&prepared.commit, &c.def.path).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .lines()
                    .skip(c.def.start_line.saturating_sub(2) as usize)
                    .take((c.def.end_line + 1).saturating_sub(c.def.start_line) as usize + 1)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Err(_) => String::new(),
            };
            let (cause_class, intervention) = match &view {
                // The crash is this service meeting its dependency's failure.
                Some(v) if v.dependency_fault && c.crash_depth.is_some() => (
                    CauseClass::DependencyBehaviour,
                    Intervention::HandleDependencyError,
                ),
                _ => cause::classify(cause::Shape {
                    exception_type: &exception_type,
                    message: &message,
                    is_crash_frame: c.crash_depth == Some(0),
                    raised_outside_app,
                    source: &source,
                }),
            };
            hypotheses.push(Hypothesis {
                rank: rank as u32 + 1,
                score: s,
                suspect: Suspect {
                    file: c.def.path.clone(),
                    start_line: c.def.start_line,
                    end_line: c.def.end_line,
                    function: c.def.qualified_name.clone(),
                    symbol_id: Some(c.def.symbol_id.clone()),
                },
                evidence: c.evidence.into_values().collect(),
                cause_class,
                intervention,
                exception_type: exception_type.clone(),
            });
        }
        tracing::info!(
            incident = ctx.incident_id,
            hypotheses = hypotheses.len(),
            top = hypotheses
                .first()
                .map(|h| h.suspect.function.as_str())
                .unwrap_or("-"),
            "Localized."
        );
        used.sort();
        done(LocalizeResult {
            hypotheses,
            signals_used: used,
            signals_missing: missing,
            weights: self.config.weights.by_name(),
            cross_service: cross.result.ok(),
        })
    }

    /// The failing and passing runs under coverage, and the reproduced traceback.
    async fn collect_runs(
        &self,
        ctx: &StageContext<'_>,
        prepared: &Prepared<'_>,
    ) -> Result<Runs, StageError> {
        let mut runs = Runs::default();
        if !self.config.coverage || !self.bench.has_coverage() {
            runs.notes
                .push("spectrum: coverage.py is not available in the sandbox".into());
            return Ok(runs);
        }
        let original = probe::envelope_input(ctx.envelope);
        let mut probes: Vec<ProbeInput> = Vec::new();
        match ctx.previous.minimize() {
            Some(m) if m.verdict != MinimizeVerdict::Skipped => {
                probes.push(m.minimized.clone());
                if m.minimized != original {
                    probes.push(original);
                }
                probes.extend(
                    m.passing_neighbours
                        .iter()
                        .take(MAX_COVERAGE_NEIGHBOURS)
                        .map(|n| n.input.clone()),
                );
            }
            _ => probes.push(original),
        }
        let options = BatchOptions {
            coverage: true,
            stateless: false,
        };
        let message = ctx
            .previous
            .reproduce()
            .and_then(|r| probe::stable_message(ctx.envelope, r));
        let batch = self
            .bench
            .run_batch(
                ctx,
                STAGE,
                prepared,
                &probes,
                options,
                message.as_deref(),
                &[],
            )
            .await?;
        for j in batch.judged {
            if j.is_failing() && runs.observed.is_none() {
                runs.observed = j.observed.clone();
            }
            match (&j.outcome, j.coverage) {
                (Outcome::Error(_), _) | (_, None) => {}
                (Outcome::Failing, Some(cov)) => runs.spectrum.add(true, cov),
                // A passing run is one that went right. A neighbour that raised another
                // exception went wrong too, often after running the fault (a key removed
                // that is read after the bad value was made): counted as passing, it
                // would clear the fault's lines and values.
                (Outcome::Passing, Some(cov)) if j.other_failure.is_none() => {
                    runs.spectrum.add(false, cov)
                }
                (Outcome::Passing, Some(_)) => {}
            }
        }
        match self
            .bench
            .run_tests(ctx, STAGE, prepared, self.config.tests_timeout)
            .await
        {
            Ok(tests) => {
                for covered in tests.into_values() {
                    runs.spectrum.add(false, covered);
                }
            }
            Err(e) => runs.notes.push(format!(
                "spectrum: the repository's tests gave no coverage ({e})"
            )),
        }
        Ok(runs)
    }
}
