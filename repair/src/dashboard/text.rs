//! Small text helpers of the pages: durations and ages in words, pretty JSON, and the
//! tail of a long output cut at a character boundary.

use serde::Serialize;

/// `340 ms`, `2.4 s`, `3 min 10 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => two_units(s / 60, "min", s % 60, "s"),
        3_600_000..86_400_000 => two_units(s / 3600, "h", (s % 3600) / 60, "min"),
        _ => two_units(s / 86_400, "d", (s % 86_400) / 3600, "h"),
    }
}

/// `3 min 10 s`, or `3 min` when the smaller unit is zero.
fn two_units(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

/// How long ago `then_ms` was, seen from `now_ms`: `12 s`, `5 min`, `3 h`, `2 d`.
pub fn age(now_ms: i64, then_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// Pretty JSON of `value` (never fails: an unserializable value says so).
pub fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(cannot show: {e})"))
}

/// The last `max` bytes of `text` (at a character boundary), and whether it was cut.
pub fn tail(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    (&text[start..], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_ages_and_tails_read_well() {
        assert_eq!(duration(340), "340 ms");
        assert_eq!(duration(2_440), "2.4 s");
        assert_eq!(duration(190_000), "3 min 10 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
        assert_eq!(duration(-5), "0 ms");
        assert_eq!(duration(3_600_000), "1 h");
        assert_eq!(duration(3 * 86_400_000), "3 d");
        assert_eq!(age(100_000, 88_000), "12 s");
        assert_eq!(age(10_000_000, 0), "2 h");
        assert_eq!(tail("abc", 10), ("abc", false));
        assert_eq!(tail("héllo", 4), ("llo", true), "never inside a character");
    }
}
