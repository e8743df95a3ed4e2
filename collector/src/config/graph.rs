//! The pipeline graph that connectors make: a connector is an exporter of some pipelines
//! and a receiver of others, so pipelines feed pipelines. Checked as otelcol checks it:
//! a connector used on one side only is an error, every use must meet a use on the other
//! side with a signal pair the connector joins, the pipelines a connector names must
//! receive from it, and the graph must have no cycle. [`order`] gives the service the
//! pipelines upstream first.

use std::collections::{BTreeMap, BTreeSet};

use pdata::Signal;

use super::{Catalog, ComponentId, Components, ConfigError, PipelineConfig, PipelineId};

/// `traces → metrics, logs → metrics`, for messages.
pub fn describe_pairs(pairs: &[(Signal, Signal)]) -> String {
    let parts: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} → {b}")).collect();
    if parts.is_empty() {
        "no signals".to_owned()
    } else {
        parts.join(", ")
    }
}

/// One edge of the graph: pipeline `from` feeds pipeline `to` through `connector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: PipelineId,
    pub connector: ComponentId,
    pub to: PipelineId,
}

/// Every edge: a pipeline that exports to a connector feeds each pipeline that receives
/// from it, when the connector joins their two signals.
pub fn edges(
    connectors: &Components,
    pipelines: &BTreeMap<PipelineId, PipelineConfig>,
    pairs: &dyn Fn(&str) -> &'static [(Signal, Signal)],
) -> Vec<Edge> {
    let mut out = Vec::new();
    for (from, p) in pipelines {
        for c in p.exporters.iter().filter(|c| connectors.contains_key(*c)) {
            let joined = pairs(&c.ty);
            for (to, q) in pipelines {
                if q.receivers.contains(c) && joined.contains(&(from.signal, to.signal)) {
                    out.push(Edge {
                        from: from.clone(),
                        connector: c.clone(),
                        to: to.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The pipelines in an order where every pipeline comes after all that feed it (the
/// graph has been checked acyclic); ties in id order.
pub fn order(pipelines: &BTreeMap<PipelineId, PipelineConfig>, edges: &[Edge]) -> Vec<PipelineId> {
    let mut indegree: BTreeMap<&PipelineId, usize> = pipelines.keys().map(|k| (k, 0)).collect();
    for e in edges {
        if let Some(n) = indegree.get_mut(&e.to) {
            *n += 1;
        }
    }
    let mut ready: BTreeSet<&PipelineId> = indegree
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut out = Vec::new();
    while let Some(p) = ready.pop_first() {
        out.push(p.clone());
        for e in edges.iter().filter(|e| &e.from == p) {
            if let Some(n) = indegree.get_mut(&e.to) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(&e.to);
                }
            }
        }
    }
    out
}

/// A cycle, as the pipelines and connectors along it, if there is one.
fn find_cycle(pipelines: &BTreeMap<PipelineId, PipelineConfig>, edges: &[Edge]) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        p: &'a PipelineId,
        edges: &'a [Edge],
        marks: &mut BTreeMap<&'a PipelineId, Mark>,
        stack: &mut Vec<&'a Edge>,
    ) -> Option<String> {
        marks.insert(p, Mark::Open);
        for e in edges.iter().filter(|e| &e.from == p) {
            stack.push(e);
            match marks.get(&e.to).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = stack.iter().position(|s| s.from == e.to).unwrap_or(0);
                    let mut text = format!("pipeline `{}`", e.to);
                    for s in &stack[start..] {
                        text.push_str(&format!(
                            " → connector `{}` → pipeline `{}`",
                            s.connector, s.to
                        ));
                    }
                    return Some(text);
                }
                Mark::New => {
                    if let Some(c) = visit(&e.to, edges, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
            stack.pop();
        }
        marks.insert(p, Mark::Done);
        None
    }
    let mut marks: BTreeMap<&PipelineId, Mark> = BTreeMap::new();
    for p in pipelines.keys() {
        if marks.get(p).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = visit(p, edges, &mut marks, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// Checks every connector's uses, the pipelines connectors name, and cycles.
pub(super) fn check(
    connectors: &Components,
    pipelines: &BTreeMap<PipelineId, PipelineConfig>,
    catalog: &dyn Catalog,
    errors: &mut Vec<ConfigError>,
) {
    for (id, cfg) in connectors {
        let path = format!("connectors.{id}");
        let pairs = catalog.connector_pairs(&id.ty);
        let as_exporter: BTreeSet<Signal> = pipelines
            .iter()
            .filter(|(_, p)| p.exporters.contains(id))
            .map(|(k, _)| k.signal)
            .collect();
        let as_receiver: BTreeSet<Signal> = pipelines
            .iter()
            .filter(|(_, p)| p.receivers.contains(id))
            .map(|(k, _)| k.signal)
            .collect();
        for from in &as_exporter {
            if !as_receiver.iter().any(|to| pairs.contains(&(*from, *to))) {
                errors.push(ConfigError::new(
                    path.clone(),
                    format!(
                        "connector `{id}` is an exporter of a {from} pipeline but no pipeline it can feed lists it as a receiver (it joins {}): add it to the receivers of such a pipeline",
                        describe_pairs(pairs)
                    ),
                ));
            }
        }
        for to in &as_receiver {
            if !as_exporter.iter().any(|from| pairs.contains(&(*from, *to))) {
                errors.push(ConfigError::new(
                    path.clone(),
                    format!(
                        "connector `{id}` is a receiver of a {to} pipeline but no pipeline it can take data from lists it as an exporter (it joins {}): add it to the exporters of such a pipeline",
                        describe_pairs(pairs)
                    ),
                ));
            }
        }
        for from in &as_exporter {
            errors.extend(cfg.connector_signal_errors(*from).into_iter().map(|mut e| {
                e.path = super::expand::join(&path, &e.path);
                e
            }));
        }
        for (at, named) in cfg.pipeline_refs() {
            let at = super::expand::join(&path, &at);
            let found = pipelines
                .iter()
                .find(|(k, _)| k.to_string() == named)
                .map(|(k, p)| (k, p.receivers.contains(id)));
            let receivers: Vec<String> = pipelines
                .iter()
                .filter(|(_, p)| p.receivers.contains(id))
                .map(|(k, _)| k.to_string())
                .collect();
            let listing = if receivers.is_empty() {
                "none does".to_owned()
            } else {
                format!("those that do: {}", receivers.join(", "))
            };
            match found {
                None => errors.push(ConfigError::new(
                    at,
                    format!("pipeline `{named}` is not configured ({listing})"),
                )),
                Some((_, false)) => errors.push(ConfigError::new(
                    at,
                    format!(
                        "pipeline `{named}` does not list `{id}` among its receivers, so the connector cannot send to it ({listing})"
                    ),
                )),
                Some((_, true)) => {}
            }
        }
    }
    let edges = edges(connectors, pipelines, &|ty| catalog.connector_pairs(ty));
    if let Some(cycle) = find_cycle(pipelines, &edges) {
        errors.push(ConfigError::new(
            "service.pipelines",
            format!("the pipelines form a cycle through connectors: {cycle}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(s: &str) -> PipelineId {
        let (sig, name) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.to_owned())),
            None => (s, None),
        };
        PipelineId {
            signal: Signal::parse(sig).expect("signal"),
            name,
        }
    }

    fn id(s: &str) -> ComponentId {
        ComponentId::parse(s).expect("id")
    }

    fn pipeline(receivers: &[&str], exporters: &[&str]) -> PipelineConfig {
        PipelineConfig {
            receivers: receivers.iter().map(|r| id(r)).collect(),
            processors: Vec::new(),
            exporters: exporters.iter().map(|e| id(e)).collect(),
        }
    }

    #[derive(Debug)]
    struct AnyConnector;
    impl crate::config::AnyConfig for AnyConnector {}

    #[test]
    fn pipelines_are_ordered_upstream_first_and_cycles_are_named() {
        let mut connectors = Components::new();
        connectors.insert(id("forward"), Box::new(AnyConnector));
        connectors.insert(id("forward/b"), Box::new(AnyConnector));
        let same: &dyn Fn(&str) -> &'static [(Signal, Signal)] =
            &|_| &[(Signal::Traces, Signal::Traces)];
        let mut ps = BTreeMap::new();
        ps.insert(pid("traces/z"), pipeline(&["otlp"], &["forward"]));
        ps.insert(pid("traces/a"), pipeline(&["forward"], &["forward/b"]));
        ps.insert(pid("traces/m"), pipeline(&["forward/b"], &["nop"]));
        let e = edges(&connectors, &ps, same);
        assert_eq!(e.len(), 2);
        let names: Vec<String> = order(&ps, &e).iter().map(ToString::to_string).collect();
        assert_eq!(names, ["traces/z", "traces/a", "traces/m"]);
        assert!(find_cycle(&ps, &e).is_none());

        ps.insert(pid("traces/m"), pipeline(&["forward/b"], &["forward"]));
        let e = edges(&connectors, &ps, same);
        let cycle = find_cycle(&ps, &e).expect("a cycle");
        assert_eq!(
            cycle,
            "pipeline `traces/a` → connector `forward/b` → pipeline `traces/m` → connector `forward` → pipeline `traces/a`"
        );
    }
}
