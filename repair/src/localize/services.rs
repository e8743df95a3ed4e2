//! The `cross_service` signal: when the envelope's spans cover several services, which
//! service the error started in (the first fault) and how much of the error each call
//! between services carried.
//!
//! Read from `timing.spans`, whose rows carry `service` (the resource's `service.name`)
//! and `error` (status `ERROR`, an `exception` event or an exception log record):
//!
//! - **Tree.** A span's parent is the row with its `parent_span_id`; a span whose parent
//!   is not in the envelope is a root. The first row of a repeated `span_id` counts, the
//!   others are left out; a parent link that would close a cycle is dropped (that span
//!   becomes a root). A span without `service` is its parent's (nearest named ancestor).
//! - **Origins.** An erroring span none of whose children errs: the error started there,
//!   as far as the trace tells (a parent that errs above an erroring child propagated it).
//! - **Weights.** An origin on the critical path weighs 1 (it decided the response); one
//!   off it weighs between 0.25 and 0.5, by the share of the trace's latency (the longest
//!   root's duration) it ran.
//! - **Edges.** A cross-service edge is a parent span of service A with a child of service
//!   B ≠ A, grouped by (A, B). Its contribution is the weight of the origins below it
//!   (the child's subtree, the child included) over the weight of all origins; an origin
//!   below two calls of the same pair counts once for that pair.
//! - **First fault.** The service of the deepest origin on the critical path (all
//!   origins when none is on it). Ties (equal depth) go to the row listed first: the
//!   built-in assembler lists spans in start order, so the one that started first, which
//!   the later failures at that depth may follow from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use envelope::SpanTiming;
use serde::{Deserialize, Serialize};

/// The signal's result, kept in the localize result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CrossService {
    /// Where the error started.
    pub first_fault: FirstFault,
    /// Each service's share of the error: its origins' weight over all origins', in
    /// `[0, 1]`, by `service.name`.
    pub shares: BTreeMap<String, f64>,
    /// Calls between services, the largest contribution first.
    pub edges: Vec<ServiceEdge>,
    /// What was left out of malformed input (repeated span ids, parent cycles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The deepest erroring span on the critical path without an erroring child.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirstFault {
    /// Its `service.name`.
    pub service: String,
    /// The span.
    pub span_id: String,
    /// Its name.
    pub span_name: String,
    /// Whether it is on the critical path (false only when no origin is).
    pub on_critical_path: bool,
    /// The services the request passed through to reach it, from the trace's entry to
    /// the first fault's own (`[web, checkout, pricing]`: web called checkout, which
    /// called pricing); the last but one is the caller of the edge into the fault.
    pub call_chain: Vec<String>,
}

/// Calls from one service into another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceEdge {
    /// The calling service (the parent span's).
    pub caller: String,
    /// The called service (the child span's).
    pub callee: String,
    /// Parent-child span pairs of this edge.
    pub calls: u32,
    /// Of them, those whose callee span ended in error.
    pub errors: u32,
    /// Some callee span of this edge is on the critical path.
    pub critical_path: bool,
    /// The share of the trace's error weight whose origin lies below this edge, in
    /// `[0, 1]`.
    pub contribution: f64,
}

/// Why the signal cannot be computed for an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotComputable {
    /// No `timing.spans` at all.
    #[error("the envelope has no timing.spans")]
    NoSpans,
    /// No row has `service`.
    #[error(
        "no span in timing.spans names its service (an assembler older than the field, or a data contract that withholds it)"
    )]
    NoServices,
    /// Every row is of one service.
    #[error("every span in timing.spans is of one service, `{0}`")]
    OneService(String),
    /// No row has `error`.
    #[error(
        "no span in timing.spans says whether it ended in error (an assembler older than the field, or a data contract that withholds it)"
    )]
    NoErrorMarks,
    /// Rows say `error`, none is true.
    #[error("no span in timing.spans ended in error")]
    NoErrors,
    /// Every erroring span is of no named service (nor is any ancestor).
    #[error("no erroring span in timing.spans belongs to a named service")]
    FaultUnnamed,
}

/// What the signal says about the suspects of one service (all suspects of an
/// incident are in the envelope's own service).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    /// The `cross_service` evidence value, in `[0, 1]`: 1 when the service is the first
    /// fault, else its own share of the error.
    pub value: f64,
    /// What it rests on, in words.
    pub detail: String,
    /// The first fault is another service that this one calls (directly or through
    /// others): the crash is this service meeting its dependency's failure.
    pub dependency_fault: bool,
}

/// The span tree of `timing.spans`, with malformed input made safe.
struct Tree<'a> {
    spans: Vec<&'a SpanTiming>,
    parent: Vec<Option<usize>>,
    depth: Vec<u32>,
    service: Vec<Option<&'a str>>,
    notes: Vec<String>,
}

impl<'a> Tree<'a> {
    fn new(rows: &'a [SpanTiming]) -> Tree<'a> {
        let mut notes = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut spans = Vec::new();
        for row in rows {
            if !index.contains_key(row.span_id.as_str()) {
                index.insert(row.span_id.as_str(), spans.len());
                spans.push(row);
            }
        }
        if spans.len() < rows.len() {
            notes.push(format!(
                "{} span(s) with a span_id listed before were left out",
                rows.len() - spans.len()
            ));
        }
        let n = spans.len();
        let mut parent: Vec<Option<usize>> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parent_span_id
                    .as_deref()
                    .and_then(|p| index.get(p).copied())
                    .filter(|&p| p != i)
            })
            .collect();
        // Walk up from each span; a link into the walk's own path closes a cycle and is
        // dropped. Each span is walked once (state 2 ends a walk), so this is linear.
        let mut state = vec![0u8; n]; // 0 unseen, 1 on the current walk, 2 done
        let mut depth = vec![0u32; n];
        let mut cut = 0usize;
        let mut path = Vec::new();
        for start in 0..n {
            let mut cur = start;
            while state[cur] == 0 {
                state[cur] = 1;
                path.push(cur);
                match parent[cur] {
                    Some(p) if state[p] == 1 => {
                        parent[cur] = None;
                        cut += 1;
                        break;
                    }
                    Some(p) => cur = p,
                    None => break,
                }
            }
            // Depths from the top of the walk down.
            while let Some(i) = path.pop() {
                depth[i] = parent[i].map_or(0, |p| depth[p].saturating_add(1));
                state[i] = 2;
            }
        }
        if cut > 0 {
            notes.push(format!(
                "{cut} parent link(s) closing a cycle were dropped (those spans taken as roots)"
            ));
        }
        // A span without a service is its nearest named ancestor's: parents first.
        let mut by_depth: Vec<usize> = (0..n).collect();
        by_depth.sort_by_key(|&i| depth[i]);
        let mut service: Vec<Option<&str>> = vec![None; n];
        for i in by_depth {
            service[i] = spans[i]
                .service
                .as_deref()
                .or_else(|| parent[i].and_then(|p| service[p]));
        }
        Tree {
            spans,
            parent,
            depth,
            service,
            notes,
        }
    }

    fn error(&self, i: usize) -> bool {
        self.spans[i].error == Some(true)
    }

    fn critical(&self, i: usize) -> bool {
        self.spans[i].critical_path == Some(true)
    }

    /// The edge entering span `i` from its parent, when they are of two services.
    fn edge_into(&self, i: usize) -> Option<(&'a str, &'a str)> {
        let p = self.parent[i]?;
        match (self.service[p], self.service[i]) {
            (Some(a), Some(b)) if a != b => Some((a, b)),
            _ => None,
        }
    }

    /// `i` and its ancestors, nearest first (finite: the links are acyclic now).
    fn ancestry(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), move |&j| self.parent[j])
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

/// The signal for an envelope's `timing.spans`.
pub fn analyze(rows: Option<&[SpanTiming]>) -> Result<CrossService, NotComputable> {
    let rows = rows
        .filter(|r| !r.is_empty())
        .ok_or(NotComputable::NoSpans)?;
    let named: BTreeSet<&str> = rows.iter().filter_map(|s| s.service.as_deref()).collect();
    match named.len() {
        0 => return Err(NotComputable::NoServices),
        1 => {
            let only = named.iter().next().copied().unwrap_or_default();
            return Err(NotComputable::OneService(only.to_string()));
        }
        _ => {}
    }
    if rows.iter().all(|s| s.error.is_none()) {
        return Err(NotComputable::NoErrorMarks);
    }
    let tree = Tree::new(rows);
    let n = tree.spans.len();
    let mut erroring_child = vec![false; n];
    for i in 0..n {
        if let Some(p) = tree.parent[i]
            && tree.error(i)
        {
            erroring_child[p] = true;
        }
    }
    let origins: Vec<usize> = (0..n)
        .filter(|&i| tree.error(i) && !erroring_child[i])
        .collect();
    if origins.is_empty() {
        return Err(NotComputable::NoErrors);
    }

    // Weights: 1 on the critical path, 0.25..0.5 off it by the latency share it ran.
    let latency = (0..n)
        .filter(|&i| tree.parent[i].is_none())
        .map(|i| finite(tree.spans[i].duration_ms))
        .fold(0.0, f64::max);
    let weight = |i: usize| {
        if tree.critical(i) {
            1.0
        } else {
            let share = if latency > 0.0 {
                (finite(tree.spans[i].duration_ms) / latency).min(1.0)
            } else {
                1.0
            };
            0.25 + 0.25 * share
        }
    };
    let total: f64 = origins.iter().map(|&o| weight(o)).sum();

    // First fault: the deepest origin on the critical path (else of all), first listed
    // on a tie, of a named service.
    let on_path: Vec<usize> = origins
        .iter()
        .copied()
        .filter(|&o| tree.critical(o))
        .collect();
    let candidates = if on_path.is_empty() {
        &origins
    } else {
        &on_path
    };
    let fault = candidates
        .iter()
        .copied()
        .filter(|&o| tree.service[o].is_some())
        .max_by_key(|&o| (tree.depth[o], std::cmp::Reverse(o)))
        .ok_or(NotComputable::FaultUnnamed)?;
    let fault_service = tree.service[fault].unwrap_or_default();
    let mut call_chain: Vec<String> = vec![fault_service.to_string()];
    for i in tree.ancestry(fault) {
        if let Some((a, _)) = tree.edge_into(i) {
            call_chain.push(a.to_string());
        }
    }
    call_chain.reverse();

    // Edges: calls, errors, critical path; contribution from the origins below.
    let mut edges: BTreeMap<(&str, &str), ServiceEdge> = BTreeMap::new();
    for i in 0..n {
        if let Some((a, b)) = tree.edge_into(i) {
            let e = edges.entry((a, b)).or_insert_with(|| ServiceEdge {
                caller: a.to_string(),
                callee: b.to_string(),
                calls: 0,
                errors: 0,
                critical_path: false,
                contribution: 0.0,
            });
            e.calls = e.calls.saturating_add(1);
            e.errors = e.errors.saturating_add(u32::from(tree.error(i)));
            e.critical_path |= tree.critical(i);
        }
    }
    let mut shares: BTreeMap<String, f64> = BTreeMap::new();
    for &o in &origins {
        let w = weight(o) / total;
        if let Some(s) = tree.service[o] {
            *shares.entry(s.to_string()).or_default() += w;
        }
        let crossed: BTreeSet<(&str, &str)> =
            tree.ancestry(o).filter_map(|i| tree.edge_into(i)).collect();
        for pair in crossed {
            if let Some(e) = edges.get_mut(&pair) {
                e.contribution += w;
            }
        }
    }
    let mut edges: Vec<ServiceEdge> = edges.into_values().collect();
    for e in &mut edges {
        e.contribution = e.contribution.clamp(0.0, 1.0);
    }
    edges.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then_with(|| a.caller.cmp(&b.caller))
            .then_with(|| a.callee.cmp(&b.callee))
    });
    for v in shares.values_mut() {
        *v = v.clamp(0.0, 1.0);
    }
    let span = tree.spans[fault];
    Ok(CrossService {
        first_fault: FirstFault {
            service: fault_service.to_string(),
            span_id: span.span_id.clone(),
            span_name: span.name.clone(),
            on_critical_path: tree.critical(fault),
            call_chain,
        },
        shares,
        edges,
        notes: tree.notes,
    })
}

impl CrossService {
    /// The edge into the first fault's service: its caller and the edge.
    fn fault_edge(&self) -> Option<(&str, &ServiceEdge)> {
        let chain = &self.first_fault.call_chain;
        let caller = chain.len().checked_sub(2).map(|i| chain[i].as_str())?;
        self.edges
            .iter()
            .find(|e| e.caller == caller && e.callee == self.first_fault.service)
            .map(|e| (caller, e))
    }

    /// What the signal says about suspects of `service`.
    pub fn view(&self, service: &str) -> ServiceView {
        let f = &self.first_fault;
        let place = format!(
            "span `{}` ({}), the deepest erroring span {} without an erroring child",
            f.span_name,
            f.span_id,
            if f.on_critical_path {
                "on the critical path"
            } else {
                "(none erred on the critical path)"
            }
        );
        let edge = match self.fault_edge() {
            Some((caller, e)) => format!(
                ", reached through the edge {caller} → {} ({} of {} calls erred, contribution {:.2})",
                f.service, e.errors, e.calls, e.contribution
            ),
            None => String::new(),
        };
        if f.service == service {
            return ServiceView {
                value: 1.0,
                detail: format!("the first fault is in this service: {place}{edge}"),
                dependency_fault: false,
            };
        }
        let share = self.shares.get(service).copied().unwrap_or(0.0);
        // The chain ends with the fault's service, so any other element called into it.
        let downstream = f.call_chain.iter().any(|s| s == service);
        ServiceView {
            value: share,
            detail: format!(
                "the first fault is in service `{}`{}: {place}{edge}; `{service}`'s own share of the error: {share:.2}",
                f.service,
                if downstream {
                    format!(", which `{service}` calls")
                } else {
                    format!(", not one `{service}` calls")
                },
            ),
            dependency_fault: downstream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> String {
        format!("{n:016x}")
    }

    /// A row: id, parent (0: none), service, error, critical path, duration.
    fn row(n: u32, parent: u32, service: &str, error: bool, cp: bool, ms: f64) -> SpanTiming {
        SpanTiming {
            span_id: id(n),
            parent_span_id: (parent != 0).then(|| id(parent)),
            name: format!("span {n}"),
            duration_ms: ms,
            critical_path: Some(cp),
            service: (!service.is_empty()).then(|| service.to_string()),
            error: Some(error),
        }
    }

    fn ok(rows: &[SpanTiming]) -> CrossService {
        analyze(Some(rows)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn edge<'a>(c: &'a CrossService, caller: &str, callee: &str) -> &'a ServiceEdge {
        c.edges
            .iter()
            .find(|e| e.caller == caller && e.callee == callee)
            .unwrap_or_else(|| panic!("no edge {caller} -> {callee}: {:?}", c.edges))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// web → checkout → pricing, each hop a server span and a client span; pricing's
    /// database span fails and every span above it propagates the error.
    fn chain() -> Vec<SpanTiming> {
        vec![
            row(1, 0, "web", true, true, 100.0),
            row(2, 1, "web", true, true, 90.0),
            row(3, 2, "checkout", true, true, 80.0),
            row(4, 3, "checkout", true, true, 70.0),
            row(5, 4, "pricing", true, true, 60.0),
            row(6, 5, "pricing", true, true, 50.0),
        ]
    }

    #[test]
    fn a_chain_names_its_deepest_error_and_every_edge_above_it() {
        let c = ok(&chain());
        assert_eq!(c.first_fault.service, "pricing");
        assert_eq!(c.first_fault.span_id, id(6));
        assert!(c.first_fault.on_critical_path);
        assert_eq!(c.first_fault.call_chain, ["web", "checkout", "pricing"]);
        assert_eq!(c.edges.len(), 2);
        for (a, b) in [("web", "checkout"), ("checkout", "pricing")] {
            let e = edge(&c, a, b);
            assert_eq!((e.calls, e.errors, e.critical_path), (1, 1, true));
            assert!(close(e.contribution, 1.0), "{e:?}");
        }
        assert_eq!(c.shares.len(), 1);
        assert!(close(c.shares["pricing"], 1.0));
        assert!(c.notes.is_empty());

        // For checkout's suspects: the fault is a dependency; its own share is 0.
        let v = c.view("checkout");
        assert!(v.dependency_fault);
        assert_eq!(v.value, 0.0);
        assert!(v.detail.contains("`pricing`"), "{}", v.detail);
        assert!(v.detail.contains("checkout → pricing"), "{}", v.detail);
        // web calls pricing through checkout: a dependency too.
        assert!(c.view("web").dependency_fault);
        // pricing's own suspects: the fault is theirs.
        let own = c.view("pricing");
        assert_eq!((own.value, own.dependency_fault), (1.0, false));
        assert!(own.detail.starts_with("the first fault is in this service"));
    }

    #[test]
    fn an_error_only_propagated_upstream_is_not_the_first_fault() {
        // checkout answered fine; web failed on its own afterwards.
        let rows = [
            row(1, 0, "web", true, true, 100.0),
            row(2, 1, "web", false, true, 40.0),
            row(3, 2, "checkout", false, true, 30.0),
            row(4, 1, "web", true, true, 50.0),
        ];
        let c = ok(&rows);
        assert_eq!(
            (
                c.first_fault.service.as_str(),
                c.first_fault.span_id.clone()
            ),
            ("web", id(4))
        );
        assert_eq!(c.first_fault.call_chain, ["web"]);
        let e = edge(&c, "web", "checkout");
        assert_eq!((e.calls, e.errors), (1, 0));
        assert_eq!(e.contribution, 0.0);
        assert!(!c.view("checkout").dependency_fault);
        assert_eq!(c.view("web").value, 1.0);

        // Reversed: checkout failed, web only passed the error on. web's span errs
        // above an erroring child, so it is no origin and gets no share.
        let rows = [
            row(1, 0, "web", true, true, 100.0),
            row(2, 1, "web", true, true, 40.0),
            row(3, 2, "checkout", true, true, 30.0),
        ];
        let c = ok(&rows);
        assert_eq!(c.first_fault.service, "checkout");
        assert_eq!(c.shares.get("web"), None);
        assert!(close(edge(&c, "web", "checkout").contribution, 1.0));
    }

    #[test]
    fn a_fan_out_weighs_errors_off_the_critical_path_less() {
        // gateway calls a (the long call: on the critical path, fails), b (in parallel,
        // 20 of the 100 ms, fails off the path) and c (fine).
        let rows = [
            row(1, 0, "gateway", true, true, 100.0),
            row(2, 1, "a", true, true, 90.0),
            row(3, 1, "b", true, false, 20.0),
            row(4, 1, "c", false, false, 10.0),
        ];
        let c = ok(&rows);
        assert_eq!(c.first_fault.service, "a");
        assert_eq!(c.first_fault.call_chain, ["gateway", "a"]);
        // b weighs 0.25 + 0.25 · 20/100 = 0.3 against a's 1.
        let wb = 0.3;
        assert!(close(
            edge(&c, "gateway", "a").contribution,
            1.0 / (1.0 + wb)
        ));
        assert!(close(
            edge(&c, "gateway", "b").contribution,
            wb / (1.0 + wb)
        ));
        assert_eq!(edge(&c, "gateway", "c").contribution, 0.0);
        assert_eq!(c.edges[0].callee, "a", "largest contribution first");
        assert!(close(c.shares.values().sum::<f64>(), 1.0));
        // b is not on the way to the fault: not a dependency fault for b, and b's value
        // is its own share.
        let vb = c.view("b");
        assert!(!vb.dependency_fault);
        assert!(close(vb.value, wb / (1.0 + wb)));
        assert!(vb.detail.contains("not one `b` calls"), "{}", vb.detail);
        assert!(c.view("gateway").dependency_fault);
    }

    #[test]
    fn a_fan_out_of_one_callee_is_one_edge() {
        // checkout calls pricing three times in a row; the last call fails.
        let rows = [
            row(1, 0, "checkout", true, true, 100.0),
            row(2, 1, "pricing", false, true, 10.0),
            row(3, 1, "pricing", false, true, 10.0),
            row(4, 1, "pricing", true, true, 10.0),
        ];
        let c = ok(&rows);
        assert_eq!(c.edges.len(), 1);
        let e = edge(&c, "checkout", "pricing");
        assert_eq!((e.calls, e.errors, e.critical_path), (3, 1, true));
        assert!(close(e.contribution, 1.0));
        assert_eq!(c.first_fault.span_id, id(4));
    }

    #[test]
    fn ties_go_to_the_span_listed_first() {
        let rows = [
            row(1, 0, "web", true, true, 100.0),
            row(2, 1, "stock", true, true, 30.0),
            row(3, 1, "pricing", true, true, 30.0),
        ];
        assert_eq!(ok(&rows).first_fault.service, "stock");
        let swapped = [rows[0].clone(), rows[2].clone(), rows[1].clone()];
        assert_eq!(ok(&swapped).first_fault.service, "pricing");
    }

    #[test]
    fn without_an_error_on_the_critical_path_every_origin_is_a_candidate() {
        let rows = [
            row(1, 0, "web", false, true, 100.0),
            row(2, 1, "web", false, true, 80.0),
            row(3, 1, "audit", true, false, 5.0),
        ];
        let c = ok(&rows);
        assert_eq!(c.first_fault.service, "audit");
        assert!(!c.first_fault.on_critical_path);
        assert!(close(c.shares["audit"], 1.0));
        // Without any critical_path flags (another assembler): the same answer.
        let mut bare = rows.to_vec();
        for r in &mut bare {
            r.critical_path = None;
        }
        assert_eq!(ok(&bare).first_fault.service, "audit");
    }

    #[test]
    fn a_missing_parent_makes_a_root_and_a_missing_service_is_the_parents() {
        // pricing's span names a parent the envelope does not carry: a root at depth 0,
        // so checkout's deeper error is the first fault. The span without a service is
        // checkout's (its parent's).
        let rows = [
            row(1, 0, "web", true, true, 100.0),
            row(2, 1, "checkout", true, true, 50.0),
            row(3, 2, "", true, true, 40.0),
            row(4, 99, "pricing", true, true, 10.0),
        ];
        let c = ok(&rows);
        assert_eq!(c.first_fault.service, "checkout");
        assert_eq!(c.first_fault.span_id, id(3));
        assert_eq!(c.first_fault.call_chain, ["web", "checkout"]);
        assert!(c.edges.iter().all(|e| e.callee != "pricing"), "{c:?}");
        // Both origins (3 and 4) are on the path: half each.
        assert!(close(c.shares["checkout"], 0.5));
        assert!(close(c.shares["pricing"], 0.5));
    }

    #[test]
    fn cycles_and_repeated_ids_are_bounded_and_noted() {
        // 1 ↔ 2 is a cycle, 3 is its own parent, 4 repeats 1's id, 5 hangs below the
        // cycle. No panic, no endless walk; the notes say what was left out.
        let mut rows = vec![
            row(1, 2, "a", true, true, 10.0),
            row(2, 1, "b", true, true, 10.0),
            row(3, 3, "c", true, false, 1.0),
            row(1, 0, "z", false, true, 99.0),
            row(5, 2, "d", true, true, 5.0),
        ];
        let c = ok(&rows);
        assert!(
            c.notes.iter().any(|n| n.contains("1 span(s)")),
            "{:?}",
            c.notes
        );
        assert!(c.notes.iter().any(|n| n.contains("cycle")), "{:?}", c.notes);
        // The cycle is cut where the walk from the first row closes it: 2's link to 1
        // goes, so 2 (b) is the root, 1 (a) below it, and 5 (d) below 2.
        assert_eq!(c.first_fault.service, "a");
        assert_eq!(c.first_fault.call_chain, ["b", "a"]);
        // A self-parent is a root.
        rows.truncate(3);
        rows[0].parent_span_id = None;
        rows[1].parent_span_id = None;
        assert!(analyze(Some(&rows)).is_ok());

        // A chain far deeper than real traces, erroring all the way: linear, no
        // recursion.
        let deep: Vec<SpanTiming> = (1..=20_000u32)
            .map(|i| {
                let service = if i % 2 == 0 { "even" } else { "odd" };
                row(i, i - 1, service, true, true, 1.0)
            })
            .collect();
        let c = ok(&deep);
        assert_eq!(c.first_fault.span_id, id(20_000));
        assert_eq!(c.first_fault.call_chain.len(), 20_000);
        assert_eq!(c.edges.len(), 2);
    }

    #[test]
    fn hostile_numbers_do_not_poison_the_weights() {
        let rows = [
            row(1, 0, "web", true, false, f64::NAN),
            row(2, 1, "pricing", true, false, f64::INFINITY),
            row(3, 0, "audit", true, false, -5.0),
        ];
        let c = ok(&rows);
        for v in c
            .shares
            .values()
            .chain(c.edges.iter().map(|e| &e.contribution))
        {
            assert!(v.is_finite() && (0.0..=1.0).contains(v), "{c:?}");
        }
        assert_eq!(c.first_fault.service, "pricing");
    }

    #[test]
    fn why_the_signal_is_missing() {
        assert_eq!(analyze(None), Err(NotComputable::NoSpans));
        assert_eq!(analyze(Some(&[])), Err(NotComputable::NoSpans));
        let mut rows = chain();
        for r in &mut rows {
            r.service = None;
        }
        assert_eq!(analyze(Some(&rows)), Err(NotComputable::NoServices));
        let mut rows = chain();
        for r in &mut rows {
            r.service = Some("shop".into());
        }
        assert_eq!(
            analyze(Some(&rows)),
            Err(NotComputable::OneService("shop".into()))
        );
        let mut rows = chain();
        for r in &mut rows {
            r.error = None;
        }
        assert_eq!(analyze(Some(&rows)), Err(NotComputable::NoErrorMarks));
        let mut rows = chain();
        for r in &mut rows {
            r.error = Some(false);
        }
        assert_eq!(analyze(Some(&rows)), Err(NotComputable::NoErrors));
        // The only error is on a root without a service (its children name theirs).
        let rows = [
            row(1, 0, "", true, true, 10.0),
            row(2, 1, "a", false, true, 5.0),
            row(3, 1, "b", false, true, 4.0),
        ];
        assert_eq!(analyze(Some(&rows)), Err(NotComputable::FaultUnnamed));
        for e in [
            NotComputable::NoServices,
            NotComputable::OneService("shop".into()),
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    /// The result round-trips through its stored JSON.
    #[test]
    fn the_result_is_stored_as_typed_json() {
        let c = ok(&chain());
        let json = serde_json::to_value(&c).expect("json");
        assert_eq!(json["first_fault"]["service"], "pricing");
        assert_eq!(json["edges"][0]["contribution"], 1.0);
        let back: CrossService = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, c);
    }
}
