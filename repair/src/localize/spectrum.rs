//! Spectrum-based fault localization: Ochiai suspiciousness of each covered line from
//! the lines failing and passing runs covered,
//! `ochiai(l) = ef / sqrt(F · (ef + ep))`, with `ef`/`ep` the failing/passing runs that
//! cover line `l` and `F` all failing runs.

use std::collections::BTreeMap;

use crate::probe::Coverage;

/// One line's counts and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineScore {
    /// Failing runs covering the line.
    pub ef: u32,
    /// Passing runs covering the line.
    pub ep: u32,
    /// Ochiai suspiciousness in `[0, 1]`.
    pub ochiai: f64,
}

/// The runs a spectrum is computed from.
#[derive(Debug, Default, Clone)]
pub struct Spectrum {
    failing: Vec<Coverage>,
    passing: Vec<Coverage>,
}

impl Spectrum {
    /// Adds a run.
    pub fn add(&mut self, failing: bool, coverage: Coverage) {
        if failing {
            self.failing.push(coverage);
        } else {
            self.passing.push(coverage);
        }
    }

    /// The Ochiai of a line every run covers, `sqrt(F / (F + P))`: with few runs it is
    /// high, and it says nothing (import-time lines, a function's `def` line).
    pub fn baseline(&self) -> f64 {
        let (f, p) = (self.failing.len() as f64, self.passing.len() as f64);
        if f == 0.0 { 0.0 } else { (f / (f + p)).sqrt() }
    }

    /// Ochiai above the baseline, rescaled to `[0, 1]`: 0 for a line every run covers.
    pub fn lift(&self, ochiai: f64) -> f64 {
        let base = self.baseline();
        if base >= 1.0 {
            0.0
        } else {
            ((ochiai - base) / (1.0 - base)).max(0.0)
        }
    }

    /// Failing and passing runs.
    pub fn counts(&self) -> (u32, u32) {
        (self.failing.len() as u32, self.passing.len() as u32)
    }

    /// Ochiai of every line some failing run covered, by file.
    pub fn scores(&self) -> BTreeMap<String, BTreeMap<u32, LineScore>> {
        let mut counts: BTreeMap<String, BTreeMap<u32, (u32, u32)>> = BTreeMap::new();
        for (runs, failing) in [(&self.failing, true), (&self.passing, false)] {
            for run in runs {
                for (file, lines) in run {
                    let per_file = counts.entry(file.clone()).or_default();
                    for &line in lines {
                        let c = per_file.entry(line).or_default();
                        if failing {
                            c.0 += 1;
                        } else {
                            c.1 += 1;
                        }
                    }
                }
            }
        }
        let total_failing = self.failing.len() as f64;
        counts
            .into_iter()
            .map(|(file, lines)| {
                let scored = lines
                    .into_iter()
                    .filter(|(_, (ef, _))| *ef > 0)
                    .map(|(line, (ef, ep))| {
                        let ochiai = f64::from(ef) / (total_failing * f64::from(ef + ep)).sqrt();
                        (line, LineScore { ef, ep, ochiai })
                    })
                    .collect();
                (file, scored)
            })
            .filter(|(_, lines): &(String, BTreeMap<u32, LineScore>)| !lines.is_empty())
            .collect()
    }
}

/// The most suspicious line of `file` within `[start, end]`, if any was covered by a
/// failing run.
pub fn best_in(
    scores: &BTreeMap<String, BTreeMap<u32, LineScore>>,
    file: &str,
    start: u32,
    end: u32,
) -> Option<(u32, LineScore)> {
    scores.get(file).and_then(|lines| {
        lines
            .range(start..=end)
            .map(|(l, s)| (*l, *s))
            .max_by(|a, b| a.1.ochiai.total_cmp(&b.1.ochiai).then(b.0.cmp(&a.0)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(lines: &[u32]) -> Coverage {
        BTreeMap::from([("app.py".to_string(), lines.to_vec())])
    }

    #[test]
    fn ochiai_matches_the_formula() {
        let mut s = Spectrum::default();
        s.add(true, cov(&[1, 2, 3]));
        s.add(true, cov(&[1, 3]));
        s.add(false, cov(&[1, 2]));
        s.add(false, cov(&[1]));
        let scores = s.scores();
        let app = &scores["app.py"];
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
        assert_eq!(best_in(&scores, "app.py", 1, 2).map(|(l, _)| l), Some(1));
        assert_eq!(best_in(&scores, "app.py", 1, 3).map(|(l, _)| l), Some(3));
        assert_eq!(best_in(&scores, "other.py", 1, 3), None);
        assert_eq!(s.counts(), (2, 2));
        // Line 1 is covered by every run: no lift; line 3 only by failing runs: full.
        assert!((s.baseline() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.lift(app[&1].ochiai), 0.0);
        assert!((s.lift(app[&3].ochiai) - 1.0).abs() < 1e-12);
        assert!(s.lift(app[&2].ochiai) == 0.0);
    }

    #[test]
    fn lines_no_failing_run_covers_are_not_suspicious() {
        let mut s = Spectrum::default();
        s.add(true, cov(&[1]));
        s.add(false, cov(&[1, 9]));
        assert!(!s.scores()["app.py"].contains_key(&9));
    }
}
