//! Spectrum-based fault localization over two kinds of program elements: the lines a run
//! covered, and what the service's functions returned (predicates over the value, keyed
//! by the line of the `return`: `['amount'] type=str`, `== 0`, `is None`). A line or
//! predicate's suspiciousness is Ochiai,
//! `ochiai(e) = ef / sqrt(F · (ef + ep))`, with `ef`/`ep` the failing/passing runs that
//! hold `e` and `F` all failing runs, lifted above what an element every run holds
//! scores ([`Spectrum::baseline`]).
//!
//! Failing runs are also scored one at a time against all passing runs, and an element
//! keeps the better of the two: delta debugging may reach the same failure along
//! another path than the original input took (an empty list of invoice lines instead of
//! lines that are all wrongly non-billable), and pooling those runs would halve the
//! evidence of the path only the original failure took.

use std::collections::BTreeMap;

pub use crate::probe::Covered as Run;

/// One element's counts and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineScore {
    /// Failing runs holding the element.
    pub ef: u32,
    /// Passing runs holding it.
    pub ep: u32,
    /// Ochiai over all failing runs, in `[0, 1]`.
    pub ochiai: f64,
}

/// The runs a spectrum is computed from.
#[derive(Debug, Default, Clone)]
pub struct Spectrum {
    failing: Vec<Run>,
    passing: Vec<Run>,
}

/// The most suspicious element of a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Best {
    /// Its line.
    pub line: u32,
    /// The return-value predicate, when the element is one (else a covered line).
    pub predicate: Option<String>,
    /// Its counts.
    pub score: LineScore,
    /// Its suspiciousness, lifted, in `[0, 1]`.
    pub value: f64,
}

/// The scored elements, by file.
#[derive(Debug, Default, Clone)]
pub struct Scores {
    /// Lines some failing run covered.
    pub lines: BTreeMap<String, BTreeMap<u32, LineScore>>,
    /// Predicates some failing run saw, by `return` line.
    pub values: BTreeMap<String, BTreeMap<u32, Vec<(String, LineScore)>>>,
}

type Counts<K> = BTreeMap<String, BTreeMap<K, (u32, u32)>>;

fn count<K: Ord + Clone>(counts: &mut Counts<K>, file: &str, key: K, failing: bool) {
    let c = counts
        .entry(file.to_string())
        .or_default()
        .entry(key)
        .or_default();
    if failing {
        c.0 += 1;
    } else {
        c.1 += 1;
    }
}

impl Spectrum {
    /// Adds a run.
    pub fn add(&mut self, failing: bool, run: Run) {
        if failing {
            self.failing.push(run);
        } else {
            self.passing.push(run);
        }
    }

    /// The Ochiai of an element every run holds, `sqrt(F / (F + P))`: with few runs it
    /// is high, and it says nothing (import-time lines, a function's `def` line).
    pub fn baseline(&self) -> f64 {
        let (f, p) = (self.failing.len() as f64, self.passing.len() as f64);
        if f == 0.0 { 0.0 } else { (f / (f + p)).sqrt() }
    }

    /// The same for one failing run against all passing runs.
    fn baseline_one(&self) -> f64 {
        if self.failing.is_empty() {
            0.0
        } else {
            1.0 / (1.0 + self.passing.len() as f64).sqrt()
        }
    }

    /// Ochiai above the baseline, rescaled to `[0, 1]`: 0 for a line every run covers.
    pub fn lift(&self, ochiai: f64) -> f64 {
        lift(ochiai, self.baseline())
    }

    /// An element's suspiciousness: the better of its lifted Ochiai over all failing
    /// runs and over the one failing run that holds it (see the module's text).
    pub fn suspicion(&self, s: &LineScore) -> f64 {
        if s.ef == 0 {
            return 0.0;
        }
        let alone = 1.0 / (1.0 + f64::from(s.ep)).sqrt();
        self.lift(s.ochiai).max(lift(alone, self.baseline_one()))
    }

    /// Failing and passing runs.
    pub fn counts(&self) -> (u32, u32) {
        (self.failing.len() as u32, self.passing.len() as u32)
    }

    fn runs(&self) -> impl Iterator<Item = (&Run, bool)> {
        self.failing
            .iter()
            .map(|r| (r, true))
            .chain(self.passing.iter().map(|r| (r, false)))
    }

    fn score(&self, (ef, ep): (u32, u32)) -> LineScore {
        let total_failing = self.failing.len() as f64;
        let ochiai = f64::from(ef) / (total_failing * f64::from(ef + ep)).sqrt();
        LineScore { ef, ep, ochiai }
    }

    /// Every element some failing run holds, scored.
    pub fn scores(&self) -> Scores {
        let mut lines: Counts<u32> = BTreeMap::new();
        let mut values: Counts<(u32, String)> = BTreeMap::new();
        for (run, failing) in self.runs() {
            for (file, covered) in &run.lines {
                for &line in covered {
                    count(&mut lines, file, line, failing);
                }
            }
            for (file, per_line) in &run.values {
                for (&line, preds) in per_line {
                    for p in preds {
                        count(&mut values, file, (line, p.clone()), failing);
                    }
                }
            }
        }
        let mut out = Scores::default();
        for (file, per_line) in lines {
            let scored: BTreeMap<u32, LineScore> = per_line
                .into_iter()
                .filter(|(_, (ef, _))| *ef > 0)
                .map(|(line, c)| (line, self.score(c)))
                .collect();
            if !scored.is_empty() {
                out.lines.insert(file, scored);
            }
        }
        for (file, per_pred) in values {
            for ((line, pred), c) in per_pred {
                if c.0 > 0 {
                    out.values
                        .entry(file.clone())
                        .or_default()
                        .entry(line)
                        .or_default()
                        .push((pred, self.score(c)));
                }
            }
        }
        out
    }
}

fn lift(ochiai: f64, base: f64) -> f64 {
    // At or below the baseline (up to rounding: the two sides are computed differently).
    if base >= 1.0 || ochiai <= base + 1e-12 {
        0.0
    } else {
        ((ochiai - base) / (1.0 - base)).max(0.0)
    }
}

/// The element of highest suspicion; the first of equals.
fn most_suspicious(elements: impl Iterator<Item = Best>) -> Option<Best> {
    elements.reduce(|best, b| if b.value > best.value { b } else { best })
}

impl Scores {
    /// The most suspicious line of `file` within `[start, end]` that a failing run
    /// covered; on equal suspicion the earlier.
    pub fn best_line_in(
        &self,
        spectrum: &Spectrum,
        file: &str,
        start: u32,
        end: u32,
    ) -> Option<Best> {
        most_suspicious(
            self.lines
                .get(file)?
                .range(start..=end)
                .map(|(&line, s)| Best {
                    line,
                    predicate: None,
                    score: *s,
                    value: spectrum.suspicion(s),
                }),
        )
    }

    /// The most suspicious return-value predicate of `file` within `[start, end]` that
    /// a failing run saw; on equal suspicion the earlier line, then the predicate's
    /// order.
    pub fn best_value_in(
        &self,
        spectrum: &Spectrum,
        file: &str,
        start: u32,
        end: u32,
    ) -> Option<Best> {
        let per_line = self.values.get(file)?.range(start..=end);
        most_suspicious(per_line.flat_map(|(&line, preds)| {
            preds.iter().map(move |(p, s)| Best {
                line,
                predicate: Some(p.clone()),
                score: *s,
                value: spectrum.suspicion(s),
            })
        }))
    }

    /// Every line some failing run covered or saw a return on, by file.
    pub fn touched(&self) -> impl Iterator<Item = (&str, u32)> {
        let lines = self
            .lines
            .iter()
            .flat_map(|(f, l)| l.keys().map(move |&n| (f.as_str(), n)));
        let values = self
            .values
            .iter()
            .flat_map(|(f, l)| l.keys().map(move |&n| (f.as_str(), n)));
        lines.chain(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(lines: &[u32]) -> Run {
        Run {
            lines: BTreeMap::from([("app.py".to_string(), lines.to_vec())]),
            values: BTreeMap::new(),
        }
    }

    fn returned(line: u32, preds: &[&str]) -> Run {
        Run {
            lines: BTreeMap::new(),
            values: BTreeMap::from([(
                "app.py".to_string(),
                BTreeMap::from([(line, preds.iter().map(|p| p.to_string()).collect())]),
            )]),
        }
    }

    #[test]
    fn ochiai_matches_the_formula() {
        let mut s = Spectrum::default();
        s.add(true, cov(&[1, 2, 3]));
        s.add(true, cov(&[1, 3]));
        s.add(false, cov(&[1, 2]));
        s.add(false, cov(&[1]));
        let scores = s.scores();
        let app = &scores.lines["app.py"];
        // Line 3: both failing runs, no passing run: 2 / sqrt(2 * 2) = 1.
        assert!((app[&3].ochiai - 1.0).abs() < 1e-12);
        // Line 1: everything covers it: 2 / sqrt(2 * 4).
        assert!((app[&1].ochiai - 2.0 / 8f64.sqrt()).abs() < 1e-12);
        // Line 2: one failing, one passing: 1 / sqrt(2 * 2) = 0.5.
        assert_eq!(
            app[&2],
            LineScore {
                ef: 1,
                ep: 1,
                ochiai: 0.5
            }
        );
        assert_eq!(
            scores.best_line_in(&s, "app.py", 1, 3).map(|b| b.line),
            Some(3)
        );
        assert_eq!(scores.best_line_in(&s, "other.py", 1, 3), None);
        assert_eq!(s.counts(), (2, 2));
        // Line 1 is covered by every run: no lift; line 3 only by failing runs: full.
        assert!((s.baseline() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.suspicion(&app[&1]), 0.0);
        assert!((s.suspicion(&app[&3]) - 1.0).abs() < 1e-12);
        // Line 2 alone with the first failing run: 1 / sqrt(2) against 1 / sqrt(3).
        let alone = (0.5f64.sqrt() - (1.0f64 / 3.0).sqrt()) / (1.0 - (1.0f64 / 3.0).sqrt());
        assert!((s.suspicion(&app[&2]) - alone).abs() < 1e-12);
    }

    #[test]
    fn a_path_only_one_failing_run_took_keeps_its_weight() {
        // The minimized input fails without running line 7; the original ran it, and no
        // passing run did. Pooled, line 7 scores 1/sqrt(2) and is diluted; alone, 1.
        let mut s = Spectrum::default();
        s.add(true, cov(&[1, 5]));
        s.add(true, cov(&[1, 5, 7]));
        for _ in 0..4 {
            s.add(false, cov(&[1]));
        }
        let scores = s.scores();
        let line7 = scores.lines["app.py"][&7];
        assert!((line7.ochiai - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(s.lift(line7.ochiai) < 0.5);
        assert!((s.suspicion(&line7) - 1.0).abs() < 1e-12);
        // Line 5, in both failing runs and no passing one, stays at the top too.
        assert!((s.suspicion(&scores.lines["app.py"][&5]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_return_value_no_passing_run_saw_is_suspicious() {
        let mut s = Spectrum::default();
        s.add(true, returned(3, &["type=dict", "['amount'] type=str"]));
        s.add(false, returned(3, &["type=dict", "['amount'] type=int"]));
        s.add(false, returned(3, &["type=dict", "['amount'] type=float"]));
        let scores = s.scores();
        assert_eq!(scores.best_line_in(&s, "app.py", 1, 4), None);
        let best = scores
            .best_value_in(&s, "app.py", 1, 4)
            .expect("a predicate");
        assert_eq!(best.predicate.as_deref(), Some("['amount'] type=str"));
        assert_eq!((best.score.ef, best.score.ep), (1, 0));
        assert!((best.value - 1.0).abs() < 1e-12);
        // What every run returned says nothing.
        let dict = scores.values["app.py"][&3]
            .iter()
            .find(|(p, _)| p == "type=dict")
            .expect("type=dict")
            .1;
        assert_eq!(s.suspicion(&dict), 0.0);
        assert_eq!(
            scores.touched().collect::<Vec<_>>(),
            [("app.py", 3)],
            "returns are touched lines"
        );
    }

    #[test]
    fn lines_no_failing_run_covers_are_not_suspicious() {
        let mut s = Spectrum::default();
        s.add(true, cov(&[1]));
        s.add(false, cov(&[1, 9]));
        assert!(!s.scores().lines["app.py"].contains_key(&9));
    }
}
