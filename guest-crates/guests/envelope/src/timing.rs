//! `timing`: when the trace started, how long it took, and its spans with
//! the critical path marked, each with its service and whether it ended in
//! error (what the repair engine's cross-service signal reads).
//!
//! The critical path is the chain of spans that determines the trace's
//! end-to-end latency, found as Jaeger's trace view finds it: start at the
//! root that ends last; within a span, children are clamped to its end and,
//! walking back from that end, each child that ends at or before the cursor
//! (the latest first) is taken and moves the cursor to its start; descend
//! into each child taken. A child still running at the cursor overlaps one
//! taken after it: it is not on the path. Time in a span not covered by a
//! taken child is the span's own work. Spans whose parent is not in the
//! trace are roots.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::failure::{EXCEPTION_EVENT, EXCEPTION_TYPE};
use crate::message::cut_chars;
use crate::model::{Span, Trace, text};
use crate::outcome::{Note, Notes};
use crate::time::rfc3339;

const MAX_NAME_CHARS: usize = 512;
/// The schema's bound on `timing.spans[].service`.
const MAX_SERVICE_CHARS: usize = 256;

/// Builds `timing`, or `None` for a trace without spans.
pub(crate) fn build(trace: &Trace<'_>, max_spans: usize, notes: &mut Notes) -> Option<Value> {
    let spans = &trace.spans;
    let start = spans.iter().map(|s| s.start).filter(|t| *t > 0).min()?;
    let end = spans
        .iter()
        .map(|s| s.end.max(s.start))
        .max()
        .unwrap_or(start);
    let critical = critical_path(spans);
    // The critical path first, then the rest by start time, up to the cap;
    // the result in start order.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (!critical.contains(&i), spans[i].start, i));
    if order.len() > max_spans {
        notes.insert(Note::SpansCapped);
        order.truncate(max_spans);
    }
    order.sort_by_key(|&i| (spans[i].start, i));
    let logged = logged_errors(trace);
    let rows: Vec<Value> = order
        .iter()
        .filter_map(|&i| {
            let s = &spans[i];
            let row = Row {
                critical: critical.contains(&i),
                service: text(trace.resource(s.resource), "service.name"),
                error: ended_in_error(s, &logged),
            };
            span_json(s, row)
        })
        .collect();
    let mut timing = Map::new();
    timing.insert("start_time".into(), rfc3339(start).into());
    timing.insert(
        "duration_ms".into(),
        json!(millis(end.saturating_sub(start))),
    );
    timing.insert("spans".into(), Value::Array(rows));
    Some(Value::Object(timing))
}

fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Span ids named by exception log records (a record with `exception.type`).
fn logged_errors<'a>(trace: &Trace<'a>) -> HashSet<&'a [u8]> {
    trace
        .logs
        .iter()
        .filter(|l| !l.span_id.is_empty() && text(&l.attrs, EXCEPTION_TYPE).is_some())
        .map(|l| l.span_id)
        .collect()
}

/// Status `ERROR`, an `exception` event, or an exception log record with the
/// span's id: what makes a trace fail, per span.
fn ended_in_error(s: &Span<'_>, logged: &HashSet<&[u8]>) -> bool {
    s.error
        || s.events.iter().any(|e| e.name == EXCEPTION_EVENT)
        || (!s.span_id.is_empty() && logged.contains(s.span_id))
}

/// What a span's row says beyond its own fields.
struct Row<'a> {
    critical: bool,
    service: Option<&'a str>,
    error: bool,
}

fn span_json(s: &Span<'_>, row: Row<'_>) -> Option<Value> {
    if s.span_id.len() != 8 {
        return None;
    }
    let mut o = Map::new();
    o.insert("span_id".into(), hex(s.span_id).into());
    if s.parent_span_id.len() == 8 {
        o.insert("parent_span_id".into(), hex(s.parent_span_id).into());
    }
    o.insert("name".into(), cut_chars(s.name, MAX_NAME_CHARS).into());
    o.insert(
        "duration_ms".into(),
        json!(millis(s.end.saturating_sub(s.start))),
    );
    o.insert("critical_path".into(), row.critical.into());
    if let Some(service) = row.service {
        o.insert(
            "service".into(),
            cut_chars(service, MAX_SERVICE_CHARS).into(),
        );
    }
    o.insert("error".into(), row.error.into());
    Some(Value::Object(o))
}

/// Indexes of the spans on the critical path.
pub(crate) fn critical_path(spans: &[Span<'_>]) -> HashSet<usize> {
    let by_id: HashMap<&[u8], usize> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.span_id.is_empty())
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match by_id.get(s.parent_span_id) {
            Some(&p) if p != i => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let mut on_path = HashSet::new();
    let Some(root) = roots
        .into_iter()
        .max_by_key(|&i| (spans[i].end, std::cmp::Reverse(spans[i].start)))
    else {
        return on_path;
    };
    // (span, the end its walk starts from): an explicit stack, as a deep
    // trace must not exhaust the guest's call stack.
    let mut stack = vec![(root, spans[root].end)];
    while let Some((i, end)) = stack.pop() {
        if !on_path.insert(i) {
            continue; // A parent-id cycle: each span once.
        }
        // Children clamped to the parent's end, latest end first (the
        // longer of two ending together first): one pass, as the cursor
        // only moves back.
        let mut kids: Vec<(u64, usize)> = children
            .get(&i)
            .map(|k| k.iter().map(|&c| (spans[c].end.min(end), c)).collect())
            .unwrap_or_default();
        kids.sort_by_key(|&(e, c)| (std::cmp::Reverse(e), spans[c].start, c));
        let mut cursor = end;
        for (child_end, c) in kids {
            if child_end <= cursor && !on_path.contains(&c) {
                stack.push((c, child_end));
                cursor = spans[c].start.min(cursor);
            }
        }
    }
    on_path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u8, parent: u8, start: u64, end: u64) -> Span<'static> {
        let ids: &'static [u8] = Box::leak(vec![id; 8].into_boxed_slice());
        let parent: &'static [u8] = if parent == 0 {
            &[]
        } else {
            Box::leak(vec![parent; 8].into_boxed_slice())
        };
        Span {
            span_id: ids,
            parent_span_id: parent,
            start,
            end,
            name: "s",
            ..Span::default()
        }
    }

    fn ids(spans: &[Span<'_>]) -> Vec<u8> {
        let mut v: Vec<u8> = critical_path(spans)
            .into_iter()
            .map(|i| spans[i].span_id[0])
            .collect();
        v.sort();
        v
    }

    #[test]
    fn sequential_children_are_all_critical() {
        // root 0..100: a 10..40, b 40..90 (sequential) -> both on the path.
        let spans = [span(1, 0, 0, 100), span(2, 1, 10, 40), span(3, 1, 40, 90)];
        assert_eq!(ids(&spans), [1, 2, 3]);
    }

    #[test]
    fn parallel_children_only_the_longest() {
        // a 10..90 and b 10..30 run in parallel: a determines the latency.
        let spans = [
            span(1, 0, 0, 100),
            span(2, 1, 10, 90),
            span(3, 1, 10, 30),
            span(4, 3, 12, 20),
        ];
        assert_eq!(ids(&spans), [1, 2]);
    }

    #[test]
    fn descends_and_skips_overlaps() {
        // root 0..100; a 0..40 with a1 5..35 and a2 30..38; b 60..95 with
        // b1 50..120 (past its parent: clamped to 95); c 45..70 overlaps b.
        // From 100: b (95) taken, cursor 60; c ends at 70 > 60: not on the
        // path; a (40) taken. In b: b1 (clamped 95) taken. In a: a2 (38),
        // then a1 ends at 35 > 30: not on the path.
        let spans = [
            span(1, 0, 0, 100),
            span(2, 1, 0, 40),
            span(3, 2, 5, 35),
            span(4, 2, 30, 38),
            span(5, 1, 60, 95),
            span(6, 5, 50, 120),
            span(7, 1, 45, 70),
        ];
        assert_eq!(ids(&spans), [1, 2, 4, 5, 6]);
    }

    #[test]
    fn wide_fan_outs_stay_linear() {
        // 50 000 sequential children of one span: one sort, one pass.
        let n = 50_000u64;
        let mut spans = vec![span(1, 0, 0, 10 * n + 10)];
        for i in 0..n {
            let id: &'static [u8] = Box::leak((i + 2).to_be_bytes().to_vec().into_boxed_slice());
            spans.push(Span {
                span_id: id,
                parent_span_id: &[1; 8],
                start: 10 * i,
                end: 10 * i + 9,
                ..Span::default()
            });
        }
        assert_eq!(critical_path(&spans).len(), n as usize + 1);
    }

    #[test]
    fn orphans_and_cycles() {
        // Two roots (a parent missing): the one ending last is the path.
        let spans = [span(1, 0, 0, 10), span(2, 9, 0, 50)];
        assert_eq!(ids(&spans), [2]);
        // A cycle with no root: nothing is marked, nothing loops.
        let spans = [span(1, 2, 0, 10), span(2, 1, 0, 10)];
        assert!(ids(&spans).is_empty());
    }

    /// Two services: `web`'s server span calls `pricing` through a client
    /// span; `pricing`'s server span records an exception event, its database
    /// span is marked by an exception log record only, and `web`'s client
    /// span has status `ERROR`. Each row names its resource's service and
    /// whether it ended in error; a resource without `service.name` gives a
    /// row without `service`.
    #[test]
    fn rows_carry_each_spans_service_and_error() {
        use crate::model::{Attr, Event, Log};
        let resource = |name: &'static str| vec![("service.name", Attr::Str(name))];
        let mut spans = vec![
            span(1, 0, 0, 100),
            span(2, 1, 10, 90),
            span(3, 2, 20, 80),
            span(4, 3, 30, 60),
            span(5, 1, 91, 95),
        ];
        spans[1].error = true;
        spans[2].resource = 1;
        spans[2].events.push(Event {
            name: "exception",
            time: 70,
            attrs: vec![("exception.type", Attr::Str("ValueError"))],
        });
        spans[3].resource = 1;
        spans[4].resource = 2;
        let logs = vec![
            Log {
                span_id: spans[3].span_id,
                time: 61,
                attrs: vec![("exception.type", Attr::Str("OperationalError"))],
                ..Log::default()
            },
            // A plain log record on the web span: no error.
            Log {
                span_id: spans[0].span_id,
                time: 99,
                attrs: vec![("code.function.name", Attr::Str("handle"))],
                ..Log::default()
            },
        ];
        let long = "p".repeat(300);
        let trace = Trace {
            resources: vec![
                resource("web"),
                resource(" pricing "),
                vec![("service.name", Attr::Str(Box::leak(long.into_boxed_str())))],
            ],
            spans,
            logs,
        };
        let mut notes = Notes::new();
        let t = build(&trace, 1024, &mut notes).unwrap_or_else(|| panic!("timing"));
        let rows: Vec<(Option<String>, Option<bool>)> = t["spans"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r.get("service").and_then(Value::as_str).map(str::to_owned),
                    r["error"].as_bool(),
                )
            })
            .collect();
        let s = |n: &str| Some(n.to_owned());
        assert_eq!(
            rows,
            [
                (s("web"), Some(false)),
                (s("web"), Some(true)),
                (s("pricing"), Some(true)),
                (s("pricing"), Some(true)),
                (Some("p".repeat(256)), Some(false)),
            ]
        );
        // A span whose resource index is out of range has no service.
        let mut orphan = trace.clone();
        orphan.spans[0].resource = 9;
        let t = build(&orphan, 1024, &mut notes).unwrap_or_else(|| panic!("timing"));
        assert!(t["spans"][0].get("service").is_none());
        assert_eq!(t["spans"][0]["error"], false);
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let n = 5000u32;
        let spans: Vec<Span<'static>> = (0..n)
            .map(|i| {
                let id: &'static [u8] =
                    Box::leak(u64::from(i + 1).to_be_bytes().to_vec().into_boxed_slice());
                let parent: &'static [u8] = if i == 0 {
                    &[]
                } else {
                    Box::leak(u64::from(i).to_be_bytes().to_vec().into_boxed_slice())
                };
                Span {
                    span_id: id,
                    parent_span_id: parent,
                    start: u64::from(i),
                    end: 2 * u64::from(n) - u64::from(i),
                    ..Span::default()
                }
            })
            .collect();
        assert_eq!(critical_path(&spans).len(), n as usize);
        let mut notes = Notes::new();
        let trace = Trace {
            spans,
            ..Trace::default()
        };
        let t = build(&trace, 1024, &mut notes).unwrap_or_else(|| panic!("timing"));
        assert_eq!(t["spans"].as_array().map(Vec::len), Some(1024));
        assert!(notes.contains(&Note::SpansCapped));
    }
}
