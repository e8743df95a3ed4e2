//! Hierarchical delta debugging (HDD) over an input tree, with the probes of each step
//! asked for in one batch (one container): for every object and array, breadth first,
//! ddmin over its children (drop chunks, halving the chunk size when none can go), then
//! each remaining leaf replaced by a smaller value of its type. Answers are cached by
//! input hash; the probe and time budgets stop the search with the smallest failing
//! input so far.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::tree::{self, Path, Seg};
use super::{MinimizeVerdict, Neighbour, ProbeInput, ProbeStats};
use crate::probe::{Judgement, Outcome};
use crate::stage::StageError;

/// Runs a batch of probes and judges each (in order).
pub trait Prober {
    /// The judgements of `batch`, in order.
    fn probe(
        &mut self,
        batch: Vec<ProbeInput>,
    ) -> impl Future<Output = Result<Vec<Judgement>, StageError>> + Send;
}

/// Limits of one minimization.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Probes asked for, cached ones included.
    pub max_probes: u32,
    /// Wall-clock limit.
    pub time: Duration,
    /// Most probes per batch (container).
    pub batch_size: usize,
    /// Most passing neighbours recorded.
    pub max_neighbours: usize,
}

/// What a minimization found.
#[derive(Debug, Clone)]
pub struct Found {
    /// How it ended.
    pub verdict: MinimizeVerdict,
    /// The smallest failing input.
    pub minimized: ProbeInput,
    /// Passing inputs one step from it.
    pub neighbours: Vec<Neighbour>,
    /// Probe costs (`containers` counts batches; `elapsed_ms` is left to the caller).
    pub stats: ProbeStats,
    /// Why it stopped early or could not start.
    pub note: Option<String>,
}

/// Rounds a probe may be the one a batch timed out on before it is given up.
const UNANSWERED_STRIKES: usize = 2;

enum Stop {
    Budget(String),
    Stage(StageError),
}

struct Search<'p, P: Prober> {
    prober: &'p mut P,
    base: ProbeInput,
    cache: HashMap<[u8; 32], Judgement>,
    stats: ProbeStats,
    budget: Budget,
    started: Instant,
}

fn hash(input: &ProbeInput) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(input).unwrap_or_default()).into()
}

impl<P: Prober> Search<'_, P> {
    /// Judges the candidate trees, cached answers first; the batch goes to the prober in
    /// chunks of `batch_size`.
    async fn test(&mut self, trees: &[Value]) -> Result<Vec<Judgement>, Stop> {
        let inputs: Vec<ProbeInput> = trees
            .iter()
            .map(|t| tree::from_tree(&self.base, t))
            .collect();
        if self.stats.requested as usize + inputs.len() > self.budget.max_probes as usize {
            return Err(Stop::Budget(format!(
                "the probe budget ({}) ran out",
                self.budget.max_probes
            )));
        }
        if self.started.elapsed() >= self.budget.time {
            return Err(Stop::Budget(format!(
                "the time budget ({:?}) ran out",
                self.budget.time
            )));
        }
        self.stats.requested += inputs.len() as u32;
        let keys: Vec<[u8; 32]> = inputs.iter().map(hash).collect();
        let mut todo: Vec<usize> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if self.cache.contains_key(k) || todo.iter().any(|&j| keys[j] == *k) {
                self.stats.cached += 1;
            } else {
                todo.push(i);
            }
        }
        // Answers of this call. The probes a batch left unanswered (it timed out after
        // answering the others) are asked again in a fresh container and never cached
        // unanswered. The runner answers in order, so the first unanswered probe is the
        // one the time ran out on: after UNANSWERED_STRIKES such rounds it is given up.
        let mut fresh: HashMap<[u8; 32], Judgement> = HashMap::new();
        let mut strikes: HashMap<usize, usize> = HashMap::new();
        while !todo.is_empty() && self.started.elapsed() < self.budget.time {
            let mut again = Vec::new();
            for chunk in todo.chunks(self.budget.batch_size.max(1)) {
                let batch: Vec<ProbeInput> = chunk.iter().map(|&i| inputs[i].clone()).collect();
                let judged = self.prober.probe(batch).await.map_err(Stop::Stage)?;
                self.stats.containers += 1;
                for (&i, j) in chunk.iter().zip(judged) {
                    self.stats.executed += 1;
                    match j.outcome {
                        Outcome::Failing => self.stats.failing += 1,
                        Outcome::Passing => self.stats.passing += 1,
                        Outcome::Error(_) => self.stats.errors += 1,
                    }
                    if j.unanswered {
                        self.stats.unanswered += 1;
                        again.push(i);
                    } else {
                        self.cache.insert(keys[i], j.clone());
                    }
                    fresh.insert(keys[i], j);
                }
            }
            if let Some(&first) = again.first() {
                let n = strikes.entry(first).or_default();
                *n += 1;
                if *n >= UNANSWERED_STRIKES {
                    again.remove(0);
                }
            }
            todo = again;
        }
        Ok(keys
            .iter()
            .map(|k| {
                fresh
                    .get(k)
                    .or_else(|| self.cache.get(k))
                    .cloned()
                    .unwrap_or_else(|| Judgement::unanswered("no answer"))
            })
            .collect())
    }

    /// ddmin over the children of the node at `path`, every granularity at once: one
    /// batch holds the removal of all children, of each half, each quarter, ... each
    /// single child, largest removals first; the first that still fails is kept and the
    /// node is tried again, until no removal fails. More probes than sequential ddmin,
    /// far fewer containers (batches).
    async fn reduce_node(&mut self, best: &mut Value, path: &Path) -> Result<(), Stop> {
        loop {
            let kids = tree::children(best, path);
            if kids.is_empty() {
                return Ok(());
            }
            let mut candidates = Vec::new();
            if kids.len() > 1 {
                candidates.push(tree::without(best, path, &kids));
            }
            let mut n = 2usize;
            loop {
                let n_eff = n.min(kids.len());
                for chunk in split(&kids, n_eff) {
                    candidates.push(tree::without(best, path, &chunk));
                }
                if n_eff >= kids.len() {
                    break;
                }
                n *= 2;
            }
            let mut seen = std::collections::HashSet::new();
            candidates.retain(|c| seen.insert(c.to_string()));
            let judged = self.test(&candidates).await?;
            match judged.iter().position(Judgement::is_failing) {
                Some(i) => *best = candidates.swap_remove(i),
                None => return Ok(()),
            }
        }
    }

    /// Replaces each leaf by a smaller value of its type where the failure stays.
    async fn simplify_leaves(&mut self, best: &mut Value) -> Result<(), Stop> {
        let mut edits: Vec<(Path, Value)> = tree::leaves(best)
            .into_iter()
            .filter_map(|p| {
                let v = tree::get(best, &p).and_then(tree::simpler)?;
                Some((p, v))
            })
            .collect();
        if edits.is_empty() {
            return Ok(());
        }
        let candidates: Vec<Value> = edits
            .iter()
            .map(|(p, v)| tree::with_value(best, p, v.clone()))
            .collect();
        let judged = self.test(&candidates).await?;
        edits = edits
            .into_iter()
            .zip(judged)
            .filter(|(_, j)| j.is_failing())
            .map(|(e, _)| e)
            .collect();
        if edits.is_empty() {
            return Ok(());
        }
        let mut all = best.clone();
        for (p, v) in &edits {
            all = tree::with_value(&all, p, v.clone());
        }
        if self.test(std::slice::from_ref(&all)).await?[0].is_failing() {
            *best = all;
            return Ok(());
        }
        // They interact: apply them one at a time, keeping each that keeps the failure.
        for (p, v) in edits {
            let candidate = tree::with_value(best, &p, v);
            if self.test(std::slice::from_ref(&candidate)).await?[0].is_failing() {
                *best = candidate;
            }
        }
        Ok(())
    }

    /// Inputs one step from `best` (one child removed, one leaf simplified), with the
    /// step in words.
    fn steps(best: &Value) -> Vec<(Value, String)> {
        let mut out = Vec::new();
        for path in tree::containers(best) {
            for seg in tree::children(best, &path) {
                let child = path.child(seg.clone());
                out.push((
                    tree::without(best, &path, std::slice::from_ref(&seg)),
                    format!("removed {child}"),
                ));
            }
        }
        for p in tree::leaves(best) {
            if let Some(old) = tree::get(best, &p)
                && let Some(v) = tree::simpler(old)
            {
                out.push((
                    tree::with_value(best, &p, v.clone()),
                    format!("{p}: {old} -> {v}"),
                ));
            }
        }
        out
    }
}

fn split(kids: &[Seg], n: usize) -> Vec<Vec<Seg>> {
    let n = n.max(1);
    let size = kids.len().div_ceil(n);
    kids.chunks(size.max(1)).map(<[Seg]>::to_vec).collect()
}

/// Minimizes `original` against `prober`'s oracle within `budget`.
pub async fn minimize<P: Prober>(
    prober: &mut P,
    original: &ProbeInput,
    budget: Budget,
) -> Result<Found, StageError> {
    let mut search = Search {
        prober,
        base: original.clone(),
        cache: HashMap::new(),
        stats: ProbeStats::default(),
        budget,
        started: Instant::now(),
    };
    let mut best = tree::to_tree(original);
    let done = |search: Search<'_, P>, best: &Value, verdict, note, neighbours| Found {
        verdict,
        minimized: tree::from_tree(original, best),
        neighbours,
        stats: search.stats,
        note,
    };
    // The oracle must agree that the original fails before anything is removed.
    match search.test(std::slice::from_ref(&best)).await {
        Ok(j) if j[0].is_failing() => {}
        Ok(j) => {
            let why = match &j[0].outcome {
                Outcome::Error(e) => e.clone(),
                _ => match &j[0].other_failure {
                    Some(f) => format!("it raised {f} instead"),
                    None => format!("it answered {:?} without the failure", j[0].response_status),
                },
            };
            let note = format!("the original input did not fail the same way when probed: {why}");
            return Ok(done(
                search,
                &best,
                MinimizeVerdict::AlreadyMinimal,
                Some(note),
                Vec::new(),
            ));
        }
        Err(Stop::Stage(e)) => return Err(e),
        Err(Stop::Budget(why)) => {
            return Ok(done(
                search,
                &best,
                MinimizeVerdict::BudgetExhausted,
                Some(why),
                Vec::new(),
            ));
        }
    }
    let before = best.clone();
    let mut stopped = None;
    // Level by level: a node's children are reduced before its grandchildren are visited.
    let mut queue = std::collections::VecDeque::from([Path::default()]);
    while let Some(path) = queue.pop_front() {
        match search.reduce_node(&mut best, &path).await {
            Ok(()) => {}
            Err(Stop::Stage(e)) => return Err(e),
            Err(Stop::Budget(why)) => {
                stopped = Some(why);
                break;
            }
        }
        for seg in tree::children(&best, &path) {
            let child = path.child(seg);
            if matches!(
                tree::get(&best, &child),
                Some(Value::Object(_) | Value::Array(_))
            ) {
                queue.push_back(child);
            }
        }
    }
    if stopped.is_none() {
        match search.simplify_leaves(&mut best).await {
            Ok(()) => {}
            Err(Stop::Stage(e)) => return Err(e),
            Err(Stop::Budget(why)) => stopped = Some(why),
        }
    }
    if let Some(why) = stopped {
        return Ok(done(
            search,
            &best,
            MinimizeVerdict::BudgetExhausted,
            Some(why),
            Vec::new(),
        ));
    }
    // The passing neighbours: one step from the minimized input; most are cached.
    let mut steps = Search::<P>::steps(&best);
    steps.truncate(budget.max_neighbours);
    let trees: Vec<Value> = steps.iter().map(|(t, _)| t.clone()).collect();
    let mut neighbours = Vec::new();
    let mut note = None;
    match search.test(&trees).await {
        Ok(judged) => {
            for ((t, change), j) in steps.into_iter().zip(judged) {
                if j.outcome == Outcome::Passing {
                    neighbours.push(Neighbour {
                        input: tree::from_tree(original, &t),
                        change,
                        response_status: j.response_status,
                        other_failure: j.other_failure,
                    });
                }
            }
        }
        Err(Stop::Stage(e)) => return Err(e),
        Err(Stop::Budget(why)) => note = Some(format!("no passing neighbours recorded: {why}")),
    }
    let verdict = if best == before {
        MinimizeVerdict::AlreadyMinimal
    } else {
        MinimizeVerdict::Minimized
    };
    Ok(done(search, &best, verdict, note, neighbours))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// An oracle over the body alone: `fails(body)` says whether the input fails.
    struct Fake<F: Fn(&Value) -> bool> {
        fails: F,
        batches: Vec<usize>,
    }

    /// Answers at most `answered` probes of a batch, as a batch that times out does.
    struct Cut<F: Fn(&Value) -> bool> {
        inner: Fake<F>,
        answered: usize,
    }

    impl<F: Fn(&Value) -> bool + Send> Prober for Cut<F> {
        fn probe(
            &mut self,
            batch: Vec<ProbeInput>,
        ) -> impl Future<Output = Result<Vec<Judgement>, StageError>> + Send {
            let n = batch.len();
            let mut out = self.inner.judge(&batch);
            for j in out.iter_mut().skip(self.answered) {
                *j = Judgement::unanswered("the batch timed out before this probe was answered");
            }
            assert_eq!(out.len(), n);
            std::future::ready(Ok(out))
        }
    }

    impl<F: Fn(&Value) -> bool> Fake<F> {
        fn judge(&mut self, batch: &[ProbeInput]) -> Vec<Judgement> {
            self.batches.push(batch.len());
            batch
                .iter()
                .map(|i| {
                    let body = i.request.body.clone().unwrap_or(Value::Null);
                    let mut j = Judgement::error("");
                    j.outcome = if (self.fails)(&body) {
                        Outcome::Failing
                    } else {
                        Outcome::Passing
                    };
                    j.response_status = Some(if j.is_failing() { 500 } else { 200 });
                    j
                })
                .collect()
        }
    }

    impl<F: Fn(&Value) -> bool + Send> Prober for Fake<F> {
        fn probe(
            &mut self,
            batch: Vec<ProbeInput>,
        ) -> impl Future<Output = Result<Vec<Judgement>, StageError>> + Send {
            std::future::ready(Ok(self.judge(&batch)))
        }
    }

    fn input(body: Value) -> ProbeInput {
        ProbeInput {
            request: envelope::Inputs {
                protocol: "http".into(),
                method: "POST".into(),
                route: "/o".into(),
                path: "/o".into(),
                headers: BTreeMap::from([("x-request-id".into(), "r-1".into())]),
                query: BTreeMap::new(),
                body: Some(body),
            },
            fixtures: None,
            feature_flags: BTreeMap::new(),
        }
    }

    fn budget() -> Budget {
        Budget {
            max_probes: 2000,
            time: Duration::from_secs(60),
            batch_size: 32,
            max_neighbours: 64,
        }
    }

    /// Fails when some item has a non-empty `sku` and no `price` key.
    fn missing_price(body: &Value) -> bool {
        body.get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items.iter().any(|i| {
                    i.get("price").is_none()
                        && i.get("sku")
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.is_empty())
                })
            })
    }

    #[tokio::test]
    async fn ddmin_reduces_a_fifty_leaf_body_to_the_failure_inducing_part() {
        let items: Vec<Value> = (0..9)
            .map(|i| json!({"sku": format!("S-{i}"), "price": i + 1, "qty": 2, "gift": true}))
            .chain([json!({"sku": "BAD", "qty": 1, "gift": false})])
            .collect();
        let body =
            json!({"id": "o-1", "items": items, "note": "hello", "meta": {"a": 1, "b": [1, 2, 3]}});
        let original = input(body);
        assert!(
            tree::leaf_count(&original) >= 40,
            "{}",
            tree::leaf_count(&original)
        );
        let mut fake = Fake {
            fails: missing_price,
            batches: Vec::new(),
        };
        let found = minimize(&mut fake, &original, budget())
            .await
            .expect("runs");
        assert_eq!(found.verdict, MinimizeVerdict::Minimized);
        // The header went, the irrelevant keys went, the sku was kept non-empty.
        let min = &found.minimized;
        assert!(min.request.headers.is_empty(), "{min:?}");
        let body = min.request.body.clone().expect("body");
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(
            body["items"][0].as_object().map(|m| m.len()),
            Some(1),
            "{body}"
        );
        assert_eq!(tree::leaf_count(min), 1);
        assert!(missing_price(&body));
        // Every neighbour passes and says what changed.
        assert!(!found.neighbours.is_empty());
        assert!(
            found
                .neighbours
                .iter()
                .all(|n| !missing_price(n.input.request.body.as_ref().unwrap_or(&Value::Null)))
        );
        assert!(
            found
                .neighbours
                .iter()
                .any(|n| n.change == "removed body.items[0].sku"),
            "{:?}",
            found
                .neighbours
                .iter()
                .map(|n| &n.change)
                .collect::<Vec<_>>()
        );
        assert!(
            found
                .neighbours
                .iter()
                .any(|n| n.change.starts_with("body.items[0].sku: \"BAD\" -> \"\""))
        );
        // Batched: far fewer containers than probes, and repeats came from the cache.
        assert!(
            found.stats.containers < found.stats.executed,
            "{:?}",
            found.stats
        );
        assert!(fake.batches.iter().any(|&b| b > 4), "{:?}", fake.batches);
        assert_eq!(
            found.stats.requested,
            found.stats.executed + found.stats.cached
        );
        assert!(fake.batches.iter().all(|&b| b <= 32));
    }

    #[tokio::test]
    async fn an_input_that_does_not_fail_is_left_alone_and_the_budget_is_kept() {
        let original = input(json!({"items": [{"sku": "A", "price": 1}]}));
        let mut fake = Fake {
            fails: missing_price,
            batches: Vec::new(),
        };
        let found = minimize(&mut fake, &original, budget())
            .await
            .expect("runs");
        assert_eq!(found.verdict, MinimizeVerdict::AlreadyMinimal);
        assert_eq!(found.minimized, original);
        assert!(
            found
                .note
                .as_deref()
                .is_some_and(|n| n.contains("did not fail")),
            "{:?}",
            found.note
        );
        assert_eq!(found.stats.executed, 1);

        let failing =
            input(json!({"items": [{"sku": "A"}, {"sku": "B", "price": 2}], "x": [1, 2, 3, 4]}));
        let mut fake = Fake {
            fails: missing_price,
            batches: Vec::new(),
        };
        let tight = Budget {
            max_probes: 5,
            ..budget()
        };
        let found = minimize(&mut fake, &failing, tight).await.expect("runs");
        assert_eq!(found.verdict, MinimizeVerdict::BudgetExhausted);
        assert!(found.stats.requested <= 5, "{:?}", found.stats);
        assert!(missing_price(
            found.minimized.request.body.as_ref().expect("body")
        ));
    }

    #[tokio::test]
    async fn probes_a_timed_out_batch_left_unanswered_are_asked_again_not_cached() {
        let items: Vec<Value> = (0..6)
            .map(|i| json!({"sku": format!("S-{i}"), "price": i + 1}))
            .chain([json!({"sku": "BAD"})])
            .collect();
        let original = input(json!({"id": "o-1", "items": items, "note": "n"}));
        let mut whole = Fake {
            fails: missing_price,
            batches: Vec::new(),
        };
        let expected = minimize(&mut whole, &original, budget())
            .await
            .expect("runs");
        // Every batch loses all but its first three answers.
        let mut cut = Cut {
            inner: Fake {
                fails: missing_price,
                batches: Vec::new(),
            },
            answered: 3,
        };
        let found = minimize(&mut cut, &original, budget()).await.expect("runs");
        assert_eq!(found.verdict, MinimizeVerdict::Minimized);
        assert_eq!(found.minimized, expected.minimized);
        assert!(found.stats.unanswered > 0, "{:?}", found.stats);
        assert_eq!(found.stats.errors, found.stats.unanswered);
        // The answered probes were kept (not run again), the rest asked again: as many
        // verdicts as the uncut search, in more containers.
        assert_eq!(
            found.stats.failing + found.stats.passing,
            expected.stats.executed,
            "{:?} vs {:?}",
            found.stats,
            expected.stats
        );
        assert!(found.stats.containers > expected.stats.containers);
        assert!(
            found
                .neighbours
                .iter()
                .all(|n| !missing_price(n.input.request.body.as_ref().unwrap_or(&Value::Null)))
        );
    }

    #[tokio::test]
    async fn a_minimal_input_is_reported_as_already_minimal() {
        let original = input(json!({"items": [{"sku": "A"}]}));
        let original = ProbeInput {
            request: envelope::Inputs {
                headers: BTreeMap::new(),
                ..original.request
            },
            ..original
        };
        let mut fake = Fake {
            fails: missing_price,
            batches: Vec::new(),
        };
        let found = minimize(&mut fake, &original, budget())
            .await
            .expect("runs");
        assert_eq!(
            found.verdict,
            MinimizeVerdict::AlreadyMinimal,
            "{:?}",
            found.minimized
        );
        assert!(!found.neighbours.is_empty());
    }
}
