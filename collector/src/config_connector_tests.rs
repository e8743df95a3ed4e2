//! The `connectors:` section and the pipeline graph connectors make, checked as otelcol
//! checks it, with the real registry: each refusal names the connector or pipeline at
//! fault and says what would fix it.

use super::{errors_of, load_text};

/// `receivers`/`exporters` of an OTLP receiver and a `nop` exporter, the connectors
/// given, and the pipelines given (YAML under `service.pipelines`, indented 4).
fn with(connectors: &str, pipelines: &str) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\nexporters:\n  nop:\nconnectors:\n{connectors}service:\n  pipelines:\n{pipelines}"
    )
}

fn messages(text: &str) -> Vec<String> {
    errors_of(text)
        .into_iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect()
}

const SPANMETRICS: &str = "    traces:\n      receivers: [otlp]\n      exporters: [nop, spanmetrics]\n    metrics:\n      receivers: [otlp, spanmetrics]\n      exporters: [nop]\n";

#[test]
fn a_connector_joins_two_pipelines() {
    let c = load_text(&with("  spanmetrics:\n", SPANMETRICS)).expect("valid");
    assert_eq!(c.connectors.len(), 1);
    let c = load_text(&with(
        "  forward:\n  count:\n",
        "    traces:\n      receivers: [otlp]\n      exporters: [forward, count]\n    traces/2:\n      receivers: [forward]\n      exporters: [nop]\n    metrics:\n      receivers: [count]\n      exporters: [nop]\n    logs:\n      receivers: [otlp]\n      exporters: [count]\n",
    ))
    .expect("count from traces and logs into one metrics pipeline");
    assert_eq!(c.connectors.len(), 2);
}

#[test]
fn a_connector_used_on_one_side_only_is_refused() {
    let e = messages(&with(
        "  spanmetrics:\n",
        "    traces:\n      receivers: [otlp]\n      exporters: [spanmetrics]\n",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("connectors.spanmetrics: connector `spanmetrics` is an exporter of a traces pipeline but no pipeline it can feed lists it as a receiver (it joins traces → metrics)"),
        "{e:?}"
    );
    let e = messages(&with(
        "  forward:\n",
        "    logs:\n      receivers: [forward]\n      exporters: [nop]\n",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("is a receiver of a logs pipeline but no pipeline it can take data from lists it as an exporter"), "{e:?}");
}

#[test]
fn signals_a_connector_does_not_join_are_refused_where_used() {
    let e = messages(&with(
        "  spanmetrics:\n",
        "    logs:\n      receivers: [otlp]\n      exporters: [spanmetrics]\n    metrics:\n      receivers: [spanmetrics]\n      exporters: [nop]\n",
    ));
    assert!(
        e.iter().any(|m| m == "service.pipelines.logs.exporters[0]: connector `spanmetrics` cannot be an exporter of a logs pipeline: it joins traces → metrics"),
        "{e:?}"
    );
    // forward joins like signals only: traces into a metrics pipeline meets no use.
    let e = messages(&with(
        "  forward:\n",
        "    traces:\n      receivers: [otlp]\n      exporters: [forward]\n    metrics:\n      receivers: [forward]\n      exporters: [nop]\n",
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter().all(|m| m.starts_with("connectors.forward: ")),
        "{e:?}"
    );
}

#[test]
fn cycles_are_refused_with_the_path_around() {
    let e = messages(&with(
        "  forward/a:\n  forward/b:\n",
        "    traces:\n      receivers: [otlp, forward/b]\n      exporters: [forward/a]\n    traces/2:\n      receivers: [forward/a]\n      exporters: [forward/b, nop]\n",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e[0],
        "service.pipelines: the pipelines form a cycle through connectors: pipeline `traces` → connector `forward/a` → pipeline `traces/2` → connector `forward/b` → pipeline `traces`"
    );
}

#[test]
fn routing_names_only_pipelines_that_receive_from_it() {
    let pipelines = "    logs:\n      receivers: [otlp]\n      exporters: [routing]\n    logs/a:\n      receivers: [routing]\n      exporters: [nop]\n    logs/b:\n      receivers: [otlp]\n      exporters: [nop]\n";
    let e = messages(&with(
        "  routing:\n    default_pipelines: [logs/zzz]\n    table:\n      - condition: attributes[\"x\"] == \"y\"\n        pipelines: [logs/a, logs/b]\n",
        pipelines,
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e.contains(&"connectors.routing.default_pipelines[0]: pipeline `logs/zzz` is not configured (those that do: logs/a)".to_owned()), "{e:?}");
    assert!(e.contains(&"connectors.routing.table[0].pipelines[1]: pipeline `logs/b` does not list `routing` among its receivers, so the connector cannot send to it (those that do: logs/a)".to_owned()), "{e:?}");
    // A span condition in a router of logs.
    let e = messages(&with(
        "  routing:\n    table:\n      - condition: span.name == \"x\"\n        pipelines: [logs/a]\n",
        pipelines,
    ));
    assert_eq!(e, vec!["connectors.routing.table[0]: the span context applies to traces, but this connector is an exporter of a logs pipeline".to_owned()]);
}
