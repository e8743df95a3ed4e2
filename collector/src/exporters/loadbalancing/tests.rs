//! Tests of the `loadbalancing` exporter: config, splitting, and re-routing when a
//! backend leaves.

use super::split::service_name;
use super::*;
use crate::config::parse_component;
use pdata::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pdata::otlp::collector::trace::v1::ExportTraceServiceRequest;
use pdata::otlp::common::v1::{KeyValue, any_value};
use pdata::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use pdata::otlp::resource::v1::Resource;
use pdata::otlp::trace::v1::Span;
use pdata::otlp::trace::v1::{ResourceSpans, ScopeSpans};

fn parse(yaml: &str) -> Result<LoadBalancingConfig, Vec<ConfigError>> {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
    parse_component(&v, "exporters.loadbalancing")
}

#[test]
fn contrib_readme_example_parses() {
    let c = parse(
        "routing_key: service\nprotocol:\n  otlp:\n    timeout: 1s\n    tls: {insecure: true}\n\
         resolver:\n  static:\n    hostnames: [backend-1:4317, backend-2:4317, backend-3, 10.0.0.1:5317]\n",
    )
    .expect("valid");
    assert_eq!(c.routing_key, RoutingKey::Service);
    let hosts: Vec<String> = c
        .resolver
        .static_
        .expect("static")
        .hostnames
        .iter()
        .map(|h| with_port(h))
        .collect();
    assert_eq!(
        hosts,
        [
            "backend-1:4317",
            "backend-2:4317",
            "backend-3:4317",
            "10.0.0.1:5317"
        ]
    );
    let c = parse("resolver:\n  dns:\n    hostname: otelcol-headless.observability.svc.cluster.local\n    port: \"5317\"\n")
        .expect("valid");
    let dns = c.resolver.dns.expect("dns");
    assert_eq!(
        (dns.port, dns.interval, dns.timeout),
        (5317, Duration::from_secs(5), Duration::from_secs(1))
    );
    assert_eq!(c.routing_key, RoutingKey::TraceId);
}

#[test]
fn rejections_name_the_key() {
    let e = parse("resolver: {}").expect_err("no resolver");
    assert_eq!(e[0].path, "exporters.loadbalancing.resolver");
    let e = parse("resolver: {static: {hostnames: []}, dns: {hostname: x}}").expect_err("both");
    assert!(e.iter().any(|e| e.message.contains("not both")), "{e:?}");
    assert!(
        e.iter()
            .any(|e| e.path == "exporters.loadbalancing.resolver.static.hostnames"),
        "{e:?}"
    );
    let e = parse("resolver: {k8s: {service: x}}").expect_err("k8s");
    assert!(e[0].message.contains("not supported"), "{e:?}");
    let e =
        parse("routing_key: streamID\nresolver: {static: {hostnames: [a]}}").expect_err("routing");
    assert!(e[0].message.contains("not supported"), "{e:?}");
    let e = parse(
        "resolver: {static: {hostnames: [a]}}\nprotocol: {otlp: {sending_queue: {queue_size: 0}}}",
    )
    .expect_err("queue");
    assert_eq!(
        e[0].path,
        "exporters.loadbalancing.protocol.otlp.sending_queue.queue_size"
    );
}

#[test]
fn exporter_level_queue_retry_and_timeout_take_the_place_of_protocol_otlp() {
    let c = parse(
        "resolver: {static: {hostnames: [a]}}\n\
         protocol: {otlp: {timeout: 9s, sending_queue: {queue_size: 7}}}\n\
         timeout: 2s\n\
         sending_queue: {num_consumers: 3, queue_size: 50}\n\
         retry_on_failure: {enabled: false}\n",
    )
    .expect("valid");
    let otlp = c.backend_otlp();
    assert_eq!(otlp.timeout, Duration::from_secs(2));
    assert_eq!(
        (
            otlp.sending_queue.num_consumers,
            otlp.sending_queue.queue_size
        ),
        (3, 50)
    );
    assert!(!otlp.retry_on_failure.enabled);
    assert_eq!(c.queue().0, "sending_queue");

    // Without them, protocol.otlp's own settings apply.
    let c = parse("resolver: {static: {hostnames: [a]}}\nprotocol: {otlp: {timeout: 9s, sending_queue: {queue_size: 7}}}")
        .expect("valid");
    let otlp = c.backend_otlp();
    assert_eq!(
        (otlp.timeout, otlp.sending_queue.queue_size),
        (Duration::from_secs(9), 7)
    );
    assert_eq!(c.queue().0, "protocol.otlp.sending_queue");

    let e =
        parse("resolver: {static: {hostnames: [a]}}\nsending_queue: {queue_size: 0}\ntimeout: 0s")
            .expect_err("bad exporter-level settings");
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"exporters.loadbalancing.sending_queue.queue_size")
            && paths.contains(&"exporters.loadbalancing.timeout"),
        "{e:?}"
    );
    let e = parse("resolver: {static: {hostnames: [a]}}\nretry_on_failure: {typo: 1}")
        .expect_err("unknown key");
    assert!(
        e[0].message.contains("typo"),
        "the unknown key is named: {e:?}"
    );
}

#[test]
fn bare_ipv6_gets_brackets_and_a_port() {
    assert_eq!(with_port("::1"), "[::1]:4317");
    assert_eq!(with_port("[::1]:9"), "[::1]:9");
}

fn traces(spans: &[(u8, &str)]) -> Payload {
    let mut req = ExportTraceServiceRequest::default();
    for (t, svc) in spans {
        req.resource_spans.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(pdata::otlp::common::v1::AnyValue {
                        value: Some(any_value::Value::StringValue((*svc).into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![*t; 16],
                    span_id: vec![1; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        });
    }
    Payload::Traces(req)
}

fn trace_ids(p: &Payload) -> Vec<u8> {
    let Payload::Traces(r) = p else {
        panic!("traces")
    };
    r.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.trace_id[0])
        .collect()
}

#[test]
fn split_keeps_each_trace_on_the_backend_the_ring_gives_it() {
    let ring = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
    let input: Vec<(u8, &str)> = (0..60)
        .map(|t| (t, if t % 2 == 0 { "a" } else { "b" }))
        .collect();
    let parts = split(vec![traces(&input)], &ring, RoutingKey::TraceId);
    assert!(
        parts.len() > 1,
        "60 traces over 3 backends use more than one"
    );
    let mut seen = 0;
    for (endpoint, p) in &parts {
        for t in trace_ids(p) {
            assert_eq!(ring.route(&[t; 16]), Some(endpoint.as_str()));
            seen += 1;
        }
    }
    assert_eq!(seen, 60);

    // By service: every resource of a service on one backend.
    let parts = split(vec![traces(&input)], &ring, RoutingKey::Service);
    for (endpoint, p) in &parts {
        let Payload::Traces(r) = p else { panic!() };
        for rs in &r.resource_spans {
            let svc = service_name(&rs.resource.as_ref().expect("resource").attributes);
            assert_eq!(ring.route(svc.as_bytes()), Some(endpoint.as_str()));
        }
    }
}

#[test]
fn logs_route_by_trace_id_like_their_spans() {
    let ring = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..30u8)
                    .map(|t| LogRecord {
                        trace_id: vec![t; 16],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    for (endpoint, p) in split(vec![Payload::Logs(req)], &ring, RoutingKey::TraceId) {
        let Payload::Logs(r) = p else { panic!("logs") };
        for rec in r
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| &sl.log_records)
        {
            assert_eq!(ring.route(&rec.trace_id), Some(endpoint.as_str()));
        }
    }
}

#[test]
fn a_pending_part_moves_when_its_backend_leaves() {
    // What a retry does after the ring changed: the part meant for b2 is re-split
    // over the backends that remain, and none of it is lost.
    let before = Ring::new((1..=3).map(|i| format!("b{i}:4317")));
    let input: Vec<(u8, &str)> = (0..90).map(|t| (t, "svc")).collect();
    let parts = split(vec![traces(&input)], &before, RoutingKey::TraceId);
    let stranded = parts.get("b2:4317").expect("b2 has some").clone();
    let n = trace_ids(&stranded).len();
    let after = Ring::new(["b1:4317".to_owned(), "b3:4317".to_owned()]);
    let moved = split(vec![stranded], &after, RoutingKey::TraceId);
    assert!(!moved.contains_key("b2:4317"));
    assert_eq!(moved.values().map(|p| trace_ids(p).len()).sum::<usize>(), n);
}

/// Collects what a real OTLP receiver got.
#[derive(Default)]
struct Collect(Mutex<Vec<u8>>);

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let ids = trace_ids(&batch.into_payload());
        lock(&self.0).extend(ids);
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn queued_data_of_a_backend_that_dns_drops_goes_to_the_others() {
    let metrics = SelfMetrics::new();
    let live = format!("127.0.0.1:{}", free_port());
    // Nothing listens here: the backend is gone, as after a pod was deleted.
    let gone = format!("127.0.0.1:{}", free_port());
    let got = Arc::new(Collect::default());
    let mut consumers = crate::receivers::Consumers::default();
    consumers.set(Signal::Traces, got.clone());
    let rcfg: crate::receivers::otlp::OtlpReceiverConfig =
        serde_yaml::from_str(&format!("protocols: {{grpc: {{endpoint: \"{live}\"}}}}"))
            .expect("receiver config");
    let receiver = crate::receivers::otlp::start("otlp", &rcfg, consumers, &metrics)
        .await
        .expect("receiver starts");

    let cfg = parse(&format!(
        "protocol: {{otlp: {{tls: {{insecure: true}}, timeout: 1s, \
         retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s}}}}}}\n\
         resolver: {{static: {{hostnames: [\"{live}\", \"{gone}\"]}}}}\n"
    ))
    .expect("valid");
    let lb = LoadBalancingExporter::new("loadbalancing", Signal::Traces, &cfg, None, &metrics)
        .expect("exporter");
    // Trace ids 1..=90 (an all-zero id is invalid and the receiver drops it).
    let input: Vec<(u8, &str)> = (1..=90).map(|t| (t, "svc")).collect();
    lb.consume(Batch::from_payload(traces(&input)))
        .await
        .expect("queued");

    // The live backend's share arrives; the rest waits for the one that is gone.
    let ring = lb.shared.ring();
    let live_share = (1..=90u8)
        .filter(|t| ring.route(&[*t; 16]) == Some(live.as_str()))
        .count();
    assert!(live_share > 0 && live_share < 90, "{live_share}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while lock(&got.0).len() < live_share && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lock(&got.0).len(), live_share, "only the live share so far");

    // DNS stops answering with the gone backend: its pending part moves at once.
    lb.shared.set_backends([live.clone()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lock(&got.0).len() < 90 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ids = lock(&got.0).clone();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=90).collect::<Vec<u8>>(),
        "every trace delivered once"
    );
    assert_eq!(lb.backends(), std::slice::from_ref(&live));

    // Per-backend metrics: what the live backend took, failed sends to the gone one, and
    // the ring's size and changes. The receiver hands data on before it answers, so the
    // exporter counts the last send a moment after the sink has it: wait for the count.
    let sent = format!(
        "otelcol_loadbalancer_backend_sent_spans_total{{exporter=\"loadbalancing\",endpoint=\"{live}\"}} "
    );
    let all_counted = || {
        metrics.encode().lines().any(|l| {
            l.strip_prefix(&sent)
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v >= 90.0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_counted() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = metrics.encode();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no value for {prefix}"))
    };
    assert_eq!(
        line(&format!(
            "otelcol_loadbalancer_backend_sent_spans_total{{exporter=\"loadbalancing\",endpoint=\"{live}\"}}"
        )),
        90.0
    );
    assert!(
        line(&format!(
            "otelcol_loadbalancer_backend_outcome_total{{exporter=\"loadbalancing\",endpoint=\"{gone}\",success=\"false\"}}"
        )) >= 1.0
    );
    assert_eq!(
        line("otelcol_loadbalancer_num_backends{exporter=\"loadbalancing\",resolver=\"static\"}"),
        1.0
    );
    assert_eq!(
        line(
            "otelcol_loadbalancer_num_backend_updates_total{exporter=\"loadbalancing\",resolver=\"static\"}"
        ),
        1.0
    );
    assert!(text.contains(&format!(
        "otelcol_loadbalancer_backend_latency_count{{exporter=\"loadbalancing\",endpoint=\"{live}\"}}"
    )));
    lb.shutdown().await;
    receiver.stop().await;
}
