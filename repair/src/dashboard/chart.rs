//! Line charts drawn on the server as SVG geometry: the template only places the
//! computed points, ticks and labels. A bucket without a value is a gap in the line,
//! not a zero.

use serde::Serialize;

use super::text;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// What the values measure (decides the y axis and its labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// A ratio in `[0, 1]`, shown as percent on a 0–100 % axis.
    Ratio,
    /// Milliseconds, shown as durations.
    Millis,
    /// A count.
    Count,
}

/// A tick and its label.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub label: String,
}

/// One value's point, with its hover text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub title: String,
}

/// A chart ready for the template.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Chart {
    pub title: String,
    pub width: f64,
    pub height: f64,
    /// Plot area: left, top, right, bottom.
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// `points` attributes of polylines, one per run of buckets with values.
    pub lines: Vec<String>,
    pub dots: Vec<Dot>,
    /// No bucket has a value.
    pub empty: bool,
}

fn label(axis: Axis, v: f64) -> String {
    match axis {
        Axis::Ratio => format!("{:.0} %", v * 100.0),
        Axis::Millis => text::duration(v.round() as i64),
        Axis::Count => format!("{v:.0}"),
    }
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A line chart of `values` (one per bucket, `None` for no value) over the buckets
/// named by `bucket_labels`.
pub fn line_chart(
    title: &str,
    axis: Axis,
    values: &[Option<f64>],
    bucket_labels: &[String],
) -> Chart {
    let right = WIDTH - RIGHT;
    let bottom = HEIGHT - BOTTOM;
    let top = values.iter().flatten().copied().fold(0.0, f64::max);
    let max = match axis {
        Axis::Ratio => 1.0,
        // At least a second, so an empty axis does not read `0 ms, 1 ms, 1 ms`.
        Axis::Millis => nice_ceiling(top.max(1000.0)),
        // Whole numbers at each of the four ticks.
        Axis::Count => (nice_ceiling(top) / 4.0).ceil().max(1.0) * 4.0,
    };
    let n = values.len().max(1);
    let step = (right - LEFT) / n as f64;
    let x_of = |i: usize| LEFT + step * (i as f64 + 0.5);
    let y_of = |v: f64| bottom - (v / max).clamp(0.0, 1.0) * (bottom - TOP);
    let y_ticks = (0..=4)
        .map(|k| {
            let v = max * k as f64 / 4.0;
            Tick {
                at: r1(y_of(v)),
                label: label(axis, v),
            }
        })
        .collect();
    let every = n.div_ceil(6).max(1);
    let x_ticks = bucket_labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, l)| Tick {
            at: r1(x_of(i)),
            label: l.clone(),
        })
        .collect();
    let mut lines = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut dots = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = (r1(x_of(i)), r1(y_of(*v)));
                run.push(format!("{x},{y}"));
                dots.push(Dot {
                    x,
                    y,
                    title: format!(
                        "{}: {}",
                        bucket_labels.get(i).map(String::as_str).unwrap_or_default(),
                        label(axis, *v)
                    ),
                });
            }
            None => {
                if run.len() > 1 {
                    lines.push(run.join(" "));
                }
                run.clear();
            }
        }
    }
    if run.len() > 1 {
        lines.push(run.join(" "));
    }
    Chart {
        title: title.to_string(),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        top: TOP,
        right,
        bottom,
        y_ticks,
        x_ticks,
        lines,
        empty: dots.is_empty(),
        dots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_lines_and_values_land_in_the_plot() {
        let labels: Vec<String> = (0..5).map(|i| format!("b{i}")).collect();
        let c = line_chart(
            "repro rate",
            Axis::Ratio,
            &[Some(0.0), Some(1.0), None, Some(0.5), None],
            &labels,
        );
        assert_eq!(
            c.lines.len(),
            1,
            "the lone point after the gap is a dot only"
        );
        assert_eq!(c.dots.len(), 3);
        assert_eq!(c.dots[0].y, c.bottom, "0 % at the bottom");
        assert_eq!(c.dots[1].y, c.top, "100 % at the top");
        assert_eq!(c.dots[2].title, "b3: 50 %");
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("100 %"));
        assert!(!c.empty);
        assert!(line_chart("x", Axis::Count, &[None, None], &labels).empty);
        let counts = line_chart("n", Axis::Count, &[Some(7.0)], &labels);
        let ticks: Vec<&str> = counts.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(ticks, ["0", "3", "6", "9", "12"]);
        let empty = line_chart("t", Axis::Millis, &[None], &labels);
        assert_eq!(empty.y_ticks[4].label, "1.0 s");
    }

    #[test]
    fn axes_end_at_a_round_value() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(170_000.0), 200_000.0);
        let c = line_chart("t", Axis::Millis, &[Some(90_000.0)], &["a".into()]);
        assert_eq!(
            c.y_ticks.last().map(|t| t.label.as_str()),
            Some("1 min 40 s")
        );
    }
}
