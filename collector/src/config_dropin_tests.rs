//! otelcol's keys and names for the components tracemend ships: each family loads (acted
//! on, or reported as a warning), and the messages of refused configs say what is wrong
//! without blaming a neighbour. Loaded with the real registry.

use super::{errors_of, load_text};
use crate::config::*;
use crate::exporters::debug::{DebugConfig, Verbosity};
use crate::exporters::otlp::OtlpExporterConfig;
use crate::exporters::otlphttp::OtlpHttpExporterConfig;
use crate::receivers::otlp::OtlpReceiverConfig;

/// A config with one traces pipeline from `otlp` (plus `receivers`) to `exporters`.
fn with(receivers: &str, exporters: &str, exporter_ids: &str, service: &str) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n{receivers}exporters:\n{exporters}service:\n{service}  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [{exporter_ids}]\n"
    )
}

fn warning_paths(c: &Config) -> Vec<String> {
    c.warnings.iter().map(|w| w.path.clone()).collect()
}

fn exporter<T: Clone + 'static>(c: &Config, id: &str) -> T {
    c.exporters
        .get(&ComponentId::parse(id).expect("id"))
        .and_then(|e| e.downcast_ref::<T>())
        .cloned()
        .unwrap_or_else(|| panic!("exporter {id}"))
}

#[test]
fn a_bad_otlp_exporter_is_not_blamed_on_the_otlp_receiver() {
    let e = errors_of(&with("", "  otlp:\n    endpointt: x\n", "otlp", ""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "exporters.otlp.endpointt");
    assert!(
        !e.iter().any(|e| e.message.contains("is a receiver")),
        "{e:?}"
    );
}

#[test]
fn a_reference_names_the_exporters_that_were_refused() {
    let e = errors_of(&with("", "  otlp:\n    endpointt: x\n", "otlpp", ""));
    let r = e
        .iter()
        .find(|e| e.path == "service.pipelines.traces.exporters[0]")
        .expect("the reference");
    assert!(
        r.message.contains("no valid exporters: otlp refused above"),
        "{r}"
    );
    assert!(!r.message.contains("no exporters are configured"), "{r}");
}

#[test]
fn a_wrong_value_type_names_no_internal_type() {
    let e = errors_of(&with(
        "",
        "  otlp:\n    endpoint: b:4317\n    compression: 7\n",
        "otlp",
        "",
    ));
    assert_eq!(e[0].path, "exporters.otlp.compression");
    assert!(!e[0].message.contains("Value::"), "{}", e[0]);
    assert!(e[0].message.contains("one of this key's names"), "{}", e[0]);
}

#[test]
fn new_exporter_names_and_the_logging_alias_load() {
    let c = load_text(&with(
        "",
        "  otlp_grpc:\n    endpoint: b:4317\n  otlp_http:\n    endpoint: http://b:4318\n  logging:\n    loglevel: debug\n",
        "otlp_grpc, otlp_http, logging",
        "",
    ))
    .expect("valid");
    let grpc: OtlpExporterConfig = exporter(&c, "otlp_grpc");
    assert_eq!(grpc.endpoint, "b:4317");
    let http: OtlpHttpExporterConfig = exporter(&c, "otlp_http");
    assert_eq!(http.endpoint, "http://b:4318");
    let w = &c.warnings;
    assert!(
        w.iter().any(|w| w.path == "exporters.logging"
            && w.message.contains("rename it to `debug`")
            && w.line == Some(11)),
        "{w:?}"
    );
}

#[test]
fn debug_sampling_keys_load() {
    let c = load_text(&with(
        "",
        "  debug:\n    verbosity: detailed\n    sampling_initial: 5\n    sampling_thereafter: 200\n    use_internal_logger: false\n",
        "debug",
        "",
    ))
    .expect("valid");
    let d: DebugConfig = exporter(&c, "debug");
    assert_eq!(d.verbosity, Verbosity::Detailed);
    assert_eq!((d.sampling_initial, d.sampling_thereafter), (5, 200));
    assert!(!d.use_internal_logger);
    let e = errors_of(&with(
        "",
        "  debug:\n    sampling_thereafter: 0\n",
        "debug",
        "",
    ));
    assert_eq!(e[0].path, "exporters.debug.sampling_thereafter");
}

#[test]
fn a_profiles_pipeline_names_the_feature_gate() {
    let text = format!(
        "{}    profiles:\n      receivers: [otlp]\n      exporters: [nop]\n",
        with("", "  nop:\n", "nop", "")
    );
    let e = errors_of(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "service.pipelines.profiles");
    assert!(e[0].message.contains("service.profilesSupport"), "{}", e[0]);
}

#[test]
fn a_connector_is_reported_once_not_at_each_use() {
    let text = format!(
        "{}    metrics:\n      receivers: [spanmetric]\n      exporters: [nop]\nconnectors:\n  spanmetric:\n",
        with("", "  nop:\n", "nop, spanmetric", "")
    );
    let e = errors_of(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("unknown connector type `spanmetric`"));
}

#[test]
fn otlp_receiver_server_keys_load_and_unused_ones_warn() {
    let receivers = &r#"
      http:
        endpoint: 127.0.0.1:4318
        include_metadata: true
        cors:
          allowed_origins: ["http://*"]
          max_age: 7200
        response_headers: {x-a: 1}
        read_header_timeout: 10s
"#[1..];
    let grpc_extra = &r#"
        include_metadata: true
        keepalive:
          server_parameters:
            time: 10s
            timeout: 5s
            max_connection_age: 60s
            max_connection_idle: 1m
          enforcement_policy:
            min_time: 5s
        read_buffer_size: 524288
        max_concurrent_streams: 16
"#[1..];
    let text = with(&format!("{grpc_extra}{receivers}"), "  nop:\n", "nop", "");
    let c = load_text(&text).expect("valid");
    let r = c
        .receivers
        .values()
        .next()
        .and_then(|r| r.downcast_ref::<OtlpReceiverConfig>())
        .expect("otlp");
    let http = r.protocols.http.as_ref().expect("http");
    assert_eq!(http.response_headers["x-a"], "1");
    assert!(http.cors.as_ref().is_some_and(|c| c.max_age == Some(7200)));
    let grpc = r.protocols.grpc.as_ref().expect("grpc");
    let age = grpc
        .keepalive
        .as_ref()
        .and_then(|k| k.server_parameters.max_connection_age);
    assert_eq!(age, Some(std::time::Duration::from_secs(60)));
    let p = "receivers.otlp.protocols";
    assert_eq!(
        warning_paths(&c),
        [
            format!("{p}.grpc.include_metadata"),
            format!("{p}.grpc.read_buffer_size"),
            format!("{p}.grpc.keepalive.enforcement_policy"),
            format!("{p}.grpc.keepalive.server_parameters.max_connection_idle"),
            format!("{p}.http.include_metadata"),
            format!("{p}.http.read_header_timeout"),
        ]
    );
}

#[test]
fn server_tls_and_auth_are_checked() {
    let e = errors_of(&with(
        "        tls:\n          min_version: \"1.0\"\n        auth:\n          authenticator: oidc\n",
        "  nop:\n",
        "nop",
        "",
    ));
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    let p = "receivers.otlp.protocols.grpc";
    assert_eq!(
        paths,
        [
            format!("{p}.auth"),
            format!("{p}.tls.cert_file"),
            format!("{p}.tls.key_file"),
            format!("{p}.tls.min_version"),
        ]
    );
    assert!(e[0].message.contains("extension `oidc`"), "{}", e[0]);
}

#[test]
fn exporter_client_keys_load_and_unused_ones_warn() {
    let exporters = &r#"
  otlp:
    endpoint: b:4317
    keepalive: {time: 10s, timeout: 5s, permit_without_stream: true}
    balancer_name: round_robin
    sending_queue:
      batch:
      sizer: requests
      queue_size: 100
  otlphttp:
    endpoint: https://b:4318
    proxy_url: http://proxy:3128
    tls:
      insecure_skip_verify: true
      min_version: "1.3"
      cipher_suites: [TLS_AES_128_GCM_SHA256]
    compression_params: {level: 3}
"#[1..];
    let c = load_text(&with("", exporters, "otlp, otlphttp", "")).expect("valid");
    let http: OtlpHttpExporterConfig = exporter(&c, "otlphttp");
    assert!(http.tls.insecure_skip_verify);
    assert_eq!(http.proxy_url.as_deref(), Some("http://proxy:3128"));
    assert_eq!(
        warning_paths(&c),
        [
            "exporters.otlp.balancer_name",
            "exporters.otlp.sending_queue.batch",
            "exporters.otlphttp.compression_params",
            "exporters.otlphttp.tls.cipher_suites",
        ]
    );
}

#[test]
fn exporter_refusals_say_why() {
    let e = errors_of(&with(
        "",
        "  otlp:\n    endpoint: b:4317\n    tls:\n      insecure_skip_verify: true\n      min_version: \"1.3\"\n    auth:\n      authenticator: bearertokenauth\n    sending_queue:\n      sizer: items\n",
        "otlp",
        "",
    ));
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    // The client TLS block is otlphttp's: insecure_skip_verify and versions load.
    assert_eq!(
        paths,
        ["exporters.otlp.auth", "exporters.otlp.sending_queue.sizer"]
    );
    assert!(
        e[0].message.contains("extension `bearertokenauth`"),
        "{}",
        e[0]
    );
}

#[test]
fn numbers_from_the_environment_stay_text_in_headers() {
    crate::testenv::set("TM_DROPIN_KEY", "0123456789");
    crate::testenv::set("TM_DROPIN_NUM", "42");
    let c = load_text(&with(
        "",
        "  otlp:\n    endpoint: b:4317\n    headers:\n      api-key: ${env:TM_DROPIN_KEY}\n      x-n: ${env:TM_DROPIN_NUM}\n",
        "otlp",
        "",
    ))
    .expect("valid");
    let o: OtlpExporterConfig = exporter(&c, "otlp");
    assert_eq!(o.headers["api-key"], "0123456789");
    assert_eq!(o.headers["x-n"], "42");
}

#[test]
fn service_telemetry_keys_load() {
    let service = &r#"
  telemetry:
    resource:
      host.name: node-1
      k8s.pod.ip: ${env:TM_DROPIN_UNSET_IP:-10.0.0.1}
    logs:
      level: INFO
      encoding: json
      disable_stacktrace: true
      sampling: {enabled: true, tick: 10s, initial: 10, thereafter: 100}
      processors:
        - batch: {exporter: {otlp: {protocol: http/protobuf, endpoint: http://x:4318}}}
    metrics:
      level: detailed
      readers:
        - periodic:
            interval: 10000
            exporter: {otlp: {protocol: grpc, endpoint: http://localhost:4317}}
        - pull:
            exporter: {prometheus: {host: 127.0.0.1, port: 8899, without_units: true}}
    traces:
      processors: []
"#[1..];
    let c = load_text(&with("", "  nop:\n", "nop", service)).expect("valid");
    let t = &c.service.telemetry;
    assert_eq!(t.resource["host.name"], "node-1");
    assert_eq!(t.resource["k8s.pod.ip"], "10.0.0.1");
    assert_eq!(
        t.metrics.listen_address(),
        Ok(Some("127.0.0.1:8899".to_string()))
    );
    let s = "service.telemetry";
    assert_eq!(
        warning_paths(&c),
        [
            format!("{s}.traces"),
            format!("{s}.logs.disable_stacktrace"),
            format!("{s}.logs.sampling"),
            format!("{s}.logs.processors"),
            format!("{s}.metrics.readers[0].periodic"),
            format!("{s}.metrics.readers[1].pull.exporter.prometheus.without_units"),
        ]
    );
}

#[test]
fn only_push_readers_serve_no_prometheus_endpoint() {
    let service = "  telemetry:\n    metrics:\n      readers:\n        - periodic: {exporter: {otlp: {endpoint: http://x:4318}}}\n";
    let c = load_text(&with("", "  nop:\n", "nop", service)).expect("valid");
    assert_eq!(c.service.telemetry.metrics.listen_address(), Ok(None));
    let bad = "  telemetry:\n    metrics:\n      readers:\n        - {}\n";
    let e = errors_of(&with("", "  nop:\n", "nop", bad));
    assert!(
        e[0].message
            .contains("exactly one of `pull` and `periodic`"),
        "{e:?}"
    );
}

#[test]
fn processor_and_extension_keys_load() {
    let text = format!(
        "processors:\n  batch:\n    metadata_keys: [x-tenant]\n    metadata_cardinality_limit: 30\n  memory_limiter:\n    check_interval: 1s\n    limit_mib: 100\n    min_gc_interval_when_soft_limited: 10s\nextensions:\n  health_check:\n    check_collector_pipeline: {{enabled: true, interval: 5m, exporter_failure_threshold: 5}}\n    response_body: {{healthy: ok}}\n  file_storage:\n    directory: /tmp\n    timeout: 10s\n    compaction: {{on_start: true}}\n{}",
        with(
            "",
            "  file:\n    path: /tmp/x.bin\n    compression: zstd\n    rotation: {max_megabytes: 10}\n",
            "file",
            "  extensions: [health_check, file_storage]\n"
        )
    );
    let c = load_text(&text).expect("valid");
    assert_eq!(
        warning_paths(&c),
        [
            "processors.batch.metadata_keys",
            "processors.batch.metadata_cardinality_limit",
            "processors.memory_limiter.min_gc_interval_when_soft_limited",
            "exporters.file.rotation",
            "extensions.health_check.check_collector_pipeline",
            "extensions.file_storage.timeout",
            "extensions.file_storage.compaction",
        ]
    );
}
