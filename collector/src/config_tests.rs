//! One test per config error class, each checking the message, path and line, loaded
//! with the real registry (here, not in `config`, which does not know the components).

use pdata::Signal;

use crate::components::load_config as load;
use crate::config::*;
use crate::processors::batch::BatchConfig;
use crate::processors::memory_limiter::MemoryLimiterConfig;
use crate::receivers::otlp::OtlpReceiverConfig;

#[path = "config_dropin_tests.rs"]
mod dropin;

#[path = "config_connector_tests.rs"]
mod connector;

fn load_text(text: &str) -> Result<Config, ConfigErrors> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, text).expect("write");
    load(&[path.display().to_string()], &[])
}

fn errors_of(text: &str) -> Vec<ConfigError> {
    load_text(text).expect_err("config must be rejected").0
}

const GOOD: &str = "\
receivers:
  otlp:
    protocols:
      grpc:
      http:
        endpoint: 127.0.0.1:4318
processors:
  batch:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
exporters:
  debug:
  otlp/backend:
    endpoint: backend:4317
    tls:
      insecure: true
  file:
    path: /tmp/out.jsonl
extensions:
  health_check:
  file_storage:
    directory: /tmp
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [debug, otlp/backend]
    traces/audit:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [debug]
";

#[test]
fn a_full_config_loads() {
    let c = load_text(GOOD).expect("valid");
    assert_eq!(c.service.pipelines.len(), 3);
    assert_eq!(c.receivers.len(), 1);
    let audit = c
        .service
        .pipelines
        .keys()
        .find(|p| p.name.as_deref() == Some("audit"))
        .expect("named pipeline");
    assert_eq!(audit.signal, Signal::Traces);
}

#[test]
fn the_default_config_loads() {
    let c = load(&[], &[]).expect("built-in default is valid");
    assert_eq!(c.service.pipelines.len(), 3);
}

#[test]
fn unknown_type_is_named_with_line() {
    let e = errors_of(&GOOD.replace("  debug:\n", "  debugg:\n"));
    let unknown = e
        .iter()
        .find(|e| e.message.contains("unknown exporter type `debugg`"))
        .expect("unknown type");
    assert_eq!(unknown.path, "exporters.debugg");
    assert_eq!(unknown.line, Some(13));
    assert!(
        unknown
            .message
            .contains("expected one of: otlp, otlphttp, loadbalancing, debug, nop, file"),
        "{unknown}"
    );
}

#[test]
fn typoed_key_is_an_error_with_path_and_line() {
    let e = errors_of(&GOOD.replace("    check_interval: 1s", "    check_intervall: 1s"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "processors.memory_limiter.check_intervall");
    assert_eq!(e[0].line, Some(10));
    assert!(
        e[0].message.contains("unknown field `check_intervall`"),
        "{}",
        e[0]
    );
    assert!(e[0].to_string().contains("c.yaml:10: "), "{}", e[0]);
}

#[test]
fn nested_typo_names_the_full_path() {
    let e = errors_of(&GOOD.replace(
        "        endpoint: 127.0.0.1:4318",
        "        endpont: 127.0.0.1:4318",
    ));
    assert_eq!(e[0].path, "receivers.otlp.protocols.http.endpont");
    assert_eq!(e[0].line, Some(6));
}

#[test]
fn missing_component_in_pipeline() {
    let e = errors_of(&GOOD.replace(
        "exporters: [debug, otlp/backend]",
        "exporters: [debug, otlp/other]",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "service.pipelines.traces.exporters[1]");
    assert!(
        e[0].message
            .contains("references exporter `otlp/other` which is not configured"),
        "{}",
        e[0]
    );
    assert!(
        e[0].message
            .contains("configured exporters: debug, file, otlp/backend"),
        "{}",
        e[0]
    );
    assert_eq!(e[0].line, Some(33));
}

#[test]
fn wrong_kind_in_pipeline() {
    let e = errors_of(&GOOD.replace(
        "processors: [memory_limiter, batch]",
        "processors: [memory_limiter, debug]",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].message
            .contains("`debug` is an exporter, not a processor"),
        "{}",
        e[0]
    );
}

#[test]
fn unsupported_signal_for_a_component() {
    // WASM processors take spans and logs; the processor world has no metrics call.
    let text = "\
receivers:
  otlp:
    protocols:
      http:
processors:
  wasm/noop:
    module: builtin:noop
exporters:
  debug:
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [wasm/noop]
      exporters: [debug]
";
    let e = errors_of(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "service.pipelines.metrics.processors[0]");
    assert_eq!(e[0].line, Some(14));
    assert_eq!(
        e[0].message,
        "processor `wasm/noop` does not support metrics"
    );
    let ok = text.replace("    metrics:", "    logs:");
    load_text(&ok).expect("wasm processors take logs");
}

#[test]
fn wasm_processor_needs_a_module() {
    let e = errors_of(
        "receivers:\n  otlp:\n    protocols:\n      http:\nprocessors:\n  wasm/x:\n  wasm/y:\n    module: builtin:missing\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [wasm/x, wasm/y]\n      exporters: [debug]\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].path, "processors.wasm/x.module");
    assert!(e[0].message.starts_with("is required"), "{}", e[0]);
    assert_eq!(e[1].path, "processors.wasm/y.module");
    assert_eq!(e[1].line, Some(8));
    assert!(
        e[1].message
            .starts_with("unknown built-in module `missing`, expected one of: builtin:noop"),
        "{}",
        e[1]
    );
}

#[test]
fn unknown_pipeline_signal_and_empty_pipeline() {
    let e = errors_of(&GOOD.replace("    logs:\n      receivers: [otlp]\n      exporters: [debug]\n", "    profiles:\n      receivers: [otlp]\n      exporters: [debug]\n    metrics:\n      receivers: [otlp]\n"));
    assert!(
        e.iter()
            .any(|e| e.message.contains("feature gate `service.profilesSupport`")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.path == "service.pipelines.metrics.exporters"
                && e.message.contains("at least one exporter")),
        "{e:?}"
    );
}

#[test]
fn invalid_values_are_reported_together() {
    let e = errors_of(
        &GOOD
            .replace(
                "    limit_mib: 512",
                "    limit_mib: 512\n    spike_limit_mib: 600",
            )
            .replace("    endpoint: backend:4317", "    endpoint: \"\""),
    );
    assert!(
        e.iter()
            .any(|e| e.path == "processors.memory_limiter.spike_limit_mib"),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.path == "exporters.otlp/backend.endpoint"
                && e.message.contains("is required")),
        "{e:?}"
    );
}

#[test]
fn wrong_value_type_is_explained() {
    let e = errors_of(&GOOD.replace("  batch:\n", "  batch:\n    send_batch_size: lots\n"));
    assert_eq!(e[0].path, "processors.batch.send_batch_size");
    assert!(e[0].message.contains("invalid type"), "{}", e[0]);
}

#[test]
fn persistent_queue_needs_an_enabled_file_storage() {
    let text = GOOD.replace(
        "      insecure: true",
        "      insecure: true\n    sending_queue:\n      storage: file_storage/missing",
    );
    let e = errors_of(&text);
    assert!(
        e.iter()
            .any(|e| e.path == "exporters.otlp/backend.sending_queue.storage"
                && e.message
                    .contains("`file_storage/missing` which is not configured")),
        "{e:?}"
    );
    let text = GOOD
        .replace(
            "      insecure: true",
            "      insecure: true\n    sending_queue:\n      storage: file_storage",
        )
        .replace(
            "extensions: [health_check, file_storage]",
            "extensions: [health_check]",
        );
    let e = errors_of(&text);
    assert!(
        e.iter().any(|e| e
            .message
            .contains("must also be listed in service.extensions")),
        "{e:?}"
    );
}

#[test]
fn loadbalancing_storage_errors_name_the_queue_in_effect() {
    let lb = |queue: &str| {
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n\
             exporters:\n  loadbalancing:\n    resolver: {{static: {{hostnames: [a]}}}}\n{queue}\
             service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [loadbalancing]\n"
        )
    };
    let e = errors_of(&lb(
        "    protocol: {otlp: {sending_queue: {storage: file_storage}}}\n",
    ));
    assert!(
        e.iter()
            .any(|e| e.path == "exporters.loadbalancing.protocol.otlp.sending_queue.storage"),
        "{e:?}"
    );
    let e = errors_of(&lb("    sending_queue: {storage: file_storage}\n"));
    assert!(
        e.iter().any(
            |e| e.path == "exporters.loadbalancing.sending_queue.storage"
                && e.message.contains("not configured")
        ),
        "{e:?}"
    );
}

#[test]
fn unknown_top_level_key_and_connectors() {
    let e = errors_of(&format!(
        "{GOOD}recievers:\n  otlp:\nconnectors:\n  spanmetric:\n"
    ));
    assert!(
        e.iter()
            .any(|e| e.message.contains("unknown top-level key `recievers`")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.message.contains("unknown connector type `spanmetric`, expected one of: forward, routing, spanmetrics, count")),
        "{e:?}"
    );
}

#[test]
fn env_expansion_feeds_typed_values() {
    crate::testenv::set("TM_CFG_TEST_PORT", "4999");
    let c = load_text(
        &GOOD
            .replace("127.0.0.1:4318", "127.0.0.1:${env:TM_CFG_TEST_PORT}")
            .replace("limit_mib: 512", "limit_mib: ${TM_CFG_TEST_MIB:-256}"),
    )
    .expect("valid");
    let Some(m) = c
        .processors
        .get(&ComponentId::parse("memory_limiter").expect("id"))
        .and_then(|p| p.downcast_ref::<MemoryLimiterConfig>())
    else {
        panic!("memory_limiter")
    };
    assert_eq!(m.limit_mib, 256);
    let Some(r) = c
        .receivers
        .values()
        .next()
        .and_then(|r| r.downcast_ref::<OtlpReceiverConfig>())
    else {
        panic!("otlp")
    };
    assert_eq!(
        r.protocols.http.as_ref().map(|h| h.endpoint.as_str()),
        Some("127.0.0.1:4999")
    );
}

#[test]
fn set_overrides_and_reports_bad_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, GOOD).expect("write");
    let p = path.display().to_string();
    let c = load(
        std::slice::from_ref(&p),
        &["processors::batch::timeout=2s".to_string()],
    )
    .expect("valid");
    let Some(b) = c
        .processors
        .get(&ComponentId::parse("batch").expect("id"))
        .and_then(|p| p.downcast_ref::<BatchConfig>())
    else {
        panic!()
    };
    assert_eq!(b.timeout, std::time::Duration::from_secs(2));
    let e = load(&[p], &["processors.batch.timeout=soon".to_string()])
        .expect_err("bad duration")
        .0;
    assert_eq!(e[0].path, "processors.batch.timeout");
}

#[test]
fn the_same_id_may_be_a_receiver_and_an_exporter() {
    let c = load_text(
        &GOOD
            .replace("  otlp/backend:", "  otlp:")
            .replace("otlp/backend]", "otlp]"),
    )
    .expect("valid");
    assert!(
        c.exporters
            .contains_key(&ComponentId::parse("otlp").expect("id"))
    );
}
